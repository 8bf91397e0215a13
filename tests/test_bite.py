"""Tests that bite where a mutation audit found the suite blind: pre-processing fitted inside each
resample only, a resume that recomputes exactly the missing task, and bootstrap coverage — each
checked against a value computed another way (by hand, scikit-learn, the binomial law)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

import leanfit as lf

# ------------------------------------------------------------------ pre-processing per resample


def _by_hand(X_tr: np.ndarray, X_te: np.ndarray, impute: bool) -> tuple[np.ndarray, np.ndarray]:
    """caret's center, scale (R's sd, ddof=1) then median imputation, learned from ``X_tr``
    only (missing values ignored by the statistics) and applied to both row sets."""
    mean = np.nanmean(X_tr, axis=0)
    sd = np.nanstd(X_tr, axis=0, ddof=1)
    Z_tr, Z_te = (X_tr - mean) / sd, (X_te - mean) / sd
    if impute:
        med = np.nanmedian(Z_tr, axis=0)
        Z_tr = np.where(np.isnan(Z_tr), med, Z_tr)
        Z_te = np.where(np.isnan(Z_te), med, Z_te)
    return Z_tr, Z_te


def test_center_scale_is_fitted_on_each_folds_training_rows_only(training):
    """Every fold's held-out probabilities equal scikit-learn's k-NN on rows standardized with
    that fold's training mean and sd — not the mean and sd of all rows."""
    res = lf.train(
        "Class ~ .",
        data=training,
        method="knn",
        grid={"k": [5, 9]},
        preprocess=["center", "scale"],
        control=lf.Control(method="cv", number=5, class_probs=True, save_predictions="all"),
        seed=7,
    )
    X = training.drop(columns="Class").to_numpy()
    y = training["Class"].to_numpy()
    preds = res.predictions
    for name, tr, te in res.resamples:
        Z_tr, Z_te = _by_hand(X[tr], X[te], impute=False)
        for k in (5, 9):
            ref = KNeighborsClassifier(k, algorithm="brute").fit(Z_tr, y[tr])
            assert list(ref.classes_) == ["M", "R"]
            got = preds[(preds["Resample"] == name) & (preds["k"] == k)]
            np.testing.assert_array_equal(got["rowIndex"].to_numpy(), te)
            np.testing.assert_allclose(
                got[["M", "R"]].to_numpy(), ref.predict_proba(Z_te), rtol=0, atol=1e-12
            )


def test_median_impute_is_fitted_on_each_folds_training_rows_only():
    """The same with missing values: the held-out k-NN regression predictions of every fold
    equal scikit-learn's on rows centred, scaled and median-imputed from that fold alone."""
    boston = lf.datasets.load("bostonhousing").iloc[:150]
    cols = ["crim", "zn", "indus", "nox", "rm", "age", "dis", "tax", "ptratio", "lstat"]
    X = boston[cols].to_numpy(dtype=float)
    rng = np.random.default_rng(5)
    X[rng.random(X.shape) < 0.12] = np.nan  # 12 % missing, in every column
    df = pd.DataFrame(X, columns=cols).assign(medv=boston["medv"].to_numpy())
    y = df["medv"].to_numpy()
    res = lf.train(
        "medv ~ .",
        data=df,
        method="knn",
        grid={"k": [7]},
        preprocess=["center", "scale", "median_impute"],
        control=lf.Control(method="cv", number=5, save_predictions="all"),
        seed=3,
    )
    preds = res.predictions
    for name, tr, te in res.resamples:
        Z_tr, Z_te = _by_hand(X[tr], X[te], impute=True)
        ref = KNeighborsRegressor(7, algorithm="brute").fit(Z_tr, y[tr])
        got = preds[preds["Resample"] == name]
        np.testing.assert_array_equal(got["rowIndex"].to_numpy(), te)
        np.testing.assert_allclose(got["pred"].to_numpy(), ref.predict(Z_te), rtol=1e-12)


# ------------------------------------------------------------------ resuming a partly stored run


