"""Tasks on a Dask cluster: an existing engine for distributing the many independent fits.

The Context (data, model, fit groups) is scattered to the workers once; each task carries only
row indices and a seed, under a deterministic key, so results equal the local executors' for
the same seed. A worker lost mid-run has its tasks recomputed by Dask's scheduler; a cluster
that loses every worker (and with them the scattered data), or has none for ``NO_WORKERS_S``
seconds, fails in one ``ClusterError`` line.

Without a scheduler address a local cluster is started: the scheduler in this process, each
worker (under a nanny) a fresh ``python -m dask spec`` process. Fresh, so it never re-imports the
caller's main module, as Dask's LocalCluster (multiprocessing spawn) does: that re-runs a script
without ``if __name__ == "__main__":`` (or cannot find ``<stdin>``) and fails by the page.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterable, Iterator
from typing import Any

from . import Context, TaskResult, run_task
from .tasks import Task

NO_WORKERS_S = 60.0  # a cluster with no worker for this long fails the run (nannies restart
#                      a killed worker in seconds; a scaling cluster may briefly have none)
_WORKER_CHECK_S = 1.0  # how often the scheduler is asked for its workers while nothing finishes
WORKER_START_S = 60.0  # a local cluster whose workers are not all up by then fails


class ClusterError(RuntimeError):
    """The Dask cluster cannot run the tasks (no workers left, a task killing its workers, the
    scheduler gone): said in one line; task results already stored are kept."""


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


def local_cluster(workers: int) -> Any:
    """A local cluster of ``workers`` one-thread workers, each in a fresh Python process (its
    nanny started by ``python -m dask spec``), with the scheduler in this process."""
    import asyncio
    import json
    import logging
    import os
    import sys

    from distributed import Scheduler, SpecCluster
    from distributed.deploy.subprocess import SubprocessWorker
    from distributed.worker_memory import parse_memory_limit

    # the caller's import path, so workers find what the caller imports (not only cwd's modules)
    path = os.pathsep.join(os.path.abspath(p) if p else os.getcwd() for p in sys.path)

    class FreshWorker(SubprocessWorker):
        """SubprocessWorker with the caller's import path."""

        async def _start(self) -> None:
            spec = json.dumps({"cls": self.worker_class, "opts": {**self.worker_kwargs}})
            cmd = [sys.executable, "-m", "dask", "spec", self.scheduler, "--spec", spec]
            # the nanny's own log level: its silence_logs is undone when it closes, and a
            # connection closed during shutdown is then logged at INFO with a traceback
            env = {**os.environ, "PYTHONPATH": path, "DASK_LOGGING__DISTRIBUTED": "error"}
            self.process = await asyncio.create_subprocess_exec(*cmd, env=env)

    opts = {
        "host": "127.0.0.1",
        "nthreads": 1,
        "memory_limit": parse_memory_limit("auto", 1, workers, logger=logging.getLogger(__name__)),
        "silence_logs": logging.ERROR,
    }
    worker = {
        "cls": FreshWorker,
        "options": {"worker_class": "distributed.Nanny", "worker_kwargs": opts},
    }
    scheduler = {
        "cls": Scheduler,
        "options": {"host": "127.0.0.1", "port": 0, "dashboard": False, "dashboard_address": ":0"},
    }
    return SpecCluster(
        workers=dict.fromkeys(range(workers), worker),
        scheduler=scheduler,
        worker=worker,
        name="leanfit-local",
    )


@contextlib.contextmanager
def _quiet_local_cluster() -> Iterator[None]:
    """Dask's own log lines silenced in this process (where a local cluster's scheduler runs)
    until the cluster's event loop has stopped: a lost worker is said in one ClusterError line,
    and a connection closed during shutdown is not a traceback. SpecCluster's own silence_logs
    ends before its loop stops, so a late line still got through."""
    import logging

    from distributed.utils import silence_logging_cmgr

    with silence_logging_cmgr(logging.CRITICAL):
        yield


def connect(address: str | None, workers: int, timeout: float = 10.0) -> Any:
    """A client for the scheduler at ``address``, or for a new local cluster of processes.

    An address that does not answer fails here, in ``timeout`` seconds, before any fitting.
    """
    from distributed import Client

    if address is None:
        cluster = local_cluster(workers)
        client = Client(cluster)
        try:
            client.wait_for_workers(workers, timeout=WORKER_START_S)
        except TimeoutError:
            client.close()
            cluster.close()
            raise ClusterError(
                f"the local Dask cluster did not start {workers} worker(s) in "
                f"{WORKER_START_S:g} s (see the messages above)"
            ) from None
        client.run(_ignore_sigint)
        return client
    try:
        _refused_at_once(address)
        return Client(address, timeout=timeout)
    except OSError as err:
        raise ValueError(f"the Dask scheduler at {address!r} does not answer: {err}") from None


