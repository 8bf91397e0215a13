"""train(): fit counts, reproducibility, sub-models, result tables, selection, inputs, prediction,
resampling designs, regression and failed fits — asserted against numbers, not just "it runs"."""

from __future__ import annotations

import dataclasses
import math
import os
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit import Control
from leanfit.tuning.plan import task_seed
from leanfit.tuning.train import plan_train, train

METRICS_2C = ["ROC", "Sens", "Spec"]
GBM_PARAMS = ["n_trees", "interaction_depth", "shrinkage", "n_minobsinnode"]


def _gbm_grid(depths=(1, 2), trees=(10, 20, 30)) -> pd.DataFrame:
    return lf.expand_grid(
        interaction_depth=list(depths), n_trees=list(trees), shrinkage=0.1, n_minobsinnode=10
    )


def _center_scale(X: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return (X - ref.mean(axis=0)) / ref.std(axis=0, ddof=1)


# ------------------------------------------------------------------ 1. fit counts


def test_seed_grid_plans_three_fit_groups_and_300_tasks(training):
    grid = lf.expand_grid(
        interaction_depth=[1, 5, 9],
        n_trees=range(50, 1501, 50),
        shrinkage=0.1,
        n_minobsinnode=20,
    )
    plan = plan_train(
        "Class ~ .",
        data=training,
        method="gbm",
        grid=grid,
        control=Control(method="repeatedcv", number=10, repeats=10),
        seed=825,
    )
    assert len(plan.candidates) == 90
    assert plan.fits_per_resample == 3
    assert len(plan.resamples) == 100
    assert len(plan.tasks) == 300
    assert set(Counter(t.resample for t in plan.tasks).values()) == {3}
    groups = plan.context.groups
    assert [g.params["interaction_depth"] for g in groups] == [1, 5, 9]
    for g in groups:
        assert [s["n_trees"] for s in g.subs] == list(range(50, 1501, 50))
    # every task fits on its resample's training rows and scores its held-out rows
    for t in plan.tasks[:12]:
        np.testing.assert_array_equal(t.train, plan.resamples.train[t.resample])
        held_out = plan.resamples.test[t.resample]
        assert any(np.array_equal(rows, held_out) for rows in t.evals.values())
    assert len({t.seed for t in plan.tasks}) == 300  # one distinct seed per task


def test_fit_count_is_resamples_times_groups_plus_final(training, recording_gbm):
    grid = _gbm_grid(depths=(1, 2), trees=(5, 10))
    res = train(
        "Class ~ .",
        data=training,
        method=recording_gbm,
        grid=grid,
        control=Control(method="cv", number=3),
        seed=1,
    )
    calls = recording_gbm.calls
    assert len(calls) == 3 * 2 + 1
    resample_fits, final = calls[:-1], calls[-1]
    # each resample fit is one fit group scoring both tree counts (fitted with the largest)
    assert Counter(c["params"]["interaction_depth"] for c in resample_fits) == {1: 3, 2: 3}
    assert all([s["n_trees"] for s in c["subs"]] == [5, 10] for c in resample_fits)
    assert sorted(c["n"] for c in resample_fits) == sorted(
        [len(t) for t in res.resamples.train] * 2
    )
    # the final fit: all 157 rows, only the chosen candidate
    assert final["n"] == len(training) == 157
    assert final["subs"] == [{"n_trees": res.best_params["n_trees"]}]
    assert final["params"]["interaction_depth"] == res.best_params["interaction_depth"]
    assert res.final_model.num_trees() == res.best_params["n_trees"]


def test_fit_count_with_two_workers(training, recording_gbm_cls, fit_log):
    model = recording_gbm_cls(log=str(fit_log))
    res = train(
        "Class ~ .",
        data=training,
        method=model,
        grid=_gbm_grid(depths=(1, 2), trees=(5, 10)),
        control=Control(method="cv", number=3, n_jobs=2),
        seed=1,
    )
    lines = fit_log.read_text().splitlines()
    assert len(lines) == 3 * 2 + 1  # resample fits ran in workers, the final fit here
    assert lines[-1] == f"157 {res.best_params['interaction_depth']}"


@pytest.mark.parametrize("method", ["boot632", "optimism_boot"])
def test_fit_count_with_apparent_fits(training, recording_gbm, method):
    train(
        "Class ~ .",
        data=training,
        method=recording_gbm,
        grid=_gbm_grid(depths=(1, 2), trees=(5, 10)),
        control=Control(method=method, number=3),
        seed=1,
    )
    seeds = [c["seed"] for c in recording_gbm.calls]
    # 3 bootstrap resamples x 2 groups + 2 apparent (all rows) fits + 1 final fit
    assert len(seeds) == 3 * 2 + 2 + 1
    expected = {task_seed(1, r, g) for r in (0, 1, 2, -1) for g in (0, 1)} | {task_seed(1, -2, 0)}
    assert set(seeds) == expected


# ------------------------------------------------------------------ 2. reproducibility


def test_n_jobs_1_and_2_give_identical_results(
    training, testing, small_grid, recording_gbm_cls, tmp_path
):
    """In-process (n_jobs=1) and two worker processes (executor="processes": no timing probe
    keeping the small run in-process) give identical numbers — and the fits did run in two
    other processes, so a worker that changed a seed would show."""
    kw = dict(grid=small_grid, metric="ROC", seed=42)
    ctl = dict(
        method="cv",
        number=5,
        class_probs=True,
        summary="two_class",
        save_predictions="all",
        return_resamp="all",
    )
    pids = tmp_path / "pids.log"
    r1 = train("Class ~ .", data=training, method="gbm", control=Control(**ctl, n_jobs=1), **kw)
    r2 = train(
        "Class ~ .",
        data=training,
        method=recording_gbm_cls(pid_log=str(pids)),
        control=Control(**ctl, n_jobs=2, executor="processes"),
        **kw,
    )
    fit_pids = [int(p) for p in pids.read_text().split()]
    assert len(fit_pids) == 5 * 2 + 1  # 5 folds x 2 fit groups, then the final fit here
    assert fit_pids[-1] == os.getpid()
    assert os.getpid() not in fit_pids[:-1]  # every resampling fit ran in a worker
    pd.testing.assert_frame_equal(r1.results, r2.results, check_exact=True)
    pd.testing.assert_frame_equal(r1.resample, r2.resample, check_exact=True)
    pd.testing.assert_frame_equal(r1.predictions, r2.predictions, check_exact=True)
    assert r1.best_params == r2.best_params
    assert r1.resamples.hash == r2.resamples.hash
    pd.testing.assert_series_equal(r1.predict(testing), r2.predict(testing))
    pd.testing.assert_frame_equal(
        r1.predict_proba(testing), r2.predict_proba(testing), check_exact=True
    )
    # and the seed matters: another seed gives other numbers
    r3 = train("Class ~ .", data=training, control=Control(**ctl), **{**kw, "seed": 43})
    assert not np.array_equal(r1.results["ROC"].to_numpy(), r3.results["ROC"].to_numpy())


def test_same_seed_same_resamples_across_models(training, gbm_roc, roc_control):
    rda = train(
        "Class ~ .",
        data=training,
        method="rda",
        grid={"gamma": [0.5], "lambda": [0.5]},
        control=roc_control,
        metric="ROC",
        seed=825,
    )
    assert rda.resamples.hash == gbm_roc.resamples.hash
    assert rda.resamples == gbm_roc.resamples
    other = plan_train(
        "Class ~ .", data=training, method="rda", control=roc_control, seed=826, tune_length=1
    )
    assert other.resamples.hash != gbm_roc.resamples.hash
    # the seed can also come from the Control
    via_control = plan_train(
        "Class ~ .",
        data=training,
        method="rda",
        control=Control(method="cv", number=5, seed=825),
        tune_length=1,
    )
    assert via_control.resamples.hash == gbm_roc.resamples.hash


# ------------------------------------------------------------------ 3. sub-model trick


@pytest.mark.parametrize("n_trees", [10, 20, 30])
def test_submodel_scores_equal_separate_fits(training, gbm_roc, roc_control, n_trees):
    # Task seeds are task_seed(seed, resample, group). With both depths in every grid the group
    # of depth d is the same (depth 1 -> group 0, depth 2 -> group 1), so each separate fit
    # sees the same rows and the same bagging seed: the numbers must match exactly.
    alone = train(
        "Class ~ .",
        data=training,
        method="gbm",
        grid=_gbm_grid(trees=(n_trees,)),
        control=roc_control,
        metric="ROC",
        seed=825,
    )
    trick = gbm_roc.results[gbm_roc.results["n_trees"] == n_trees].reset_index(drop=True)
    assert len(alone.results) == 2
    pd.testing.assert_frame_equal(alone.results, trick, check_exact=True)


# ------------------------------------------------------------------ 4. results layout


def test_results_layout_sorted_simplest_first(training, roc_control):
    # the grid is given most complex first; results come back simplest first
    grid = _gbm_grid(depths=(2, 1), trees=(30, 20, 10))
    res = train(
        "Class ~ .",
        data=training,
        method="gbm",
        grid=grid,
        control=roc_control,
        metric="ROC",
        seed=825,
    )
    r = res.results
    assert len(r) == 6
    assert list(r.columns) == GBM_PARAMS + METRICS_2C + [f"{m}SD" for m in METRICS_2C] + [
        "Resamples"
    ]
    assert r["Resamples"].tolist() == [len(res.resamples)] * 6  # no fit failed
    assert list(zip(r["n_trees"], r["interaction_depth"], strict=True)) == [
        (10, 1),
        (10, 2),
        (20, 1),
        (20, 2),
        (30, 1),
        (30, 2),
    ]
    assert r.attrs["n_resamples"] == 5
    assert res.metric == "ROC" and res.maximize
    assert res.best_index == int(np.argmax(r["ROC"].to_numpy()))
    for m in METRICS_2C:
        assert r[m].between(0, 1).all()


def test_results_mean_and_sd_come_from_the_resamples(gbm_roc):
    r, rs = gbm_roc.results, gbm_roc.resample
    assert list(rs.columns) == METRICS_2C + ["Resample"]
    assert list(rs["Resample"]) == [f"Fold{i}" for i in range(1, 6)]
    best = r.iloc[gbm_roc.best_index]
    for m in METRICS_2C:
        assert best[m] == pytest.approx(rs[m].mean(), rel=1e-13)
        assert best[f"{m}SD"] == pytest.approx(rs[m].std(ddof=1), rel=1e-12)
    np.testing.assert_array_equal(
        rs[METRICS_2C].to_numpy(), gbm_roc.scores.values[:, gbm_roc.best_index, :]
    )


def test_return_resamp_all_and_save_predictions(training, small_grid):
    ctl = Control(
        method="cv", number=5, class_probs=True, return_resamp="all", save_predictions="all"
    )
    res = train("Class ~ .", data=training, method="gbm", grid=small_grid, control=ctl, seed=7)
    rs = res.resample
    assert len(rs) == 5 * 6
    assert list(rs.columns) == ["Accuracy", "Kappa"] + GBM_PARAMS + ["Resample"]
    means = rs.groupby(["n_trees", "interaction_depth"], sort=True)["Accuracy"].mean()
    np.testing.assert_allclose(means.to_numpy(), res.results["Accuracy"].to_numpy(), rtol=1e-13)

    pred = res.predictions
    assert len(pred) == len(training) * 6  # each row held out once per candidate
    assert list(pred.columns) == ["rowIndex", "pred", "obs", "M", "R"] + GBM_PARAMS + ["Resample"]
    np.testing.assert_allclose(pred["M"] + pred["R"], 1.0, rtol=0, atol=1e-12)
    # classes are the most probable class
    assert (pred["pred"] == np.where(pred["M"] >= pred["R"], "M", "R")).all()
    assert (pred["obs"].to_numpy() == training["Class"].to_numpy()[pred["rowIndex"]]).all()
    # Accuracy recomputed from the saved predictions equals the per-resample table exactly
    acc = (
        (pred["pred"] == pred["obs"])
        .groupby([pred["n_trees"], pred["interaction_depth"], pred["Resample"]])
        .mean()
        .rename("Accuracy")
        .reset_index()
    )
    merged = rs.merge(acc, on=["n_trees", "interaction_depth", "Resample"], suffixes=("", "_p"))
    assert len(merged) == 30
    assert (merged["Accuracy"] == merged["Accuracy_p"]).all()

    final = train(
        "Class ~ .",
        data=training,
        method="gbm",
        grid=small_grid,
        control=Control(method="cv", number=5, save_predictions="final"),
        seed=7,
    )
    fp = final.predictions
    assert len(fp) == len(training)
    assert list(fp.columns) == ["rowIndex", "pred", "obs"] + GBM_PARAMS + ["Resample"]
    for k, v in final.best_params.items():
        assert (fp[k] == v).all()
    assert sorted(fp["rowIndex"]) == list(range(len(training)))
    # without probabilities the classes are the same as with them (same seeds, same fits)
    assert final.best_params == res.best_params


def test_return_resamp_none_and_no_predictions(training):
    res = train(
        "Class ~ .",
        data=training,
        method="rda",
        grid={"gamma": [0.5], "lambda": [0.5]},
        control=Control(method="cv", number=3, return_resamp="none"),
        seed=1,
    )
    assert res.resample is None
    assert res.predictions is None
    assert len(res.failures) == 0


# ------------------------------------------------------------------ 5. selection


def test_tolerance_picks_simplest_within_two_percent(gbm_roc):
    r = gbm_roc.results
    roc = r["ROC"].to_numpy()
    expected = next(i for i, v in enumerate(roc) if (roc.max() - v) / roc.max() * 100 <= 2)
    assert lf.tolerance(r, metric="ROC", tol=2, maximize=True) == expected
    # a huge tolerance takes the simplest row, a zero tolerance the best
    assert lf.tolerance(r, metric="ROC", tol=100, maximize=True) == 0
    assert lf.tolerance(r, metric="ROC", tol=0, maximize=True) == int(np.argmax(roc))


def test_selection_rules_on_a_hand_made_table():
    tab = pd.DataFrame(
        {
            "k": [1, 2, 3, 4],
            "Accuracy": [0.80, 0.85, 0.88, 0.90],
            "AccuracySD": [0.05, 0.05, 0.05, 0.10],
            "RMSE": [3.0, 2.15, 2.0, 2.1],
            "RMSESD": [0.4, 0.4, 0.4, 0.4],
        }
    )
    assert lf.best(tab, "Accuracy", maximize=True) == 3
    assert lf.best(tab, "RMSE", maximize=False) == 2
    # one SE: best 0.90, SE = 0.10 / sqrt(4) = 0.05 -> first row >= 0.85 is row 1
    assert lf.one_se(tab, "Accuracy", maximize=True, num=4) == 1
    # with 100 resamples SE = 0.01 -> first row >= 0.89 is row 3
    assert lf.one_se(tab, "Accuracy", maximize=True, num=100) == 3
    # minimising: best 2.0, SE = 0.4 / 2 = 0.2 -> first row <= 2.2 is row 1 (2.15)
    assert lf.one_se(tab, "RMSE", maximize=False, num=4) == 1
    # tolerance: within 5 % of 0.90 means >= 0.855 -> row 2; RMSE within 10 % of 2.0 -> row 1
    # (2.15 is 7.5 % worse), within 5 % -> row 2
    assert lf.tolerance(tab, "Accuracy", tol=5, maximize=True) == 2
    assert lf.tolerance(tab, "RMSE", tol=10, maximize=False) == 1
    assert lf.tolerance(tab, "RMSE", tol=5, maximize=False) == 2
    with pytest.raises(ValueError, match="'AUC' is not in the results; available:.*Accuracy"):
        lf.best(tab, "AUC")


def test_one_se_on_train_results_uses_their_resample_count(gbm_roc):
    r = gbm_roc.results
    assert lf.one_se(r, "Sens", maximize=True) == lf.one_se(r, "Sens", maximize=True, num=5)


def test_update_one_se_reuses_the_scores_and_refits_only_the_final_model(
    training, small_grid, roc_control, recording_gbm
):
    res = train(
        "Class ~ .",
        data=training,
        method=recording_gbm,
        grid=small_grid,
        control=roc_control,
        metric="ROC",
        seed=1,
    )
    n_before = len(recording_gbm.calls)
    assert n_before == 5 * 2 + 1
    expected = lf.one_se(res.results, "ROC", maximize=True, num=5)
    assert expected != res.best_index  # the rule matters on this design
    new = res.update(selection="one_se")
    assert new.best_index == expected
    assert new.scores is res.scores  # no resample was refitted
    assert len(recording_gbm.calls) == n_before + 1  # only the final model
    last = recording_gbm.calls[-1]
    assert last["n"] == 157 and last["subs"] == [{"n_trees": new.best_params["n_trees"]}]
    assert new.final_model.num_trees() == new.best_params["n_trees"]
    pd.testing.assert_frame_equal(new.results, res.results)
    # the original result is untouched
    assert res.best_index == int(np.argmax(res.results["ROC"].to_numpy()))
    assert res.final_model.num_trees() == res.best_params["n_trees"]
    assert "the one SE rule" in repr(new)


def test_update_with_params_and_metric(gbm_roc, testing):
    simplest = gbm_roc.update(params={"n.trees": 10, "interaction.depth": 1})
    assert simplest.best_index == 0
    assert simplest.best_params == {
        "n_trees": 10,
        "interaction_depth": 1,
        "shrinkage": 0.1,
        "n_minobsinnode": 10,
    }
    assert simplest.final_model.num_trees() == 10
    by_sens = gbm_roc.update(metric="Sens")
    sens = gbm_roc.results["Sens"].to_numpy()
    assert by_sens.metric == "Sens" and by_sens.maximize
    assert by_sens.best_index == int(np.argmax(sens))
    assert "Sens was used to select" in repr(by_sens)
    with pytest.raises(ValueError, match="'AUC' is not in the results"):
        gbm_roc.update(metric="AUC")
    with pytest.raises(ValueError, match="no candidate has"):
        gbm_roc.update(params={"n_trees": 999})
    with pytest.raises(ValueError, match="not parameters of 'gbm'"):
        gbm_roc.update(params={"depth": 1})


def test_selection_in_control_and_callable(training, small_grid):
    kw = dict(method="gbm", grid=small_grid, seed=825)
    base = Control(method="cv", number=5, class_probs=True, summary="two_class")

    tol = train(
        "Class ~ .",
        data=training,
        control=dataclasses.replace(base, selection="tolerance"),
        metric="ROC",
        **kw,
    )
    assert tol.best_index == lf.tolerance(tol.results, "ROC", tol=1.5, maximize=True)
    first = train(
        "Class ~ .",
        data=training,
        control=dataclasses.replace(base, selection=lambda res, metric, maximize: 0),
        metric="ROC",
        **kw,
    )
    assert first.best_index == 0 and first.best_params["n_trees"] == 10
    assert "a custom rule" in repr(first)


# ------------------------------------------------------------------ 6. inputs


def test_formula_dataframe_and_arrays_give_identical_results(training, gbm_roc, roc_control):
    kw = dict(method="gbm", grid=_gbm_grid(), control=roc_control, metric="ROC", seed=825)
    by_df = train(training, "Class", **kw)
    X = training.drop(columns="Class").to_numpy()
    by_xy = train(X, training["Class"], **kw)
    by_np = train(X, training["Class"].to_numpy(), **kw)
    for other in (by_df, by_xy, by_np):
        pd.testing.assert_frame_equal(other.results, gbm_roc.results, check_exact=True)
        assert other.best_params == gbm_roc.best_params
        assert other.resamples.hash == gbm_roc.resamples.hash
    assert by_df.dataset.encoder.feature_names == tuple(f"V{i}" for i in range(1, 61))
    assert by_xy.dataset.encoder.feature_names == tuple(f"X{i}" for i in range(1, 61))
    assert by_np.dataset.levels == ("M", "R")


def test_formula_minus_term_excludes_a_column(training, testing):
    res = train(
        "Class ~ . - V1",
        data=training,
        method="rda",
        grid={"gamma": [0.5], "lambda": [0.5]},
        control=Control(method="cv", number=3),
        seed=1,
    )
    names = res.dataset.encoder.feature_names
    assert len(names) == 59 and "V1" not in names and names[0] == "V2"
    # predictions do not need V1
    pred = res.predict(testing.drop(columns="V1"))
    assert len(pred) == len(testing)
    explicit = train(
        "Class ~ V2 + V3 + V4",
        data=training,
        method="rda",
        grid={"gamma": [0.5], "lambda": [0.5]},
        control=Control(method="cv", number=3),
        seed=1,
    )
    assert explicit.dataset.encoder.feature_names == ("V2", "V3", "V4")


def test_polars_input_with_ordered_levels_matches_pandas(training, gbm_roc, roc_control):
    pl = pytest.importorskip("polars")
    kw = dict(method="gbm", grid=_gbm_grid(), control=roc_control, metric="ROC", seed=825)
    frame = pl.from_pandas(training).with_columns(pl.col("Class").cast(pl.Enum(["M", "R"])))
    assert isinstance(frame, pl.DataFrame)
    res = train("Class ~ .", data=frame, **kw)
    assert res.dataset.levels == ("M", "R")
    pd.testing.assert_frame_equal(res.results, gbm_roc.results, check_exact=True)
    # a plain string target is sorted like R's factor(): M, R
    as_str = pl.from_pandas(training.assign(Class=training["Class"].astype(str)))
    res2 = train(as_str, "Class", **kw)
    pd.testing.assert_frame_equal(res2.results, gbm_roc.results, check_exact=True)


def test_polars_categorical_input_matches_pandas(training, gbm_roc, roc_control):
    pl = pytest.importorskip("polars")
    frame = pl.from_pandas(training)  # Class becomes a polars Categorical
    res = train(
        "Class ~ .",
        data=frame,
        method="gbm",
        grid=_gbm_grid(),
        control=roc_control,
        metric="ROC",
        seed=825,
    )
    assert res.dataset.levels == ("M", "R")
    pd.testing.assert_frame_equal(res.results, gbm_roc.results, check_exact=True)


def test_unit_weights_equal_no_weights(training, gbm_roc, roc_control):
    kw = dict(method="gbm", grid=_gbm_grid(), control=roc_control, metric="ROC", seed=825)
    ones = train("Class ~ .", data=training, weights=np.ones(len(training)), **kw)
    pd.testing.assert_frame_equal(ones.results, gbm_roc.results, check_exact=True)
    # weights do reach the model: upweighting one class moves Sens/Spec
    w = np.where(training["Class"] == "M", 5.0, 1.0)
    heavy = train("Class ~ .", data=training, weights=w, **kw)
    assert heavy.results["Sens"].mean() > gbm_roc.results["Sens"].mean()
    assert heavy.results["Spec"].mean() < gbm_roc.results["Spec"].mean()


# ------------------------------------------------------------------ 7. predict


def test_predict_and_predict_proba(gbm_roc, testing):
    pred = gbm_roc.predict(testing)
    assert isinstance(pred, pd.Series)
    assert isinstance(pred.dtype, pd.CategoricalDtype)
    assert list(pred.cat.categories) == ["M", "R"]
    assert pred.index.equals(testing.index)
    assert pred.name == "Class"
    prob = gbm_roc.predict_proba(testing)
    assert list(prob.columns) == ["M", "R"]
    assert prob.index.equals(testing.index)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-12)
    assert ((prob >= 0) & (prob <= 1)).all().all()
    assert (pred.astype(str) == prob.idxmax(axis=1)).all()
    # a better-than-chance model on held-out rows
    assert (pred.to_numpy() == testing["Class"].to_numpy()).mean() > 0.7
    # an array without the target works too and gives the same classes
    arr = testing.drop(columns="Class").to_numpy()
    pa = gbm_roc.predict(arr)
    assert pa.index.equals(pd.RangeIndex(len(testing)))
    assert (pa.to_numpy() == pred.to_numpy()).all()
    with pytest.raises(ValueError, match="lacks the predictor column"):
        gbm_roc.predict(testing[["V1", "V2"]])


