"""Feature selection with outer resampling: rfe, sbf, gafs, safs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.featsel import (
    anova_scores,
    cor_scores,
    gafs,
    pick_size_best,
    pick_size_tolerance,
    rfe,
    safs,
    sbf,
)
from leanfit.models.base import REGRESSION, Model, TrainingData

INFORMATIVE = ["x1", "x2", "x3"]
SIZES = (1, 2, 3, 5, 10, 20)
CV3 = lf.Control(method="cv", number=3)
HOLDOUT = lf.Control(method="lgocv", number=1, p=0.8)  # a 20 % internal holdout


def _data(mode: str, n: int = 150, p: int = 20, seed: int = 1) -> pd.DataFrame:
    """3 informative columns (x1..x3) and p - 3 pure-noise ones."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    eta = 2 * X[:, 0] + 1.5 * X[:, 1] - 1.5 * X[:, 2]
    df = pd.DataFrame(X, columns=[f"x{j + 1}" for j in range(p)])
    if mode == "classification":
        df["y"] = np.where(eta + rng.logistic(size=n) * 0.5 > 0, "yes", "no")
    else:
        df["y"] = eta + rng.normal(size=n) * 0.5
    return df


@pytest.fixture(scope="module")
def cls_data() -> pd.DataFrame:
    return _data("classification")


@pytest.fixture(scope="module")
def reg_data() -> pd.DataFrame:
    return _data("regression")


@dataclass
class Recorder(Model):
    """Least squares that records the rows of every fit and of every ranking. The row ids come
    in as observation weights (weight = row + 1), which the fit itself ignores."""

    name: ClassVar[str] = "recorder"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)
    takes_weights: ClassVar[bool] = True
    calls: list = field(default_factory=list)

    def fit(self, data: TrainingData, params, subs, seed) -> Any:
        ids = [] if data.weights is None else (np.rint(data.weights) - 1).astype(int).tolist()
        rows = frozenset(ids)
        self.calls.append(("fit", rows, data.X.shape[1]))
        A = np.column_stack([np.ones(len(data.y)), data.X])
        coef = np.linalg.lstsq(A, data.y, rcond=None)[0]
        return {"coef": coef, "sd": data.X.std(axis=0), "rows": rows}

    def predict(self, fitted: Any, X: np.ndarray, subs) -> np.ndarray:
        pred = fitted["coef"][0] + X @ fitted["coef"][1:]
        return np.tile(pred, (len(subs), 1))

    def importance(self, fitted: Any, subs) -> np.ndarray:
        self.calls.append(("rank", fitted["rows"], len(fitted["sd"])))
        return np.abs(fitted["coef"][1:]) * fitted["sd"]


# ---------------------------------------------------------------------------------------------
# rfe
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["classification", "regression"])
def test_rfe_finds_the_informative_columns(mode, cls_data, reg_data):
    df = cls_data if mode == "classification" else reg_data
    r = rfe(df, "y", method="glmnet", sizes=SIZES, control=CV3, seed=1)
    assert r.results["Variables"].tolist() == list(SIZES)  # one row per size, 20 = all
    assert r.optsize in (3, 5)
    assert set(r.optvariables[:3]) == set(INFORMATIVE)
    assert len(r.optvariables) == r.optsize
    assert list(r.final_model.dataset.encoder.feature_names) == sorted(
        r.optvariables, key=lambda c: int(c[1:])
    )
    m = r.metric
    best = r.results.loc[r.results["Variables"] == r.optsize, m].iloc[0]
    assert best == (r.results[m].max() if r.maximize else r.results[m].min())
    assert len(r.resample) == 3 and (r.resample["Variables"] == r.optsize).all()
    # every resample ranked all 20 columns on its training rows, informative ones on top
    full = r.variables[r.variables["Variables"] == 20]
    assert full.groupby("Resample").size().tolist() == [20, 20, 20]
    assert set(full.loc[full["rank"] <= 3, "var"]) == set(INFORMATIVE)
    assert set(r.ranking["var"].head(3)) == set(INFORMATIVE)
    pred = r.predict(df.drop(columns="y"))
    assert len(pred) == len(df) and pred.index.equals(df.index)
    assert "Recursive feature selection" in repr(r) and "*" in repr(r)