def _refused_at_once(address: str) -> None:
    """Fail now (an OSError) when a TCP address refuses the connection or cannot be reached,
    where the client would retry for its whole timeout; a silent address is left to it."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme == "tcp":
        with (
            contextlib.suppress(TimeoutError),
            socket.create_connection(parse_host_port(location), 2),
        ):
            pass


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
                ctx.duplicates,
                ctx.oob,
                None if ctx.preprocess is None else ctx.preprocess.steps,
                None if ctx.formula is None else ctx.formula.rhs,
            )
        ).encode()
    )
    return h.hexdigest()[:16]


class DaskExecutor:
    """Runs tasks on a Dask cluster (a scheduler address, or a local cluster it starts)."""

    def __init__(self, address: str | None = None, workers: int = 2):
        self.address, self.workers = address, workers

    def run(self, ctx: Context, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        with _quiet_local_cluster() if self.address is None else contextlib.nullcontext():
            yield from self._run(ctx, tasks)

    def _run(self, ctx: Context, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        client = connect(self.address, self.workers)
        try:
            if self.address is not None:  # scatter would wait for a first worker for ever
                try:
                    client.wait_for_workers(1, timeout=NO_WORKERS_S)
                except TimeoutError:
                    raise ClusterError(
                        f"the Dask cluster at {self.address} has no worker (none in "
                        f"{NO_WORKERS_S:g} s); start some: dask worker {self.address}"
                    ) from None
            try:
                shared = client.scatter(ctx, broadcast=True, hash=False)
            except (OSError, TimeoutError) as e:  # the workers went while receiving the data
                raise _lost(client, self.address, "before any task ran", e) from None
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
            yield from _results(client, futures, self.address)
        finally:
            cluster = client.cluster
            client.close()
            if cluster is not None and self.address is None:
                cluster.close()


def _results(client: Any, futures: list[Any], address: str | None) -> Iterator[TaskResult]:
    """Each task's result as it finishes; a cluster that has had no worker for NO_WORKERS_S,
    a task that killed its workers, or a lost scheduler raise one ClusterError line."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    where = _where(address)
    done, total = 0, len(futures)
    pending = as_completed(futures)
    checked, no_workers_since = 0.0, None
    while not pending.is_empty():
        if not pending.has_ready():
            now = time.monotonic()
            if now - checked >= _WORKER_CHECK_S:
                checked = now
                no_workers_since = _no_workers_since(client, no_workers_since, now)
                if no_workers_since is not None and now - no_workers_since >= NO_WORKERS_S:
                    raise ClusterError(
                        f"{where} lost every worker: none for {NO_WORKERS_S:g} s, with "
                        f"{total - done} of {total} tasks not done; start workers and run again"
                    )
            time.sleep(0.02)
            continue
        fut = next(pending)
        try:
            result = fut.result()
        except KilledWorker:
            raise ClusterError(
                f"{where}: a task killed every worker that ran it (each retry too); it may need "
                "more memory than a worker has"
            ) from None
        except (FutureCancelledError, OSError) as e:
            # cancelled: most often the workers holding the scattered data all died with it
            left = f"with {total - done} of {total} tasks not done"
            raise _lost(client, address, left, e) from None
        done += 1
        yield result


def _where(address: str | None) -> str:
    """The cluster, in words, for messages."""
    return "the local Dask cluster" if address is None else f"the Dask cluster at {address}"


def _lost(client: Any, address: str | None, left: str, err: BaseException) -> ClusterError:
    """The one-line error for a run the cluster dropped, saying why from its workers now."""
    where, n = _where(address), _worker_count(client)
    if n is None:
        return ClusterError(f"{where} stopped answering, {left}; run again")
    if n == 0:
        again = "run again" if address is None else "start workers and run again"
        return ClusterError(f"{where} lost every worker, {left}; {again}")
    return ClusterError(
        f"{where} lost this run's data with the workers that held it ({err}), {left}; run again"
    )


def _worker_count(client: Any) -> int | None:
    """How many workers the scheduler has now; None when the scheduler does not answer."""
    try:
        return len(client.nthreads())
    except OSError:
        return None


def _no_workers_since(client: Any, since: float | None, now: float) -> float | None:
    """When the cluster was first seen with no worker (kept while it has none), else None; an
    unreachable scheduler counts as having none."""
    if _worker_count(client):
        return None
    return now if since is None else since