@pytest.mark.parametrize("formula", ["Class ~ .", "Class ~ V1 * V2 + ."])
def test_new_rows_as_mappings_and_numbers_read_as_text(training, testing, formula):
    """A row as {column: value} (a web form, a JSON record) used to fail in float(); a numeric
    column read as text, or all missing as None, got advice for the training call (or, through
    a formula, formulaic's words about generated columns)."""
    fit = train(formula, data=training, method="lda", control=Control(method="none"), seed=1)
    rows = testing.drop(columns="Class").head(4)
    expected = fit.predict(rows).tolist()
    assert fit.predict(rows.iloc[0].to_dict()).tolist() == expected[:1]
    assert fit.predict(rows.to_dict("list")).tolist() == expected
    as_text = rows.assign(V2=rows["V2"].astype(str))
    with pytest.raises(
        ValueError, match=r"new data's column 'V2' is (str|object), but it was numeric"
    ):
        fit.predict(as_text)
    assert fit.predict(as_text.assign(V2=pd.to_numeric(as_text["V2"]))).tolist() == expected
    # all missing (None in every row): the missing-value rule applies, as for NaN
    with pytest.raises(
        ValueError, match=r"4 of 4 new row\(s\) have missing values in column\(s\) \['V2'"
    ):
        fit.predict(rows.assign(V2=None))


