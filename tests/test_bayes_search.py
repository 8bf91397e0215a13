"""Bayesian, genetic and multi-objective search, search spaces and budgets (issue 14)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.models.base import get_model
from leanfit.models.space import Choice, Range
from leanfit.store import Store
from leanfit.tuning.front import pareto_mask, pick_on_front
from leanfit.tuning.space import resolve_space

pytest.importorskip("optuna")

# a small gbm space: 2 depths x a few tree counts, quick on Sonar
GBM_SPACE = {
    "n_trees": lf.integer(10, 40),
    "interaction_depth": lf.integer(1, 2),
    "shrinkage": lf.loguniform(0.05, 0.3),
    "n_minobsinnode": 10,
}


def _ctl(**kw):
    base = dict(method="cv", number=3, search="bayes", budget=8, batch=4, seed=3)
    return lf.Control(**{**base, **kw})


# ------------------------------------------------------------------ reproducibility


def test_same_seed_same_trials_for_n_jobs_1_and_2(training, recording_gbm_cls, tmp_path):
    """One seed gives the same candidates and numbers in this process and in two worker
    processes, and the fits did run in the workers."""
    pids = tmp_path / "pids.log"
    r1 = lf.train(training, "Class", method="gbm", control=_ctl(), space=GBM_SPACE)
    r2 = lf.train(
        training,
        "Class",
        method=recording_gbm_cls(pid_log=str(pids)),
        control=_ctl(n_jobs=2, executor="processes"),
        space=GBM_SPACE,
    )
    fit_pids = [int(p) for p in pids.read_text().split()]
    assert len(fit_pids) == 8 * 3 + 1  # 8 trials x 3 folds, then the final fit here
    assert os.getpid() not in fit_pids[:-1] and fit_pids[-1] == os.getpid()
    assert len(set(fit_pids[:-1])) >= 1
    assert len(r1.results) == 8 and r1.results["Resamples"].eq(3).all()
    pd.testing.assert_frame_equal(r1.results, r2.results, check_exact=True)
    assert r1.best_params == r2.best_params
    # the candidates lie in the space, fixed values kept
    res = r1.results
    assert res["n_trees"].between(10, 40).all() and res["n_minobsinnode"].eq(10).all()
    assert set(res["interaction_depth"]) <= {1, 2}
    assert res["shrinkage"].between(0.05, 0.3).all()
    assert r1.search_info.candidates == 8 and r1.search_info.ended_by == "budget"


def test_another_seed_other_candidates(training):
    a = lf.train(training, "Class", method="glmnet", control=_ctl(budget=4, seed=1))
    b = lf.train(training, "Class", method="glmnet", control=_ctl(budget=4, seed=2))
    assert not np.allclose(a.results["alpha"], b.results["alpha"])


def test_resumed_search_gives_the_trials_of_an_uninterrupted_one(training, tmp_path):
    """A search stopped by its budget and resumed from the store with a larger budget asks
    the same candidates and scores them the same as one run without a stop; the first
    trials' fits are read back, not refitted; every trial is in the store."""
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    kw = dict(method="glmnet", store=store, experiment="e")
    first = lf.train(training, "Class", control=_ctl(budget=4), fit="f", **kw)
    again = lf.train(training, "Class", control=_ctl(budget=8), fit="f", **kw)
    whole = lf.train(training, "Class", control=_ctl(budget=8), fit="whole", **kw)
    pd.testing.assert_frame_equal(first.results, again.results.iloc[:4], check_exact=True)
    pd.testing.assert_frame_equal(again.results, whole.results, check_exact=True)
    assert again.store_run["resumed_tasks"] == 4 * 3
    assert again.store_run["computed_tasks"] == 4 * 3
    run_id = again.store_run["run_id"]
    done = store.done_tasks(run_id)
    assert sorted((r.group, r.resample) for r in done) == [
        (g, r) for g in range(8) for r in range(3)
    ]
    import json

    trials = json.loads(store.load_artifact(run_id, "trials"))
    assert [t["alpha"] for t in trials] == again.results["alpha"].tolist()


