"""var_imp: model, filter (caret's filterVarImp) and held-out permutation importance."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.importance import filter_var_imp, importance_frame, scale_values, var_imp
from leanfit.models.boosting import GBM

GBM_ONE = {"n_trees": [60], "interaction_depth": [2], "shrinkage": [0.1], "n_minobsinnode": [10]}


class GainGBM(GBM):
    """gbm whose importance is LightGBM's total gain per column (R gbm's relative influence)."""

    name: ClassVar[str] = "gain_gbm"

    def importance(self, fitted: Any, subs: list[dict[str, Any]]) -> np.ndarray:
        return fitted.feature_importance(importance_type="gain")


def _regression(n: int = 300, seed: int = 3) -> pd.DataFrame:
    """y depends on x1 strongly, on x2 weakly, and not at all on x3..x5."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    df = pd.DataFrame(X, columns=[f"x{j + 1}" for j in range(5)])
    df["y"] = 3 * X[:, 0] + 1 * X[:, 1] + rng.normal(size=n) * 0.5
    return df


def _two_class(n: int = 200, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df["Class"] = np.where(2 * X[:, 0] - X[:, 1] + rng.logistic(size=n) > 0, "yes", "no")
    return df


@pytest.fixture(scope="module")
def reg_fit():
    return lf.train(
        _regression(),
        "y",
        method="gbm",
        grid=GBM_ONE,
        control=lf.Control(method="cv", number=3),
        seed=11,
    )


def test_scale_values_min_0_max_100():
    v = scale_values(np.array([[2.0, 4.0], [6.0, np.nan]]))
    assert np.nanmin(v) == 0 and np.nanmax(v) == 100 and np.isnan(v[1, 1])
    assert np.allclose(v[:, 0], [0, 100]) and v[0, 1] == pytest.approx(50)
    assert np.all(scale_values(np.array([3.0, 3.0])) == 100)  # constant: all 100
    df = importance_frame(np.array([1.0, 3.0]), ["p", "q"])
    assert list(df.columns) == ["Overall"] and df.loc["q", "Overall"] == 100


def test_scaled_tables_run_from_0_to_100(reg_fit):
    for how in ("filter", "permutation"):
        imp = var_imp(reg_fit, method=how, n_repeats=2)
        assert list(imp.index) == ["x1", "x2", "x3", "x4", "x5"]
        assert imp.to_numpy().min() == pytest.approx(0) and imp.to_numpy().max() == 100
        assert imp.attrs["method"] == how and imp.attrs["scaled"]


def test_model_importance_is_gain_rescaled():
    fit = lf.train(
        _two_class(),
        "Class",
        method=GainGBM(),
        grid=GBM_ONE,
        control=lf.Control(method="cv", number=3),
        seed=2,
    )
    gain = fit.final_model.feature_importance(importance_type="gain")
    raw = var_imp(fit, method="model", scale=False)
    assert np.allclose(raw["Overall"].to_numpy(), gain)
    scaled = var_imp(fit)  # auto: the model has an importance of its own
    assert scaled.attrs["method"] == "model"
    expect = (gain - gain.min()) / (gain.max() - gain.min()) * 100
    assert np.allclose(scaled["Overall"].to_numpy(), expect)
    assert scaled["Overall"].idxmax() == "a"


def test_registry_gbm_model_importance_is_gain(reg_fit):
    if reg_fit.model.importance(reg_fit.final_model, [{"n_trees": 60}]) is None:
        pytest.skip("the library's gbm has no importance of its own yet")
    gain = reg_fit.final_model.feature_importance(importance_type="gain")
    imp = var_imp(reg_fit, method="model")
    assert np.allclose(imp["Overall"], (gain - gain.min()) / (gain.max() - gain.min()) * 100)


def test_filter_auc_matches_sklearn_two_class():
    from sklearn.metrics import roc_auc_score

    df = _two_class()
    fit = lf.train(
        df, "Class", method="gbm", grid=GBM_ONE, control=lf.Control(method="none"), seed=1
    )
    imp = var_imp(fit, method="filter", scale=False)
    assert list(imp.columns) == ["no", "yes"]  # one column per class, equal, as caret
    assert np.allclose(imp["no"], imp["yes"])
    y = (df["Class"] == "yes").to_numpy()
    assert imp.loc["a", "yes"] == pytest.approx(roc_auc_score(y, df["a"]))  # positive effect
    auc_b = roc_auc_score(y, df["b"])  # negative effect: caret's direction="auto" flips it
    assert auc_b < 0.5 and imp.loc["b", "yes"] == pytest.approx(1 - auc_b)
    for col in "cd":
        a = roc_auc_score(y, df[col])
        assert imp.loc[col, "no"] == pytest.approx(max(a, 1 - a))
    # the raw-input version agrees
    assert np.allclose(filter_var_imp(df, "Class").to_numpy(), imp.to_numpy())


def test_filter_multiclass_is_one_vs_rest_auc():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    cls = np.array(["r", "s", "t"])[np.digitize(X[:, 0] + rng.normal(size=150) * 0.5, [-0.5, 0.5])]
    df = pd.DataFrame(X, columns=["u", "v", "w"]).assign(k=cls)
    imp = filter_var_imp(df, "k")
    assert list(imp.columns) == ["r", "s", "t"]
    for lev in "rst":
        a = roc_auc_score(cls == lev, df["u"])
        assert imp.loc["u", lev] == pytest.approx(max(a, 1 - a))


def test_filter_regression_is_abs_t_of_slope():
    from scipy.stats import linregress

    df = _regression()
    imp = filter_var_imp(df, "y")
    for col in ["x1", "x2", "x3"]:
        lr = linregress(df[col], df["y"])
        assert imp.loc[col, "Overall"] == pytest.approx(abs(lr.slope / lr.stderr))
    smooth = filter_var_imp(df, "y", nonpara=True)  # smoother pseudo-R² in [0, 1]
    assert smooth["Overall"].between(0, 1).all() and smooth["Overall"].idxmax() == "x1"


def test_permutation_ranks_strong_weak_noise(reg_fit):
    imp = var_imp(reg_fit, method="permutation", scale=False, n_repeats=5)["Overall"]
    assert imp["x1"] > imp["x2"] > imp[["x3", "x4", "x5"]].max()
    assert imp["x2"] > 0.3  # the weak effect is clearly there
    assert imp[["x3", "x4", "x5"]].abs().max() < 0.02 * imp["x1"]  # noise is about 0


def test_permutation_is_seeded_and_identical_across_n_jobs(reg_fit):
    a = var_imp(reg_fit, method="permutation", n_repeats=3, n_jobs=1)
    b = var_imp(reg_fit, method="permutation", n_repeats=3, n_jobs=2)
    pd.testing.assert_frame_equal(a, b)
    c = var_imp(reg_fit, method="permutation", n_repeats=3, seed=99)
    assert not np.allclose(a.to_numpy(), c.to_numpy())
    one = var_imp(reg_fit, method="permutation", n_repeats=2, resamples=1, scale=False)
    assert one.loc["x1", "Overall"] > one.loc["x2", "Overall"]


def test_permutation_needs_resamples(centroid_cls):
    df = _two_class()
    fit = lf.train(
        df,
        "Class",
        method=centroid_cls(),
        grid={"shrink": [0.0]},
        control=lf.Control(method="none"),
        seed=1,
    )
    with pytest.raises(ValueError, match="no resamples.*method='filter'"):
        var_imp(fit, method="permutation")
    with pytest.raises(ValueError, match="no importance of its own"):
        var_imp(fit, method="model")
    auto = var_imp(fit)  # no importance, no resamples: model-free filter
    assert auto.attrs["method"] == "filter"


def test_auto_falls_back_to_permutation(centroid_cls):
    fit = lf.train(
        _two_class(),
        "Class",
        method=centroid_cls(),
        grid={"shrink": [0.0]},
        control=lf.Control(method="cv", number=3),
        seed=1,
    )
    imp = var_imp(fit, n_repeats=2)
    assert imp.attrs["method"] == "permutation" and imp["Overall"].idxmax() == "a"


def test_bad_inputs(reg_fit):
    with pytest.raises(ValueError, match="method='shap'"):
        var_imp(reg_fit, method="shap")
    with pytest.raises(ValueError, match="metric 'ROC' is not produced"):
        var_imp(reg_fit, method="permutation", metric="ROC")
    with pytest.raises(ValueError, match="n_repeats"):
        var_imp(reg_fit, method="permutation", n_repeats=0)
    with pytest.raises(ValueError, match="resamples=7"):
        var_imp(reg_fit, method="permutation", resamples=7)
    with pytest.raises(ValueError, match="expected"):
        importance_frame(np.ones(3), ["a", "b"])
