"""Boosting that diverges (issue 16): gbm's default grid on a 7-class table with rare classes,
with R gbm's settings (no L2 penalty) against leanfit's defaults (lambda_l2 = 1).

Per interaction.depth x n.trees: held-out accuracy (mean and SD over stratified folds), the
largest |raw score| on the training rows, and how many fits leanfit flags as diverged.

    PYTHONPATH=src python benchmarks/divergence.py                # 8000 rows, 5 folds
    PYTHONPATH=src python benchmarks/divergence.py --rows 58000   # the issue's size

Measured 2026-12-03 (depth 3; accuracy mean / SD over 5 folds at 50, 100, 150 trees; max |raw|):
8000 rows, lambda_l2 = 0: 0.957 / 0.028, 0.850 / 0.207, 0.839 / 0.201, 1.2e5, 4 of 5 fits
flagged; lambda_l2 = 1: 0.990, 0.992, 0.992 (SD <= 0.003), 11, none flagged. 58 000 rows,
lambda_l2 = 0: 0.978, 0.963, 0.952 (SD 0.025), 5.7e5, every fit flagged at every depth;
lambda_l2 = 1: 0.993, 0.994, 0.993 (SD <= 0.001), 13, none flagged.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np


def rare_class_table(n: int = 8000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows, 8 numeric columns, 7 Gaussian classes; the two smallest (50 and 15 rows
    whatever ``n``) are three times as spread out, so some of their rows sit inside others."""
    rng = np.random.default_rng(seed)
    sizes = [int(round(s * (n - 65) / 7935)) for s in (3000, 2600, 1400, 600, 300)] + [50, 15]
    sizes[0] += n - sum(sizes)
    spread = [1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 3.0]
    centers = rng.normal(0.0, 3.0, (7, 8))
    X = np.vstack([centers[k] + rng.normal(0.0, spread[k], (s, 8)) for k, s in enumerate(sizes)])
    return X, np.repeat(np.arange(7), sizes)


def run(X: np.ndarray, y: np.ndarray, options: dict, folds: int, seed: int) -> None:
    from sklearn.model_selection import StratifiedKFold

    from leanfit.models.base import CLASSIFICATION, FitWarning, TrainingData
    from leanfit.models.boosting import GBM

    model = GBM(options=options)
    counts = [50, 100, 150]
    subs = [{"n_trees": c} for c in counts]
    print(f"\noptions={options}")
    print("  depth  n.trees  Accuracy  AccuracySD  max|raw|  flagged")
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)
    splits = list(split)
    for depth in (1, 2, 3):
        params = {"interaction_depth": depth, "shrinkage": 0.1, "n_minobsinnode": 10}
        acc = np.zeros((folds, len(counts)))
        top = np.zeros((folds, len(counts)))
        flagged = 0
        for f, (tr, te) in enumerate(splits):
            data = TrainingData(X[tr], y[tr], CLASSIFICATION, tuple("ABCDEFG"))
            booster = model.fit(data, params, subs, seed + f)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.check_fit(booster, data, subs)
            flagged += any(issubclass(w.category, FitWarning) for w in caught)
            raw_tr = model.predict_raw(booster, X[tr], subs)
            raw_te = model.predict_raw(booster, X[te], subs)
            acc[f] = (raw_te.argmax(axis=2) == y[te]).mean(axis=1)
            top[f] = np.abs(raw_tr).max(axis=(1, 2))
        for j, c in enumerate(counts):
            print(
                f"  {depth:5d}  {c:7d}  {acc[:, j].mean():8.4f}  {acc[:, j].std(ddof=1):10.4f}"
                f"  {top[:, j].max():8.2g}  {flagged if j == len(counts) - 1 else '':>7}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=8000)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    X, y = rare_class_table(a.rows)
    print(f"{a.rows} rows, class sizes {np.bincount(y).tolist()}, {a.folds}-fold CV")
    print("flagged: fits (of the folds) that check_fit reports as diverged")
    run(X, y, {"lambda_l2": 0}, a.folds, a.seed)  # R gbm's settings, leanfit's before issue 16
    run(X, y, {}, a.folds, a.seed)  # the defaults now: lambda_l2 = 1 in classification


if __name__ == "__main__":
    main()