def test_restore_fit_rebuilds_a_search_without_fitting(training, tmp_path, monkeypatch):
    from leanfit.tuning.train import plan_train

    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    kw = dict(method="glmnet", control=_ctl(budget=4))
    r = lf.train(training, "Class", store=store, experiment="e", fit="f", **kw)
    back = lf.restore_fit(store, r.store_run["run_id"], plan=plan_train(training, "Class", **kw))
    pd.testing.assert_frame_equal(back.results, r.results, check_exact=True)
    assert back.best_params == r.best_params


def test_a_changed_batch_is_another_search(training, tmp_path):
    """The batch size decides the candidates, so the store refuses to resume with another."""
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    kw = dict(method="glmnet", store=store, experiment="e", fit="f")
    lf.train(training, "Class", control=_ctl(budget=4), **kw)
    with pytest.raises(Exception, match="batch"):
        lf.train(training, "Class", control=_ctl(budget=4, batch=2), **kw)


def test_genetic_search_is_reproducible_and_in_the_space(training):
    ctl = _ctl(search="genetic", budget=8, sampler_options={"population_size": 4})
    a = lf.train(training, "Class", method="knn", control=ctl, preprocess=["center", "scale"])
    b = lf.train(training, "Class", method="knn", control=ctl, preprocess=["center", "scale"])
    pd.testing.assert_frame_equal(a.results, b.results, check_exact=True)
    assert a.search_info.sampler == "nsga2" and len(a.results) == 8
    assert a.results["k"].between(1, 50).all()
    best = a.results["Accuracy"].max()
    assert a.results.loc[a.best_index, "Accuracy"] == best


@pytest.mark.parametrize("sampler", ["cmaes", "random"])
def test_other_samplers_run(training, sampler):
    r = lf.train(training, "Class", method="glmnet", control=_ctl(sampler=sampler, budget=4))
    assert len(r.results) == 4 and r.search_info.sampler == sampler
    assert r.results["lambda"].between(1e-4, 10).all()


def test_tpe_matches_random_search_on_a_toy_problem(training):
    """With 16 trials TPE finds a glmnet at least as accurate (within 1 point) as random
    search's best, summed over 3 seeds: a weak check that the sampler is told the scores."""
    gaps = []
    for seed in (1, 2, 3):
        t = lf.train(training, "Class", method="glmnet", control=_ctl(budget=16, seed=seed))
        r = lf.train(
            training,
            "Class",
            method="glmnet",
            control=_ctl(budget=16, seed=seed, sampler="random"),
        )
        gaps.append(t.results["Accuracy"].max() - r.results["Accuracy"].max())
    assert sum(gaps) >= -0.01


# ------------------------------------------------------------------ multi-objective


def test_pareto_mask_against_a_hand_computed_front():
    # accuracy (max), fit time (min): B dominates D (better both); E ties A on accuracy but is
    # slower (dominated); F has a missing value (never on the front)
    v = np.array(
        [
            [0.90, 3.0],  # A: best accuracy
            [0.85, 1.0],  # B
            [0.80, 0.5],  # C: fastest
            [0.84, 2.0],  # D: dominated by B
            [0.90, 4.0],  # E: dominated by A
            [np.nan, 0.1],  # F
            [0.85, 1.0],  # G: equal to B, not dominated by it
        ]
    )
    assert pareto_mask(v, [True, False]).tolist() == [True, True, True, False, False, False, True]
    # three objectives: latency makes D useful
    v3 = np.column_stack([v[:5], [1.0, 1.0, 1.0, 0.1, 1.0]])
    assert pareto_mask(v3, [True, False, False]).tolist() == [True, True, True, True, False]


def test_pick_on_front_takes_the_cheapest_within_tolerance():
    front = pd.DataFrame({"ROC": [0.90, 0.89, 0.80], "fit_time": [3.0, 1.0, 0.5]})
    # 0.89 is 1.1 % below 0.90: within 1.5 %, and faster
    assert pick_on_front(front, ["ROC", "fit_time"], [True, False], 1.5) == 1
    assert pick_on_front(front, ["ROC", "fit_time"], [True, False], 1.0) == 0
    assert pick_on_front(front, ["ROC", "fit_time"], [True, False], 12) == 2
    # RMSE (minimised) within 5 %: 10.4 is 4 % above 10
    reg = pd.DataFrame({"RMSE": [10.0, 10.4, 11.0], "fit_time": [2.0, 1.0, 0.1]})
    assert pick_on_front(reg, ["RMSE", "fit_time"], [False, False], 5) == 1


