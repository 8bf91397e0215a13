"""learning_curve(): subsample sizes, agreement with train() and with hand-fitted resamples, the
three diagnoses with their numbers, n_jobs invariance, failed fits and bad input."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit import Control
from leanfit.control import make_resamples
from leanfit.execute import Context, fit_one, predict_group
from leanfit.learning import (
    TABLE_COLUMNS,
    Diagnosis,
    LearningCurve,
    learning_curve,
    learning_curve_of,
    subsample_size,
)
from leanfit.metrics import summarize
from leanfit.models.base import REGRESSION, Model, Param, TrainingData
from leanfit.tuning.plan import task_seed
from leanfit.tuning.train import plan_train

CV3 = Control(method="cv", number=3)
SMALL_GBM = {"n.trees": 20, "interaction.depth": 2, "shrinkage": 0.1, "n.minobsinnode": 5}
DEEP_GBM = {"n_trees": 200, "interaction_depth": 10, "shrinkage": 0.3, "n_minobsinnode": 1}
ZERO_GLMNET = {"alpha": 1.0, "lambda": 1e4}  # every coefficient zero: a constant prediction


@dataclass
class LeastSquares(Model):
    """Ordinary least squares that raises when given fewer than ``min_rows`` rows and warns
    when given fewer than ``warn_rows``."""

    name: ClassVar[str] = "ols_test"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)
    params: ClassVar[tuple[Param, ...]] = (Param("ridge", "float", 0.0, 10.0),)

    min_rows: int = 0
    warn_rows: int = 0
    calls: list = field(default_factory=list)

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        return pd.DataFrame({"ridge": np.linspace(0.0, 1.0, length)})

    def fit(self, data: TrainingData, params: dict[str, Any], subs, seed: int) -> Any:
        self.calls.append(len(data.y))
        if len(data.y) < self.min_rows:
            raise ValueError(f"needs {self.min_rows} rows, got {len(data.y)}")
        if len(data.y) < self.warn_rows:
            warnings.warn(f"only {len(data.y)} rows", UserWarning, stacklevel=2)
        X = np.column_stack([np.ones(len(data.y)), data.X])
        pen = float(params["ridge"]) * np.eye(X.shape[1])
        pen[0, 0] = 0.0
        return np.linalg.solve(X.T @ X + pen, X.T @ data.y)

    def predict(self, fitted: Any, X: np.ndarray, subs) -> np.ndarray:
        return np.tile(np.column_stack([np.ones(len(X)), X]) @ fitted, (len(subs), 1))


@pytest.fixture(scope="module")
def linear_data() -> tuple[np.ndarray, np.ndarray]:
    """y = Xb + small noise: 150 rows, 4 predictors, noise SD 0.1 (SD of y about 2.4)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y = X @ np.array([1.0, 2.0, -1.0, 0.5]) + 0.1 * rng.normal(size=150)
    return X, y


