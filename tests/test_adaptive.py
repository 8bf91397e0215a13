"""Adaptive resampling (caret's adaptive_cv): futility stops, fit counts, the gls test against
statsmodels, complete=, n_jobs invariance, resume from a store, and refused settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsRegressor

import leanfit as lf
from leanfit.store import Store
from leanfit.tuning.racing import bt_survivors, gls_pvalues
from leanfit.tuning.train import plan_train, run_plan


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    df = pd.DataFrame(X, columns=["a", "b"])
    df["y"] = 3 * X[:, 0] + 0.1 * rng.normal(size=200)
    return df


def _run(data, grid, store=None, **adaptive):
    ctl = lf.Control(method="adaptive_cv", number=10, adaptive=adaptive or None)
    plan = plan_train(data, "y", method=KNeighborsRegressor(), grid=grid, control=ctl, seed=3)
    assert len(plan.context.groups) == len(plan.candidates)  # one fit per candidate
    return run_plan(plan, store=store)


def test_clearly_bad_candidates_stop_after_min_and_the_best_is_chosen(data, tmp_path):
    # k=150 / 170 average over most of the 180 training rows: far worse than k=2..4
    grid = {"n_neighbors": [2, 3, 4, 150, 170]}
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        res = _run(data, grid, store=store, min=3)
    counts = res.results.set_index("n_neighbors")["Resamples"]
    assert counts[150] == counts[170] == 3
    assert res.stopped[3] == res.stopped[4] == 3
    # exact fits: 5 candidates on 3 resamples, then each survivor one fit per further resample
    survivors = [
        k
        for k in (2, 3, 4)
        if res.candidates.index[res.candidates.n_neighbors == k][0] not in res.stopped
    ]
    expected = 5 * 3 + sum(int(counts[k]) - 3 for k in (2, 3, 4))
    assert res.store_run["computed_tasks"] == expected
    assert expected < 5 * 10
    # the chosen one is the best mean among the survivors, and has the full 10 resamples
    table = res.results.set_index("n_neighbors")
    best = table.loc[survivors, "RMSE"].idxmin()
    assert res.best_params["n_neighbors"] == best
    assert counts[best] == 10
    assert "adaptive resampling stopped" in repr(res)


def test_complete_true_finishes_the_last_survivor_false_does_not(data):
    grid = {"n_neighbors": [2, 150, 170]}
    full = _run(data, grid, min=3, complete=True)
    part = _run(data, grid, min=3, complete=False)
    for res in (full, part):
        assert res.stopped == {1: 3, 2: 3}
        assert res.best_params == {"n_neighbors": 2}
    assert full.results["Resamples"].tolist() == [10, 3, 3]  # 3*3 + 7 = 16 fits
    assert part.results["Resamples"].tolist() == [3, 3, 3]  # 9 fits
    # a plain 10-fold CV of k=2 on the same folds gives the completed survivor's scores
    plain = lf.train(
        data,
        "y",
        method=KNeighborsRegressor(),
        grid={"n_neighbors": [2]},
        control=lf.Control(method="cv", number=10),
        seed=3,
    )
    assert full.results["RMSE"].iloc[0] == pytest.approx(plain.results["RMSE"].iloc[0])


def test_gls_pvalues_match_a_blocked_linear_model_in_statsmodels():
    smf = pytest.importorskip("statsmodels.formula.api")
    from scipy import stats

    rng = np.random.default_rng(5)
    values = rng.normal(size=(8, 4)) * 0.05 + np.array([0.80, 0.78, 0.70, 0.79])
    values += rng.normal(size=(8, 1)) * 0.05  # resample (block) effect
    values[2, 3] = np.nan  # a failed cell is left out
    best, p = gls_pvalues(values, maximize=True)
    assert best == int(np.nanargmax(np.nanmean(values, axis=0)))
    r, c = np.nonzero(~np.isnan(values))
    long = pd.DataFrame({"v": values[r, c], "cand": c, "res": r})
    fit = smf.ols(f"v ~ C(cand, Treatment({best})) + C(res)", data=long).fit()
    for j in range(4):
        if j == best:
            assert p[j] == 1.0
            continue
        name = f"C(cand, Treatment({best}))[T.{j}]"
        t = fit.params[name] / fit.bse[name]  # candidate minus best
        assert p[j] == pytest.approx(stats.t.cdf(t, fit.df_resid), rel=1e-8)
    # minimising: the same test on the negated metric
    best_min, p_min = gls_pvalues(-values, maximize=False)
    assert best_min == best and np.allclose(p_min, p)


def test_bt_keeps_the_best_and_drops_a_candidate_that_always_loses():
    rng = np.random.default_rng(1)
    values = np.column_stack(
        [
            0.9 + 0.01 * rng.normal(size=10),
            0.9 + 0.01 * rng.normal(size=10),
            0.5 + 0.01 * rng.normal(size=10),
        ]
    )
    kept = bt_survivors(values, maximize=True, alpha=0.05)
    assert int(np.argmax(values.mean(axis=0))) in kept
    assert 2 not in kept


def test_same_result_for_n_jobs_1_and_2_and_with_bt():
    sonar = lf.datasets.load("sonar")
    grid = {"k": [1, 3, 5, 9, 25, 61, 101]}
    out = []
    for jobs in (1, 2):
        ctl = lf.Control(method="adaptive_cv", number=10, n_jobs=jobs, adaptive={"min": 4})
        with pytest.warns(UserWarning) if jobs > lf.control.available_cores() else _nothing():
            res = lf.train("Class ~ .", data=sonar, method="knn", grid=grid, control=ctl, seed=7)
        out.append(res)
    assert out[0].stopped == out[1].stopped and out[0].stopped
    # one fit group (knn's k is a sub-model): it went on, but the stopped got no more scores
    counts = out[0].results["Resamples"]
    assert all(counts[c] == k for c, k in out[0].stopped.items())
    assert counts.max() > max(out[0].stopped.values())
    pd.testing.assert_frame_equal(out[0].results, out[1].results)
    assert out[0].best_params == out[1].best_params
    bt = lf.train(
        "Class ~ .",
        data=sonar,
        method="knn",
        grid=grid,
        seed=7,
        control=lf.Control(method="adaptive_cv", number=10, adaptive={"min": 5, "method": "BT"}),
    )
    assert bt.stopped and bt.best_index not in bt.stopped


def test_resumed_adaptive_run_reproduces_the_result(data, tmp_path):
    grid = {"n_neighbors": [2, 3, 4, 150, 170]}
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(url) as store:
        first = _run(data, grid, store=store, min=3)
    with Store.open(url) as store:
        again = _run(data, grid, store=store, min=3)
    assert again.store_run["computed_tasks"] == 0
    assert again.store_run["resumed_tasks"] == first.store_run["computed_tasks"]
    assert again.stopped == first.stopped
    pd.testing.assert_frame_equal(again.results, first.results)


def test_restored_adaptive_run_has_the_same_stops_and_choice(tmp_path):
    from leanfit.restore import restore_fit

    sonar = lf.datasets.load("sonar")
    kw = dict(
        data=sonar,
        method="knn",
        grid={"k": [1, 3, 5, 61, 101]},
        seed=7,
        control=lf.Control(method="adaptive_cv", number=10, adaptive={"min": 3}),
    )
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        res = lf.train("Class ~ .", store=store, **kw)
        back = restore_fit(store, res.store_run["run_id"], plan_train("Class ~ .", **kw))
    assert res.stopped and back.stopped == res.stopped
    assert back.best_index == res.best_index
    pd.testing.assert_frame_equal(back.results, res.results)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"adaptive": {"min": 10}}, "fewer than the 10 resamples"),
        ({"adaptive": {"min": 1}}, "'min': 1"),
        ({"adaptive": {"alpha": 1.5}}, "'alpha': 1.5"),
        ({"adaptive": {"method": "lm"}}, "'gls', 'BT' or 'halving'"),
        ({"adaptive": {"complete": "yes"}}, "'complete': 'yes'"),
        ({"adaptive": {"minimum": 3}}, "unknown setting(s) ['minimum']"),
    ],
)
def test_bad_adaptive_settings_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        lf.Control(method="adaptive_cv", number=10, **kwargs)


def test_tools_that_fix_one_candidate_refuse_adaptive_resampling():
    sonar = lf.datasets.load("sonar")
    ctl = lf.Control(method="adaptive_cv", number=10)
    with pytest.raises(ValueError, match="use method='cv'"):
        lf.learning_curve("Class ~ .", data=sonar, method="lda", control=ctl)


def test_adaptive_settings_need_an_adaptive_method():
    with pytest.raises(ValueError, match="adaptive methods"):
        lf.Control(method="cv", adaptive={"min": 3})


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_gls_pvalues_balanced_shortcut_matches_statsmodels():
    smf = pytest.importorskip("statsmodels.formula.api")
    from scipy import stats

    rng = np.random.default_rng(9)
    values = rng.normal(size=(6, 5)) * 0.02 + np.linspace(0.7, 0.8, 5)  # no missing cell
    best, p = gls_pvalues(values, maximize=False)  # smallest is best here
    r, c = np.nonzero(np.ones_like(values, dtype=bool))
    long = pd.DataFrame({"v": values[r, c], "cand": c, "res": r})
    fit = smf.ols(f"v ~ C(cand, Treatment({best})) + C(res)", data=long).fit()
    assert best == 0
    for j in range(1, 5):
        name = f"C(cand, Treatment({best}))[T.{j}]"
        t = fit.params[name] / fit.bse[name]  # candidate minus best: positive = worse
        assert p[j] == pytest.approx(stats.t.sf(t, fit.df_resid), rel=1e-8)


def test_report_says_which_candidates_were_stopped(tmp_path):
    pytest.importorskip("matplotlib")
    from leanfit.report import write_report

    sonar = lf.datasets.load("sonar")
    res = lf.train(
        "Class ~ .",
        data=sonar,
        method="knn",
        grid={"k": [1, 3, 61, 101]},
        seed=7,
        control=lf.Control(method="adaptive_cv", number=10, adaptive={"min": 3}),
    )
    assert res.stopped
    text = write_report(tmp_path / "r.html", "racing", {"knn": res}).read_text()
    assert f"Adaptive resampling stopped {len(res.stopped)} of 4 candidates" in text
    assert "fewer than all 10 resamples" not in text  # the stopped are not called incomplete


# -- successive halving -------------------------------------------------------------------------
def test_halving_survivors_keep_the_top_third_by_mean_computed_by_hand():
    from leanfit.tuning.racing import halving_survivors

    # means by hand: col0 .80, col1 .70, col2 .90, col3 .85, col4 .60, col5 .90 (tie with 2),
    # col6 never scored -> ceil(7 / 3) = 3 kept: the two .90 and the .85
    values = np.array(
        [
            [0.78, 0.70, 0.92, 0.85, 0.61, 0.88, np.nan],
            [0.82, 0.70, 0.88, 0.85, 0.59, 0.92, np.nan],
        ]
    )
    assert halving_survivors(values, maximize=True, eta=3).tolist() == [2, 3, 5]
    # eta 2 keeps ceil(7 / 2) = 4: add .80 (col 0); the never-scored one always ranks last
    assert halving_survivors(values, maximize=True, eta=2).tolist() == [0, 2, 3, 5]
    # minimising RMSE-like values: the smallest means win; ties go to the earlier column
    assert halving_survivors(values, maximize=False, eta=3).tolist() == [0, 1, 4]
    tie = np.array([[1.0, 1.0, 1.0, 1.0]])
    assert halving_survivors(tie, maximize=True, eta=3).tolist() == [0, 1]
    assert halving_survivors(tie[:, :1], maximize=True, eta=3).tolist() == [0]


def _halving(data, grid, jobs=1, store=None, **adaptive):
    ctl = lf.Control(
        method="adaptive_cv",
        number=10,
        repeats=2,
        n_jobs=jobs,
        executor="processes" if jobs > 1 else "local",
        adaptive={"method": "halving", **adaptive},
    )
    plan = plan_train(data, "y", method=KNeighborsRegressor(), grid=grid, control=ctl, seed=3)
    return run_plan(plan, store=store)


def test_halving_stops_by_rung_exactly_as_a_replay_by_hand(data):
    # 9 candidates (one fit each), rungs of 4 of the 20 resamples, eta 3: 9 -> 3 -> 1.
    grid = {"n_neighbors": [1, 2, 3, 5, 8, 13, 40, 90, 150]}
    res = _halving(data, grid, min=4, complete=False)
    plain = lf.train(
        data,
        "y",
        method=KNeighborsRegressor(),
        grid=grid,
        seed=3,
        control=lf.Control(method="repeatedcv", number=10, repeats=2),
    )
    rmse = plain.scores.values[:, :, plain.metric_names.index("RMSE")]  # (20, 9), same folds
    first = np.argsort(rmse[:4].mean(axis=0), kind="stable")[:3]  # top ceil(9/3) after rung 1
    second = first[np.argsort(rmse[:8, first].mean(axis=0), kind="stable")[:1]]
    expected = {c: 4 for c in range(9) if c not in first}
    expected.update({int(c): 8 for c in first if c not in second})
    assert res.stopped == expected
    assert res.best_index == int(second[0])
    assert res.results["Resamples"].tolist() == [
        8 if c == second[0] else expected[c] for c in range(9)
    ]
    after = res.results["StoppedAfter"]
    assert after.isna().tolist() == [c == second[0] for c in range(9)]
    assert [int(after[c]) for c in expected] == list(expected.values())
    # the survivor's estimate is the mean of its first 8 resamples of the plain run
    assert res.results["RMSE"].iloc[res.best_index] == pytest.approx(
        rmse[:8, second[0]].mean(), rel=1e-12
    )
    assert "successive halving" in repr(res)
    # complete=True: the survivor gets all 20 resamples, the others the same stops
    done = _halving(data, grid, min=4)
    assert done.stopped == expected and done.best_index == res.best_index
    assert int(done.results["Resamples"].iloc[done.best_index]) == 20


def test_halving_same_for_n_jobs_1_and_2_and_after_resume(training, recording_gbm_cls, tmp_path):
    import os

    # gbm: 3 fit groups (depth) x 3 sub-models (n_trees); 5-fold x 2, rungs of 2: 9 -> 3 -> 1
    grid = lf.expand_grid(
        interaction_depth=[1, 2, 3], n_trees=[10, 20, 40], shrinkage=0.1, n_minobsinnode=10
    )
    kw = dict(data=training, grid=grid, metric="ROC", seed=11)

    def ctl(jobs: int) -> lf.Control:
        return lf.Control(
            method="adaptive_cv",
            number=5,
            repeats=2,
            class_probs=True,
            summary="two_class",
            n_jobs=jobs,
            executor="processes" if jobs > 1 else "local",
            adaptive={"method": "halving", "min": 2},
        )

    pids = tmp_path / "pids.log"
    one = lf.train("Class ~ .", method="gbm", control=ctl(1), **kw)
    two = lf.train("Class ~ .", method=recording_gbm_cls(pid_log=str(pids)), control=ctl(2), **kw)
    fit_pids = [int(p) for p in pids.read_text().split()]
    assert os.getpid() not in fit_pids[:-1]  # every resampling fit ran in a worker
    # a group is fitted on a resample while any of its candidates races: per group, the most
    # resamples any of its candidates got; then the final fit
    counts = one.results["Resamples"].to_numpy()
    groups = one.candidates.groupby("interaction_depth").indices.values()
    assert len(fit_pids) == sum(int(counts[list(g)].max()) for g in groups) + 1
    assert len(one.stopped) == 8 and sorted(set(one.stopped.values())) == [2, 4]
    assert one.stopped == two.stopped and one.best_index == two.best_index
    pd.testing.assert_frame_equal(one.results, two.results, check_exact=True)
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(url) as store:
        first = lf.train("Class ~ .", method="gbm", control=ctl(1), store=store, **kw)
    with Store.open(url) as store:
        again = lf.train("Class ~ .", method="gbm", control=ctl(1), store=store, **kw)
    assert again.store_run["computed_tasks"] == 0
    assert again.store_run["resumed_tasks"] == first.store_run["computed_tasks"]
    assert again.stopped == first.stopped == one.stopped
    pd.testing.assert_frame_equal(again.results, one.results, check_exact=True)


@pytest.mark.parametrize(
    ("adaptive", "message"),
    [
        ({"method": "halving", "eta": 1}, "'eta': 1"),
        ({"method": "halving", "eta": "3"}, "'eta': '3'"),
        ({"method": "halving", "min": 20}, "fewer than the 20 resamples"),
        ({"eta": 2}, "is for method='halving'"),
    ],
)
def test_bad_halving_settings_are_refused_by_name(adaptive, message):
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        lf.Control(method="adaptive_cv", number=10, repeats=2, adaptive=adaptive)


def test_tuning_plot_marks_the_stopped_candidates():
    pytest.importorskip("matplotlib")
    sonar = lf.datasets.load("sonar")
    ctl = lf.Control(method="adaptive_cv", number=10, adaptive={"method": "halving", "min": 3})
    res = lf.train(
        "Class ~ .", data=sonar, method="knn", grid={"k": [1, 5, 25, 101]}, control=ctl, seed=7
    )
    assert len(res.stopped) == 3  # 4 -> 2 -> 1
    fig = lf.plots.plot_tuning(res)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "stopped by racing (3)" in labels
    marked = [c for c in ax.collections if c.get_label().startswith("stopped")][0]
    table = res.results
    rows = table.iloc[sorted(res.stopped)].sort_values("k")
    got = np.asarray(marked.get_offsets())
    np.testing.assert_allclose(got[np.argsort(got[:, 0])], rows[["k", "Accuracy"]].to_numpy())
    assert res.best_index not in res.stopped and table["k"].iloc[res.best_index] not in got[:, 0]


def test_restored_halving_run_has_the_same_stops_and_choice(tmp_path):
    from leanfit.restore import restore_fit

    sonar = lf.datasets.load("sonar")
    kw = dict(
        data=sonar,
        method="knn",
        grid={"k": [1, 3, 5, 61, 101]},
        seed=7,
        control=lf.Control(
            method="adaptive_cv", number=10, adaptive={"method": "halving", "min": 3}
        ),
    )
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        res = lf.train("Class ~ .", store=store, **kw)
        back = restore_fit(store, res.store_run["run_id"], plan_train("Class ~ .", **kw))
    assert len(res.stopped) == 4  # 5 -> 2 -> 1
    assert back.stopped == res.stopped and back.best_index == res.best_index
    pd.testing.assert_frame_equal(back.results, res.results)


# ------------------------------------------------------------ cut fit groups, free candidates

_GBM_GRID = dict(
    interaction_depth=[1, 2, 3], n_trees=[10, 20, 40], shrinkage=0.1, n_minobsinnode=10
)


def _gbm_halving(training, method, n_jobs=1, **adaptive):
    ctl = lf.Control(
        method="adaptive_cv",
        number=5,
        repeats=2,
        class_probs=True,
        summary="two_class",
        n_jobs=n_jobs,
        adaptive={"method": "halving", "min": 2, **adaptive},
    )
    grid = lf.expand_grid(**_GBM_GRID)
    return lf.train("Class ~ .", data=training, method=method, grid=grid, control=ctl, seed=11)


def _alive_at(res, c: int, r: int) -> bool:
    """Whether candidate c was still racing when resample r was fitted."""
    return c not in res.stopped or res.stopped[c] > r


def test_a_race_fits_each_group_only_as_far_as_its_racing_candidates(training, recording_gbm_cls):
    """gbm's groups are fitted only up to the largest n_trees still racing in them (LightGBM's
    first trees do not depend on how many follow), and the scores are exactly those of the
    uncut groups fitted to their largest n_trees (prefix_submodels off)."""
    from dataclasses import dataclass

    @dataclass
    class Uncut(recording_gbm_cls):
        prefix_submodels = False

    cut, whole = recording_gbm_cls(), Uncut()
    a = _gbm_halving(training, cut)
    b = _gbm_halving(training, whole)
    pd.testing.assert_frame_equal(a.results, b.results, check_exact=True)
    assert a.stopped == b.stopped and a.best_index == b.best_index
    assert len(a.stopped) == 8
    table = a.results
    # per fit: (depth, trees fitted); expected from the stops: per group and resample it was
    # fitted on, the largest n_trees among its candidates still racing
    fitted = sorted(
        (c["params"]["interaction_depth"], max(s["n_trees"] for s in c["subs"]))
        for c in cut.calls[:-1]
    )
    expected = []
    for depth, rows in table.groupby("interaction_depth").groups.items():
        for r in range(10):
            live = [c for c in rows if _alive_at(a, c, r) and r < table["Resamples"][c]]
            if live:
                expected.append((depth, int(table["n_trees"][live].max())))
    assert fitted == sorted(expected)
    uncut = [max(s["n_trees"] for s in c["subs"]) for c in whole.calls[:-1]]
    assert len(uncut) == len(fitted) and set(uncut) == {40}
    assert sum(t for _, t in fitted) < sum(uncut)  # some fits stopped short of 40 trees


def test_free_riders_by_hand():
    from leanfit.execute import FitGroup
    from leanfit.tuning.racing import free_riders

    subs = [{"n_trees": 10}, {"n_trees": 20}, {"n_trees": 40}]
    groups = [FitGroup({}, subs, (0, 1, 2)), FitGroup({}, subs, (3, 4, 5))]
    alive = np.ones(6, dtype=bool)
    assert free_riders(groups, np.array([1]), alive, True).tolist() == [0, 1]
    assert free_riders(groups, np.array([1]), alive, False).tolist() == [0, 1, 2]
    assert free_riders(groups, np.array([1, 5]), alive, True).tolist() == [0, 1, 3, 4, 5]
    alive[0] = False  # stopped earlier: not brought back
    assert free_riders(groups, np.array([2]), alive, True).tolist() == [1, 2]


def test_free_halving_never_stops_a_candidate_its_group_scores_anyway(training):
    """adaptive={"free": True}: a candidate is stopped only when no candidate of its group with
    as many or more n_trees goes on; each estimate is the mean of the plain 5x2 CV's first
    resamples (same folds and seeds), and the choice the best of those with the most."""
    res = _gbm_halving(training, "gbm", free=True)
    plain = lf.train(
        "Class ~ .",
        data=training,
        method="gbm",
        grid=lf.expand_grid(**_GBM_GRID),
        metric="ROC",
        seed=11,
        control=lf.Control(
            method="repeatedcv", number=5, repeats=2, class_probs=True, summary="two_class"
        ),
    )
    roc = plain.scores.values[:, :, plain.metric_names.index("ROC")]
    table = res.results
    assert res.stopped  # something was stopped, and never a free rider
    for c, r in res.stopped.items():
        same = table.index[table["interaction_depth"] == table["interaction_depth"][c]]
        more = [d for d in same if table["n_trees"][d] >= table["n_trees"][c] and d != c]
        assert not any(_alive_at(res, d, r) for d in more), (c, r)
    got = table["Resamples"].to_numpy()
    np.testing.assert_allclose(
        table["ROC"], [roc[: got[c], c].mean() for c in range(len(table))], rtol=1e-12
    )
    alive = [c for c in range(len(table)) if c not in res.stopped]
    assert len(alive) > 1  # the free riders of the last group raced with it to the end
    top = [c for c in alive if got[c] == got[alive].max()]
    assert res.best_index == max(top, key=lambda c: table["ROC"][c])
    # without free the same race stops them: fewer survive
    assert len(_gbm_halving(training, "gbm").stopped) > len(res.stopped)


def test_free_must_be_a_bool():
    with pytest.raises(ValueError, match="'free': 'yes'"):
        lf.Control(method="adaptive_cv", number=10, adaptive={"free": "yes"})


def test_later_race_batches_share_tasks_with_the_workers_and_give_the_same_race(
    training, recording_gbm_cls, tmp_path, monkeypatch
):
    """Once the first batch shows workers pay off (here: any work does), a race's later batches
    run on this process and the local workers from their first task; same stops and scores."""
    import os

    import leanfit.tuning.train as train_module

    monkeypatch.setattr(train_module, "_PARALLEL_MIN_SECONDS", 0.0)
    pids = tmp_path / "pids.log"
    # a fit slow enough that the worker, started with the race, takes some of the tasks: this
    # process runs a task itself only when none is left that a worker has not taken
    slow = recording_gbm_cls(pid_log=str(pids), delay=0.3)
    two = _gbm_halving(training, slow, n_jobs=2, free=True)
    one = _gbm_halving(training, "gbm", free=True)
    pd.testing.assert_frame_equal(one.results, two.results, check_exact=True)
    assert one.stopped == two.stopped and one.best_index == two.best_index
    fit_pids = [int(p) for p in pids.read_text().split()]
    assert {os.getpid()} < set(fit_pids)  # this process and a worker both fitted


def test_once_workers_pay_off_every_later_rung_shares_them(
    training, recording_gbm_cls, monkeypatch
):
    """A race's first rung runs behind the timing probe; once a rung's work was worth the
    workers, every later rung shares its tasks with them however few they are (gbmFit3's last
    rungs of 8 quick tasks used to run in this process alone, its warm worker idle)."""
    import leanfit.tuning.train as tt

    routes: list[tuple[str, int]] = []

    def recorded(name, real):
        def run(ctx, tasks, control, desc):
            routes.append((name, len(tasks)))
            return real(ctx, tasks, control, desc)

        return run

    monkeypatch.setattr(tt, "_run_guided_tasks", recorded("shared", tt._run_guided_tasks))
    monkeypatch.setattr(tt, "run_tasks", recorded("probed", tt.run_tasks))
    # one candidate per fit group; rungs of 2 resamples: 8 groups -> 4 -> 2 -> 1, which then
    # goes on to the last resample; each fit takes 0.2 s: the rung of 8 tasks (1.6 s) is worth
    # the workers, the rung of 4 after it (0.8 s) alone would not be
    grid = lf.expand_grid(
        interaction_depth=list(range(1, 9)), n_trees=40, shrinkage=0.1, n_minobsinnode=10
    )
    adaptive = {"method": "halving", "min": 2, "eta": 2}
    ctl = dict(method="adaptive_cv", number=5, repeats=2, adaptive=adaptive)
    model = recording_gbm_cls(delay=0.2)
    kw = dict(data=training, grid=grid, seed=2)
    fit = lf.train("Class ~ .", method=model, control=lf.Control(**ctl, n_jobs=2), **kw)
    assert [n for _, n in routes] == [16, 8, 4, 4]
    assert [name for name, _ in routes] == ["probed", "shared", "shared", "shared"]
    serial = lf.train("Class ~ .", method="gbm", control=lf.Control(**ctl), **kw)
    pd.testing.assert_frame_equal(fit.results, serial.results, check_exact=True)