def test_preprocess_is_applied_at_predict_time(training, testing, centroid_cls):
    model = centroid_cls()
    res = train(
        "Class ~ .",
        data=training,
        method=model,
        grid={"shrink": [0.0]},
        preprocess=["center", "scale"],
        control=Control(method="cv", number=3),
        seed=1,
    )
    pp = res.final_preprocess
    Xtr = training.drop(columns="Class").to_numpy()
    np.testing.assert_allclose(pp.center_, Xtr.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(pp.scale_, Xtr.std(axis=0, ddof=1), rtol=1e-12)
    Xte = testing.drop(columns="Class").to_numpy()
    expected = model.predict_proba(res.final_model, pp.transform(Xte), [{}])[0]
    np.testing.assert_array_equal(res.predict_proba(testing).to_numpy(), expected)
    raw = model.predict_proba(res.final_model, Xte, [{}])[0]
    assert not np.allclose(raw, expected)  # the step matters for this model
    # the final model was fitted on standardized rows: its centroids are on that scale
    Ztr = (Xtr - pp.center_) / pp.scale_
    y = training["Class"].to_numpy()
    np.testing.assert_allclose(res.final_model[0], Ztr[y == "M"].mean(axis=0), atol=1e-12)
    assert "centered (60), scaled (60)" in repr(res)


def test_svm_preprocess_equals_manual_standardization(training, testing):
    grid = {"sigma": [0.01], "C": [1.0]}
    ctl = Control(method="none")
    with_pp = train(
        "Class ~ .",
        data=training,
        method="svm_radial",
        grid=grid,
        control=ctl,
        preprocess=["center", "scale"],
        seed=3,
    )
    Xtr = training.drop(columns="Class")
    Xte = testing.drop(columns="Class")
    man_tr = pd.DataFrame(_center_scale(Xtr.to_numpy(), Xtr.to_numpy()), columns=Xtr.columns)
    man_te = pd.DataFrame(
        _center_scale(Xte.to_numpy(), Xtr.to_numpy()), columns=Xte.columns, index=Xte.index
    )
    manual = train(
        man_tr,
        training["Class"].reset_index(drop=True),
        method="svm_radial",
        grid=grid,
        control=ctl,
        seed=3,
    )
    assert (with_pp.predict(testing).to_numpy() == manual.predict(man_te).to_numpy()).all()
    np.testing.assert_allclose(
        with_pp.predict_proba(testing).to_numpy(),
        manual.predict_proba(man_te).to_numpy(),
        atol=1e-6,
    )


# ------------------------------------------------------------------ 8. method="none"


def test_method_none_fits_once(training, testing, recording_gbm):
    grid = {"interaction_depth": [2], "n_trees": [20], "shrinkage": [0.1], "n_minobsinnode": [10]}
    res = train(
        "Class ~ .",
        data=training,
        method=recording_gbm,
        grid=grid,
        control=Control(method="none", class_probs=True),
        seed=825,
    )
    assert len(recording_gbm.calls) == 1
    assert recording_gbm.calls[0]["n"] == 157
    assert res.scores is None and res.resamples is None
    assert list(res.results.columns) == GBM_PARAMS  # no metric columns
    assert len(res.results) == 1
    assert res.resample is None and res.predictions is None
    assert res.best_params == {
        "n_trees": 20,
        "interaction_depth": 2,
        "shrinkage": 0.1,
        "n_minobsinnode": 10,
    }
    pred = res.predict(testing)
    assert len(pred) == len(testing) and set(pred.unique()) <= {"M", "R"}
    np.testing.assert_allclose(res.predict_proba(testing).sum(axis=1), 1.0)
    text = repr(res)
    assert "Resampling: None" in text
    assert "Tuning parameters were fixed: n.trees = 20, interaction.depth = 2" in text
    with pytest.raises(ValueError, match="no resamples to re-select from"):
        res.update(selection="one_se")


def test_method_none_rejects_two_candidates(training, recording_gbm):
    with pytest.raises(ValueError, match="exactly one candidate; the grid has 2 rows"):
        train(
            "Class ~ .",
            data=training,
            method=recording_gbm,
            grid=_gbm_grid(depths=(1,), trees=(10, 20)),
            control=Control(method="none"),
        )
    assert recording_gbm.calls == []


# ------------------------------------------------------------------ 9. resampling designs

RDA_GRID = {"gamma": [0.1, 0.5], "lambda": [0.5]}


def _rda(training, control, **kw):
    return train("Class ~ .", data=training, method="rda", grid=RDA_GRID, control=control, **kw)


def test_boot_holds_out_the_out_of_bag_rows(training):
    res = _rda(training, Control(method="boot", save_predictions="all"), seed=11)
    assert len(res.resamples) == 25
    assert res.resamples.names[0] == "Resample01" and res.resamples.names[-1] == "Resample25"
    for tr, te in zip(res.resamples.train, res.resamples.test, strict=True):
        assert len(tr) == 157
        assert np.array_equal(te, np.setdiff1d(np.arange(157), tr))
    pred = res.predictions
    first = pred[(pred["Resample"] == "Resample01") & (pred["gamma"] == 0.1)]
    np.testing.assert_array_equal(first["rowIndex"].to_numpy(), res.resamples.test[0])
    np.testing.assert_allclose(
        res.results["Accuracy"].to_numpy(),
        np.nanmean(res.scores.values[:, :, 0], axis=0),
        rtol=1e-13,
    )
    assert "Bootstrapped (25 reps)" in repr(res)


def test_boot632_combines_out_of_bag_and_apparent(training):
    res = _rda(training, Control(method="boot632", number=10), seed=11)
    sc = res.scores
    assert sc.values.shape == (10, 2, 2) and sc.apparent.shape == (2, 2)
    w = 1 - math.exp(-1)  # caret's 0.632
    expected = w * np.nanmean(sc.values, axis=0) + (1 - w) * sc.apparent
    np.testing.assert_allclose(res.results[["Accuracy", "Kappa"]].to_numpy(), expected, rtol=1e-13)
    # rda is deterministic: the apparent score is the final model's accuracy on its own rows
    fitted_acc = (res.predict(training).to_numpy() == training["Class"].to_numpy()).mean()
    assert sc.apparent[res.best_index, 0] == pytest.approx(fitted_acc, abs=1e-12)
    # the apparent estimate is optimistic, so the 632 estimate lies above the plain OOB mean
    assert (res.results["Accuracy"].to_numpy() > np.nanmean(sc.values[:, :, 0], axis=0)).all()


def test_optimism_boot_estimate(training):
    res = _rda(training, Control(method="optimism_boot", number=8), seed=11)
    sc = res.scores
    assert sc.inbag.shape == sc.allrows.shape == (8, 2, 2)
    expected = sc.apparent - np.nanmean(sc.inbag - sc.allrows, axis=0)
    np.testing.assert_allclose(res.results[["Accuracy", "Kappa"]].to_numpy(), expected, rtol=1e-13)
    assert (res.results["Accuracy"] <= sc.apparent[:, 0] + 1e-12).all()


def test_lgocv_holds_out_a_quarter_of_each_class(training):
    res = _rda(training, Control(method="lgocv", number=5, p=0.75), seed=3)
    assert len(res.resamples) == 5
    # 84 M and 73 R: ceil(0.75 * 84) + ceil(0.75 * 73) = 63 + 55 training rows
    assert {len(t) for t in res.resamples.train} == {118}
    assert {len(t) for t in res.resamples.test} == {39}
    rs = res.resample
    assert res.results["Accuracy"].iloc[res.best_index] == pytest.approx(
        rs["Accuracy"].mean(), rel=1e-13
    )


def test_loocv_on_a_small_subset(training):
    small = pd.concat(
        [training[training["Class"] == "M"].head(12), training[training["Class"] == "R"].head(12)]
    )
    res = train(
        "Class ~ V1 + V2 + V3 + V4 + V5 + V9 + V10 + V11",
        data=small,
        method="rda",
        grid=RDA_GRID,
        control=Control(method="loocv", save_predictions="final"),
        seed=1,
    )
    assert len(res.resamples) == 24
    assert all(len(t) == 1 for t in res.resamples.test)
    assert set(np.unique(res.resample["Accuracy"])) <= {0.0, 1.0}
    pred = res.predictions
    assert len(pred) == 24
    assert res.results["Accuracy"].iloc[res.best_index] == pytest.approx(
        (pred["pred"] == pred["obs"]).mean(), abs=1e-12
    )
    assert "Leave-One-Out Cross-Validation" in repr(res)


def test_loocv_regression_scores_the_pooled_predictions():
    rng = np.random.default_rng(2024)
    X = rng.normal(size=(30, 3))
    y = X @ np.array([2.0, -1.0, 0.5]) + rng.normal(0, 0.5, 30)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)
    res = train(
        "y ~ .",
        data=df,
        method="glmnet",
        grid={"alpha": [1.0], "lambda": [0.01]},
        control=Control(method="loocv", save_predictions="all"),
        seed=1,
    )
    pred = res.predictions
    err = pred["pred"] - pred["obs"]
    row = res.results.iloc[0]
    assert row["RMSE"] == pytest.approx(np.sqrt((err**2).mean()), rel=1e-10)
    assert row["MAE"] == pytest.approx(err.abs().mean(), rel=1e-10)
    assert row["Rsquared"] == pytest.approx(
        np.corrcoef(pred["pred"], pred["obs"])[0, 1] ** 2, rel=1e-10
    )