@pytest.fixture(scope="module")
def nonlinear_data() -> tuple[np.ndarray, np.ndarray]:
    """y = 3 sin(2 x1) + x2^2: nothing a constant (or even a linear model) can capture."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    return X, 3 * np.sin(2 * X[:, 0]) + X[:, 1] ** 2


def _resamples(training: pd.DataFrame, control: Control, seed: int):
    return make_resamples(control, training["Class"].astype(str).to_numpy(), seed)


def _row(curve: LearningCurve, fraction: float, metric: str | None = None) -> pd.Series:
    t = curve.table
    hit = t[(t["fraction"] == fraction) & (t["metric"] == (metric or curve.metric))]
    assert len(hit) == 1
    return hit.iloc[0]


# ------------------------------------------------------------------ the table


@pytest.fixture(scope="module")
def gbm_curve(training) -> LearningCurve:
    return learning_curve(
        "Class ~ .",
        data=training,
        method="gbm",
        params=SMALL_GBM,
        sizes=(1.0, 0.25, 0.5),
        control=CV3,
        seed=7,
    )


def test_table_has_one_row_per_size_and_metric_with_the_subsample_sizes(gbm_curve, training):
    t = gbm_curve.table
    assert list(t.columns) == list(TABLE_COLUMNS)
    assert len(t) == 3 * 2
    assert list(t["fraction"]) == [0.25, 0.25, 0.5, 0.5, 1.0, 1.0]  # sorted
    assert list(t["metric"]) == ["Accuracy", "Kappa"] * 3
    res = _resamples(training, CV3, 7)
    n_train = [len(tr) for tr in res.train]
    assert sorted(n_train) == [104, 105, 105]
    for s in (0.25, 0.5, 1.0):
        expected = np.mean([subsample_size(s, n) for n in n_train])
        assert _row(gbm_curve, s)["size"] == pytest.approx(expected)
    assert _row(gbm_curve, 0.25)["size"] == pytest.approx((26 + 26 + 26) / 3)
    assert _row(gbm_curve, 0.5)["size"] == pytest.approx((52 + 53 + 53) / 3)
    assert _row(gbm_curve, 1.0)["size"] == pytest.approx((104 + 105 + 105) / 3)
    assert (t["n_resamples"] == 3).all() and (t["n_failed"] == 0).all()
    assert gbm_curve.metric == "Accuracy" and gbm_curve.maximize
    assert gbm_curve.method == "gbm"
    assert gbm_curve.params == {
        "n_trees": 20,
        "interaction_depth": 2,
        "shrinkage": 0.1,
        "n_minobsinnode": 5,
    }
    assert gbm_curve.baselines["Accuracy"] == pytest.approx(84 / 157)
    assert gbm_curve.baselines["Kappa"] == 0.0


def test_full_size_resampled_equals_train_of_the_same_candidate(gbm_curve, training):
    grid = {k: [v] for k, v in SMALL_GBM.items()}
    res = lf.train("Class ~ .", data=training, method="gbm", grid=grid, control=CV3, seed=7)
    for m in ("Accuracy", "Kappa"):
        assert _row(gbm_curve, 1.0, m)["resampled_mean"] == pytest.approx(
            res.results[m].iloc[0], abs=1e-12
        )
        assert _row(gbm_curve, 1.0, m)["resampled_sd"] == pytest.approx(
            res.results[f"{m}SD"].iloc[0], abs=1e-12
        )


def test_full_size_matches_fits_by_hand_on_every_resample(gbm_curve, training):
    """Fit each fold's training rows directly, score held-out and training rows with summarize."""
    plan = plan_train(
        "Class ~ .",
        data=training,
        method="gbm",
        grid={k: [v] for k, v in SMALL_GBM.items()},
        control=CV3,
        seed=7,
    )
    ctx: Context = plan.context
    group = ctx.groups[0]
    held, app = [], []
    for r, (_, tr, te) in enumerate(plan.resamples):
        pp, fitted = fit_one(ctx, tr, group, task_seed(7, r, 0))
        for rows, out in ((te, held), (tr, app)):
            pred, _ = predict_group(ctx, pp, fitted, ctx.X[rows], group.subs)
            m = summarize("default", ctx.y[rows], pred, None, ctx.levels)
            out.append(float(m["Accuracy"][0]))
    row = _row(gbm_curve, 1.0)
    assert row["resampled_mean"] == pytest.approx(np.mean(held), abs=1e-12)
    assert row["resampled_sd"] == pytest.approx(np.std(held, ddof=1), abs=1e-12)
    assert row["apparent_mean"] == pytest.approx(np.mean(app), abs=1e-12)
    # apparent performance of resample 1 alone, by hand: training rows predicted by their own fit
    tr = plan.resamples.train[0]
    pp, fitted = fit_one(ctx, tr, group, task_seed(7, 0, 0))
    pred, _ = predict_group(ctx, pp, fitted, ctx.X[tr], group.subs)
    by_hand = float(np.mean(pred[0] == ctx.y[tr]))
    assert app[0] == pytest.approx(by_hand, abs=1e-12)
    assert 0.85 < by_hand <= 1.0  # training rows are fitted better than held-out ones


