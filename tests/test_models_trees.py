"""Tests of the tree, forest, bagging and boosting models (trees.py and the boosting.py engines).

R references (caret 7, rpart 4.1, mlbench's Sonar) are written inline; they came from
``getModelInfo(...)$grid(...)``, ``rpart(..., control = rpart.control(cp = 0, xval = 0))$cptable``
and ``caret::var_seq``.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_friedman1

import leanfit as lf
from leanfit.models.base import CLASSIFICATION, REGRESSION, Model, TrainingData, get_model
from leanfit.models.trees import RPart, _pruned_rep, cp_table, var_seq

NAMES = (
    "rf",
    "extra_trees",
    "treebag",
    "rpart",
    "rpart2",
    "adaboost",
    "hist_gbm",
    "lightgbm",
    "xgb_tree",
    "xgb_linear",
    "catboost",
)
OPTIONAL_ENGINES = ("xgboost", "catboost")

# Small fits: (options, shared params, sub-model values) per model.
SMALL: dict[str, tuple[dict, dict, list[dict]]] = {
    "rf": ({"n_trees": 40}, {"mtry": 7}, [{}]),
    "extra_trees": ({"n_trees": 40}, {"mtry": 7, "min_node_size": 2}, [{}]),
    "treebag": ({"n_bags": 10}, {}, [{}]),
    "rpart": ({}, {}, [{"cp": c} for c in (0.3, 0.06, 0.02, 0.0)]),
    "rpart2": ({}, {}, [{"maxdepth": d} for d in (1, 2, 4)]),
    "adaboost": (
        {},
        {"max_depth": 1, "learning_rate": 0.5},
        [{"n_estimators": k} for k in (3, 10, 25)],
    ),
    "hist_gbm": (
        {},
        {
            "learning_rate": 0.1,
            "max_leaf_nodes": 7,
            "min_samples_leaf": 10,
            "l2_regularization": 0.0,
        },
        [{"max_iter": k} for k in (3, 10, 25)],
    ),
    "lightgbm": (
        {},
        {
            "num_leaves": 7,
            "learning_rate": 0.1,
            "min_child_samples": 10,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.7,
            "lambda_l1": 0.0,
            "lambda_l2": 0.1,
        },
        [{"n_estimators": k} for k in (3, 10, 25)],
    ),
    "xgb_tree": (
        {},
        {
            "max_depth": 2,
            "eta": 0.3,
            "gamma": 0.0,
            "colsample_bytree": 0.6,
            "min_child_weight": 1.0,
            "subsample": 0.7,
        },
        [{"nrounds": k} for k in (3, 10, 25)],
    ),
    "xgb_linear": (
        {},
        {"lambda": 0.01, "alpha": 0.001, "eta": 0.3},
        [{"nrounds": k} for k in (3, 10, 25)],
    ),
    "catboost": (
        {},
        {"depth": 3, "learning_rate": 0.1, "l2_leaf_reg": 3.0},
        [{"iterations": k} for k in (3, 10, 25)],
    ),
}
# Models whose fits depend on the seed beyond tie-breaking (bootstrap, column/row sampling).
RANDOMIZED = ("rf", "extra_trees", "treebag", "lightgbm", "xgb_tree", "catboost")
SUBMODEL = ("rpart", "adaboost", "hist_gbm", "lightgbm", "xgb_tree", "xgb_linear", "catboost")


def _available(name: str) -> bool:
    """Whether the model's engine is installed (xgboost and catboost are optional extras)."""
    import importlib

    engine = get_model(name).engine
    if engine not in OPTIONAL_ENGINES:
        return True
    try:
        importlib.import_module(engine)
    except ImportError:
        return False
    return True


def _model(name: str) -> Model:
    """The registered model with the small options (skipping optional engines not installed)."""
    m = get_model(name)
    if m.engine in OPTIONAL_ENGINES:
        pytest.importorskip(m.engine)
    m.options.update(SMALL[name][0])
    return m