def test_one_deleted_task_of_a_finished_run_is_the_only_one_recomputed(
    tmp_path, training, recording_gbm_cls
):
    """A resample whose fit groups are only partly stored is not skipped: deleting one stored
    task (resample 2, fit group 1) of a finished run, the re-run fits exactly that task (plus
    the final model) and gives tables identical to the first run's."""
    import sqlite3

    from leanfit.store import Store

    db = tmp_path / "s.db"
    store = Store.open(f"sqlite:///{db}")
    grid = lf.expand_grid(
        interaction_depth=[1, 2], n_trees=[10, 20], shrinkage=0.1, n_minobsinnode=10
    )

    def fit(model):
        return lf.train(
            "Class ~ .",
            data=training,
            method=model,
            grid=grid,
            control=lf.Control(method="cv", number=4, return_resamp="all", save_predictions="all"),
            seed=11,
            store=store,
            experiment="e",
            fit="f",
        )

    first = fit(recording_gbm_cls())
    assert first.store_run["computed_tasks"] == 4 * 2
    with sqlite3.connect(db) as con:
        gone = con.execute("DELETE FROM tasks WHERE resample = 2 AND grp = 1").rowcount
        left = con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
    assert (gone, left) == (1, 7)

    model = recording_gbm_cls()
    again = fit(model)
    got = {k: again.store_run[k] for k in ("run_id", "resumed_tasks", "computed_tasks")}
    assert got == {"run_id": first.store_run["run_id"], "resumed_tasks": 7, "computed_tasks": 1}
    # one resampling fit — on resample 2's training rows, fit group 1 (depth 2) — and the final
    assert [(c["n"], c["params"]["interaction_depth"]) for c in model.calls] == [
        (len(first.resamples.train[2]), 2),
        (len(training), first.best_params["interaction_depth"]),
    ]
    pd.testing.assert_frame_equal(first.results, again.results, check_exact=True)
    pd.testing.assert_frame_equal(first.resample, again.resample, check_exact=True)
    pd.testing.assert_frame_equal(first.predictions, again.predictions, check_exact=True)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 8


# ------------------------------------------------------------------ bootstrap coverage


@pytest.mark.parametrize("method", ["boot", "boot632", "optimism_boot"])
def test_bootstrap_draws_every_row_at_the_binomial_rate(method):
    """Over B = 2000 bootstrap resamples of n = 20 rows, each row is in-bag in
    Binomial(B, 1 - (1 - 1/n)^n) of them (0.6415) and is drawn Binomial(B n, 1/n) times in all
    (mean B); both within 5 binomial sd, every row is out-of-bag sometimes, and each
    resample's held-out rows are exactly the rows it did not draw."""
    from leanfit.control import make_resamples

    n, B = 20, 2000
    rs = make_resamples(lf.Control(method=method, number=B), np.arange(n) % 2, seed=123)
    assert len(rs) == B
    in_bag = np.zeros(n)
    copies = np.zeros(n)
    for _, tr, te in rs:
        assert len(tr) == n
        drawn = np.bincount(tr, minlength=n)
        np.testing.assert_array_equal(te, np.flatnonzero(drawn == 0))
        in_bag += drawn > 0
        copies += drawn
    p = 1 - (1 - 1 / n) ** n
    assert abs(p - 0.6415) < 1e-4
    assert np.all(np.abs(in_bag - B * p) < 5 * np.sqrt(B * p * (1 - p)))  # 5 sd = 107 of 1283
    assert np.all(np.abs(copies - B) < 5 * np.sqrt(B * n * (1 / n) * (1 - 1 / n)))  # 218
    assert np.all(B - in_bag > 0)  # out-of-bag in some resample, every row


# ------------------------------------------------------------------ the process executor


def test_processes_executor_runs_every_task_in_a_worker_even_with_one_job(
    training, recording_gbm_cls, tmp_path
):
    """Control(executor="processes", n_jobs=1): one worker process, no in-process timing
    probe — every resampling fit runs outside this process, with the in-process results."""
    import os

    pids = tmp_path / "pids.log"
    grid = lf.expand_grid(interaction_depth=[1], n_trees=[10], shrinkage=0.1, n_minobsinnode=10)
    kw = dict(data=training, grid=grid, seed=2)
    here = lf.train("Class ~ .", method="gbm", control=lf.Control(method="cv", number=3), **kw)
    there = lf.train(
        "Class ~ .",
        method=recording_gbm_cls(pid_log=str(pids)),
        control=lf.Control(method="cv", number=3, executor="processes"),
        **kw,
    )
    fit_pids = [int(p) for p in pids.read_text().split()]
    assert len(fit_pids) == 3 + 1 and fit_pids[-1] == os.getpid()  # the final fit is here
    assert os.getpid() not in fit_pids[:-1]
    pd.testing.assert_frame_equal(here.resample, there.resample, check_exact=True)
    with pytest.raises(ValueError, match=r"executor='threads'.*'local', 'processes' or 'dask'"):
        lf.Control(executor="threads")
