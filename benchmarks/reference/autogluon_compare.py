"""leanfit (leaderboard + ensemble of its top models) against AutoGluon's TabularPredictor with an
equal wall budget on the same train/test splits: test metric and prediction latency side by side.
Benchmark only: AutoGluon is never a leanfit dependency and runs in its own environment.

    python3.11 -m venv /tmp/agvenv
    /tmp/agvenv/bin/pip install torch==2.13.0 \\
        "autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.3"
    python benchmarks/reference/autogluon_compare.py --agpython /tmp/agvenv/bin/python \\
        [--data sonar breastcancer bostonhousing] [--budget 300] [--splits 5]

Test sets of these data sets are small (52 rows for Sonar: one row is 0.02 of accuracy), so each
data set is split ``--splits`` times (seeds 1..K) and the two sides are compared on their mean
test metric over the same splits, each split's figures printed too.

Run with leanfit's Python: per data set and split it splits 75/25 (stratified), writes both parts
to a temporary folder, runs this same file with ``--agpython`` as the AutoGluon side
(``TabularPredictor(...).fit(train, time_limit=budget)``, default presets), then the leanfit
side: ``lf.leaderboard`` (the "fast" methods, 5-fold CV, ``budget`` minus a reserve for the
ensemble) and ``lf.ensemble`` (Caruana) of its top 5, within the same budget. Latency: the
median of 5 calls predicting the whole test set, and of 20 calls predicting one row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS = {"sonar": "Class", "breastcancer": "Class", "glass": "Type", "bostonhousing": "medv"}


def _latency(predict: Any, test: Any, rows: Any) -> tuple[float, float]:
    import numpy as np

    batch, one = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        predict(test)
        batch.append(time.perf_counter() - t0)
    for i in range(20):
        row = rows(i % len(test))
        t0 = time.perf_counter()
        predict(row)
        one.append(time.perf_counter() - t0)
    return float(np.median(batch)), float(np.median(one))


def _score(y: Any, pred: Any, regression: bool) -> float:
    import numpy as np

    if regression:
        return float(np.sqrt(np.mean((np.asarray(pred, float) - np.asarray(y, float)) ** 2)))
    return float(np.mean(np.asarray(pred).astype(str) == np.asarray(y).astype(str)))


def autogluon_side(args: argparse.Namespace) -> None:
    """Runs in AutoGluon's environment: fit with the time limit, score, time predictions."""
    import pandas as pd
    from autogluon.tabular import TabularPredictor

    train, test = pd.read_csv(args.train), pd.read_csv(args.test)
    regression = args.regression
    y = test.pop(args.target)
    t0 = time.perf_counter()
    pred = TabularPredictor(
        label=args.target,
        problem_type="regression" if regression else None,
        eval_metric="root_mean_squared_error" if regression else "accuracy",
        path=args.agpath,
        verbosity=0,
    ).fit(train, time_limit=args.budget)
    fit_s = time.perf_counter() - t0
    score = _score(y, pred.predict(test), regression)
    batch, one = _latency(pred.predict, test, lambda i: test.iloc[[i]])
    board = pred.leaderboard(silent=True)
    out = {
        "fit_s": fit_s,
        "score": score,
        "batch_s": batch,
        "row_s": one,
        "models": int(len(board)),
        "best": str(pred.model_best),
    }
    Path(args.out).write_text(json.dumps(out))


def leanfit_side(name: str, args: argparse.Namespace, seed: int) -> dict:
    import leanfit as lf

    target = TARGETS[name]
    df = lf.datasets.load(name)
    if name == "breastcancer":
        df = df.drop(columns=["Id"])
    rows = lf.splits.partition(df[target], p=0.75, seed=seed)
    train = df.iloc[rows].reset_index(drop=True)
    test = df.drop(index=df.index[rows]).reset_index(drop=True)
    regression = name == "bostonhousing"
    with tempfile.TemporaryDirectory() as tmp:
        tr, te, out = Path(tmp, "train.csv"), Path(tmp, "test.csv"), Path(tmp, "ag.json")
        train.to_csv(tr, index=False)
        test.to_csv(te, index=False)
        cmd = [
            args.agpython,
            __file__,
            "--side",
            "autogluon",
            "--train",
            str(tr),
            "--test",
            str(te),
            "--target",
            target,
            "--budget",
            str(args.budget),
            "--out",
            str(out),
            "--agpath",
            str(Path(tmp, "ag")),
        ] + (["--regression"] if regression else [])
        subprocess.run(cmd, check=True)
        ag = json.loads(out.read_text())
    t0 = time.perf_counter()
    board = lf.leaderboard(
        train,
        target,
        methods="fast",
        control=lf.Control(method="cv", number=5),
        budget=args.budget * 0.8,  # a method started near the end must finish within budget
        n_jobs=args.n_jobs,
        seed=seed,
    )
    top = {m: board.fits[m] for m in board.ranked[:5]}
    ens = lf.ensemble(top, method="caruana", inner=5, seed=seed)
    fit_s = time.perf_counter() - t0
    y = test[target]
    x = test.drop(columns=[target])
    score = _score(y, ens.predict(x), regression)
    batch, one = _latency(ens.predict, x, lambda i: x.iloc[[i]])
    return {
        "data": name,
        "split": seed,
        "metric": "RMSE" if regression else "Accuracy",
        "leanfit": score,
        "autogluon": ag["score"],
        "leanfit_fit_s": fit_s,
        "autogluon_fit_s": ag["fit_s"],
        "leanfit_batch_ms": 1e3 * batch,
        "autogluon_batch_ms": 1e3 * ag["batch_s"],
        "leanfit_row_ms": 1e3 * one,
        "autogluon_row_ms": 1e3 * ag["row_s"],
        "autogluon_models": ag["models"],
        "leanfit_models": len(board.ranked),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", default="leanfit", choices=["leanfit", "autogluon"])
    ap.add_argument("--agpython", default="/tmp/agvenv/bin/python")
    ap.add_argument("--data", nargs="*", default=["sonar", "breastcancer", "bostonhousing"])
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--splits", type=int, default=5, help="75/25 splits per data set (seeds 1..K)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--train")
    ap.add_argument("--test")
    ap.add_argument("--target")
    ap.add_argument("--out")
    ap.add_argument("--agpath")
    ap.add_argument("--regression", action="store_true")
    args = ap.parse_args()
    if args.side == "autogluon":
        autogluon_side(args)
        return
    import pandas as pd

    rows = []
    for name in args.data:
        for seed in range(1, args.splits + 1):
            r = leanfit_side(name, args, seed)
            rows.append(r)
            print(json.dumps(r), flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format="%.4f"))
    means = table.groupby(["data", "metric"], sort=False).median(numeric_only=True)
    means[["leanfit", "autogluon"]] = table.groupby(["data", "metric"], sort=False)[
        ["leanfit", "autogluon"]
    ].mean()
    means = means.drop(columns="split").reset_index()
    lower = means["metric"] == "RMSE"
    means["win"] = (means["leanfit"] <= means["autogluon"]).where(
        lower, means["leanfit"] >= means["autogluon"]
    )
    print(f"\nmean test metric over {args.splits} splits (times and latencies: medians)")
    print(means.to_string(index=False, float_format="%.4f"))
    wins = int(means["win"].sum())
    print(
        f"\nfigure: leanfit (leaderboard + Caruana ensemble) matches or beats AutoGluon on the "
        f"mean test metric in {wins} of {len(means)} data sets with a {args.budget:g} s budget "
        f"each (target >= 2 of 3)"
    )


if __name__ == "__main__":
    sys.exit(main())