def _series(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x1 = np.sin(t / 5) + rng.normal(0, 0.1, n)
    x2 = rng.normal(size=n)
    y = 3 * x1 - 2 * x2 + 0.05 * t + rng.normal(0, 0.3, n)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "t": t.astype(float)})


def test_timeslice_on_a_regression_series():
    df = _series()
    res = train(
        "y ~ .",
        data=df,
        method="glmnet",
        grid={"alpha": [1.0], "lambda": [0.001, 0.1]},
        control=Control(
            method="timeslice",
            initial_window=40,
            horizon=5,
            fixed_window=True,
            skip=4,
            save_predictions="final",
        ),
        seed=1,
    )
    # slices end at rows 40, 45, ..., 75 (1-based): 8 resamples
    assert list(res.resamples.names) == [f"Training{s}" for s in range(40, 76, 5)]
    for i, (tr, te) in enumerate(zip(res.resamples.train, res.resamples.test, strict=True)):
        start = 5 * i
        np.testing.assert_array_equal(tr, np.arange(start, start + 40))
        np.testing.assert_array_equal(te, np.arange(start + 40, start + 45))
    assert res.metric == "RMSE" and not res.maximize
    pred = res.predictions
    rmse = (
        pred.assign(se=(pred["pred"] - pred["obs"]) ** 2)
        .groupby("Resample", sort=False)["se"]
        .mean()
        .pow(0.5)
    )
    np.testing.assert_allclose(
        rmse.loc[res.resample["Resample"]].to_numpy(), res.resample["RMSE"].to_numpy(), rtol=1e-12
    )
    assert res.results["RMSE"].iloc[res.best_index] == pytest.approx(rmse.mean(), rel=1e-12)
    assert "Rolling Forecasting Origin Resampling" in repr(res)