def test_rfe_is_reproducible_and_identical_across_n_jobs(cls_data):
    a = rfe(cls_data, "y", method="glmnet", sizes=(2, 3, 5), control=CV3, seed=7)
    b = rfe(cls_data, "y", method="glmnet", sizes=(2, 3, 5), control=CV3, seed=7)
    c = rfe(
        cls_data,
        "y",
        method="glmnet",
        sizes=(2, 3, 5),
        control=lf.Control(method="cv", number=3, n_jobs=2),
        seed=7,
    )
    for other in (b, c):
        pd.testing.assert_frame_equal(a.results, other.results)
        pd.testing.assert_frame_equal(a.variables, other.variables)
        assert a.optvariables == other.optvariables


@pytest.mark.parametrize("rerank", [False, True])
def test_rfe_ranks_on_training_rows_only(reg_data, rerank):
    n = len(reg_data)
    model = Recorder()
    ids = np.arange(n) + 1.0
    r = rfe(
        reg_data,
        "y",
        method=model,
        sizes=(2, 3, 5),
        control=CV3,
        weights=ids,
        rerank=rerank,
        seed=3,
    )
    folds = lf.kfold(reg_data["y"], k=3, seed=3)  # the outer resamples rfe drew
    train_sets = [frozenset(tr.tolist()) for _, tr, _ in folds]
    test_sets = [frozenset(te.tolist()) for _, _, te in folds]
    everything = frozenset(range(n))
    ranks = [rows for kind, rows, _ in model.calls if kind == "rank"]
    fits = [rows for kind, rows, _ in model.calls if kind == "fit"]
    for rows in ranks + fits:
        assert rows == everything or rows in train_sets
    for tr, te in zip(train_sets, test_sets, strict=True):
        assert tr.isdisjoint(te)
        assert tr in ranks  # each resample ranked on its own training rows
    # one ranking per resample (+ one per smaller size when re-ranking) and the final one(s)
    per_resample = 1 + (2 if rerank else 0)
    assert sum(rows != everything for rows in ranks) == 3 * per_resample
    assert set(r.optvariables[:3]) == set(INFORMATIVE)


def test_pick_size_rules():
    res = pd.DataFrame({"Variables": [1, 2, 4, 8], "Accuracy": [0.7, 0.895, 0.9, 0.88]})
    assert pick_size_best(res, "Accuracy", True) == 4
    assert pick_size_tolerance(res, "Accuracy", tol=1.5, maximize=True) == 2
    rmse = pd.DataFrame({"Variables": [1, 2, 4], "RMSE": [2.0, 1.01, 1.0]})
    assert pick_size_best(rmse, "RMSE", False) == 4
    assert pick_size_tolerance(rmse, "RMSE", tol=1.5, maximize=False) == 2


def test_rfe_tolerance_rule_and_rerank(reg_data):
    r = rfe(
        reg_data,
        "y",
        method="glmnet",
        sizes=(2, 3, 10),
        control=CV3,
        select_size="tolerance",
        tol=5,
        rerank=True,
        seed=2,
    )
    assert r.optsize == 3 and set(r.optvariables) == set(INFORMATIVE)
    # re-ranking: the size-3 sets come from the size-10 fits, not the full ranking
    assert set(r.variables["Variables"]) == {2, 3, 10, 20}


def test_rfe_bad_inputs(cls_data):
    with pytest.warns(UserWarning, match=r"sizes \[25, 30\] exceed the 20 predictors"):
        r = rfe(cls_data, "y", method="glmnet", sizes=(3, 25, 30), control=CV3, seed=1)
    assert r.results["Variables"].tolist() == [3, 20]
    with pytest.raises(ValueError, match="sizes is empty"):
        rfe(cls_data, "y", method="glmnet", sizes=(), control=CV3)
    with pytest.raises(ValueError, match="size 0 must be a whole number >= 1"):
        rfe(cls_data, "y", method="glmnet", sizes=(0, 2), control=CV3)
    with pytest.raises(ValueError, match="unknown method 'glmnett'"):
        rfe(cls_data, "y", method="glmnett", sizes=(2,), control=CV3)
    with pytest.raises(ValueError, match="metric 'ROC' is not produced"):
        rfe(cls_data, "y", method="glmnet", sizes=(2,), control=CV3, metric="ROC")
    with pytest.raises(ValueError, match="needs held-out rows"):
        rfe(cls_data, "y", method="glmnet", sizes=(2,), control=lf.Control(method="none"))
    with pytest.raises(ValueError, match="select_size='worst'"):
        rfe(cls_data, "y", method="glmnet", sizes=(2,), control=CV3, select_size="worst")
    with pytest.raises(ValueError, match=r"lack \['lambda'\]"):
        rfe(cls_data, "y", method="glmnet", sizes=(2,), control=CV3, params={"alpha": 1})


