"""Tree compressions: fewer trees from the sub-model profile (no refit) and compiled trees,
checked against the engines' own predictions computed another way."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from scipy.special import expit

import leanfit as lf
from leanfit.compression import Source
from leanfit.compression import trees as tree_mod
from leanfit.compression.trees import tree_candidates, tree_profile

pytest.importorskip("onnxruntime")

GBM_GRID = {"n_trees": [10, 20, 40], "interaction_depth": [2], "shrinkage": [0.1],
            "n_minobsinnode": [10]}  # fmt: skip


@pytest.fixture(scope="module")
def gbm_fit():
    return lf.train(
        "Class ~ .",
        data=lf.datasets.load("sonar"),
        method="gbm",
        grid=lf.expand_grid(GBM_GRID),
        control=lf.Control(method="cv", number=3),
        metric="Accuracy",
        maximize=True,
        seed=4,
    )


def _source(fit):
    X = np.asarray(fit.dataset.X, dtype=np.float32)
    return Source(fit, X, np.asarray(fit.dataset.y), list(fit.dataset.levels))


def test_profile_is_the_results_rows_at_the_chosen_other_parameters(gbm_fit):
    prof = tree_profile(gbm_fit)
    res = gbm_fit.results
    assert prof["n_trees"].tolist() == [10, 20, 40]
    for _, row in prof.iterrows():
        same = res[res["n_trees"] == row["n_trees"]]
        assert row["Accuracy"] == pytest.approx(float(same["Accuracy"].iloc[0]))
        assert row["Resamples"] == 3


def test_fewer_trees_predict_like_lightgbm_cut_at_that_iteration(gbm_fit):
    src = _source(gbm_fit)
    chosen = gbm_fit.best_params["n_trees"]
    cands = tree_candidates(src, {"trees": [10, 20], "compile": "none"})
    assert chosen > 10
    assert [c.settings["n_trees"] for c in cands] == [k for k in (10, 20) if k < chosen]
    booster = gbm_fit.final_model
    X = src.X_train[:60]
    for c in cands:
        k = c.settings["n_trees"]
        # LightGBM's own raw score after k iterations, through the logistic link by hand
        p1 = expit(booster.predict(X, raw_score=True, num_iteration=k))
        assert c.technique == "fewer_trees" and c.onnx is not None
        assert c.size_bytes == len(c.onnx)
        np.testing.assert_allclose(c.predict(X), np.column_stack([1 - p1, p1]), atol=1e-5)
        assert "resampled Accuracy" in c.settings
    sizes = [c.size_bytes for c in cands]
    assert sizes == sorted(sizes)  # fewer trees, fewer bytes


def test_compiled_trees_match_lightgbm_with_missing_values(gbm_fit):
    src = _source(gbm_fit)
    n = gbm_fit.best_params["n_trees"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it must be kept (faster) and quiet
        (comp,) = tree_candidates(src, {"trees": [n], "compile": "full"})
    assert comp.technique == "compiled"
    X = src.X_train[:80].astype(float)
    X[::7, 3] = np.nan
    X[::5, 11] = np.nan
    booster = gbm_fit.final_model
    p1 = expit(booster.predict(X, raw_score=True, num_iteration=n))
    np.testing.assert_allclose(comp.predict(X), np.column_stack([1 - p1, p1]), atol=1e-5)


def test_rf_first_k_trees_average_the_first_k_trees():
    fit = lf.train(
        "Type ~ .",
        data=lf.datasets.load("glass"),
        method="rf",
        grid={"mtry": [3]},
        options={"n_trees": 16},
        control=lf.Control(method="cv", number=3),
        seed=2,
    )
    src = _source(fit)
    cands = tree_candidates(src, {"compile": "none"})
    assert [c.settings["n_trees"] for c in cands] == [1, 2, 4, 8]
    X = src.X_train[:40]
    est = fit.final_model.est
    for c in cands:
        k = c.settings["n_trees"]
        by_hand = np.mean([t.predict_proba(X) for t in est.estimators_[:k]], axis=0)
        np.testing.assert_allclose(c.predict(X), by_hand, atol=1e-5)


def test_a_compiled_form_slower_than_the_engine_is_dropped_with_its_figures(gbm_fit, monkeypatch):
    times = iter([50.0, 20.0])  # compiled first, then the engine
    monkeypatch.setattr(tree_mod, "single_row_us", lambda predict, rows: next(times))
    with pytest.warns(UserWarning, match=r"dropped: 50.0 us per row against 20.0 us"):
        got = tree_candidates(_source(gbm_fit), {"trees": [10], "compile": "full"})
    assert [c.technique for c in got] == ["fewer_trees"]


def test_a_missing_compiler_names_the_extra(gbm_fit, monkeypatch):
    monkeypatch.setitem(sys.modules, "tl2cgen", None)
    with pytest.raises(ImportError, match=r"pip install 'leanfit\[compile-trees\]'"):
        tree_candidates(_source(gbm_fit), {"trees": [10]})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tree": [3]}, r"options \['tree'\] unknown; valid: \['trees', 'compile', 'quantize'\]"),
        ({"trees": [0]}, r"between 1 and {n}"),
        ({"trees": ["n+1"]}, r"between 1 and {n}"),
        ({"compile": "some"}, r"'full', 'all', 'none' or a list"),
    ],
)
def test_bad_options_are_named(gbm_fit, options, message):
    n = gbm_fit.best_params["n_trees"]
    options = {k: [n + 1 if t == "n+1" else t for t in v] if k == "trees" else v
               for k, v in options.items()}  # fmt: skip
    with pytest.raises(ValueError, match=message.format(n=n)):
        tree_candidates(_source(gbm_fit), options)


def test_other_models_are_refused():
    fit = lf.train(
        "Class ~ .",
        data=lf.datasets.load("sonar"),
        method="lda",
        control=lf.Control(method="cv", number=3),
        seed=1,
    )
    with pytest.raises(ValueError, match=r"tree compressions apply to fits of \['gbm'"):
        tree_candidates(_source(fit), {})


def test_compiled_xgboost_multiclass_matches_xgboost():
    import xgboost as xgb

    grid = {"nrounds": [15], "max_depth": [3], "eta": [0.3], "gamma": [0],
            "colsample_bytree": [1.0], "min_child_weight": [1], "subsample": [1.0]}  # fmt: skip
    fit = lf.train(
        "Type ~ .",
        data=lf.datasets.load("glass"),
        method="xgb_tree",
        grid=lf.expand_grid(grid),
        control=lf.Control(method="cv", number=3),
        seed=2,
    )
    src = _source(fit)
    (comp,) = tree_candidates(src, {"compile": "full"})
    X = src.X_train[:50].astype(float)
    X[::4, 2] = np.nan
    by_xgb = fit.final_model.est.predict(xgb.DMatrix(X))
    assert by_xgb.shape == (50, len(fit.dataset.levels))
    np.testing.assert_allclose(comp.predict(X), by_xgb, atol=1e-5)


def test_lf_compress_measures_the_fewer_trees_candidates_on_test_rows():
    sonar = lf.datasets.load("sonar")
    train, test = sonar.iloc[::2].reset_index(drop=True), sonar.iloc[1::2].reset_index(drop=True)
    fit = lf.train(
        "Class ~ .",
        data=train,
        method="gbm",
        grid=lf.expand_grid(GBM_GRID),
        control=lf.Control(method="cv", number=3),
        seed=4,
    )
    out = lf.compress(
        fit, test=test, tolerance=0.05, techniques=["fewer_trees"], options={"compile": "none"}
    )
    table = out.table.set_index("name")
    n = fit.best_params["n_trees"]
    assert n > 10, "the fit must leave fewer-trees candidates to check"
    Xt = fit.dataset.encoder.transform(test)
    truth = (test["Class"] == fit.dataset.levels[1]).to_numpy()
    for k in (c for c in (10, 20, 40) if c < n):
        row = table.loc[f"gbm, first {k} trees"]
        raw = fit.final_model.predict(Xt, raw_score=True, num_iteration=k)
        assert row["Accuracy"] == pytest.approx(np.mean((raw > 0) == truth))
        assert row["size_bytes"] < table.loc["original", "size_bytes"]