class _ClassCounter(Model):
    """Records the class counts of every fit and predicts the majority class."""

    name: ClassVar[str] = "count_test"
    modes: ClassVar[tuple[str, ...]] = ("classification",)

    def __init__(self, log: list | None = None):
        super().__init__()
        self.log = [] if log is None else log

    def fit(self, data: TrainingData, params, subs, seed):
        self.log.append(np.bincount(data.y, minlength=data.n_classes))
        return int(np.argmax(self.log[-1]))

    def predict_proba(self, fitted, X, subs):
        p = np.zeros((len(subs), len(X), 2))
        p[:, :, fitted] = 1.0
        return p


def test_subsamples_are_stratified_and_seeded(training):
    log: list = []
    learning_curve(
        "Class ~ .", data=training, method=_ClassCounter(log), sizes=(0.1, 0.3), control=CV3
    )
    assert len(log) == 3 * 2
    sizes = {subsample_size(s, n) for s in (0.1, 0.3) for n in (104, 105)}
    assert sizes == {10, 11, 31, 32}
    for counts in log:
        m = int(counts.sum())
        assert m in sizes
        assert abs(counts[0] - m * 84 / 157) <= 1, counts  # proportional to the classes
        assert counts.min() >= 2


# ------------------------------------------------------------------ the three verdicts


def test_deep_unregularised_gbm_is_over_fitting(training):
    curve = learning_curve(
        "Class ~ .",
        data=training,
        method="gbm",
        params=DEEP_GBM,
        sizes=(0.3, 0.6, 1.0),
        control=CV3,
        seed=1,
    )
    top = _row(curve, 1.0)
    assert top["apparent_mean"] == pytest.approx(1.0)  # every training row fitted
    assert top["resampled_mean"] < 0.86
    d = curve.diagnose()
    assert isinstance(d, Diagnosis)
    assert d.verdict == "over-fitting"
    assert d.numbers["apparent"] == pytest.approx(1.0)
    assert d.numbers["baseline"] == pytest.approx(84 / 157)
    gap = (1.0 - top["resampled_mean"]) / (1 - 84 / 157)
    assert d.numbers["gap_scaled"] == pytest.approx(gap)
    assert d.numbers["gap_scaled"] > 0.25
    assert d.numbers["gap"] == pytest.approx(1.0 - top["resampled_mean"])
    assert f"training Accuracy 1.000 vs resampled {top['resampled_mean']:.3f}" in d.message
    assert f"at {top['size']:.0f} rows" in d.message
    text = " ".join(d.remedies).lower()
    assert "regularisation" in text and "early stopping" in text and "more training data" in text
    assert "over-fitting" in repr(d) and "Remedies:" in repr(d)


def test_zero_coefficient_glmnet_is_under_fitting_classification(training):
    curve = learning_curve(
        "Class ~ .",
        data=training,
        method="glmnet",
        params=ZERO_GLMNET,
        sizes=(0.3, 0.6, 1.0),
        control=CV3,
        seed=1,
    )
    top = _row(curve, 1.0)
    majority = 84 / 157
    # always the majority class: apparent = resampled = the majority-class rate
    assert top["apparent_mean"] == pytest.approx(majority, abs=0.01)
    assert top["resampled_mean"] == pytest.approx(majority, abs=0.01)
    assert _row(curve, 1.0, "Kappa")["resampled_mean"] == pytest.approx(0.0)
    d = curve.diagnose()
    assert d.verdict == "under-fitting"
    assert abs(d.numbers["apparent_scaled"]) < 0.02
    assert abs(d.numbers["gap_scaled"]) < 0.02
    assert d.numbers["headroom"] == pytest.approx(1.0, abs=0.02)
    assert "training Accuracy 0.535 vs resampled 0.535" in d.message
    text = " ".join(d.remedies).lower()
    assert "capacity" in text and "features" in text and "less regularisation" in text
    assert "more data alone will not help" in text