def test_group_cv_never_splits_a_group(training):
    groups = np.arange(len(training)) // 8  # 20 groups of (up to) 8 rows
    res = train(
        "Class ~ .",
        data=training,
        method="rda",
        grid=RDA_GRID,
        control=Control(method="group_cv", number=4),
        groups=groups,
        seed=5,
    )
    assert len(res.resamples) == 4
    seen = []
    for tr, te in zip(res.resamples.train, res.resamples.test, strict=True):
        assert not set(groups[tr]) & set(groups[te])
        seen.extend(te)
    assert sorted(seen) == list(range(len(training)))
    assert res.results["Accuracy"].iloc[res.best_index] == pytest.approx(
        res.resample["Accuracy"].mean(), rel=1e-13
    )
    with pytest.raises(ValueError, match="needs train\\(..., groups=...\\)"):
        train(
            "Class ~ .",
            data=training,
            method="rda",
            grid=RDA_GRID,
            control=Control(method="group_cv", number=4),
        )


def test_user_index_and_index_out(training):
    n = len(training)
    idx = [np.arange(0, 100), np.arange(57, n), np.r_[0:50, 107:n]]
    res = _rda(training, Control(index=idx, save_predictions="all"), seed=1)
    assert list(res.resamples.names) == ["Resample1", "Resample2", "Resample3"]
    np.testing.assert_array_equal(res.resamples.test[0], np.arange(100, n))
    np.testing.assert_array_equal(res.resamples.test[2], np.arange(50, 107))
    assert "User-given resamples (3 resamples)" in repr(res)
    outs = [np.arange(100, 120), np.arange(0, 30), np.arange(60, 70)]
    res2 = _rda(training, Control(index=idx, index_out=outs, save_predictions="all"), seed=1)
    pred = res2.predictions
    got = pred[(pred["Resample"] == "Resample2") & (pred["gamma"] == 0.5)]["rowIndex"]
    np.testing.assert_array_equal(got.to_numpy(), outs[1])
    assert len(pred) == (20 + 30 + 10) * 2