def _params(name: str, subs: list[dict]) -> dict:
    """Shared params plus the first sub's values (what train() passes)."""
    return {**SMALL[name][1], **subs[0]}


@pytest.fixture(scope="module")
def sonar_data() -> TrainingData:
    df = lf.datasets.load("sonar")
    X = df[[f"V{i}" for i in range(1, 61)]].to_numpy(dtype=float)
    y = df["Class"].cat.codes.to_numpy()  # M = 0, R = 1
    return TrainingData(X, y, CLASSIFICATION, ("M", "R"), columns=tuple(df.columns[:60]))


@pytest.fixture(scope="module")
def reg_data() -> TrainingData:
    X, y = make_friedman1(n_samples=150, n_features=8, noise=1.0, random_state=0)
    return TrainingData(X, y, REGRESSION)


def _data(mode: str, sonar_data: TrainingData, reg_data: TrainingData) -> TrainingData:
    return sonar_data if mode == CLASSIFICATION else reg_data


def _fit(name: str, data: TrainingData, seed: int = 1, subs: list[dict] | None = None) -> Any:
    m = _model(name)
    subs = SMALL[name][2] if subs is None else subs
    return m, m.fit(data, _params(name, subs), subs, seed), subs


def _cases() -> list[tuple[str, str]]:
    return [(n, mode) for n in NAMES for mode in get_model(n).modes]


# -- every model: fit, predict, probabilities, determinism, importance -----------------------