# ---------------------------------------------------------------------------------------------
# sbf
# ---------------------------------------------------------------------------------------------


def test_sbf_keeps_informative_columns(cls_data):
    s = sbf(cls_data, "y", method="glmnet", control=lf.Control(method="cv", number=5), seed=4)
    freq = s.selection_frequency
    assert (freq[INFORMATIVE] >= 0.8).all()
    noise = freq.drop(INFORMATIVE)
    # at p < 0.05 a noise column passes by chance now and then (here x7 correlates with y by
    # chance in this sample): most are rarely kept
    assert noise.mean() <= 0.15 and (noise <= 0.2).sum() >= 14
    assert set(INFORMATIVE) <= set(s.optvariables)
    assert len(s.resample) == 5 and list(s.variables) == list(s.resample["Resample"])
    assert s.results["Accuracy"].iloc[0] == pytest.approx(s.resample["Accuracy"].mean())
    assert s.results["Accuracy"].iloc[0] > 0.8
    assert "Selection By Filter" in repr(s)
    assert len(s.predict(cls_data)) == len(cls_data)


def test_sbf_scores_held_out_rows_only(reg_data):
    """Recompute every resample by hand: filter and fit on training rows, score held-out rows."""
    s = sbf(reg_data, "y", method=Recorder(), control=CV3, seed=5)
    X = reg_data.drop(columns="y").to_numpy()
    y = reg_data["y"].to_numpy()
    for r, (_, tr, te) in enumerate(lf.kfold(y, k=3, seed=5)):
        keep = np.flatnonzero(cor_scores(X[tr], y[tr]) < 0.05)
        A = np.column_stack([np.ones(len(tr)), X[np.ix_(tr, keep)]])
        coef = np.linalg.lstsq(A, y[tr], rcond=None)[0]
        pred = coef[0] + X[np.ix_(te, keep)] @ coef[1:]
        rmse = np.sqrt(np.mean((pred - y[te]) ** 2))
        assert s.resample["RMSE"].iloc[r] == pytest.approx(rmse)
        assert s.resample["Variables"].iloc[r] == len(keep)


class Broken(Model):
    """A regression model whose every fit fails."""

    name: ClassVar[str] = "broken"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)

    def fit(self, data: TrainingData, params, subs, seed) -> Any:
        raise ValueError("the engine is broken")


def test_rfe_and_sbf_say_when_every_resample_failed(reg_data):
    """No metric anywhere: both wrappers stop with their message and the first fit's error."""
    small = reg_data[["x1", "x2", "x3", "y"]]
    with pytest.raises(
        RuntimeError,
        match="(?s)rfe: every size failed for 'broken'; first error:\nresample 0.*engine is broken",
    ):
        rfe(small, "y", method=Broken(), sizes=(1, 2), control=CV3, seed=1)
    with pytest.raises(
        RuntimeError,
        match="(?s)sbf: every resample failed for 'broken'; first:\nresample 0.*engine is broken",
    ):
        sbf(small, "y", method=Broken(), control=CV3, seed=1)


def test_univariate_scores():
    from scipy.stats import f_oneway, pearsonr

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    g = np.repeat([0, 1, 2], 20)
    X[:, 0] += g
    for j in range(3):
        expect = f_oneway(*(X[g == k, j] for k in range(3)))[1]
        assert anova_scores(X, g)[j] == pytest.approx(expect)
    yv = X[:, 0] * 2 + rng.normal(size=60)
    assert np.allclose(cor_scores(X, yv), [pearsonr(X[:, j], yv)[1] for j in range(3)])
    assert anova_scores(np.ones((6, 1)), np.array([0, 0, 0, 1, 1, 1]))[0] == 1.0


def test_sbf_bad_inputs(cls_data):
    with pytest.raises(ValueError, match="alpha=0"):
        sbf(cls_data, "y", method="glmnet", control=CV3, alpha=0)
    with pytest.raises(ValueError, match="filter='chi2'"):
        sbf(cls_data, "y", method="glmnet", control=CV3, filter="chi2")


