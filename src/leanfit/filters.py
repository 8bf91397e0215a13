"""Model-free importance of each column on its own (caret's ``filterVarImp`` scores).

Classification: the ROC AUC of the column as a score for each class against the rest, direction
automatic; regression: |t| of the slope of y on the column, or a smoother's pseudo-R². Used by
``var_imp(method="filter")``, the selection-by-filter wrapper and rfe's ranking fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["filter_scores"]

CLASSIFICATION = "classification"


def filter_scores(
    X: np.ndarray, y: np.ndarray, mode: str, levels: Sequence[str] = (), nonpara: bool = False
) -> np.ndarray:
    """Model-free importance of every column: (p, K) per-class AUCs for classification (K = 2:
    two equal columns), (p, 1) |t| or smoother R² for regression; NaN where undefined."""
    X = np.asarray(X, dtype=float)
    if mode == CLASSIFICATION:
        k = len(levels)
        y = np.asarray(y)
        if k == 2:
            auc = _auc_columns(X, y == 0)
            return np.column_stack([auc, auc])
        return np.column_stack([_auc_columns(X, y == c) for c in range(k)])
    y = np.asarray(y, dtype=float)
    fn = _smooth_r2 if nonpara else _abs_t
    return np.array([_per_column(fn, X[:, j], y) for j in range(X.shape[1])])[:, None]


def _per_column(fn: Any, x: np.ndarray, y: np.ndarray) -> float:
    ok = ~np.isnan(x)
    return fn(x[ok], y[ok]) if ok.sum() >= 3 else float("nan")


def _auc_columns(X: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """ROC AUC of every column as a score for ``pos`` (ties count 1/2), direction automatic."""
    from scipy.stats import rankdata

    out = np.full(X.shape[1], np.nan)
    missing = np.isnan(X).any(axis=0)
    full = np.flatnonzero(~missing)
    if full.size:
        out[full] = _auc_block(rankdata(X[:, full], axis=0), pos)
    for j in np.flatnonzero(missing):
        ok = ~np.isnan(X[:, j])
        if ok.sum() >= 2:
            out[j] = _auc_block(rankdata(X[ok, j])[:, None], pos[ok])[0]
    return out


def _auc_block(ranks: np.ndarray, pos: np.ndarray) -> np.ndarray:
    n_pos = int(pos.sum())
    n_neg = len(pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        return np.full(ranks.shape[1], np.nan)
    u = ranks[pos].sum(axis=0) - n_pos * (n_pos + 1) / 2.0
    auc = u / (n_pos * n_neg)
    return np.maximum(auc, 1.0 - auc)


def _abs_t(x: np.ndarray, y: np.ndarray) -> float:
    """|t| of the slope in lm(y ~ x) (caret's filterVarImp for numbers); NaN for constant x."""
    n = len(x)
    xc, yc = x - x.mean(), y - y.mean()
    sxx, syy = float(xc @ xc), float(yc @ yc)
    if sxx <= 0 or syy <= 0 or n < 3:
        return float("nan")
    r = float(xc @ yc) / np.sqrt(sxx * syy)
    r2 = min(r * r, 1.0 - 1e-15)
    return float(abs(r) * np.sqrt((n - 2) / (1.0 - r2)))


def _smooth_r2(x: np.ndarray, y: np.ndarray) -> float:
    """Pseudo-R² of a cubic regression spline of y on x (linear when x has few values), >= 0."""
    n = len(x)
    sst = float(((y - y.mean()) ** 2).sum())
    if sst <= 0 or np.ptp(x) == 0:
        return float("nan")
    cols = [np.ones(n), x]
    if len(np.unique(x)) >= 0.2 * n:
        knots = np.unique(np.quantile(x, [0.25, 0.5, 0.75]))
        cols += [x**2, x**3] + [np.clip(x - k, 0, None) ** 3 for k in knots]
    B = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(B, y, rcond=None)
    sse = float(((y - B @ coef) ** 2).sum())
    return max(0.0, 1.0 - sse / sst)
