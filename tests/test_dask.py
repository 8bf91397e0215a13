"""The Dask executor against real `dask scheduler` and `dask worker` processes on loopback:
identical results to the local executor, and a worker killed mid-run does not change them."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import leanfit as lf

DASK = str(Path(sys.executable).parent / "dask")
GRID = lf.expand_grid(interaction_depth=[1, 3], n_trees=[20, 200], shrinkage=0.1, n_minobsinnode=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, seconds: float = 30) -> None:
    end = time.time() + seconds
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")


@pytest.fixture(scope="module")
def cluster():
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    _wait_for(port)
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [DASK, "worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    from distributed import Client

    with Client(address, timeout=30) as c:
        c.wait_for_workers(2, timeout=60)
    yield {"address": address, "workers": procs[1:]}
    for p in procs:
        p.kill()
        p.wait()


def _fit(training, control):
    metric = "ROC" if control.summary == "two_class" else "Accuracy"
    return lf.train(
        "Class ~ .", data=training, method="gbm", grid=GRID, control=control, seed=11, metric=metric
    )


def test_dask_cluster_gives_the_local_results(cluster, training):
    base = dict(
        method="cv", number=5, class_probs=True, summary="two_class", save_predictions="final"
    )
    local = _fit(training, lf.Control(**base))
    remote = _fit(training, lf.Control(**base, executor="dask", scheduler=cluster["address"]))
    pd.testing.assert_frame_equal(local.results, remote.results, check_exact=True)
    pd.testing.assert_frame_equal(local.predictions, remote.predictions, check_exact=True)
    assert local.best_params == remote.best_params


def test_a_worker_killed_mid_run_changes_nothing(cluster, training):
    base = dict(method="repeatedcv", number=10, repeats=4)
    local = _fit(training, lf.Control(**base, n_jobs=2))
    victim, killed_at = cluster["workers"][0], []

    def kill():
        victim.kill()
        killed_at.append(time.time())

    killer = threading.Timer(0.5, kill)
    killer.start()
    remote = _fit(training, lf.Control(**base, executor="dask", scheduler=cluster["address"]))
    finished = time.time()
    killer.join()
    assert victim.wait(timeout=10) is not None
    assert killed_at and killed_at[0] < finished  # the worker died while the run went on
    pd.testing.assert_frame_equal(local.results, remote.results, check_exact=True)


def test_an_address_that_does_not_answer_fails_before_fitting(training):
    dead = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.time()
    with pytest.raises(ValueError, match=f"Dask scheduler at '{dead}' does not answer"):
        _fit(training, lf.Control(method="cv", number=3, executor="dask", scheduler=dead))
    assert time.time() - t0 < 30


def test_control_checks_the_executor():
    with pytest.raises(ValueError, match="executor='spark'"):
        lf.Control(executor="spark")
    with pytest.raises(ValueError, match="scheduler=...\\) is for executor='dask'"):
        lf.Control(scheduler="tcp://127.0.0.1:8786")