def test_zero_coefficient_glmnet_is_under_fitting_regression(nonlinear_data):
    X, y = nonlinear_data
    curve = learning_curve(
        X, y, method="glmnet", params=ZERO_GLMNET, sizes=(0.3, 0.6, 1.0), control=CV3, seed=1
    )
    assert curve.metric == "RMSE" and not curve.maximize
    sd = float(np.sqrt(np.mean((y - y.mean()) ** 2)))
    assert curve.baselines["RMSE"] == pytest.approx(sd)
    top = _row(curve, 1.0)
    assert top["resampled_mean"] == pytest.approx(sd, rel=0.05)
    assert top["apparent_mean"] == pytest.approx(sd, rel=0.05)
    assert np.isnan(_row(curve, 1.0, "Rsquared")["resampled_mean"])  # constant predictions
    d = curve.diagnose()
    assert d.verdict == "under-fitting"
    assert d.numbers["apparent_scaled"] < 0.05
    assert "training RMSE" in d.message and f"{sd:.3f}" in d.message
    assert "capacity" in " ".join(d.remedies)


def test_well_specified_linear_model_is_balanced(linear_data):
    X, y = linear_data
    curve = learning_curve(
        X,
        y,
        method="glmnet",
        params={"alpha": 1.0, "lambda": 1e-3},
        sizes=(0.3, 0.6, 1.0),
        control=CV3,
        seed=1,
    )
    top = _row(curve, 1.0)
    assert top["resampled_mean"] == pytest.approx(0.1, abs=0.02)  # the noise SD
    assert top["apparent_mean"] == pytest.approx(0.1, abs=0.02)
    assert _row(curve, 1.0, "Rsquared")["resampled_mean"] > 0.99
    d = curve.diagnose()
    assert d.verdict == "balanced"
    assert abs(d.numbers["gap_scaled"]) < 0.02
    assert d.numbers["resampled_scaled"] > 0.9
    assert d.remedies == []
    assert "balanced" in d.message and "training RMSE" in d.message
    d2 = curve.diagnose("Rsquared")
    assert d2.verdict == "balanced" and d2.numbers["ideal"] == 1.0


# ------------------------------------------------------------------ execution


def test_n_jobs_gives_identical_tables(training, recording_gbm_cls, tmp_path):
    """In-process and in two worker processes (forced: no timing probe keeping this small run
    in-process), the same table; the fits did run in workers, so a worker changing a seed
    would show."""
    import os

    pids = tmp_path / "pids.log"
    kw = dict(data=training, params=SMALL_GBM, sizes=(0.3, 1.0), seed=3)
    one = learning_curve(
        "Class ~ .", method="gbm", control=Control(method="cv", number=3, n_jobs=1), **kw
    )
    two = learning_curve(
        "Class ~ .",
        method=recording_gbm_cls(pid_log=str(pids)),
        control=Control(method="cv", number=3, n_jobs=2, executor="processes"),
        **kw,
    )
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    fit_pids = [int(p) for p in pids.read_text().split()]
    assert len(fit_pids) == 3 * 2  # 3 folds x 2 sizes, no final fit
    assert os.getpid() not in fit_pids


def test_failed_fits_are_counted_not_dropped(linear_data):
    X, y = linear_data
    model = LeastSquares(min_rows=40)
    curve = learning_curve(
        X, y, method=model, params={"ridge": 0.0}, sizes=(0.1, 0.3, 1.0), control=CV3, seed=1
    )
    calls = sorted(model.calls)
    assert calls[:6] == [10, 10, 10, 30, 30, 30]
    assert sum(calls[6:]) == 2 * 150  # the full training rows of the 3 folds
    small = _row(curve, 0.1)
    assert small["n_failed"] == 3 and small["n_resamples"] == 0
    assert np.isnan(small["resampled_mean"]) and np.isnan(small["apparent_mean"])
    assert _row(curve, 0.3)["n_failed"] == 3
    full = _row(curve, 1.0)
    assert full["n_failed"] == 0 and full["n_resamples"] == 3
    assert full["resampled_mean"] == pytest.approx(0.1, abs=0.02)
    assert len(curve.failures) == 6
    assert set(curve.failures["fraction"]) == {0.1, 0.3}
    assert curve.failures["error"].str.contains("needs 40 rows").all()
    assert curve.diagnose().verdict == "balanced"  # read from the sizes that worked
    assert "failed" in repr(curve)


