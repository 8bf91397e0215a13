"""Breadth of wins (issue 15): is the ensemble of a leaderboard's top models at least as good as
its best single model on held-out test rows? Target: in >= 5 of 6 data sets.

Per data set: a stratified 75/25 split (seed 1); ``lf.leaderboard`` on the training rows (the
"fast" methods, 5-fold CV shared by all, default grids, a wall budget per data set); an
ensemble (``lf.ensemble``, Caruana selection by default, or ``--method stack``) of the top
``--top`` ranked models from their stored held-out predictions; both scored on the test rows.
Classification: Accuracy, delta = ensemble - best, McNemar's exact test on the paired test-row
outcomes (statsmodels). Regression: RMSE, delta = best - ensemble (positive: ensemble better),
Wilcoxon signed-rank and paired t on the squared errors (scipy).

Data: the bundled sonar, breastcancer (Id dropped, rows with a missing value dropped), glass,
bostonhousing and letter — leanfit bundles these five, letter among them — and, as the sixth,
scikit-learn's bundled diabetes regression set (442 rows, no download). Letter is subsampled
to ``--letter-rows`` rows (default 4000, stratified) to fit the time.

    python benchmarks/ensemble_breadth.py [--top 5] [--method caruana] [--budget 90]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import leanfit as lf

TARGET_WINS = 5


def _data(name: str, letter_rows: int) -> tuple[pd.DataFrame, str]:
    if name == "diabetes":
        from sklearn.datasets import load_diabetes

        d = load_diabetes(as_frame=True)
        return d.frame, "target"
    df = lf.datasets.load(name)
    target = {
        "sonar": "Class",
        "breastcancer": "Class",
        "glass": "Type",
        "bostonhousing": "medv",
        "letter": "lettr",
    }[name]
    if name == "breastcancer":
        df = df.drop(columns=["Id"]).dropna().reset_index(drop=True)
    if name == "letter" and letter_rows < len(df):
        keep = lf.splits.partition(df[target], p=letter_rows / len(df), seed=7)
        df = df.iloc[np.sort(keep)].reset_index(drop=True)
    return df, target


def one(name: str, args: argparse.Namespace) -> dict:
    from scipy import stats
    from statsmodels.stats.contingency_tables import mcnemar

    df, target = _data(name, args.letter_rows)
    rows = lf.splits.partition(df[target], p=0.75, seed=1)
    train = df.iloc[rows].reset_index(drop=True)
    test = df.drop(index=df.index[rows]).reset_index(drop=True)
    t0 = time.perf_counter()
    board = lf.leaderboard(
        train,
        target,
        methods="fast",
        control=lf.Control(method="cv", number=5),
        budget=args.budget,
        n_jobs=args.n_jobs,
        seed=1,
    )
    t_board = time.perf_counter() - t0
    top = board.ranked[: args.top]
    fits = {m: board.fits[m] for m in top}
    t0 = time.perf_counter()
    ens = lf.ensemble(fits, method=args.method, inner=5, seed=1)
    t_ens = time.perf_counter() - t0
    best = fits[top[0]]
    y = test[target]
    p_best, p_ens = best.predict(test), ens.predict(test)
    out = {
        "data": name,
        "train": len(train),
        "test": len(test),
        "best": top[0],
        "members": len(top),
        "used": int((ens.weights > 0).sum()) if ens.weights is not None else len(top),
        "board_s": round(t_board, 1),
        "ensemble_s": round(t_ens, 2),
    }
    if best.dataset.mode == "classification":
        ok_b = (p_best.astype(str).to_numpy() == y.astype(str).to_numpy()).astype(int)
        ok_e = (p_ens.astype(str).to_numpy() == y.astype(str).to_numpy()).astype(int)
        table = [
            [int(np.sum(ok_b & ok_e)), int(np.sum(ok_b & (1 - ok_e)))],
            [int(np.sum((1 - ok_b) & ok_e)), int(np.sum((1 - ok_b) & (1 - ok_e)))],
        ]
        res = mcnemar(table, exact=True)
        out.update(
            metric="Accuracy",
            single=ok_b.mean(),
            ensemble=ok_e.mean(),
            delta=ok_e.mean() - ok_b.mean(),
            test_used="McNemar exact",
            p=float(res.pvalue),
            note=f"discordant: ensemble right only {table[1][0]}, best only {table[0][1]}",
        )
    else:
        yv = y.to_numpy(float)
        se_b = (p_best.to_numpy(float) - yv) ** 2
        se_e = (p_ens.to_numpy(float) - yv) ** 2
        rb, re_ = float(np.sqrt(se_b.mean())), float(np.sqrt(se_e.mean()))
        w = stats.wilcoxon(se_e, se_b)
        t = stats.ttest_rel(se_e, se_b)
        out.update(
            metric="RMSE",
            single=rb,
            ensemble=re_,
            delta=rb - re_,
            test_used="Wilcoxon on squared errors",
            p=float(w.pvalue),
            note=f"paired t p = {float(t.pvalue):.3g}",
        )
    out["win"] = bool(out["delta"] >= 0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--method", default="caruana", choices=["caruana", "stack", "average"])
    ap.add_argument("--budget", type=float, default=90.0, help="leaderboard seconds per set")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--letter-rows", type=int, default=4000)
    ap.add_argument(
        "--data",
        nargs="*",
        default=["sonar", "breastcancer", "glass", "bostonhousing", "letter", "diabetes"],
    )
    args = ap.parse_args()
    rows = []
    for name in args.data:
        r = one(name, args)
        rows.append(r)
        print(
            f"{name:13s} {r['metric']:8s} best {r['best']:12s} {r['single']:.4f}  "
            f"ensemble {r['ensemble']:.4f}  delta {r['delta']:+.4f}  {r['test_used']} "
            f"p = {r['p']:.3g}  ({r['note']}; {r['used']}/{r['members']} members used; "
            f"leaderboard {r['board_s']} s, ensemble {r['ensemble_s']} s)",
            flush=True,
        )
    table = pd.DataFrame(rows)
    print()
    print(table.drop(columns=["note"]).to_string(index=False, float_format="%.4f"))
    wins = int(table["win"].sum())
    verdict = "met" if wins >= TARGET_WINS else "NOT met"
    print(
        f"\nfigure: ensemble of the top {args.top} ({args.method}) >= best single model on the "
        f"test rows in {wins} of {len(table)} data sets (target >= {TARGET_WINS} of 6): "
        f"{verdict}; significant differences (p < 0.05): "
        f"{int((table['p'] < 0.05).sum())}"
    )


if __name__ == "__main__":
    main()
