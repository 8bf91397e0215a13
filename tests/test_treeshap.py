"""leanfit's compiled TreeSHAP (explanations.treeshap) against LightGBM's own
``predict(pred_contrib=True)`` and ``predict(raw_score=True)``, on boosters built to reach every
branch: missing values under each of LightGBM's missing-value rules, zeros taken as missing, a
feature split on several times along one path, one-leaf trees, deep trees, a prefix of the
rounds, several threads; and the fall-back to LightGBM's own where the kernel does not apply."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import leanfit as lf

lgb = pytest.importorskip("lightgbm")
pytest.importorskip("numba")

from leanfit.explanations import treeshap  # noqa: E402


def _rows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[rng.random((n, 6)) < 0.1] = np.nan  # missing everywhere
    X[:, 3] = np.where(rng.random(n) < 0.3, 0.0, X[:, 3])  # many exact zeros
    X[:, 4] = np.round(X[:, 4])  # few values: the same feature split again down a path
    return X


def _booster(objective: str, y: np.ndarray, X: np.ndarray, rounds: int = 30, **params):
    base = {"objective": objective, "verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5}
    return lgb.train({**base, **params}, lgb.Dataset(X, y), num_boost_round=rounds)


def _engine(booster, X: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LightGBM's values (n, p, K), bias (K,) and raw output (n, K)."""
    n, p = X.shape
    k = booster.num_model_per_iteration()
    c = booster.predict(X, pred_contrib=True, num_iteration=count).reshape(n, k, p + 1)
    raw = booster.predict(X, raw_score=True, num_iteration=count).reshape(n, k)
    return np.transpose(c[:, :, :p], (0, 2, 1)), c[0, :, p], raw


def _multiclass(X: np.ndarray, **params):
    y = np.random.default_rng(1).integers(0, 3, len(X))
    return _booster("multiclass", y, X, num_class=3, **params)