# ------------------------------------------------------------------ 10. regression


@pytest.fixture(scope="module")
def linear_data() -> pd.DataFrame:
    rng = np.random.default_rng(2024)
    X = rng.normal(size=(150, 5))
    y = X @ np.array([2.0, -1.0, 0.5, 0.0, 0.0]) + 1.0 + rng.normal(0, 0.5, 150)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(1, 6)]).assign(y=y)


def _check_regression_metrics(res):
    assert res.metric_names == ["RMSE", "Rsquared", "MAE"]
    assert res.metric == "RMSE" and res.maximize is False
    r = res.results
    assert res.best_index == int(np.nanargmin(r["RMSE"].to_numpy()))
    pred = res.predictions
    for name, grp in pred.groupby("Resample"):
        row = res.resample[res.resample["Resample"] == name].iloc[0]
        err = grp["pred"] - grp["obs"]
        assert row["RMSE"] == pytest.approx(np.sqrt((err**2).mean()), rel=1e-12)
        assert row["MAE"] == pytest.approx(err.abs().mean(), rel=1e-12)
        assert row["Rsquared"] == pytest.approx(
            np.corrcoef(grp["pred"], grp["obs"])[0, 1] ** 2, rel=1e-10
        )


def test_glmnet_regression(linear_data):
    res = train(
        "y ~ .",
        data=linear_data,
        method="glmnet",
        grid=lf.expand_grid(alpha=[0.5, 1.0], **{"lambda": [0.001, 0.05, 1.0]}),
        control=Control(method="cv", number=5, save_predictions="final"),
        seed=9,
    )
    _check_regression_metrics(res)
    r = res.results
    # simplest first for glmnet: largest lambda first
    assert list(r["lambda"]) == [1.0, 1.0, 0.05, 0.05, 0.001, 0.001]
    best = r.iloc[res.best_index]
    assert best["lambda"] < 1.0
    assert best["Rsquared"] > 0.9
    assert best["RMSE"] == pytest.approx(0.5, abs=0.15)  # the noise level
    assert (r[r["lambda"] == 1.0]["RMSE"] > best["RMSE"]).all()
    assert np.abs(res.predict(linear_data.head(3)) - linear_data["y"].head(3)).max() < 2.5


