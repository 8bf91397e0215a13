"""Dask executor against the local one on the seed's gbmFit2 (issue 6 figures): a Dask cluster
of 2 worker processes vs the local executor with 2 processes (target: within 15 %), and Dask
with 1 vs 2 workers (target: speed-up >= 1.7x). Real `dask scheduler` / `dask worker` processes
on loopback; results are checked identical.

    python benchmarks/dask_executor.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

DASK = str(Path(sys.executable).parent / "dask")


def _cluster(workers: int) -> tuple[str, list[subprocess.Popen]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            **quiet,
        )
    ]
    time.sleep(1.5)
    procs += [
        subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet)
        for _ in range(workers)
    ]
    from distributed import Client

    with Client(address, timeout=30) as c:
        c.wait_for_workers(workers, timeout=60)
    return address, procs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import pandas as pd

    import leanfit as lf

    sonar = lf.datasets.load("sonar")
    training = sonar.iloc[lf.partition(sonar["Class"], p=0.75, seed=998)]
    grid = lf.expand_grid(
        interaction_depth=[1, 5, 9], n_trees=range(50, 1501, 50), shrinkage=0.1, n_minobsinnode=20
    )
    base = dict(method="repeatedcv", number=10, repeats=10)

    def timed(control):
        ts, res = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = lf.train(
                "Class ~ .", data=training, method="gbm", control=control, grid=grid, seed=825
            )
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts), res

    local, ref = timed(lf.Control(**base, n_jobs=2))
    times = {}
    for workers in (1, 2):
        address, procs = _cluster(workers)
        try:
            times[workers], res = timed(lf.Control(**base, executor="dask", scheduler=address))
            pd.testing.assert_frame_equal(res.results, ref.results, check_exact=True)
        finally:
            for p in procs:
                p.kill()
    print(f"gbmFit2 (90 candidates, 10x10 CV), median of {args.repeats}; results identical")
    print(f"  local executor, 2 processes : {local:6.2f} s")
    print(f"  Dask, 1 worker              : {times[1]:6.2f} s")
    print(
        f"  Dask, 2 workers             : {times[2]:6.2f} s   Dask/local = "
        f"{times[2] / local:.2f} (target <= 1.15)   1 -> 2 workers: {times[1] / times[2]:.2f}x "
        "(target >= 1.7x)"
    )


if __name__ == "__main__":
    main()
