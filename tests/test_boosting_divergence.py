"""Boosting that diverges (issue 16): gbm's L2 default, and the per-fit divergence check.

The table: 8000 rows, 7 Gaussian classes of 3035 ... 15 rows, the two smallest spread out into
the others. With R gbm's settings (no L2 penalty, min hessian 1e-3) LightGBM puts ~1/hessian on
leaves of confidently fitted rows holding one misfit rare-class row: raw scores reach ~1e5 and
held-out accuracy falls with more trees (measured: fold 0 below, seed 1: 0.909 at 50 trees,
0.883 at 150; lambda_l2 = 1: 0.990, 0.992). ``benchmarks/divergence.py`` prints the full grid.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import StratifiedKFold

import leanfit as lf
from leanfit.models.base import CLASSIFICATION, REGRESSION, FitWarning, TrainingData
from leanfit.models.boosting import GBM, AdaBoost, CatBoost, HistGBM, LightGBM, XGBTree, divergence

LEVELS = tuple("ABCDEFG")
GBM_PARAMS = {"interaction_depth": 3, "shrinkage": 0.1, "n_minobsinnode": 10}
COUNTS = (50, 100, 150)


def rare_class_table(n: int = 8000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The same table as benchmarks/divergence.py (copied: tests do not import benchmarks)."""
    rng = np.random.default_rng(seed)
    sizes = [int(round(s * (n - 65) / 7935)) for s in (3000, 2600, 1400, 600, 300)] + [50, 15]
    sizes[0] += n - sum(sizes)
    spread = [1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 3.0]
    centers = rng.normal(0.0, 3.0, (7, 8))
    X = np.vstack([centers[k] + rng.normal(0.0, spread[k], (s, 8)) for k, s in enumerate(sizes)])
    return X, np.repeat(np.arange(7), sizes)


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, np.ndarray]:
    return rare_class_table()


@pytest.fixture(scope="module")
def fold0(table):
    """Training and held-out rows of fold 0 of a stratified 3-fold split."""
    X, y = table
    tr, te = next(iter(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)))
    return TrainingData(X[tr], y[tr], CLASSIFICATION, LEVELS), X[te], y[te]