# ---------------------------------------------------------------------------------------------
# gafs / safs
# ---------------------------------------------------------------------------------------------


def test_gafs_finds_informative_columns_and_is_seeded(cls_data):
    kw = dict(method="glmnet", control=CV3, iters=6, pop_size=8, internal=HOLDOUT, seed=3)
    g = gafs(cls_data, "y", **kw)
    assert g.external["Iter"].tolist() == list(range(1, 7))  # one row per iteration
    assert g.internal["Iter"].tolist() == list(range(1, 7))
    assert len(g.external_resamples) == 3 * 6
    assert set(INFORMATIVE) <= set(g.optvariables)
    assert 1 <= g.optiter <= 6
    assert g.final_search["variables"].iloc[g.optiter - 1] == g.optvariables
    for subset in g.variables.values():
        assert set(INFORMATIVE) <= set(subset)
    again = gafs(cls_data, "y", **kw)
    pd.testing.assert_frame_equal(g.external, again.external)
    pd.testing.assert_frame_equal(g.internal, again.internal)
    assert g.optvariables == again.optvariables
    assert "Genetic Algorithm" in repr(g)


def test_safs_finds_informative_columns_and_is_seeded(reg_data):
    kw = dict(method="glmnet", control=CV3, iters=40, internal=HOLDOUT, seed=2)
    s = safs(reg_data, "y", **kw)
    assert s.external["Iter"].tolist() == list(range(1, 41))
    assert set(INFORMATIVE) <= set(s.optvariables)
    par = safs(reg_data, "y", **{**kw, "control": lf.Control(method="cv", number=3, n_jobs=2)})
    pd.testing.assert_frame_equal(s.external, par.external)
    pd.testing.assert_frame_equal(s.internal_resamples, par.internal_resamples)
    assert s.optvariables == par.optvariables
    assert "Simulated Annealing" in repr(s)


def test_search_bad_inputs(cls_data):
    with pytest.raises(ValueError, match="iters=0"):
        gafs(cls_data, "y", method="glmnet", control=CV3, iters=0)
    with pytest.raises(ValueError, match="pop_size=1"):
        gafs(cls_data, "y", method="glmnet", control=CV3, pop_size=1)
    with pytest.raises(ValueError, match="perturb"):
        safs(cls_data, "y", method="glmnet", control=CV3, perturb=(3, 1))
    with pytest.raises(ValueError, match="internal=Control"):
        safs(cls_data, "y", method="glmnet", control=CV3, internal=lf.Control(method="none"))
    with pytest.raises(ValueError, match="metric 'RMSE' is not produced"):
        safs(cls_data, "y", method="glmnet", control=CV3, metric="RMSE")


def test_search_internal_summary_from_hand_made_traces():
    """Two resamples, two iterations: fitness 1, 2 and 3, 6 (means 2 and 4, SDs sqrt(2) and
    sqrt(8)); subset sizes 1, 2 and 3, 2 (means 2 and 2, SDs sqrt(2) and 0)."""
    from types import SimpleNamespace

    from leanfit.featsel.search import _internal_frame, _internal_resamples, _Trace

    traces = [
        _Trace(subsets=[np.array([0]), np.array([0, 4])], internal=[1.0, 2.0]),
        _Trace(subsets=[np.array([1, 2, 3]), np.array([2, 3])], internal=[3.0, 6.0]),
    ]
    prob = SimpleNamespace(metric="RMSE")
    df = _internal_frame(prob, traces, [1, 2])
    assert df.columns.tolist() == ["Iter", "RMSE", "RMSESD", "Variables", "VariablesSD"]
    assert df["RMSE"].tolist() == [2.0, 4.0]
    assert df["RMSESD"].tolist() == pytest.approx([2**0.5, 8**0.5])
    assert df["Variables"].tolist() == [2.0, 2.0]
    assert df["VariablesSD"].tolist() == pytest.approx([2**0.5, 0.0])
    long = _internal_resamples(prob, traces, [1, 2], ["Fold1", "Fold2"])
    assert long["Resample"].tolist() == ["Fold1", "Fold1", "Fold2", "Fold2"]
    assert long["Variables"].tolist() == [1, 2, 3, 2]
    assert long["RMSE"].tolist() == [1.0, 2.0, 3.0, 6.0]