def test_fit_warnings_are_summed_up_and_kept(linear_data):
    X, y = linear_data
    with pytest.warns(UserWarning, match="learning-curve fits") as caught:
        curve = learning_curve(
            X,
            y,
            method=LeastSquares(warn_rows=40),
            params={"ridge": 0.0},
            sizes=(0.1, 0.3, 1.0),
            control=CV3,
            seed=1,
        )
    (summary,) = [str(w.message) for w in caught if "learning-curve fits" in str(w.message)]
    assert summary.startswith("6 of 9 learning-curve fits of 'ols_test' raised warnings: ")
    assert "'UserWarning: only 10 rows' (3 fits)" in summary
    assert "'UserWarning: only 30 rows' (3 fits)" in summary
    fw = curve.fit_warnings
    assert list(fw.columns) == ["Resample", "fraction", "size", "warning"]
    assert sorted(zip(fw["fraction"], fw["size"], strict=True)) == [(0.1, 10)] * 3 + [(0.3, 30)] * 3
    assert curve.failures.empty and (curve.table["n_failed"] == 0).all()


def test_loocv_pools_held_out_predictions_like_train(linear_data):
    X, y = linear_data[0][:30], linear_data[1][:30]
    ctl = Control(method="loocv")
    curve = learning_curve(
        X, y, method=LeastSquares(), params={"ridge": 0.0}, sizes=(0.5, 1.0), control=ctl, seed=2
    )
    res = lf.train(X, y, method=LeastSquares(), grid={"ridge": [0.0]}, control=ctl, seed=2)
    full = _row(curve, 1.0)
    assert full["resampled_mean"] == pytest.approx(res.results["RMSE"].iloc[0], abs=1e-12)
    assert np.isnan(full["resampled_sd"])
    assert full["n_resamples"] == 30


def test_learning_curve_of_reuses_the_result(training):
    grid = lf.expand_grid(
        interaction_depth=[1, 2], n_trees=[10, 20], shrinkage=0.1, n_minobsinnode=5
    )
    res = lf.train("Class ~ .", data=training, method="gbm", grid=grid, control=CV3, seed=11)
    curve = learning_curve_of(res, sizes=(0.5, 1.0))
    assert curve.params == res.best_params
    assert curve.metric == res.metric == "Accuracy"
    best = res.results.iloc[res.best_index]
    assert _row(curve, 1.0)["resampled_mean"] == pytest.approx(best["Accuracy"], abs=1e-12)
    other = learning_curve_of(res, sizes=(1.0,), control=Control(method="cv", number=4))
    assert _row(other, 1.0)["n_resamples"] == 4
    assert "no trend" in other.diagnose().message


def test_learning_curve_of_keeps_the_results_summary_and_metric(gbm_roc):
    own = learning_curve_of(gbm_roc, sizes=(0.5, 1.0))
    assert own.metric == "ROC" and own.baselines["ROC"] == 0.5
    best = gbm_roc.results.iloc[gbm_roc.best_index]
    assert _row(own, 1.0)["resampled_mean"] == pytest.approx(best["ROC"], abs=1e-12)
    assert _row(own, 1.0)["resampled_sd"] == pytest.approx(best["ROCSD"], abs=1e-12)
    # another design: the result's two_class summary (with probabilities) is kept
    other = learning_curve_of(gbm_roc, sizes=(1.0,), control=CV3)
    assert set(other.table["metric"]) == {"ROC", "Sens", "Spec"}
    assert _row(other, 1.0)["n_resamples"] == 3
    d = other.diagnose()
    assert d.numbers["baseline"] == 0.5 and d.numbers["ideal"] == 1.0
    with pytest.raises(ValueError, match=r"no baseline/ideal .* 'Sens'.*\['ROC'\]"):
        other.diagnose("Sens")


