"""Experiment store figures (issue 6): its overhead on the seed's Sonar workflow (target <= 5 %),
and resume after `kill -9` at about 30 % and 70 % of gbmFit2 (identical results; only the tasks
that were not stored are recomputed).

    python benchmarks/store.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEANFIT = str(Path(sys.executable).parent / "leanfit")
GBMFIT2 = """\
name: gbmfit2
data: sonar
formula: Class ~ .
partition: {p: 0.75, seed: 998}
n_jobs: 2
controls:
  fitControl: {method: repeatedcv, number: 10, repeats: 10}
fits:
  gbmFit2:
    method: gbm
    control: fitControl
    seed: 825
    grid: {interaction_depth: [1, 5, 9], n_trees: {from: 50, to: 1500, by: 50},
           shrinkage: 0.1, n_minobsinnode: 20}
"""
TOTAL = 300


def _stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def overhead(repeats: int) -> None:
    from leanfit.experiment import load_experiment, run_experiment
    from leanfit.store import Store

    def once(with_store: bool) -> float:
        tmp = Path(tempfile.mkdtemp())
        store = Store.open(f"sqlite:///{tmp / 's.db'}") if with_store else None
        exp = load_experiment(ROOT / "examples" / "sonar.yaml", verbose=False)
        exp.output = exp.report = None
        t0 = time.perf_counter()
        run_experiment(exp, echo=lambda *a: None, store=store)
        return time.perf_counter() - t0

    once(False)  # warm the worker pool and the imports
    plain = [once(False) for _ in range(repeats)]
    stored = [once(True) for _ in range(repeats)]
    a, b = statistics.median(plain), statistics.median(stored)
    print(
        f"seed workflow, median of {repeats}: no store {a:.2f} s, embedded SQLite store "
        f"{b:.2f} s -> overhead {100 * (b / a - 1):+.1f} % (target <= 5 %)"
    )


def resume(fraction: float) -> None:
    tmp = Path(tempfile.mkdtemp())
    cfg = tmp / "gbmfit2.yaml"
    cfg.write_text(GBMFIT2)
    db = tmp / "s.db"

    def run(out: str, store: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [LEANFIT, "run", str(cfg), "-q", "-o", str(tmp / out), "--store", f"sqlite:///{store}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    proc = run("killed", db)
    while _stored(db) < fraction * TOTAL and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = _stored(db)
    again = run("resumed", db)
    out, _ = again.communicate()
    line = next((ln for ln in out.splitlines() if ln.startswith("(resumed")), "?")
    clean = run("clean", tmp / "other.db")
    clean.communicate()
    same = (tmp / "resumed" / "gbmFit2_results.csv").read_text() == (
        tmp / "clean" / "gbmFit2_results.csv"
    ).read_text()
    print(
        f"gbmFit2 killed at {kept}/{TOTAL} stored tasks ({100 * kept / TOTAL:.0f} %): re-run "
        f"{line}; rows now {_stored(db)} (no duplicates: {_stored(db) == TOTAL}); results "
        f"identical to an uninterrupted run: {same}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    overhead(args.repeats)
    for fraction in (0.3, 0.7):
        resume(fraction)


if __name__ == "__main__":
    main()
