"""Executors: run tasks (resample x fit group) and stream their results back as they finish.

Every executor runs the same ``run_task`` over the same ``Context``; engines run single-threaded
inside tasks, so results are identical whichever executor and however many workers are used.
"""

from __future__ import annotations

import copy
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..models.base import CLASSIFICATION, Model, TrainingData
from ..preprocess import PreProcess
from .tasks import FitGroup, Task


@dataclass(frozen=True)
class Context:
    """What every task needs, sent to each worker once; tasks carry only rows and seeds."""

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    mode: str
    levels: tuple[str, ...]
    columns: tuple[str, ...]
    model: Model
    preprocess: PreProcess | None  # an unfitted template; every fit fits its own copy
    groups: tuple[FitGroup, ...]
    class_probs: bool
    sampling: str | None = None  # class-imbalance sampling of the fitting rows
    duplicates: str = "keep"  # "drop": repeated rows of a fit's training rows are dropped
    oob: bool = False  # score the fit's own out-of-bag predictions (Control(method="oob"))
    # A formula with stateful terms (poly, center, scale: frame.Encoder.formula) and the raw
    # predictor columns: each task refits it on its training rows and re-applies it to the
    # held-out rows, so nothing the terms learn comes from held-out rows.
    formula: Any = None
    raw: pd.DataFrame | None = None
    # Bytes of a fit's portable form, (fitted model, fitted pre-processing) -> int: set by
    # train() when a search minimises model size; each task records it as info["size"].
    measure_size: Callable[[Any, Any], int] | None = None


@dataclass
class TaskResult:
    """Held-out predictions of every candidate of one fit group on one resample (or the error)."""

    resample: int
    group: int
    preds: dict[str, np.ndarray] = field(default_factory=dict)  # eval name -> (S, n)
    probs: dict[str, np.ndarray] = field(default_factory=dict)  # eval name -> (S, n, K)
    fit_time: float = 0.0
    predict_time: float = 0.0
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)  # describe_fit's, and "warnings"

    def warned(self) -> list[dict[str, Any]]:
        """One {"resample", "group", "warning"} per distinct warning this task raised."""
        return [
            {"resample": self.resample, "group": self.group, "warning": w}
            for w in self.info.get("warnings", ())
        ]


def fit_one(
    ctx: Context,
    rows: np.ndarray,
    group: FitGroup,
    seed: int,
    subs: list[dict[str, Any]] | None = None,
    X: np.ndarray | None = None,
) -> tuple[PreProcess | None, Any]:
    """Fit pre-processing and the model on ``rows`` (used by tasks and by the final fit);
    ``X``: those rows' matrix when not ctx.X's (a formula refitted on them)."""
    X, columns = (ctx.X[rows] if X is None else X), ctx.columns
    y, w = ctx.y[rows], None if ctx.weights is None else ctx.weights[rows]
    if ctx.duplicates == "drop":  # only these training rows: held-out rows are never dropped
        from ..encodings import duplicated_rows

        keep = ~duplicated_rows(X, y)
        X, y, w = X[keep], y[keep], None if w is None else w[keep]
    pp = None
    if ctx.preprocess is not None:
        pp = copy.deepcopy(ctx.preprocess)
        # fit_transform: target encodings of these rows are cross-fitted (inner folds)
        X = np.asarray(pp.fit_transform(pd.DataFrame(X, columns=list(columns), copy=False), y))
        columns = tuple(map(str, pp.output_names_))
    if ctx.sampling:
        from ..sampling import resample_rows

        X, y, w = resample_rows(X, y, w, ctx.sampling, seed)
    data = TrainingData(
        X=X, y=y, mode=ctx.mode, levels=ctx.levels, columns=columns, weights=w, oob=ctx.oob
    )
    subs = subs or group.subs
    fitted = ctx.model.fit(data, group.params, subs, seed)
    ctx.model.check_fit(fitted, data, subs)  # warns about a fit gone wrong (diverged boosting)
    return pp, fitted