def test_gbm_regression(linear_data):
    res = train(
        linear_data,
        "y",
        method="gbm",
        grid=_gbm_grid(depths=(1, 2), trees=(25, 100)),
        control=Control(method="cv", number=4, save_predictions="final"),
        seed=9,
    )
    _check_regression_metrics(res)
    r = res.results
    assert r["RMSE"].iloc[res.best_index] < linear_data["y"].std()
    assert r.loc[r["n_trees"] == 100, "RMSE"].min() < r.loc[r["n_trees"] == 25, "RMSE"].min()
    pred = res.predict(linear_data)
    assert pred.dtype == float and pred.name == "y"
    with pytest.raises(ValueError, match="no class probabilities"):
        res.predict_proba(linear_data)


# ------------------------------------------------------------------ 11. failed fits


def test_a_failing_candidate_is_recorded_not_dropped(training, centroid_cls):
    model = centroid_cls(fail_on=(0.5,))
    res = train(
        "Class ~ .",
        data=training,
        method=model,
        grid={"shrink": [0.0, 0.5, 0.9]},
        control=Control(method="cv", number=5),
        seed=4,
    )
    r = res.results
    assert list(r["shrink"]) == [0.9, 0.5, 0.0]  # simplest (most shrunk) first
    bad = r[r["shrink"] == 0.5].iloc[0]
    assert np.isnan(bad["Accuracy"]) and np.isnan(bad["AccuracySD"])
    assert r.loc[r["shrink"] != 0.5, "Accuracy"].notna().all()
    f = res.failures
    assert len(f) == 5
    assert list(f["Resample"]) == [f"Fold{i}" for i in range(1, 6)]
    assert (f["shrink"] == 0.5).all()
    assert (f["error"] == "FloatingPointError: centroid cannot fit shrink=0.5").all()
    assert f["traceback"].str.contains("Traceback").all()
    assert res.best_params["shrink"] != 0.5
    assert "WARNING: 5 model fits failed (5 candidate x resample scores missing)" in repr(res)