CASES = {
    "multiclass": lambda X: _multiclass(X),
    "binary": lambda X: _booster("binary", (np.nan_to_num(X[:, 0]) > 0.2).astype(int), X),
    "regression, zeros as missing": lambda X: _booster(
        "regression", np.nan_to_num(X[:, 1]) * 2 + np.nan_to_num(X[:, 3]), X, zero_as_missing=True
    ),
    "regression, missing not used": lambda X: _booster(
        "regression", np.nan_to_num(X[:, 2]) - np.nan_to_num(X[:, 4]), X, use_missing=False
    ),
    "deep trees": lambda X: _booster(
        "regression",
        np.sin(np.nan_to_num(X[:, 0]) * 3) + np.nan_to_num(X[:, 4]),
        X,
        num_leaves=63,
        min_data_in_leaf=2,
    ),
    "one-leaf trees": lambda X: _booster(
        "regression", np.random.default_rng(2).normal(size=len(X)), X, min_data_in_leaf=300
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_values_bias_and_raw_output_equal_lightgbm_own(case):
    X = _rows(400)
    booster = CASES[case](X)
    rounds = booster.current_iteration()
    for count in (rounds, 3):
        forest = treeshap.read_lightgbm(booster, count)
        values, bias, raw = _engine(booster, X, count)
        got = treeshap.shap_values(forest, X, None, cores=2)
        assert got.shape == values.shape
        assert np.abs(got - values).max() <= 1e-12
        assert np.abs(forest.base - bias).max() <= 1e-12
        mine = treeshap.raw_scores(forest, X, cores=2)
        assert np.abs(mine - raw).max() <= 1e-12
        assert np.abs(got.sum(axis=1) + forest.base - raw).max() <= 1e-12
    full = treeshap.read_lightgbm(booster, rounds)
    if case == "deep trees":
        assert full.max_depth >= 10
    if case == "one-leaf trees":
        assert full.max_depth == 0 and not treeshap.shap_values(full, X, None, 1).any()
    else:  # some leaf's path splits on the same feature more than once
        assert (np.diff(full.edge_off) > full.leaf_d).any()


def test_threads_give_the_same_numbers_and_wanted_pairs_only():
    X = _rows(300, seed=4)
    booster = _multiclass(X, num_leaves=31)
    forest = treeshap.read_lightgbm(booster, 30)
    one = treeshap.shap_values(forest, X, None, cores=1)
    assert np.array_equal(one, treeshap.shap_values(forest, X, None, cores=3))
    want = np.zeros((len(X), 3), dtype=bool)
    want[np.arange(len(X)), np.arange(len(X)) % 3] = True
    some = treeshap.shap_values(forest, X, want, cores=2)
    assert np.array_equal(
        some[want.nonzero()[0], :, want.nonzero()[1]], one[want.nonzero()[0], :, want.nonzero()[1]]
    )
    assert not some[~want[:, None, :].repeat(X.shape[1], axis=1)].any()  # never computed


def test_categorical_splits_and_random_forest_mode_fall_back_to_lightgbm():
    X = _rows(400)
    X[:, 5] = np.random.default_rng(3).integers(0, 6, len(X))
    y = (X[:, 5] % 2 == 0).astype(int)
    cat = lgb.train(
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 5, "min_data_per_group": 5},
        lgb.Dataset(X, y, categorical_feature=[5]),
        num_boost_round=10,
    )
    with pytest.raises(ValueError, match="categorical"):
        treeshap.read_lightgbm(cat, 10)
    rf = _booster("binary", y, X, boosting="rf", bagging_fraction=0.6, bagging_freq=1, num_leaves=7)
    with pytest.raises(ValueError, match="average_output"):
        treeshap.read_lightgbm(rf, 10)


def _lgb_fit(data: pd.DataFrame, target: str):
    grid = pd.DataFrame({"n_estimators": [30], "num_leaves": [7], "min_child_samples": [5]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lf.train(
            data, target, method="lightgbm", grid=grid, control=lf.Control(method="none"), seed=1
        )


def test_lf_explain_without_numba_uses_lightgbm_and_agrees(monkeypatch):
    glass = lf.datasets.load("glass")
    fit = _lgb_fit(glass, "Type")
    rows = glass.drop(columns="Type").iloc[::4]
    fast = lf.explain(fit, rows)
    fast_one = lf.explain(fit, rows, classes="predicted")
    assert fast.method.startswith("TreeSHAP (exact")
    monkeypatch.setattr(treeshap, "available", lambda: False)
    slow = lf.explain(fit, rows)
    slow_one = lf.explain(fit, rows, classes="predicted")
    assert slow.method == "LightGBM's TreeSHAP (predict(pred_contrib=True))"
    assert "each wanted class's trees only" in slow_one.method
    assert "each wanted class's trees only" in fast_one.method
    assert np.abs(fast.values - slow.values).max() <= 1e-12
    assert np.abs(fast.base - slow.base).max() <= 1e-12
    assert np.abs(fast.raw - slow.raw).max() <= 1e-12
    assert fast_one.outputs == slow_one.outputs
    assert np.allclose(fast_one.values, slow_one.values, atol=1e-12, equal_nan=True)


def test_one_fit_parts_reads_the_trees_once(monkeypatch):
    """A server keeps one FitParts: the trees are read on its first explanation only."""
    from leanfit.explanations import explain_parts, fit_parts

    sonar = lf.datasets.load("sonar")
    fit = _lgb_fit(sonar, "Class")
    reads = []
    real = treeshap.read_lightgbm
    monkeypatch.setattr(treeshap, "read_lightgbm", lambda b, c: reads.append(c) or real(b, c))
    parts = fit_parts(fit)
    rows = sonar.drop(columns="Class")
    first = explain_parts(parts, rows.iloc[:5])
    again = explain_parts(parts, rows.iloc[5:9])
    assert reads == [30]
    assert np.array_equal(again.values, lf.explain(fit, rows.iloc[5:9]).values)
    assert first.additivity_error() <= 1e-12