def predict_group(
    ctx: Context, pp: PreProcess | None, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions (S, n) and, when asked for, probabilities (S, n, K) for every sub-model."""
    if pp is not None:
        X = pp.transform(X)
    model = ctx.model
    if ctx.mode != CLASSIFICATION:
        return model.predict(fitted, X, subs), None
    if ctx.class_probs or model.classes_from_proba:
        prob = model.predict_proba(fitted, X, subs)
        pred = prob.argmax(axis=2) if model.classes_from_proba else model.predict(fitted, X, subs)
        return pred, (prob if ctx.class_probs else None)
    return model.predict(fitted, X, subs), None


def run_task(ctx: Context, task: Task) -> TaskResult:
    """Fit one group on one resample and predict its evaluation rows; never raises.

    The caller limits BLAS/OpenMP pools to one thread (see the executors), once per process.
    """
    out = TaskResult(task.resample, task.group)
    group = ctx.groups[task.group]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # models still silence what they mean to
            t0 = time.perf_counter()
            matrix = _formula_matrices(ctx, task.train)
            pp, fitted = fit_one(ctx, task.train, group, task.seed, X=matrix(task.train))
            t1 = time.perf_counter()
            for name, rows in task.evals.items():
                if ctx.oob:
                    pred, prob = ctx.model.oob_predict(fitted, group.subs)
                    prob = prob if ctx.class_probs else None
                else:
                    Xe = matrix(rows)
                    pred, prob = predict_group(ctx, pp, fitted, Xe, group.subs)
                out.preds[name] = pred
                if prob is not None:
                    out.probs[name] = prob
            out.fit_time, out.predict_time = t1 - t0, time.perf_counter() - t1
            out.info = dict(ctx.model.describe_fit(fitted))
            if ctx.measure_size is not None:  # outside the timings
                try:
                    out.info["size"] = int(ctx.measure_size(fitted, pp))
                except Exception as err:  # a fit that cannot be serialised has no size
                    out.info["size_error"] = f"{type(err).__name__}: {err}"
        if caught:
            out.info["warnings"] = distinct_warnings(caught)
    except Exception:  # a failed fit is recorded against its candidates, never dropped
        out.error = traceback.format_exc(limit=6)
    return out


def _formula_matrices(ctx: Context, train: np.ndarray) -> Any:
    """rows -> their model matrix: ctx.X's rows, or, for a stateful formula, the formula
    refitted on ``train``'s raw rows and applied to the asked ones."""
    if ctx.formula is None or ctx.raw is None:
        return lambda rows: ctx.X[rows]
    spec = ctx.formula.refit(ctx.raw.iloc[train])
    if spec.feature_names != tuple(ctx.formula.feature_names):
        raise ValueError(
            f"formula '~ {ctx.formula.rhs}' gives columns {list(spec.feature_names)} on this "
            f"resample's training rows, not {list(ctx.formula.feature_names)} as on all rows"
        )
    return lambda rows: spec.matrix(ctx.raw.iloc[rows])


def warn_fit_warnings(warned: list[dict[str, Any]], n_fits: int, what: str) -> None:
    """One warning summing up what tasks warned about, on whichever worker (caret: "There were
    warnings"); ``warned`` holds one {"resample", "group", "warning"} per task and warning."""
    if not warned:
        return
    from collections import Counter

    fits = {(w["resample"], w["group"]) for w in warned}
    counts = Counter(w["warning"] for w in warned)
    shown = "; ".join(
        f"{msg!r} ({k} fit{'s' if k > 1 else ''})" for msg, k in counts.most_common(3)
    )
    more = "; ..." if len(counts) > 3 else ""
    warnings.warn(
        f"{len(fits)} of {n_fits} {what} raised warnings: {shown}{more}. See the result's "
        "fit_warnings.",
        UserWarning,
        stacklevel=4,
    )


def distinct_warnings(caught: list[warnings.WarningMessage], limit: int = 20) -> list[str]:
    """A fit's warnings as "Category: first line of the message", each once."""
    lines = (
        f"{w.category.__name__}: {(str(w.message).strip().splitlines() or [''])[0][:300]}"
        for w in caught
    )
    return list(dict.fromkeys(lines))[:limit]


class Executor(Protocol):
    def run(self, ctx: Context, tasks: Iterable[Task]) -> Iterator[TaskResult]: ...


class SerialExecutor:
    """Runs tasks one after another in this process."""

    def run(self, ctx: Context, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        from ..pools import one_thread

        with one_thread():
            for t in tasks:
                yield run_task(ctx, t)


# A worker process's current Context, loaded once per train() call and replaced by the next
# one: the data reaches each worker once, and warm workers are reused across train() calls.
_WORKER: dict[str, Any] = {}


def _worker_context(path: str, token: str) -> Context:
    """This run's Context in a worker process, loaded on its first task of the run."""
    if _WORKER.get("token") != token:
        import pickle

        from ..pools import one_thread

        with open(path, "rb") as f:
            ctx = pickle.load(f)  # written by this run's parent process, never by a user
        one_thread()  # kept for the worker's life: not used as a context
        _WORKER.clear()
        _WORKER.update(token=token, ctx=ctx)
    context: Context = _WORKER["ctx"]
    return context


def _run_in_worker(path: str, token: str, task: Task) -> TaskResult:
    return run_task(_worker_context(path, token), task)


def _warm_worker(path: str, token: str) -> None:
    """Load the run's Context and import the model's engine, before any task arrives."""
    import importlib

    ctx = _worker_context(path, token)
    with suppress(ImportError):
        importlib.import_module(str(ctx.model.engine))


class _WorkerPool:
    """The context written once for local workers, and the warm loky pool that runs tasks."""

    def __init__(self, ctx: Context, workers: int):
        import os
        import tempfile
        import uuid

        import cloudpickle
        from loky import get_reusable_executor

        fd, self.path = tempfile.mkstemp(prefix="leanfit-", suffix=".ctx")
        with os.fdopen(fd, "wb") as f:
            cloudpickle.dump(ctx, f)  # cloudpickle: user-defined models work too
        self.token = uuid.uuid4().hex
        self.workers = workers
        self.warming: list[Future[None]] = []
        # Engines loaded later in the worker (OpenMP in LightGBM) start single-threaded too.
        one = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        self.pool = get_reusable_executor(max_workers=workers, timeout=120, env=one)

    def submit(self, task: Task) -> Future[TaskResult]:
        return self.pool.submit(_run_in_worker, self.path, self.token, task)

    def warm_up(self) -> None:
        """Have every worker start, load the context and import the engine now."""
        self.warming = [
            self.pool.submit(_warm_worker, self.path, self.token) for _ in range(self.workers)
        ]

    def close(self, futures: Iterable[Future[TaskResult]], interrupted: bool) -> None:
        """Drop what nobody will read; on an interruption end the workers now (they would go
        on fitting tasks nobody reads, and outlive this process: loky fails the pending futures
        itself, and cancelling them first upsets its manager thread)."""
        import os

        if interrupted:
            self.pool.shutdown(wait=True, kill_workers=True)
        else:
            for fut in futures:
                fut.cancel()
            for warm in self.warming:
                warm.cancel()
        os.unlink(self.path)


class ProcessExecutor:
    """Runs every task in local worker processes (loky, kept warm between train() calls)."""

    def __init__(self, workers: int):
        self.workers = workers

    def run(self, ctx: Context, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        from concurrent.futures import as_completed

        pool = _WorkerPool(ctx, self.workers)
        futures = [pool.submit(t) for t in tasks]
        interrupted = True
        try:
            for fut in as_completed(futures):
                yield fut.result()
            interrupted = False
        finally:
            pool.close(futures, interrupted)


class OverlappedExecutor:
    """This process and ``workers - 1`` local worker processes share the tasks.

    The workers start at once and, while they start (a fresh worker imports Python, pandas and
    the engine: about as long as a whole small grid), this process computes. ``probe`` tasks
    run here first: when the last of them shows the rest would take under ``min_seconds``
    here, the workers get nothing (their start is not waited for). Otherwise a feeder thread
    hands each worker its next task the moment it returns one, while this process works from
    the other end of the queue: a first train() pays the start-up in the background, a warm
    one loses nothing, and a long task here never leaves a worker waiting for work.
    """

    def __init__(self, workers: int, probe: int = 0, min_seconds: float = 0.0):
        self.workers = workers
        self.probe = probe
        self.min_seconds = min_seconds

    def run(self, ctx: Context, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        import threading
        from collections import deque
        from concurrent.futures import FIRST_COMPLETED, wait

        from ..pools import one_thread

        queue = deque(tasks)
        helpers = self.workers - 1
        pool = _WorkerPool(ctx, helpers)
        pool.warm_up()
        lock = threading.Lock()  # guards queue, inflight, finished and started
        inflight: dict[Future[TaskResult], Task] = {}
        finished: deque[Future[TaskResult]] = deque()
        started = False  # a worker has returned a task
        closing = threading.Event()  # this process has taken the last task: feed no more

        def collect() -> None:
            nonlocal started
            for fut in [f for f in inflight if f.done()]:
                del inflight[fut]
                finished.append(fut)
                started = True

        def feed() -> None:
            """Hand each worker its next task the moment it returns one, even while this
            process is computing: two queued while many remain, one near the end (a queued
            task cannot be taken back, and this process would wait for it)."""
            while True:
                with lock:
                    collect()
                    ahead = 2 if started and len(queue) > 2 * helpers else 1
                    while not closing.is_set() and queue and len(inflight) < helpers * ahead:
                        task = queue.popleft()
                        inflight[pool.submit(task)] = task
                    waiting = list(inflight)
                    if not waiting and (closing.is_set() or not queue):
                        return
                # a future cancelled here wakes no waiter until loky drops it: look again soon
                wait(waiting, timeout=0.05, return_when=FIRST_COMPLETED)

        feeder = threading.Thread(target=feed, name="leanfit-feeder", daemon=True)
        interrupted = True
        try:
            with one_thread():
                for _ in range(min(self.probe, len(queue))):
                    r = run_task(ctx, queue.popleft())
                    yield r
                if self.probe and (r.fit_time + r.predict_time) * len(queue) < self.min_seconds:
                    while queue:  # quick work: not worth a worker
                        yield run_task(ctx, queue.popleft())
                feeder.start()
                while True:
                    with lock:
                        collect()
                        ready = list(finished)
                        finished.clear()
                        task = queue.pop() if queue else None  # this process: from the end
                        if task is None:
                            closing.set()
                            # tasks still waiting for a starting worker run here now
                            for fut in [f for f in inflight if f.cancel()]:
                                queue.append(inflight.pop(fut))
                            task = queue.pop() if queue else None
                        waiting = list(inflight)
                    for fut in ready:
                        yield fut.result()
                    if task is not None:
                        yield run_task(ctx, task)
                    elif waiting:
                        wait(waiting, return_when=FIRST_COMPLETED)
                    elif not ready:
                        break
            interrupted = False
        finally:
            closing.set()
            with lock:
                left = list(inflight)
            pool.close(left, interrupted)
            if feeder.is_alive() and not interrupted:
                feeder.join()


def make_executor(workers: int) -> Executor:
    """The serial executor for one worker; for more, this process and local worker processes."""
    return SerialExecutor() if workers <= 1 else OverlappedExecutor(workers)
