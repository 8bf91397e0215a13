"""Class-imbalance sampling inside resamples, and out-of-bag scoring (Control(method="oob"))."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.models.base import CLASSIFICATION, Model, Param, TrainingData


class CountingCentroid(Model):
    """Nearest centroid that logs the class counts of every training set it sees."""

    name, label, engine = "counting_centroid", "Counting centroid", "test"
    modes = (CLASSIFICATION,)
    params = (Param("shrink", "float", 0.0, 1.0),)

    def __init__(self, log=None):
        super().__init__()
        self.log = [] if log is None else log

    def default_grid(self, data, length):
        return pd.DataFrame({"shrink": [0.0]})

    def fit(self, data: TrainingData, params, subs, seed):
        self.log.append((len(data.y), np.bincount(data.y, minlength=data.n_classes).tolist()))
        return np.stack([data.X[data.y == k].mean(axis=0) for k in range(data.n_classes)])

    def predict_proba(self, fitted, X, subs):
        d = ((X[:, None, :] - fitted[None]) ** 2).sum(axis=2)
        p = np.exp(-(d - d.min(axis=1, keepdims=True)))
        return np.stack([p / p.sum(axis=1, keepdims=True)] * len(subs))


@pytest.fixture(scope="module")
def imbalanced():
    rng = np.random.default_rng(0)
    n_major, n_minor = 90, 15
    X = np.vstack([rng.normal(0, 1, (n_major, 3)), rng.normal(1.5, 1, (n_minor, 3))])
    y = np.array(["major"] * n_major + ["minor"] * n_minor)
    return pd.DataFrame(X, columns=["a", "b", "c"]).assign(cls=y)


@pytest.mark.parametrize("method", ["down", "up", "smote"])
def test_sampling_applies_to_training_rows_only(imbalanced, method):
    log = []
    model = CountingCentroid(log)
    ctl = lf.Control(method="cv", number=3, sampling=method, save_predictions="all")
    res = lf.train("cls ~ .", data=imbalanced, method=model, control=ctl, seed=5)
    # stratified 3-fold CV: each training set has 10 minority and 60 majority rows, balanced
    # by the sampling; then the final fit on all 15 + 90 rows, balanced too
    per_fold = {"down": 10, "up": 60, "smote": 60}[method]
    final = {"down": 15, "up": 90, "smote": 90}[method]
    assert [counts for _, counts in log] == [[per_fold, per_fold]] * 3 + [[final, final]]
    # held-out rows are untouched: every original row is predicted exactly once
    pred = res.predictions
    assert sorted(pred["rowIndex"]) == list(range(len(imbalanced)))
    assert pred["obs"].value_counts().to_dict() == {"major": 90, "minor": 15}


def test_sampling_is_reproducible_and_changes_the_fit(imbalanced):
    ctl = lf.Control(method="cv", number=3, sampling="down")
    a = lf.train("cls ~ .", data=imbalanced, method=CountingCentroid(), control=ctl, seed=5)
    b = lf.train("cls ~ .", data=imbalanced, method=CountingCentroid(), control=ctl, seed=5)
    pd.testing.assert_frame_equal(a.results, b.results)


def test_sampling_bad_input(imbalanced):
    with pytest.raises(ValueError, match="sampling='sideways'.*down"):
        lf.Control(sampling="sideways")
    reg = imbalanced.assign(cls=np.arange(len(imbalanced), dtype=float))
    with pytest.raises(ValueError, match="for classification targets"):
        lf.train("cls ~ .", data=reg, method="glmnet", control=lf.Control(sampling="up"))


class Bagged(Model):
    """Bagged nearest centroids with out-of-bag predictions (a minimal OOB model)."""

    name, label, engine = "bagged_centroid", "Bagged centroids", "test"
    modes = (CLASSIFICATION,)
    params = (Param("bags", "int", 1, 100),)
    supports_oob = True

    def default_grid(self, data, length):
        return pd.DataFrame({"bags": [5, 15][:length]})

    def fit(self, data, params, subs, seed):
        rng = np.random.default_rng(seed)
        n, k = len(data.y), data.n_classes
        members, votes, seen = [], np.zeros((n, k)), np.zeros(n)
        for _ in range(int(params["bags"])):
            rows = rng.integers(0, n, n)
            cent = np.stack([data.X[rows][data.y[rows] == c].mean(axis=0) for c in range(k)])
            members.append(cent)
            out = np.setdiff1d(np.arange(n), rows)
            d = ((data.X[out, None, :] - cent[None]) ** 2).sum(axis=2)
            votes[out, d.argmin(axis=1)] += 1
            seen[out] += 1
        oob = votes / np.maximum(seen, 1)[:, None]
        oob[seen == 0] = 1.0 / k
        return {"members": members, "oob": oob}

    def predict_proba(self, fitted, X, subs):
        v = np.zeros((len(X), len(fitted["members"][0])))
        for cent in fitted["members"]:
            d = ((X[:, None, :] - cent[None]) ** 2).sum(axis=2)
            v[np.arange(len(X)), d.argmin(axis=1)] += 1
        return np.stack([v / v.sum(axis=1, keepdims=True)] * len(subs))

    def oob_predict(self, fitted, subs):
        p = np.stack([fitted["oob"]] * len(subs))
        return p.argmax(axis=2), p


def test_oob_scores_each_candidate_from_one_fit_on_all_rows(imbalanced):
    res = lf.train(
        "cls ~ .",
        data=imbalanced,
        method=Bagged(),
        seed=3,
        tune_length=2,
        control=lf.Control(method="oob"),
    )
    assert len(res.resamples) == 1 and res.resamples.names == ("OOB",)
    assert list(res.results["bags"]) == [5, 15]
    # the reported accuracy is the OOB accuracy of a fit on all rows with the task's seed
    from leanfit.tuning.plan import task_seed

    y = (imbalanced["cls"] == "minor").to_numpy().astype(int)
    data = TrainingData(
        imbalanced[["a", "b", "c"]].to_numpy(), y, CLASSIFICATION, ("major", "minor")
    )
    for g, bags in enumerate([5, 15]):
        fitted = Bagged().fit(data, {"bags": bags}, [{}], task_seed(3, 0, g))
        acc = (fitted["oob"].argmax(axis=1) == y).mean()
        assert res.results["Accuracy"].iloc[g] == pytest.approx(acc, abs=1e-12)
    assert "Out of Bag Resampling" in repr(res)


def test_oob_needs_a_bagged_model(imbalanced):
    with pytest.raises(ValueError, match="out-of-bag"):
        lf.train(
            "cls ~ .", data=imbalanced, method=CountingCentroid(), control=lf.Control(method="oob")
        )
    with pytest.raises(ValueError, match="cannot be combined with method='oob'"):
        lf.train(
            "cls ~ .",
            data=imbalanced,
            method=Bagged(),
            control=lf.Control(method="oob", sampling="up"),
        )
