"""Adaptive resampling (racing) on the seed's gbmFit3 against the full grid (issue 14 figures).

gbm, 90 candidates (interaction.depth 1/5/9 x n.trees 50..1500, 3 fit groups), 10x10 CV on
caret's Sonar partition and resample indices, ROC. Prints per run: fits, wall time, the chosen
candidate and its resampled ROC, and the targets (>= 3x fewer fits; same choice or ROC loss
<= 0.002). Runs the full grid, adaptive_cv with caret's defaults, and adaptive_cv with
complete=False (the last survivor does not get the remaining resamples).

    python benchmarks/racing.py [--n-jobs 2] [--method gls|BT|halving] [--free]
        (halving: min 8, eta 3; --free: candidates a group's fit scores anyway keep racing)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--method", default="gls", choices=["gls", "BT", "halving"])
    ap.add_argument("--free", action="store_true", help="adaptive 'free': True")
    args = ap.parse_args()

    import leanfit as lf
    from leanfit.tuning.train import plan_train, run_plan

    ref = json.loads((HERE / "reference" / "caret_sonar_folds.json").read_text())
    sonar = lf.datasets.load("sonar")
    training = sonar.iloc[ref["train_rows"]].reset_index(drop=True)
    grid = lf.expand_grid(
        interaction_depth=[1, 5, 9], n_trees=range(50, 1501, 50), shrinkage=0.1, n_minobsinnode=20
    )
    common = dict(number=10, repeats=10, index=ref["index"], n_jobs=args.n_jobs)
    common.update(class_probs=True, summary="two_class")
    rule: dict[str, object] = {"method": args.method, "free": args.free}
    if args.method == "halving":
        rule.update({"min": 8, "eta": 3})
    controls = {
        "full grid": lf.Control(method="repeatedcv", **common),
        f"adaptive_cv ({args.method})": lf.Control(method="adaptive_cv", adaptive=rule, **common),
        f"adaptive ({args.method}, !complete)": lf.Control(
            method="adaptive_cv", adaptive={**rule, "complete": False}, **common
        ),
    }
    out = {}
    for name, ctl in controls.items():
        t0 = time.perf_counter()
        plan = plan_train(
            "Class ~ .", data=training, method="gbm", control=ctl, grid=grid, metric="ROC", seed=825
        )
        res = run_plan(plan, t0)
        wall = time.perf_counter() - t0
        counts = res.results["Resamples"].to_numpy()
        fits = sum(
            int(max(counts[list(g.candidates)])) for g in plan.context.groups
        )  # a group is fitted on every resample any of its candidates got
        roc = float(res.results["ROC"].iloc[res.best_index])
        out[name] = (fits, wall, res.best_params, roc, res.best_index, res.results["ROC"])
        print(
            f"{name:22s} fits {fits:4d}  wall {wall:7.2f} s  stopped {len(res.stopped):2d}  "
            f"chosen depth={res.best_params['interaction_depth']} "
            f"n.trees={res.best_params['n_trees']}  ROC {roc:.4f}"
        )
    full = out["full grid"]
    for name, ada in list(out.items())[1:]:
        loss = full[3] - float(full[5].iloc[ada[4]])  # both choices on all 100 resamples
        print(
            f"{name}: {full[0] / ada[0]:.1f}x fewer fits (target >= 3x), "
            f"{full[1] / ada[1]:.1f}x faster than the full grid; chosen "
            f"{'the same' if full[2] == ada[2] else 'a different'} candidate, whose ROC over "
            f"all 100 resamples is {loss:.4f} below the full grid's best (target: same, or "
            "<= 0.002)"
        )


if __name__ == "__main__":
    main()