def _check(model, fitted, data, subs) -> list[str]:
    """The FitWarning messages ``check_fit`` raises."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.check_fit(fitted, data, subs)
    return [str(w.message) for w in caught if issubclass(w.category, FitWarning)]


def _subs(name: str, counts=COUNTS) -> list[dict]:
    return [{name: c} for c in counts]


# -- gbm: old settings diverge, the defaults do not ----------------------------------------------


def test_gbm_without_l2_diverges_and_is_flagged(fold0):
    """Old settings: flagged exactly when LightGBM's own raw scores on the training rows pass
    max(1000, 10 x trees), and at least one seed does; the fix named is lambda_l2."""
    data, _, _ = fold0
    old = GBM(options={"lambda_l2": 0})
    flagged = 0
    for seed in (1, 2, 3):
        booster = old.fit(data, GBM_PARAMS, _subs("n_trees"), seed)
        raw = [
            np.abs(booster.predict(data.X, raw_score=True, num_iteration=c)).max() for c in COUNTS
        ]
        exploded = [c for c, r in zip(COUNTS, raw, strict=True) if r > max(1000, 10 * c)]
        msgs = _check(old, booster, data, _subs("n_trees"))
        assert bool(msgs) == bool(exploded), (seed, raw, msgs)
        if msgs:
            flagged += 1
            assert len(msgs) == 1
            assert f"n_trees = {exploded[0]}" in msgs[0]
            assert "options={'lambda_l2': 1}" in msgs[0]
    assert flagged >= 1


def test_gbm_defaults_fix_accuracy(fold0):
    """Seed 1 on fold 0: held-out accuracy of the old settings falls to < 0.95 and is flagged;
    the defaults (lambda_l2 = 1) stay >= 0.98 at every tree count, unflagged, max |raw| < 50."""
    data, Xte, yte = fold0
    subs = _subs("n_trees")
    for model, bad in ((GBM(options={"lambda_l2": 0}), True), (GBM(), False)):
        booster = model.fit(data, GBM_PARAMS, subs, 1)
        acc = [
            (booster.predict(Xte, raw_score=True, num_iteration=c).argmax(axis=1) == yte).mean()
            for c in COUNTS
        ]
        top = np.abs(booster.predict(data.X, raw_score=True)).max()
        if bad:
            assert min(acc) < 0.95 and top > 1000, (acc, top)
            assert _check(model, booster, data, subs)
        else:
            assert min(acc) >= 0.98 and top < 50, (acc, top)
            assert _check(model, booster, data, subs) == []


def test_gbm_l2_default_by_mode_and_options_reach_lightgbm():
    X, y = load_iris(return_X_y=True)
    cls = TrainingData(X, y, CLASSIFICATION, ("a", "b", "c"))
    reg = TrainingData(X[:, 1:], X[:, 0].copy(), REGRESSION)
    sub = [{"n_trees": 5}]
    assert GBM().fit(cls, GBM_PARAMS, sub, 1).params["lambda_l2"] == 1.0
    assert GBM().fit(reg, GBM_PARAMS, sub, 1).params["lambda_l2"] == 0.0  # regression unchanged
    opts = {"lambda_l2": 3.0, "min_sum_hessian": 0.5, "max_delta_step": 0.7}
    p = GBM(options=opts).fit(cls, GBM_PARAMS, sub, 1).params
    assert (p["lambda_l2"], p["min_sum_hessian_in_leaf"], p["max_delta_step"]) == (3.0, 0.5, 0.7)
    GBM(options={"lambda_l2": np.int64(2), "max_delta_step": np.float32(1)}).check_options()


def test_gbm_weights_scaled_to_mean_one():
    """Weights w and 1000 w give the same trees (the L2 penalty and min hessian are in units of
    a mean-1 weight); weights that differ in shape still change the fit."""
    X, y = load_iris(return_X_y=True)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))

    def trees(weights):
        data = TrainingData(X, y, CLASSIFICATION, ("a", "b", "c"), weights=weights)
        text = GBM().fit(data, GBM_PARAMS, [{"n_trees": 20}], 1).model_to_string()
        return text.split("end of trees")[0].split("Tree=0", 1)[1]

    assert trees(w) == trees(1000 * w)
    assert trees(w) != trees(np.ones(len(y)))


@pytest.mark.parametrize(
    "options, what",
    [
        ({"lambda_l2": -1}, "'lambda_l2' must be a number >= 0, got -1"),
        ({"min_sum_hessian": 0}, "'min_sum_hessian' must be a number > 0, got 0"),
        ({"max_delta_step": "big"}, "'max_delta_step' must be a number >= 0"),
        ({"bag_fraction": 1.5}, "'bag_fraction' must be a number in (0, 1], got 1.5"),
        ({"lambda_2": 1}, "did you mean 'lambda_l2'?"),
    ],
)
def test_gbm_bad_options_refused_before_fitting(options, what):
    df = lf.datasets.load("sonar")
    with pytest.raises(ValueError) as err:
        lf.train("Class ~ .", data=df, method=GBM(options=options))
    assert what in str(err.value)


# -- other engines -------------------------------------------------------------------------------


def test_hist_gbm_without_l2_flagged_with_its_own_fix(fold0):
    """scikit-learn's histogram boosting has no L2 by default either; its raw scores (staged
    decision function) explode the same way on this table, and l2_regularization fixes it."""
    data, _, _ = fold0
    model, subs = HistGBM(), _subs("max_iter", (50,))
    params = {"max_leaf_nodes": 7, "learning_rate": 0.1, "min_samples_leaf": 20}
    bad = model.fit(data, {**params, "l2_regularization": 0.0}, subs, 1)
    raw = max(np.abs(r).max() for r in bad.est.staged_decision_function(data.X))
    msgs = _check(model, bad, data, subs)
    assert raw > 1000 and len(msgs) == 1, (raw, msgs)
    assert "l2_regularization = 1" in msgs[0]
    good = model.fit(data, {**params, "l2_regularization": 1.0}, subs, 1)
    assert _check(model, good, data, subs) == []


@pytest.mark.parametrize(
    "model, params, axis",
    [
        (GBM(), GBM_PARAMS, "n_trees"),
        (
            LightGBM(),
            {
                "num_leaves": 7,
                "learning_rate": 0.1,
                "min_child_samples": 20,
                "feature_fraction": 1.0,
                "bagging_fraction": 1.0,
                "lambda_l1": 0.0,
                "lambda_l2": 1.0,
            },
            "n_estimators",
        ),
        (
            XGBTree(),
            {
                "max_depth": 3,
                "eta": 0.3,
                "gamma": 0.0,
                "colsample_bytree": 0.8,
                "min_child_weight": 1.0,
                "subsample": 0.75,
            },
            "nrounds",
        ),
        (CatBoost(), {"depth": 4, "learning_rate": 0.1, "l2_leaf_reg": 3.0}, "iterations"),
    ],
    ids=lambda v: getattr(v, "name", None) or "",
)
def test_healthy_fits_not_flagged(fold0, model, params, axis):
    data, _, _ = fold0
    subs = _subs(axis)
    assert _check(model, model.fit(data, params, subs, 1), data, subs) == []


@pytest.mark.parametrize("mode", [CLASSIFICATION, REGRESSION])
def test_small_healthy_fits_not_flagged(mode):
    """Iris with every boosting model in its default first candidate, both modes."""
    X, y = load_iris(return_X_y=True)
    if mode == CLASSIFICATION:
        data = TrainingData(X, y, mode, ("a", "b", "c"))
    else:
        data = TrainingData(X[:, 1:], X[:, 0].copy(), mode)
    models = [GBM(), LightGBM(), XGBTree(), CatBoost(), HistGBM()]
    models += [AdaBoost()] if mode == CLASSIFICATION else []
    for model in models:
        grid = model.default_grid(data, 3).iloc[[-1]]  # the largest count
        params = grid.to_dict("records")[0]
        axis = model.submodel[0]
        subs = [{axis: int(params[axis])}]
        fitted = model.fit(data, params, subs, 1)
        assert _check(model, fitted, data, subs) == [], model.name


# -- the criteria, on hand-made scores -----------------------------------------------------------


def _cls(y, weights=None) -> TrainingData:
    y = np.asarray(y)
    return TrainingData(np.zeros((len(y), 1)), y, CLASSIFICATION, ("a", "b", "c"), weights=weights)


def test_criteria_raw_scores():
    data = _cls([0, 1, 2, 0])
    p = np.full((4, 3), 1 / 3)
    assert "not finite" in divergence(np.array([0, np.inf, 0, 0.0]), p, data, 10)
    big = np.array([[1500.0, 0, 0]] * 4)
    assert "1.5e+03" in divergence(big, p, data, 100)  # threshold max(1000, 1000)
    assert divergence(big, p, data, 200) is None  # threshold 2000
    assert divergence(None, p, data, 200) is None


def test_criteria_accuracy_and_log_loss():
    """Majority rate 0.6 (class a of 10 rows), prior log loss = entropy of (.6, .2, .2) = 0.950.
    Everything predicted b with p = .9: accuracy 0.2, log loss 4.6 -> flagged. Predicted b with
    p(true) = .45: accuracy 0.2 but log loss 0.80 < 0.95 -> not flagged."""
    y = [0] * 6 + [1] * 2 + [2] * 2
    data = _cls(y)
    confident = np.tile([0.05, 0.9, 0.05], (10, 1))
    msg = divergence(None, confident, data, 10)
    assert msg is not None and "0.200" in msg and "0.600" in msg
    mild = np.zeros((10, 3))
    mild[np.arange(10), y] = 0.45
    mild[np.arange(10), (np.array(y) + 1) % 3] = 0.55
    assert divergence(None, mild, data, 10) is None
    # weights make class c the majority (weight 0.8): predicting c everywhere is then fine
    w = np.array([0.1 / 6] * 6 + [0.1 / 2] * 2 + [0.8 / 2] * 2)
    all_c = np.tile([0.05, 0.05, 0.9], (10, 1))
    assert divergence(None, all_c, _cls(y, w), 10) is None
    assert divergence(None, all_c, data, 10) is not None


def test_criteria_regression():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    data = TrainingData(np.zeros((4, 1)), y, REGRESSION)
    assert divergence(None, np.full(4, 2.5), data, 10) is None  # the mean: MSE = variance
    assert "MSE" in divergence(None, np.array([4.0, 3.0, 2.0, 1.0]), data, 10)
    assert "not finite" in divergence(None, np.array([1.0, np.nan, 3.0, 4.0]), data, 10)
    big = TrainingData(np.zeros((4, 1)), y * 1e6, REGRESSION)
    assert divergence(None, y * 1e6, big, 10) is None  # large targets are not raw scores


# -- train(): fit_warnings, final_warnings and print ---------------------------------------------


class _AlwaysWarns(GBM):
    """gbm whose check always reports (the plumbing, independent of when LightGBM diverges)."""

    name = "gbm"

    def check_fit(self, fitted, data, subs):
        warnings.warn(f"gbm diverged (test) at {subs[-1]['n_trees']}", FitWarning, stacklevel=2)


def test_train_records_fit_and_final_warnings(tmp_path):
    """Per resample in fit_warnings (summed up in one warning), the final fit's in
    final_warnings and a NOTE line; both kept by a store and restored with the run."""
    from leanfit.restore import restore_fit
    from leanfit.store import Store
    from leanfit.tuning.train import plan_train

    df = lf.datasets.load("sonar")
    kw = dict(
        data=df,
        method=_AlwaysWarns(),
        control=lf.Control(method="cv", number=3),
        grid={
            "interaction_depth": [1],
            "n_trees": [5, 10],
            "shrinkage": [0.1],
            "n_minobsinnode": [10],
        },
        seed=1,
    )
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.warns(UserWarning) as caught:
        res = lf.train("Class ~ .", store=store, **kw)
    said = [str(w.message) for w in caught]
    assert "3 of 3 resampling fits of 'gbm' raised warnings" in said[0]
    assert f"gbm diverged (test) at {res.best_params['n_trees']}" in said  # the final fit's
    fw = res.fit_warnings
    assert len(fw) == 3 and (fw["warning"] == "FitWarning: gbm diverged (test) at 10").all()
    assert res.final_warnings == [
        f"FitWarning: gbm diverged (test) at {res.best_params['n_trees']}"
    ]
    text = repr(res)
    assert "NOTE: 3 resampling fits raised warnings" in text
    assert f"NOTE: the final fit raised {res.final_warnings[0]}; see .final_warnings" in text
    back = restore_fit(store, res.store_run["run_id"], plan_train("Class ~ .", **kw))
    assert back.final_warnings == res.final_warnings
    assert len(back.fit_warnings) == 3


def test_train_without_resampling_prints_the_final_note():
    df = lf.datasets.load("sonar")
    params = {"interaction_depth": 1, "n_trees": 5, "shrinkage": 0.1, "n_minobsinnode": 10}
    with pytest.warns(FitWarning):
        res = lf.train(
            "Class ~ .",
            data=df,
            method=_AlwaysWarns(),
            control=lf.Control(method="none"),
            grid=pd.DataFrame([params]),
        )
    assert "NOTE: the final fit raised FitWarning: gbm diverged (test) at 5" in repr(res)


def test_healthy_train_has_no_final_warnings():
    df = lf.datasets.load("sonar")
    grid = {"interaction_depth": [1], "n_trees": [20], "shrinkage": [0.1], "n_minobsinnode": [10]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        res = lf.train(
            "Class ~ .",
            data=df,
            method="gbm",
            grid=grid,
            seed=1,
            control=lf.Control(method="cv", number=3),
        )
    assert res.final_warnings == [] and len(res.fit_warnings) == 0
    assert "final fit raised" not in repr(res)
