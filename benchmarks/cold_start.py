"""The first fit of a session against a warm one (issue 16): the seed's gbm grid (gbmFit2) with
10-fold CV repeated twice, on caret's own folds, in a fresh Python process.

Each trial starts a new interpreter that imports leanfit and loads Sonar (not timed), then
times train() three ways: "cold" (the first train() with n_jobs workers: worker start-up
included), "warm" (the same call again: workers already running) and, in another fresh
process, "serial" (n_jobs=1, the engine's import included, as a user's first call pays it).
Prints the median of --trials trials and the ratio cold / warm (the target is <= 1.2).

    python benchmarks/cold_start.py [--trials 5] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, sys, time
import leanfit as lf
ref = json.loads(open(sys.argv[1]).read())
n_jobs = int(sys.argv[2])
sonar = lf.datasets.load("sonar")
training = sonar.iloc[ref["train_rows"]].reset_index(drop=True)
ctl = lf.Control(method="repeatedcv", number=10, repeats=2, index=ref["index"][:20],
                 n_jobs=n_jobs, verbose=False)
grid = lf.expand_grid(interaction_depth=[1, 5, 9], n_trees=range(50, 1501, 50),
                      shrinkage=0.1, n_minobsinnode=20)
out = {}
for name in (["cold", "warm"] if n_jobs > 1 else ["serial"]):
    t0 = time.perf_counter()
    fit = lf.train("Class ~ .", data=training, method="gbm", grid=grid, control=ctl, seed=825)
    out[name] = time.perf_counter() - t0
    out[name + "_acc"] = float(fit.results["Accuracy"].iloc[fit.best_index])
print(json.dumps(out))
"""


def trial(n_jobs: int) -> dict[str, float]:
    folds = HERE / "reference" / "caret_sonar_folds.json"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(folds), str(n_jobs)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    runs: dict[str, list[float]] = {"cold": [], "warm": [], "serial": []}
    accs = set()
    for _ in range(args.trials):
        for n in (args.n_jobs, 1):
            r = trial(n)
            for k, v in r.items():
                if k.endswith("_acc"):
                    accs.add(round(v, 10))
                else:
                    runs[k].append(v)
    med = {k: statistics.median(v) for k, v in runs.items()}
    for k, v in runs.items():
        print(f"{k:>6}: median {med[k]:.2f} s  ({', '.join(f'{x:.2f}' for x in v)})")
    print(f"cold / warm   = {med['cold'] / med['warm']:.2f}  (target <= 1.2)")
    print(f"serial / warm = {med['serial'] / med['warm']:.2f}")
    print(f"chosen candidate's accuracy, every run: {sorted(accs)}  (identical: {len(accs) == 1})")


if __name__ == "__main__":
    main()
