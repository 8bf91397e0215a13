"""The overlapped executor: this process computes while local workers start, then shares the
tasks with them; every task runs exactly once and results equal a serial run exactly."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import Future

import pandas as pd

from leanfit import Control, train
from leanfit.execute import OverlappedExecutor, SerialExecutor
from leanfit.tuning.train import plan_train

GRID = {"interaction_depth": [1, 2], "n_trees": [20, 40], "shrinkage": [0.1], "n_minobsinnode": [5]}


def _plan(training, model):
    return plan_train(
        "Class ~ .",
        data=training,
        method=model,
        grid=GRID,
        control=Control(method="cv", number=8, save_predictions="all"),
        seed=3,
    )


def test_parent_and_worker_share_the_tasks_each_once(tmp_path, training, recording_gbm_cls):
    pids = tmp_path / "pids.log"
    plan = _plan(training, recording_gbm_cls(pid_log=str(pids)))
    by_task = {
        (r.resample, r.group): r for r in OverlappedExecutor(2).run(plan.context, plan.tasks)
    }
    fit_pids = Counter(int(p) for p in pids.read_text().split())
    assert len(by_task) == len(plan.tasks) == 8 * 2
    assert sum(fit_pids.values()) == len(plan.tasks)  # each task fitted exactly once
    # the first task goes to the worker before the parent starts: both ran tasks (loky may
    # replace its worker process mid-run, e.g. after its memory-growth check: more pids then)
    assert os.getpid() in fit_pids and len(fit_pids) >= 2

    serial = {(r.resample, r.group): r for r in SerialExecutor().run(plan.context, plan.tasks)}
    assert serial.keys() == by_task.keys()
    for key, r in serial.items():
        assert by_task[key].error is None and r.error is None
        for name, preds in r.probs.items():
            assert (by_task[key].probs[name] == preds).all()


def test_train_with_two_jobs_equals_serial(training):
    ctl = dict(method="cv", number=8, save_predictions="all", verbose=False)
    kw = dict(data=training, method="gbm", grid=GRID, seed=5)
    one = train("Class ~ .", control=Control(**ctl, n_jobs=1), **kw)
    two = train("Class ~ .", control=Control(**ctl, n_jobs=2), **kw)
    pd.testing.assert_frame_equal(one.results, two.results, check_exact=True)
    pd.testing.assert_frame_equal(one.predictions, two.predictions, check_exact=True)


def test_tasks_no_worker_has_taken_run_here_without_being_handed_back(training, monkeypatch):
    """A worker that never takes its tasks (the pool's futures stay pending: a worker still
    starting, or the pool's manager thread starved): this process runs every task, and a task
    it takes back from the pool is run here, not handed back (that spun, submit, cancel,
    submit..., for minutes in CI until the worker happened to get one)."""
    from leanfit.execute import _WorkerPool

    submitted: Counter = Counter()

    def never_taken(self, task):
        submitted[(task.resample, task.group)] += 1
        if sum(submitted.values()) > 100:  # fail, rather than spin for ever
            raise RuntimeError(f"handed to the pool over and over: {submitted.most_common(3)}")
        return Future()  # pending until cancelled

    monkeypatch.setattr(_WorkerPool, "warm_up", lambda self: None)
    monkeypatch.setattr(_WorkerPool, "submit", never_taken)
    plan = _plan(training, "gbm")
    got = {(r.resample, r.group) for r in OverlappedExecutor(2).run(plan.context, plan.tasks)}
    assert len(got) == len(plan.tasks) == 16
    assert max(submitted.values()) == 1  # handed out once, taken back once, run here


def test_a_worker_gets_work_while_this_process_runs_a_long_task(
    tmp_path, training, recording_gbm_cls
):
    """While this process spends 3 s on its first task, the (warm) worker is handed every
    other task as it returns the previous one; it used to get two and then wait for this
    process to finish its task before getting more."""
    executor = OverlappedExecutor(2)
    warm = _plan(training, "gbm")
    list(executor.run(warm.context, warm.tasks))  # the worker started and imported
    pids = tmp_path / "pids.log"
    plan = _plan(training, recording_gbm_cls(pid_log=str(pids), first_here=3.0))
    got = {(r.resample, r.group) for r in executor.run(plan.context, plan.tasks)}
    assert len(got) == len(plan.tasks) == 16
    fit_pids = Counter(int(p) for p in pids.read_text().split())
    assert sum(fit_pids.values()) == 16
    assert fit_pids[os.getpid()] == 1  # the long task; the worker fitted the other 15