def test_multi_objective_search_front_and_choice(training):
    ctl = _ctl(
        budget=8,
        class_probs=True,
        summary="two_class",
        objectives=["ROC", "fit_time"],
        tolerance=2,
    )
    r = lf.train(training, "Class", method="glmnet", control=ctl, metric="ROC")
    table = r.objectives
    assert list(table.columns) == ["alpha", "lambda", "ROC", "fit_time", "on_front"]
    np.testing.assert_array_equal(table["ROC"], r.results["ROC"])
    # the front by hand: no other row at least as good in both and better in one
    rows = table[["ROC", "fit_time"]].to_numpy()
    hand = [
        not any((o[0] >= x[0] and o[1] <= x[1]) and (o[0] > x[0] or o[1] < x[1]) for o in rows)
        for x in rows
    ]
    assert table["on_front"].tolist() == hand
    front = r.front
    assert set(front.index) == {i for i, h in enumerate(hand) if h}
    # the choice: on the front, ROC within 2 % of the front's best, then the fastest
    best = front["ROC"].max()
    within = front[front["ROC"] >= best - 0.02 * best]
    assert r.best_index == within["fit_time"].idxmin()


def test_front_is_printed_plotted_and_reported(training):
    from leanfit.report import render_report

    ctl = _ctl(budget=6, batch=3, objectives=["Accuracy", "predict_time"])
    r = lf.train(training, "Class", method="knn", control=ctl, preprocess=["center", "scale"])
    text = repr(r)
    assert "Search: bayes search (tpe): 6 candidates scored, stopped by its budget" in text
    assert f"{int(r.objectives['on_front'].sum())} candidates on the Pareto front" in text
    fig = lf.plots.plot_front(r)
    line = fig.axes[0].get_lines()[0]
    front = r.front.sort_values("predict_time")
    np.testing.assert_allclose(line.get_xdata(), front["predict_time"])
    np.testing.assert_allclose(line.get_ydata(), front["Accuracy"])
    html = render_report("t", {"knn": r})
    assert "Pareto front: Accuracy vs predict_time" in html and html.count("<img") >= 3
    with pytest.raises(ValueError, match="needs a multi-objective search"):
        lf.plots.plot_front(lf.train(training, "Class", method="glmnet", control=_ctl(budget=2)))


def test_model_size_objective_is_the_fits_serialised_bytes_and_trades_against_roc(training):
    """objectives=["ROC", "size"]: each candidate's size is the mean over its resample fits of
    the bytes of LightGBM's own model text (refitted here on the same rows with the same
    seeds, measured with LightGBM, not with leanfit); the front trades size for ROC."""
    from leanfit.models.base import TrainingData
    from leanfit.tuning.plan import task_seed

    space = {"n_trees": lf.integer(5, 150), "interaction_depth": lf.integer(1, 4)}
    space.update(shrinkage=0.1, n_minobsinnode=10)
    ctl = _ctl(budget=8, class_probs=True, summary="two_class", objectives=["ROC", "size"])
    r = lf.train(training, "Class", method="gbm", control=ctl, metric="ROC", space=space)
    table = r.objectives
    assert list(table.columns)[-3:] == ["ROC", "size", "on_front"]
    ctx = r.context
    for i, group in enumerate(ctx.groups):
        sizes = []
        for k, (_, tr, _) in enumerate(r.resamples):
            data = TrainingData(
                X=ctx.X[tr], y=ctx.y[tr], mode=ctx.mode, levels=ctx.levels, columns=ctx.columns
            )
            booster = r.model.fit(data, group.params, group.subs, task_seed(r.seed, k, i))
            sizes.append(len(booster.model_to_string().encode("utf-8")))
        assert table["size"].iloc[i] == pytest.approx(np.mean(sizes), rel=0, abs=1e-9)
    # more trees of more leaves: more bytes (the largest model has the most leaves in all)
    leaves = table["n_trees"] * (table["interaction_depth"] + 1)
    assert table["size"].idxmax() == leaves.idxmax()
    assert table["size"].idxmin() == leaves.idxmin()
    # the front: smaller models give up ROC, and the choice is the smallest within tolerance
    front = r.front.sort_values("size")
    assert len(front) >= 2
    assert (np.diff(front["ROC"].to_numpy()) > 0).all()
    best = front["ROC"].max()
    within = front[front["ROC"] >= best - 0.015 * best]
    assert r.best_index == within["size"].idxmin()
    assert "Model size" in lf.plots.plot_front(r, x="size").axes[0].get_xlabel()