@pytest.mark.parametrize(("name", "mode"), _cases())
def test_fits_and_predicts(name, mode, sonar_data, reg_data):
    d = _data(mode, sonar_data, reg_data)
    m, fitted, subs = _fit(name, d)
    pred = m.predict(fitted, d.X, subs)
    assert pred.shape == (len(subs), len(d.y))
    if mode == CLASSIFICATION:
        prob = m.predict_proba(fitted, d.X, subs)
        assert prob.shape == (len(subs), len(d.y), 2)
        assert np.all(prob >= 0)
        np.testing.assert_allclose(prob.sum(axis=2), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(pred, prob.argmax(axis=2))
        assert (pred[-1] == d.y).mean() > 0.75  # training rows, the most complex sub
    else:
        assert np.isfinite(pred).all()
        r2 = 1 - ((pred[-1] - d.y) ** 2).mean() / d.y.var()
        assert r2 > 0.5
    # Fits are picklable (they travel back from worker processes) and predict the same after.
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(m.predict(again, d.X, subs), pred)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_fit(name, sonar_data, reg_data):
    mode = get_model(name).modes[-1]
    d = _data(mode, sonar_data, reg_data)
    m, a, subs = _fit(name, d, seed=5)
    _, b, _ = _fit(name, d, seed=5)
    pa, pb = m.predict(a, d.X, subs), m.predict(b, d.X, subs)
    np.testing.assert_array_equal(pa, pb)
    if mode == CLASSIFICATION:
        np.testing.assert_array_equal(m.predict_proba(a, d.X, subs), m.predict_proba(b, d.X, subs))
    if name in RANDOMIZED:
        _, c, _ = _fit(name, d, seed=6)
        pc = m.predict_proba(c, d.X, subs) if mode == CLASSIFICATION else m.predict(c, d.X, subs)
        pa = m.predict_proba(a, d.X, subs) if mode == CLASSIFICATION else pa
        assert np.abs(pa - pc).max() > 1e-6


@pytest.mark.parametrize(("name", "mode"), _cases())
def test_importance_one_finite_value_per_column(name, mode, sonar_data, reg_data):
    d = _data(mode, sonar_data, reg_data)
    m, fitted, subs = _fit(name, d)
    imp = m.importance(fitted, subs[-1:])
    assert imp is not None and imp.shape == (d.X.shape[1],)
    assert np.isfinite(imp).all() and (imp >= 0).all() and imp.sum() > 0


def test_multiclass_probabilities():
    """Three classes, and a fit whose rows lack one class still gives K columns."""
    X, y0 = make_friedman1(n_samples=120, n_features=5, random_state=1)
    y = np.digitize(y0, np.quantile(y0, [1 / 3, 2 / 3]))
    d = TrainingData(X, y, CLASSIFICATION, ("a", "b", "c"))
    rows = y != 2
    d2 = TrainingData(X[rows], y[rows], CLASSIFICATION, ("a", "b", "c"))
    for name in filter(_available, NAMES):
        m, fitted, subs = _fit(name, d)
        p = m.predict_proba(fitted, X, subs)
        assert p.shape == (len(subs), len(y), 3), name
        np.testing.assert_allclose(p.sum(axis=2), 1.0, rtol=0, atol=1e-12, err_msg=name)
        if m.engine in ("lightgbm", "xgboost", "catboost"):
            continue  # their multiclass objectives are told K (K columns, the absent class > 0)
        m, fitted, subs = _fit(name, d2)
        p = m.predict_proba(fitted, X, subs)
        assert p.shape == (len(subs), len(y), 3), name
        np.testing.assert_array_equal(p[..., 2], 0.0, err_msg=name)


def test_missing_values(sonar_data):
    X = sonar_data.X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    d = TrainingData(X, sonar_data.y, CLASSIFICATION, ("M", "R"))
    for name in filter(_available, NAMES):
        m = get_model(name)
        if not m.takes_missing:
            continue
        m, fitted, subs = _fit(name, d)
        p = m.predict_proba(fitted, X, subs)
        assert np.isfinite(p).all(), name
        assert (p[-1].argmax(axis=1) == d.y).mean() > 0.75, name


def test_weights_accepted(sonar_data):
    w = np.where(sonar_data.y == 1, 3.0, 1.0)
    d = TrainingData(sonar_data.X, sonar_data.y, CLASSIFICATION, ("M", "R"), weights=w)
    for name in filter(_available, NAMES):
        m = get_model(name)
        assert m.takes_weights, name
        m, plain, subs = _fit(name, sonar_data)
        _, weighted, _ = _fit(name, d)
        p0 = m.predict_proba(plain, d.X, subs)[-1, :, 1]
        pw = m.predict_proba(weighted, d.X, subs)[-1, :, 1]
        assert pw.mean() > p0.mean(), name  # up-weighting R raises P(R)


# -- sub-models: one fit scores every sub as separate fits would ----------------------------


@pytest.mark.parametrize("name", SUBMODEL)
def test_one_fit_equals_separate_fits(name, sonar_data, reg_data):
    m = _model(name)
    for mode in m.modes:
        d = _data(mode, sonar_data, reg_data)
        _, big, subs = _fit(name, d, seed=3)
        together = (
            m.predict_proba(big, d.X, subs) if mode == CLASSIFICATION else m.predict(big, d.X, subs)
        )
        shuffled = subs[::-1]
        again = m.predict(big, d.X, shuffled)
        np.testing.assert_array_equal(again[::-1], m.predict(big, d.X, subs))
        for i, sub in enumerate(subs):
            _, alone, _ = _fit(name, d, seed=3, subs=[sub])
            one = (
                m.predict_proba(alone, d.X, [sub])
                if mode == CLASSIFICATION
                else m.predict(alone, d.X, [sub])
            )
            np.testing.assert_allclose(together[i], one[0], rtol=0, atol=1e-12, err_msg=f"{sub}")
        # and the sub-models do differ
        assert np.abs(together[0] - together[-1]).max() > 1e-3


def test_rpart2_depths_from_one_fit(sonar_data, reg_data):
    """Each depth is the deepest fit cut at that depth, then pruned at cp = 0.01: the same tree
    as a fit grown to that depth (ties between equally good splits aside)."""
    m = get_model("rpart2")
    for d in (sonar_data, reg_data):
        subs = [{"maxdepth": k} for k in (1, 2, 3, 5)]
        big = m.fit(d, subs[-1], subs, seed=0)
        together = m.predict(big, d.X, subs)
        for i, sub in enumerate(subs):
            alone = m.fit(d, sub, [sub], seed=0)
            assert int(alone.depth.max()) <= sub["maxdepth"]
            np.testing.assert_allclose(together[i], m.predict(alone, d.X, [sub])[0], atol=1e-12)


# -- rpart: cp pruning -----------------------------------------------------------------------

# rpart(Class ~ ., Sonar, cp = 0, xval = 0)$cptable and rpart(V1 ~ . - Class, Sonar, ...).
R_SONAR_CP = [
    0.484536082474226804,
    0.067010309278350513,
    0.051546391752577317,
    0.010309278350515464,
    0.0,
]
R_SONAR_NSPLIT = [0, 1, 3, 5, 6]
R_SONAR_V1_CP = [
    0.4397885502749478426,
    0.1242987532909050619,
    0.0632976266797956183,
    0.0249032958341743084,
    0.0160311245277491264,
    0.0145285504641861629,
    0.0127126948435151588,
    0.0117563661532009093,
    0.0086607139119550050,
    0.0068282087185955508,
    0.0042677442421101891,
    0.0038795946635356198,
    0.0036881537136428133,
    0.0034358507829996298,
    0.0026271903036337711,
    0.0018820614097775474,
    0.0,
]
R_SONAR_V1_NSPLIT = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17]


