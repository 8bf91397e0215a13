"""Tasks on a Dask cluster: an existing engine for distributing the many independent fits.

The Context (data, model, fit groups) is scattered to the workers once; each task carries only
row indices and a seed, under a deterministic key, so results equal the local executors' for
the same seed. A worker lost mid-run has its tasks recomputed by Dask's scheduler.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from ..tuning.plan import Task
from . import Context, TaskResult, run_task


def _run_limited(ctx: Context, task: Task) -> TaskResult:
    """run_task with BLAS/OpenMP pools at one thread, as in every other executor."""
    from ..pools import one_thread

    with one_thread():
        return run_task(ctx, task)


def _ignore_sigint() -> None:
    """In a local cluster's worker: leave Ctrl-C to the leanfit process, which closes the
    cluster (the terminal sends SIGINT to every process of the group; workers would each print
    a traceback)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def connect(address: str | None, workers: int, timeout: float = 10.0) -> Any:
    """A client for the scheduler at ``address``, or for a new local cluster of processes.

    An address that does not answer fails here, in ``timeout`` seconds, before any fitting.
    """
    from distributed import Client, LocalCluster

    if address is None:
        # silence_logs: its workers' warnings (tasks cancelled when a run is interrupted) are
        # noise; what a fit warns travels back with its result
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
        client.run(_ignore_sigint)
        return client
    try:
        return Client(address, timeout=timeout)
    except OSError as err:
        raise ValueError(f"the Dask scheduler at {address!r} does not answer: {err}") from None


def plan_token(ctx: Context) -> str:
    """A fingerprint of what the tasks compute (data, model, candidates, steps): the same plan
    gives the same task keys on any run, a different one can never share them."""
    h = hashlib.sha256()
    for arr in (ctx.X, ctx.y, ctx.weights):
        if arr is not None:
            h.update(arr.tobytes())
    h.update(
        repr(
            (
                ctx.model.name,
                ctx.model.options,
                ctx.groups,
                ctx.class_probs,
                ctx.sampling,
                ctx.oob,
                None if ctx.preprocess is None else ctx.preprocess.steps,
            )
        ).encode()
    )
    return h.hexdigest()[:16]


class DaskExecutor:
    """Runs tasks on a Dask cluster (a scheduler address, or a local cluster it starts)."""

    def __init__(self, address: str | None = None, workers: int = 2):
        self.address, self.workers = address, workers

    def run(self, ctx: Context, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        from distributed import as_completed

        client = connect(self.address, self.workers)
        try:
            shared = client.scatter(ctx, broadcast=True, hash=False)
            token = plan_token(ctx)
            futures = [
                client.submit(
                    _run_limited,
                    shared,
                    t,
                    retries=2,
                    key=f"leanfit-{token}-{t.resample}-{t.group}-{t.seed}",
                )
                for t in tasks
            ]
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            cluster = client.cluster
            client.close()
            if cluster is not None and self.address is None:
                cluster.close()