def test_model_sizes_are_stored_with_the_tasks_and_read_back_on_resume(training, tmp_path):
    space = {"n_trees": lf.integer(5, 60), "interaction_depth": lf.integer(1, 3)}
    space.update(shrinkage=0.1, n_minobsinnode=10)
    kw = dict(method="gbm", space=space, experiment="e", fit="f")
    kw["control"] = _ctl(budget=4, objectives=["Accuracy", "size"])
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        first = lf.train(training, "Class", store=store, **kw)
        again = lf.train(training, "Class", store=store, **kw)
    assert again.store_run["computed_tasks"] == 0
    assert first.objectives["size"].notna().all() and first.objectives["size"].nunique() == 4
    pd.testing.assert_frame_equal(again.objectives, first.objectives, check_exact=True)


def test_unmeasured_objective_lists_the_measured_ones(training):
    ctl = _ctl(objectives=["Accuracy", "memory"])
    with pytest.raises(ValueError, match=r"'memory'.*not measured.*Accuracy.*fit_time.*'size'"):
        lf.train(training, "Class", method="glmnet", control=ctl)
    with pytest.raises(ValueError, match="must start with a metric"):
        lf.train(training, "Class", method="glmnet", control=_ctl(objectives=["fit_time", "Kappa"]))


# ------------------------------------------------------------------ spaces


def test_default_spaces_resolve_within_the_parameters():
    for name in ("gbm", "lightgbm", "xgb_tree", "rf", "glmnet", "svm_radial", "knn", "mlp"):
        model = get_model(name)
        assert model.space, name
        space = resolve_space(model, None)
        assert set(space) == set(model.param_names)
        for p in model.params:
            dim = space[p.name]
            values = (
                dim.values
                if isinstance(dim, Choice)
                else (dim.low, dim.high)
                if isinstance(dim, Range)
                else (dim,)
            )
            assert all(p.check(v) is None for v in values), (name, p.name, dim)


def test_user_space_replaces_defaults_by_name_and_takes_aliases():
    space = resolve_space(
        get_model("gbm"), {"n.trees": [50, 100], "interaction.depth": 3, "shrinkage": 0.1}
    )
    assert space["n_trees"] == Choice((50, 100)) and space["interaction_depth"] == 3
    assert space["n_minobsinnode"] == Range(5, 30, integer=True)


def test_rf_default_space_is_capped_at_the_predictors(training):
    r = lf.train(
        training, "Class", method="rf", control=_ctl(budget=2, batch=2), options={"n_trees": 10}
    )
    assert r.results["mtry"].le(60).all()


@pytest.mark.parametrize(
    ("space", "match"),
    [
        ({"lambda": lf.uniform(0.5, 0.5)}, r"'lambda'.*\[0.5, 0.5\] is empty"),
        ({"lambda": lf.uniform(1.0, 0.1)}, r"'lambda'.*inverted"),
        ({"lambda": lf.loguniform(0.0, 1.0)}, r"'lambda'.*log scale needs low > 0"),
        ({"alpha": lf.uniform(0.0, 2.0)}, r"'alpha'.*high=2.0.*must be <= 1.0"),
        ({"lamda": lf.uniform(0.1, 1.0)}, r"'lamda'.*not a parameter.*\['alpha', 'lambda'\]"),
        ({"alpha": []}, r"'alpha'.*at least one value"),
        ({"alpha": 0.5, "lambda": 0.1}, r"nothing to search"),
    ],
)
def test_bad_spaces_are_named(training, space, match):
    with pytest.raises(ValueError, match=match):
        lf.train(training, "Class", method="glmnet", control=_ctl(), space=space)


