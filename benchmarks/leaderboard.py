"""Leaderboard figure (issue 15): 15 methods on Sonar, 10-fold CV, default grids (tune_length
3), 2 workers, in one ``lf.leaderboard`` call. Target: <= 60 s wall time.

    python benchmarks/leaderboard.py [--n-jobs 2] [--budget SECONDS] [--tune-length 1]

``--tune-length 1`` scores one default candidate per method, as PyCaret's compare_models does
(benchmarks/reference/pycaret_sonar.py runs that in a PyCaret environment).

PyCaret's compare_models is the peer; see the README section "Leaderboard" for why it is not run
here (it does not install beside leanfit's pins).
"""

from __future__ import annotations

import argparse
import time

import leanfit as lf

METHODS = [
    "lda",
    "nb",
    "knn",
    "rpart",
    "pls",
    "glmnet",
    "svm_radial",
    "svm_linear",
    "gbm",
    "xgb_tree",
    "hist_gbm",
    "rf",
    "extra_trees",
    "treebag",
    "rda",
]
TARGET_S = 60.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--budget", type=float, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tune-length", type=int, default=None, help="default: sized to the data")
    args = ap.parse_args()
    sonar = lf.datasets.load("sonar")
    t0 = time.perf_counter()
    board = lf.leaderboard(
        sonar,
        "Class",
        methods=METHODS,
        control=lf.Control(method="cv", number=10),
        budget=args.budget,
        tune_length=args.tune_length,
        n_jobs=args.n_jobs,
        seed=args.seed,
        echo=lambda line: print(line, flush=True),
    )
    wall = time.perf_counter() - t0
    print(board)
    print(board.compare(top=5))
    ran = len(board.ranked)
    verdict = "met" if wall <= TARGET_S and ran == len(METHODS) else "NOT met"
    print(
        f"\nfigure: {len(METHODS)} methods on Sonar, 10-fold CV, default grids of tune_length "
        f"{board.tune_length}, "
        f"{args.n_jobs} workers: {wall:.1f} s wall ({ran} ran, {len(board.failed)} failed, "
        f"{len(board.skipped)} skipped); target <= {TARGET_S:.0f} s: {verdict}"
    )


if __name__ == "__main__":
    main()