def test_fit_warnings_from_every_worker_are_summed_up_and_kept(training, centroid_cls):
    """A fit's warnings are not lost in a worker process: one summary warning, and each fit's
    in fit_warnings, the same for 1 and 2 workers (caret: "There were warnings")."""
    model = centroid_cls(warn_on=(0.5,), fail_rows=125)  # 2 of the 5 folds train on 125 rows
    tables = []
    for n_jobs in (1, 2):
        with pytest.warns(UserWarning, match="resampling fits") as caught:
            res = train(
                "Class ~ .",
                data=training,
                method=model,
                grid={"shrink": [0.0, 0.5]},
                control=Control(method="cv", number=5, n_jobs=n_jobs),
                seed=4,
            )
        summary = [str(w.message) for w in caught if "resampling fits" in str(w.message)]
        assert summary == [
            "2 of 10 resampling fits of 'centroid' raised warnings: 'RuntimeWarning: centroid: "
            "shrink=0.5 on 125 rows' (2 fits). See the result's fit_warnings."
        ]
        tables.append(res.fit_warnings)
        assert "NOTE: 2 resampling fits raised warnings; see .fit_warnings" in repr(res)
    fw = tables[0]
    sizes = dict(zip(res.resamples.names, map(len, res.resamples.train), strict=True))
    assert list(fw.columns) == ["Resample", "shrink", "warning"]
    assert sorted(fw["Resample"]) == sorted(n for n, k in sizes.items() if k == 125)
    assert (fw["shrink"] == 0.5).all()
    assert (fw["warning"] == "RuntimeWarning: centroid: shrink=0.5 on 125 rows").all()
    pd.testing.assert_frame_equal(tables[0], tables[1])
    # the scores are untouched: a warning is not a failure
    assert res.failures.empty and res.results["Accuracy"].notna().all()
    from leanfit.report import render_report

    page = render_report("t", {"centroid": res})
    assert "2 warnings from resampling fits; most common (2×): RuntimeWarning: centroid" in page
    # train() keeps small work in-process; on worker processes the warnings come back the same
    from leanfit.execute import make_executor

    plan = plan_train(
        "Class ~ .",
        data=training,
        method=model,
        grid={"shrink": [0.0, 0.5]},
        control=Control(method="cv", number=5),
        seed=4,
    )
    by_worker = {
        n: {
            (r.resample, r.group): r.info.get("warnings")
            for r in make_executor(n).run(plan.context, plan.tasks)
        }
        for n in (1, 2)
    }
    assert by_worker[1] == by_worker[2]
    assert sum(w is not None for w in by_worker[2].values()) == 2


def test_fit_warnings_survive_a_resumed_run(tmp_path, training, centroid_cls):
    from leanfit.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    runs = []
    for _ in range(2):
        with pytest.warns(UserWarning, match="2 of 10 resampling fits of 'centroid'"):
            runs.append(
                train(
                    "Class ~ .",
                    data=training,
                    method=centroid_cls(warn_on=(0.5,), fail_rows=125),
                    grid={"shrink": [0.0, 0.5]},
                    control=Control(method="cv", number=5),
                    seed=4,
                    store=store,
                    experiment="e",
                    fit="f",
                )
            )
    assert runs[1].store_run["resumed_tasks"] == 10 and runs[1].store_run["computed_tasks"] == 0
    assert len(runs[1].fit_warnings) == 2
    pd.testing.assert_frame_equal(runs[0].fit_warnings, runs[1].fit_warnings)


def test_a_fit_failing_on_some_resamples_uses_the_others(training, centroid_cls):
    model = centroid_cls(fail_on=(0.5,), fail_rows=125)  # 2 of the 5 folds train on 125 rows
    ctl = Control(method="cv", number=5, return_resamp="all")
    # shrink 0.5 has the better mean over its 3 folds, but only complete candidates compete
    with pytest.warns(lf.IncompleteResamplesWarning, match=r"shrink=0\.5\) was scored on only 3"):
        res = train(
            "Class ~ .",
            data=training,
            method=model,
            grid={"shrink": [0.0, 0.5]},
            control=ctl,
            seed=4,
        )
    assert res.results["Resamples"].tolist() == [3, 5]  # simplest (shrink 0.5) first
    assert res.best_params == {"shrink": 0.0}
    sizes = [len(t) for t in res.resamples.train]
    assert sorted(sizes) == [125, 125, 126, 126, 126]
    rs = res.resample[res.resample["shrink"] == 0.5]
    failed = [name for name, s in zip(res.resamples.names, sizes, strict=True) if s == 125]
    assert set(res.failures["Resample"]) == set(failed)
    assert rs.set_index("Resample").loc[failed, "Accuracy"].isna().all()
    ok = rs["Accuracy"].dropna()
    assert len(ok) == 3
    row = res.results[res.results["shrink"] == 0.5].iloc[0]
    assert row["Accuracy"] == pytest.approx(ok.mean(), rel=1e-13)
    assert row["AccuracySD"] == pytest.approx(ok.std(ddof=1), rel=1e-12)


def test_every_candidate_failing_raises_the_first_error(training, centroid_cls):
    model = centroid_cls(fail_on=(0.0, 0.5))
    with pytest.raises(RuntimeError, match="every candidate failed for 'centroid'") as e:
        train(
            "Class ~ .",
            data=training,
            method=model,
            grid={"shrink": [0.0, 0.5]},
            control=Control(method="cv", number=3),
            seed=4,
        )
    assert "FloatingPointError: centroid cannot fit shrink=" in str(e.value)
    assert len(model.calls) == 3 * 2  # no final fit was attempted