def _sonar_v1(sonar_data: TrainingData) -> TrainingData:
    return TrainingData(sonar_data.X[:, 1:], sonar_data.X[:, 0].copy(), REGRESSION)


def test_cp_table_matches_r(sonar_data):
    """Same tree, same complexities: classification on misclassification risk, regression on SSE."""
    t = cp_table(RPart().fit(sonar_data, {"cp": 0.0}, [{"cp": 0.0}], seed=0))
    np.testing.assert_allclose(t["CP"], R_SONAR_CP, rtol=1e-12, atol=0)
    assert t["nsplit"].tolist() == R_SONAR_NSPLIT
    t = cp_table(RPart().fit(_sonar_v1(sonar_data), {"cp": 0.0}, [{"cp": 0.0}], seed=0))
    np.testing.assert_allclose(t["CP"], R_SONAR_V1_CP, rtol=1e-12, atol=0)
    assert t["nsplit"].tolist() == R_SONAR_V1_NSPLIT


def test_rpart_default_grid_is_carets(sonar_data):
    """caret: the len largest cptable CPs, or seq(min, max, length = len) when fewer rows."""
    m = RPart()
    np.testing.assert_allclose(m.default_grid(sonar_data, 3)["cp"], R_SONAR_CP[:3], rtol=1e-12)
    seven = m.default_grid(sonar_data, 7)["cp"]
    np.testing.assert_allclose(seven, np.linspace(0, R_SONAR_CP[0], 7), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        m.default_grid(_sonar_v1(sonar_data), 4)["cp"], R_SONAR_V1_CP[:4], rtol=1e-12
    )
    # caret's rpart2: the split counts of those rows (1..30) as depths
    assert get_model("rpart2").default_grid(sonar_data, 3)["maxdepth"].tolist() == [1, 3, 5]
    assert get_model("rpart2").default_grid(_sonar_v1(sonar_data), 4)["maxdepth"].tolist() == [
        1,
        2,
        3,
        4,
    ]
    assert m.sort_simplest_first(m.default_grid(sonar_data, 3))["cp"].is_monotonic_decreasing