def test_space_errors_of_kind(training):
    with pytest.raises(ValueError, match=r"'k'.*whole number.*lf.integer\(1, 9\)"):
        lf.train(training, "Class", method="knn", control=_ctl(), space={"k": lf.uniform(1, 9)})
    with pytest.raises(ValueError, match=r"'k'.*high=500.*more than the data allows"):
        lf.train(training, "Class", method="knn", control=_ctl(), space={"k": lf.integer(1, 500)})
    with pytest.raises(ValueError, match=r"lda.*lacks.*no default space|nothing to search"):
        lf.train(training, "Class", method="lda", control=_ctl())
    with pytest.raises(ValueError, match="space= is for Control"):
        lf.train(training, "Class", method="glmnet", space={"alpha": lf.uniform(0, 1)})
    with pytest.raises(ValueError, match="not grid="):
        lf.train(training, "Class", method="glmnet", control=_ctl(), grid={"alpha": [0.1]})


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"budget": 0}, r"budget=0\) must be a positive"),
        ({"budget": None}, r"needs a budget: budget="),
        ({"time": 0}, r"time=0\) must be a positive"),
        ({"sampler": "hyperband"}, r"sampler='hyperband'.*valid: \['tpe', 'gp', 'cmaes'"),
        ({"search": "grid", "sampler": "tpe"}, r"sampler=...\) is for search='bayes'"),
        ({"batch": 0}, r"batch=0\) must be a positive"),
        ({"objectives": ["ROC"]}, r"at least 2 names"),
        ({"sampler": "cmaes", "objectives": ["ROC", "fit_time"]}, "one objective"),
        ({"method": "adaptive_cv", "number": 10}, "racing"),
    ],
)
def test_bad_search_settings_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        _ctl(**kw)


def test_budget_zero_refused_for_grid_too():
    with pytest.raises(ValueError, match=r"budget=0"):
        lf.Control(budget=0)


# ------------------------------------------------------------------ budgets on any search


def test_grid_budget_scores_whole_fit_groups_simplest_first(training, small_grid):
    """small_grid: 2 fit groups (depth 1, 2) of 3 candidates; budget=2 covers the simplest
    candidates, all of depth 1's group, so that group alone is fitted."""
    ctl = lf.Control(method="cv", number=3, budget=2, seed=5)
    r = lf.train(training, "Class", method="gbm", grid=small_grid, control=ctl)
    full = lf.train(
        training,
        "Class",
        method="gbm",
        grid=small_grid,
        control=lf.Control(method="cv", number=3, seed=5),
    )
    res = r.results
    one = res["interaction_depth"] == 1
    assert res.loc[one, "Resamples"].eq(3).all() and res.loc[~one, "Resamples"].eq(0).all()
    assert res.loc[~one, "Accuracy"].isna().all()
    assert r.search_info.candidates == 3 and r.search_info.ended_by == "budget"
    pd.testing.assert_frame_equal(res[one], full.results[one], check_exact=True)
    assert one.iloc[r.best_index]


def test_time_budget_keeps_the_fits_in_flight(training, small_grid, tmp_path):
    """A time budget already spent when the first chunk ends: that chunk (the fit group in
    flight) is finished and stored, nothing else starts, and the result says so."""
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    ctl = lf.Control(method="cv", number=3, time=1e-9, seed=5)
    r = lf.train(
        training, "Class", method="gbm", grid=small_grid, control=ctl, store=store, fit="t"
    )
    assert r.search_info.ended_by == "time" and r.search_info.candidates == 3
    assert sorted(r.results["Resamples"].tolist()) == [0, 0, 0, 3, 3, 3]
    assert len(store.done_tasks(r.store_run["run_id"])) == 3
    b = lf.train(training, "Class", method="glmnet", control=_ctl(budget=None, time=1e-9))
    assert b.search_info.ended_by == "time" and b.search_info.candidates == 4  # one batch