def test_default_candidate_is_the_tune_length_one_grid_row(training):
    curve = learning_curve("Class ~ .", data=training, sizes=(1.0,), control=CV3, seed=1)
    assert curve.params == {
        "n_trees": 50,
        "interaction_depth": 1,
        "shrinkage": 0.1,
        "n_minobsinnode": 10,
    }
    text = repr(curve)
    assert "Learning curve: gbm" in text and "Cross-Validated (3 fold)" in text


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": (0.0, 0.5)}, r"size 0\.0 is outside \(0, 1\]"),
        ({"sizes": (0.5, 1.5)}, r"size 1\.5 is outside \(0, 1\]"),
        ({"sizes": ()}, "sizes is empty"),
        ({"sizes": (0.01, 1.0)}, r"size 0\.01 gives 1 training row\(s\) .* at least 4"),
        ({"control": Control(method="none")}, r"method='none'.* no held-out rows"),
        (
            {"params": {"n_trees": 10, "depth": 2, "shrinkage": 0.1, "n_minobsinnode": 5}},
            r"\['depth'\] are not parameters of 'gbm'.*'interaction_depth'",
        ),
        (
            {"params": {"n_trees": 10, "shrinkage": 0.1}},
            r"lack \['interaction_depth', 'n_minobsinnode'\]",
        ),
        ({"params": {**SMALL_GBM, "shrinkage": [0.1, 0.2]}}, "must be one value"),
        ({"params": {**SMALL_GBM, "shrinkage": 5.0}}, "shrinkage=5.0"),
        ({"metric": "ROC"}, r"metric 'ROC' is not produced.*\['Accuracy', 'Kappa'\]"),
    ],
)
def test_bad_input_fails_before_any_fit(training, recording_gbm, kwargs, match):
    args = {"params": SMALL_GBM, "control": CV3, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        learning_curve("Class ~ .", data=training, method=recording_gbm, **args)
    assert recording_gbm.calls == []


def test_small_regression_size_fails_before_any_fit(linear_data):
    X, y = linear_data
    model = LeastSquares()
    with pytest.raises(ValueError, match=r"size 0\.02 gives 2 training row\(s\).*at least 5"):
        learning_curve(X, y, method=model, params={"ridge": 0}, sizes=(0.02, 1.0), control=CV3)
    assert model.calls == []


def test_metric_without_a_baseline_cannot_be_diagnosed(gbm_curve):
    with pytest.raises(ValueError, match="'Sens' is not in the curve"):
        gbm_curve.diagnose("Sens")


# ------------------------------------------------------------------ diagnose on hand-made curves


def _hand_curve(
    resampled: tuple[float, ...],
    apparent: tuple[float, ...],
    metric: str = "Accuracy",
    baseline: float = 0.0,
) -> LearningCurve:
    """A learning curve of one metric made by hand: sizes 20, 60, 100 (fractions 0.2, 0.6, 1)
    with the given mean resampled and apparent values — no model involved."""
    table = pd.DataFrame(
        {
            "size": [20.0, 60.0, 100.0],
            "fraction": [0.2, 0.6, 1.0],
            "metric": metric,
            "resampled_mean": resampled,
            "resampled_sd": 0.01,
            "apparent_mean": apparent,
            "apparent_sd": 0.01,
            "n_resamples": 5,
            "n_failed": 0,
        }
    )[list(TABLE_COLUMNS)]
    return LearningCurve(
        table=table,
        metric=metric,
        maximize=metric != "RMSE",
        params={},
        method="hand",
        baselines={metric: baseline},
    )


# With baseline 0 and ideal 1, q(v) = v exactly: these values sit on and beside the documented
# thresholds gap > 0.25, q(apparent) < 0.5 and slope > 0.02 (dyadic where exactness matters).
@pytest.mark.parametrize(
    ("resampled", "apparent", "verdict"),
    [
        ((0.25, 0.5, 0.5), (1.0, 0.9, 0.75), "balanced"),  # gap exactly 0.25: not above
        ((0.25, 0.5, 0.5), (1.0, 0.9, 0.7578125), "over-fitting"),  # gap 0.2578
        ((0.25, 0.5, 0.5), (1.0, 0.9, 0.74), "balanced"),  # gap 0.24
        ((0.25, 0.375, 0.375), (0.5, 0.5, 0.5), "balanced"),  # q(apparent) exactly 0.5
        ((0.25, 0.375, 0.375), (0.5, 0.5, 0.4921875), "under-fitting"),  # 0.4922
        ((0.25, 0.375, 0.375), (0.5, 0.5, 0.51), "balanced"),
        # a gap above 0.25 wins over a low apparent value (over-fitting is checked first)
        ((0.1, 0.1, 0.1), (0.4, 0.4, 0.4), "over-fitting"),
    ],
)
def test_diagnose_verdict_on_both_sides_of_each_threshold(resampled, apparent, verdict):
    d = _hand_curve(resampled, apparent).diagnose()
    assert d.verdict == verdict
    assert d.message.startswith(f"{verdict}: training Accuracy {apparent[-1]:.3f} vs resampled")
    assert d.numbers["gap_scaled"] == pytest.approx(apparent[-1] - resampled[-1], abs=1e-15)
    assert d.numbers["apparent_scaled"] == pytest.approx(apparent[-1], abs=1e-15)
    assert d.numbers["headroom"] == pytest.approx(1 - resampled[-1], abs=1e-15)


@pytest.mark.parametrize("slope", [0.03, 0.01, 0.0])
def test_diagnose_slope_threshold_in_every_verdict(slope):
    """slope = q(resampled at 100 rows) - q(resampled at 60 rows): 0.03 is above the 0.02
    threshold, 0.01 and 0 are not; "still rising" changes the trend sentence and each
    verdict's remedies."""
    rising = slope > 0.02
    mid, last = 0.5, 0.5 + slope
    state = "is still rising" if rising else "has flattened"
    bal = _hand_curve((0.2, mid, last), (1.0, 1.0, last + 0.1)).diagnose()  # gap 0.1
    assert bal.verdict == "balanced"
    assert bal.numbers["slope"] == pytest.approx(slope, abs=1e-12)
    assert bal.numbers["slope_from_size"] == 60.0
    assert f"The resampled curve {state}:" in bal.message and "from 60 to 100 rows" in bal.message
    assert bal.remedies == (["more training data: the resampled curve is still rising"] * rising)
    over = _hand_curve((0.2, mid, last), (1.0, 1.0, last + 0.4)).diagnose()  # gap 0.4
    assert over.verdict == "over-fitting" and f"The resampled curve {state}:" in over.message
    more = over.remedies[-1]
    assert more.startswith("more training data")
    assert ("still rising, so it should help" in more) is rising
    assert ("has flattened, so expect a small gain" in more) is (not rising)
    # under-fitting: apparent 0.45 at the top, gap 0.15
    under = _hand_curve((0.1, mid - 0.2, last - 0.2), (0.5, 0.5, last - 0.05)).diagnose()
    assert under.verdict == "under-fitting" and f"The resampled curve {state}:" in under.message
    flat = "more data alone will not help: the resampled curve has flattened"
    assert (flat in under.remedies) is (not rising)


def test_diagnose_minimized_metric_uses_the_same_thresholds():
    """RMSE with baseline 10 (the SD of y) and ideal 0: q(v) = 1 - v / 10, so a training RMSE
    of 1 with a resampled RMSE of 3.6 is a scaled gap of 0.26 (over-fitting) and 3.4 one of
    0.24 (balanced); a training RMSE of 5.1 (q 0.49) is under-fitting, 4.9 (q 0.51) not."""
    over = _hand_curve((8.0, 3.6, 3.6), (0.5, 1.0, 1.0), "RMSE", 10.0).diagnose()
    assert over.verdict == "over-fitting"
    assert over.numbers["gap_scaled"] == pytest.approx(0.26)
    assert over.numbers["gap"] == pytest.approx(2.6)  # in RMSE units
    assert over.numbers["resampled_scaled"] == pytest.approx(0.64)
    bal = _hand_curve((8.0, 3.4, 3.4), (0.5, 1.0, 1.0), "RMSE", 10.0).diagnose()
    assert bal.verdict == "balanced" and bal.numbers["gap_scaled"] == pytest.approx(0.24)
    under = _hand_curve((8.0, 5.5, 5.5), (4.0, 5.1, 5.1), "RMSE", 10.0).diagnose()
    assert under.verdict == "under-fitting"
    assert under.numbers["apparent_scaled"] == pytest.approx(0.49)
    near = _hand_curve((8.0, 5.3, 5.3), (4.0, 4.9, 4.9), "RMSE", 10.0).diagnose()
    assert near.verdict == "balanced"


def test_curve_table_from_hand_made_scores():
    """Two resamples x two sizes, one metric; resample 2's fit at the second size failed.
    Size 1: held-out 0.6 and 0.8 (mean 0.7, SD sqrt(0.02)), apparent 1.0 and 0.9 (0.95,
    sqrt(0.005)), subsample rows 3 and 4 (3.5). Size 2: one success (0.9 / 0.95, no SD), 6 rows."""
    from leanfit.learning import _curve_table, _Scores

    nan = np.nan
    scores = _Scores(
        held=np.array([[[0.6], [0.9]], [[0.8], [nan]]]),
        apparent=np.array([[[1.0], [0.95]], [[0.9], [nan]]]),
        failed=np.array([[False, False], [False, True]]),
    )
    subsets = [[np.arange(3), np.arange(6)], [np.arange(4), np.arange(6)]]
    table = _curve_table(scores, Control(method="cv", number=2), None, subsets, (0.5, 1.0), ["M"])
    assert table.columns.tolist() == list(TABLE_COLUMNS)
    assert table["size"].tolist() == [3.5, 6.0]
    assert table["fraction"].tolist() == [0.5, 1.0]
    assert table["resampled_mean"].tolist() == pytest.approx([0.7, 0.9])
    assert table["resampled_sd"].iloc[0] == pytest.approx(0.02**0.5)
    assert np.isnan(table["resampled_sd"].iloc[1])
    assert table["apparent_mean"].tolist() == pytest.approx([0.95, 0.95])
    assert table["apparent_sd"].iloc[0] == pytest.approx(0.005**0.5)
    assert table["n_resamples"].tolist() == [2, 1]
    assert table["n_failed"].tolist() == [0, 1]


def test_verdict_rules_at_their_boundaries():
    """gap > 0.25 is over-fitting (0.25 itself is not); then apparent < 0.5 is under-fitting
    (0.5 itself is not); otherwise balanced, with a more-data remedy only while rising."""
    from leanfit.learning import _verdict

    assert _verdict("Accuracy", 0.26, 0.9, False)[0] == "over-fitting"
    assert _verdict("Accuracy", 0.25, 0.49, False)[0] == "under-fitting"
    why = "the gap is within 25% of that distance and training performance covers 50% of it"
    assert _verdict("Accuracy", 0.25, 0.5, False) == ("balanced", why, [])
    verdict, _, remedies = _verdict("Accuracy", 0.0, 0.6, True)
    assert verdict == "balanced"
    assert remedies == ["more training data: the resampled curve is still rising"]
    _, _, flat = _verdict("RMSE", 0.1, 0.2, False)
    assert flat[-1] == "more data alone will not help: the resampled curve has flattened"
    _, _, still = _verdict("RMSE", 0.1, 0.2, True)
    assert len(still) == len(flat) - 1