def test_prune_at_a_table_cp_keeps_that_rows_splits(sonar_data):
    """prune.rpart(cp = CP of a row) gives that row's tree (splits with complexity <= cp go)."""
    m = RPart()
    fitted = m.fit(sonar_data, {"cp": 0.0}, [{"cp": 0.0}], seed=0)
    leaves = fitted.est.apply(sonar_data.X)
    for cp, nsplit in zip(R_SONAR_CP, R_SONAR_NSPLIT, strict=True):
        rep = _pruned_rep(fitted, float(np.float64(cp)))
        assert len(np.unique(rep[leaves])) == nsplit + 1
    pred = m.predict(fitted, sonar_data.X, [{"cp": R_SONAR_CP[0]}])
    assert len(np.unique(pred)) == 1  # the root alone, as caret's largest grid cp gives


@pytest.mark.parametrize("mode", [CLASSIFICATION, REGRESSION])
def test_cp_pruning_equals_sklearn_ccp_alpha(mode, sonar_data, reg_data):
    """Pruning the one grown tree = scikit-learn refits with ccp_alpha = cp * root risk.

    Regression prunes on the sum of squares, which is scikit-learn's impurity; classification
    uses ``risk="impurity"`` (gini) for the comparison, since rpart's risk is misclassification.
    """
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    d = _data(mode, sonar_data, reg_data)
    m = RPart(options={"risk": "impurity"}) if mode == CLASSIFICATION else RPart()
    fitted = m.fit(d, {"cp": 0.0}, [{"cp": 0.0}], seed=4)
    path = np.unique(fitted.rel_alpha)
    cps = [0.0, *((path[:-1] + path[1:]) / 2)[:: max(len(path) // 6, 1)], path[-1] * 1.01]
    subs = [{"cp": float(c)} for c in cps]
    ours = (
        m.predict_proba(fitted, d.X, subs)
        if mode == CLASSIFICATION
        else m.predict(fitted, d.X, subs)
    )
    root = float(fitted.est.tree_.impurity[0])
    engine = DecisionTreeClassifier if mode == CLASSIFICATION else DecisionTreeRegressor
    n_leaves = []
    for i, cp in enumerate(cps):
        ref = engine(
            min_samples_split=20,
            min_samples_leaf=7,
            max_depth=30,
            random_state=4,
            ccp_alpha=cp * root,
        ).fit(d.X, d.y)
        theirs = ref.predict_proba(d.X) if mode == CLASSIFICATION else ref.predict(d.X)
        np.testing.assert_allclose(ours[i], theirs, rtol=0, atol=1e-12, err_msg=f"cp={cp}")
        n_leaves.append(ref.get_n_leaves())
    assert n_leaves[0] > n_leaves[len(n_leaves) // 2] > n_leaves[-1] == 1


# -- forests and bagging ---------------------------------------------------------------------


def test_var_seq_is_carets():
    assert var_seq(60, True, 3) == [2, 31, 60]
    assert var_seq(600, False, 4) == [2, 13, 89, 600]
    assert var_seq(3, True, 5) == [2, 3]
    assert var_seq(10, False, 1) == [3]
    assert var_seq(10, True, 1) == [3]
    assert var_seq(100, False, 7) == [2, 18, 34, 51, 67, 83, 100]


def test_rf_default_grid_is_carets(sonar_data):
    """caret's rf grid on Sonar, len = 3: mtry 2, 31, 60."""
    m = get_model("rf")
    assert m.default_grid(sonar_data, 3)["mtry"].tolist() == [2, 31, 60]
    et = get_model("extra_trees").default_grid(sonar_data, 3)
    assert et["mtry"].tolist() == [2, 31, 60] and et["min_node_size"].tolist() == [1, 1, 1]


@pytest.mark.parametrize("name", ["rf", "treebag"])
def test_out_of_bag_predictions(name, sonar_data, reg_data):
    m = _model(name)
    assert m.supports_oob
    _, fitted, subs = _fit(name, sonar_data)
    with pytest.raises(ValueError, match="out-of-bag predictions were not asked for"):
        m.oob_predict(fitted, subs)  # computed only under Control(method="oob"): ~9% of a fit
    d = dataclasses.replace(sonar_data, oob=True)
    _, fitted, subs = _fit(name, d)
    pred, prob = m.oob_predict(fitted, subs + subs)
    oob = fitted.est.oob_decision_function_
    assert prob.shape == (2, len(d.y), 2) and pred.shape == (2, len(d.y))
    seen = np.isfinite(oob).all(axis=1) & (np.nan_to_num(oob).sum(axis=1) > 0)
    np.testing.assert_allclose(prob[0][seen], oob[seen], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(pred[0][seen], oob[seen].argmax(axis=1))
    acc = (pred[0] == d.y).mean()
    assert 0.65 < acc < (m.predict(fitted, d.X, subs)[0] == d.y).mean()  # below the training fit
    _, fitted, subs = _fit(name, dataclasses.replace(reg_data, oob=True))
    pred, prob = m.oob_predict(fitted, subs)
    assert prob is None
    ok = np.isfinite(pred[0])
    assert ok.mean() > 0.9
    np.testing.assert_allclose(pred[0][ok], fitted.est.oob_prediction_[ok], rtol=0, atol=1e-12)


def test_forest_settings(sonar_data, reg_data):
    """randomForest's 500 trees and nodesize (1 / 5: nodes of at most that many rows are not
    split), mtry as a count clipped to the columns."""
    rf = get_model("rf")
    est = rf._estimator(sonar_data, {"mtry": 100}, seed=0)
    assert (est.n_estimators, est.max_features, est.min_samples_split) == (500, 60, 2)
    assert est.min_samples_leaf == 1
    assert est.bootstrap and not est.oob_score and est.n_jobs == 1
    assert rf._estimator(dataclasses.replace(sonar_data, oob=True), {"mtry": 2}, 0).oob_score
    reg = rf._estimator(reg_data, {"mtry": 3}, seed=0)
    assert (reg.min_samples_split, reg.min_samples_leaf) == (6, 1)
    et = get_model("extra_trees")._estimator(sonar_data, {"mtry": 4, "min_node_size": 3}, 0)
    assert (et.n_estimators, et.max_features, et.min_samples_leaf) == (500, 4, 3)
    bag = get_model("treebag")._estimator(sonar_data, {}, seed=0)
    assert bag.n_estimators == 25 and bag.estimator.max_depth == 30


# -- caret's boosting grids --------------------------------------------------------------------


def test_boosting_default_grids(sonar_data):
    xgb = get_model("xgb_tree").default_grid(sonar_data, 3)
    assert len(xgb) == 108
    assert sorted(xgb["subsample"].unique()) == [0.5, 0.75, 1.0]
    assert sorted(xgb["eta"].unique()) == [0.3, 0.4]
    lin = get_model("xgb_linear").default_grid(sonar_data, 3)
    np.testing.assert_allclose(sorted(lin["lambda"].unique()), [0.0, 1e-4, 0.1], rtol=1e-15)
    assert len(lin) == 27
    ada = get_model("adaboost").default_grid(sonar_data, 3)
    assert len(ada) == 18 and sorted(ada["n_estimators"].unique()) == [50, 100, 150]
    for name in ("lightgbm", "hist_gbm", "catboost"):
        m = get_model(name)
        grid = m.default_grid(sonar_data, 2)
        assert set(grid.columns) == set(m.param_names)
        assert m.sort_simplest_first(grid)[m.submodel[0]].iloc[0] == grid[m.submodel[0]].min()
    rng = np.random.default_rng(0)
    for name in NAMES:
        m = get_model(name)
        if m.params:
            grid = m.random_grid(sonar_data, 5, rng)
            assert set(grid.columns) == set(m.param_names), name
            for p in m.params:
                for v in grid[p.name]:
                    assert p.check(v.item() if hasattr(v, "item") else v) is None, (name, p, v)


# -- end to end ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_train_by_name(name, training):
    """train() finds the model by name; 20 of Sonar's 60 predictors keep the forests quick."""
    m = get_model(name)
    assert m.name == name
    if m.engine in OPTIONAL_ENGINES:
        pytest.importorskip(m.engine)
    training = training[[f"V{i}" for i in range(1, 21)] + ["Class"]]
    res = lf.train(
        "Class ~ .",
        data=training,
        method=name,
        control=lf.Control(method="cv", number=3),
        tune_length=2,
        seed=1,
    )
    assert len(res.failures) == 0
    assert np.isfinite(res.results["Accuracy"]).all()
    # reference: scikit-learn's forest (ensembles) or its unpruned tree (rpart) on the same
    # folds; the majority class alone scores 0.535 here, the forest 0.75, the tree 0.66
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    X, y = training.drop(columns="Class").to_numpy(), training["Class"].to_numpy()
    single = name in ("rpart", "rpart2")
    ref = [
        (
            DecisionTreeClassifier(random_state=0)
            if single
            else RandomForestClassifier(200, random_state=0)
        )
        .fit(X[tr], y[tr])
        .score(X[te], y[te])
        for _, tr, te in res.resamples
    ]
    assert res.results["Accuracy"].max() >= np.mean(ref) - (0.04 if single else 0.06)
    pred = res.predict(training)
    assert set(pred.unique()) <= {"M", "R"} and len(pred) == len(training)
    # the chosen model fits its own training rows at least as well as held-out rows
    assert (np.asarray(pred) == y).mean() >= res.results["Accuracy"].max()


def test_oob_control_end_to_end(training):
    res = lf.train(
        "Class ~ .",
        data=training,
        method=get_model("rf").__class__(options={"n_trees": 60}),
        grid=pd.DataFrame({"mtry": [3, 8]}),
        control=lf.Control(method="oob"),
        seed=2,
    )
    assert res.predict(training).shape == (len(training),)


# -- qrf: quantile regression forest ---------------------------------------------------------


def test_qrf_predicts_conditional_quantiles():
    """The same forest (same seed) gives ordered quantiles; the 10-90% interval covers about
    80% of new rows (measured 0.84 on 400 rows, R² of the median 0.68)."""
    X, y = make_friedman1(n_samples=600, n_features=6, noise=1.0, random_state=3)
    fit_rows, new = slice(0, 200), slice(200, 600)
    d = TrainingData(X[fit_rows], y[fit_rows], REGRESSION)
    preds = {}
    for q in (0.1, 0.5, 0.9):
        m = get_model("qrf")
        m.options.update(n_trees=100, quantile=q)
        fitted = m.fit(d, {"mtry": 3}, [{}], seed=4)
        preds[q] = m.predict(fitted, X[new], [{}])[0]
    assert (preds[0.1] <= preds[0.5]).all() and (preds[0.5] <= preds[0.9]).all()
    direct = fitted.est.predict(X[new], quantiles=0.5)
    np.testing.assert_array_equal(preds[0.5], direct)
    inside = ((y[new] >= preds[0.1]) & (y[new] <= preds[0.9])).mean()
    assert 0.7 < inside < 0.92
    assert 1 - ((preds[0.5] - y[new]) ** 2).mean() / y[new].var() > 0.6


def test_qrf_trains_by_caret_name_and_checks_its_quantile(fits):
    boston = lf.datasets.load("bostonhousing")
    ctl = lf.Control(method="cv", number=3)
    bad = get_model("qrf")
    bad.options.update(quantile=1.5)
    with pytest.raises(ValueError, match=r"options\['quantile'\] must be a number in \[0, 1\]"):
        lf.train("medv ~ .", data=boston, method=bad, control=ctl)
    assert fits == []
    res = lf.train(  # 100 trees: rf's 500 are not what is tested here
        "medv ~ .",
        data=boston,
        method="qrf",
        control=ctl,
        tune_length=2,
        seed=1,
        options={"n_trees": 100},
    )
    assert len(res.failures) == 0 and res.results["Rsquared"].max() > 0.75
    with pytest.raises(ValueError, match="qrf"):
        lf.train("Class ~ .", data=lf.datasets.load("sonar"), method="qrf", control=ctl)
