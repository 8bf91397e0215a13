"""Class-imbalance sampling (caret's trainControl(sampling = ...)): down, up and SMOTE.

``resample_rows`` is meant for the training rows of one resample (and the final fit) only; the
held-out rows are never resampled. Everything is deterministic given ``seed``.

* ``down``: caret's downSample -- every class is drawn, without replacement, down to the size
  of the smallest class.
* ``up``: caret's upSample -- every class keeps all its rows and is topped up, with
  replacement, to the size of the largest class.
* ``smote``: imbalanced-learn's SMOTE (``k_neighbors`` 5, clamped to the smallest resampled
  class size - 1): every class but the largest is topped up to the largest class's size with
  rows interpolated between a row and one of its k nearest same-class neighbours. caret's
  "smote" uses DMwR::SMOTE (perc.over = 200, perc.under = 200), which also down-samples the
  majority class and gives different class counts; leanfit's balances the classes exactly.
  Synthetic rows get the mean weight of their class's rows (SMOTE does not track weights).

Rows come back grouped by class (classes in sorted order), as caret returns them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SAMPLING", "resample_rows"]

#: The sampling methods ``resample_rows`` accepts.
SAMPLING: tuple[str, ...] = ("down", "up", "smote")

_SMOTE_K = 5


def _check(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None, method: str) -> None:
    """Validate the method, the shapes and that y holds class labels."""
    if method not in SAMPLING:
        raise ValueError(f"sampling: unknown method {method!r}; valid methods are {list(SAMPLING)}")
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"sampling: X must be 2-D and y 1-D with one label per row, got X {X.shape} and "
            f"y {y.shape}"
        )
    if weights is not None and weights.shape != y.shape:
        raise ValueError(f"sampling: weights must have one value per row, got {weights.shape}")
    if y.dtype.kind in "fc":
        raise ValueError(
            "sampling: y holds numbers (a regression target); down/up/SMOTE sampling is for "
            "classification, where y holds class labels or integer class codes"
        )
    if y.size == 0:
        raise ValueError("sampling: there are no rows to sample from")


def resample_rows(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray | None, method: str, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Balance the classes of training rows by down-, up-sampling or SMOTE; returns new arrays."""
    X = np.asarray(X)
    y = np.asarray(y)
    weights = None if weights is None else np.asarray(weights, dtype=np.float64)
    _check(X, y, weights, method)
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    codes = codes.ravel()
    if method == "smote":
        return _smote(X, y, weights, classes, codes, counts, seed)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(codes == c) for c in range(classes.size)]
    if method == "down":
        n = int(counts.min())
        rows = [np.sort(rng.choice(idx, size=n, replace=False)) for idx in members]
    else:
        top = int(counts.max())
        rows = [
            np.concatenate([idx, rng.choice(idx, size=top - idx.size, replace=True)])
            for idx in members
        ]
    take = np.concatenate(rows)
    return X[take], y[take], None if weights is None else weights[take]


def _smote(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    classes: np.ndarray,
    codes: np.ndarray,
    counts: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """imbalanced-learn's SMOTE on the integer class codes, regrouped by class."""
    try:
        from imblearn.over_sampling import SMOTE
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sampling='smote' needs imbalanced-learn: pip install imbalanced-learn"
        ) from None
    if X.dtype.kind not in "biuf":
        raise ValueError("sampling: SMOTE needs numeric predictors (encode factor columns first)")
    Xf = X.astype(np.float64, copy=False)
    if np.isnan(Xf).any():
        raise ValueError("sampling: SMOTE cannot interpolate missing values; impute them first")
    top = int(counts.max())
    short = np.flatnonzero(counts < top)
    if short.size == 0:  # already balanced: nothing to synthesise
        order = np.argsort(codes, kind="stable")
        return Xf[order], y[order], None if weights is None else weights[order]
    small = int(counts[short].min())
    if small < 2:
        tiny = classes[[c for c in short if counts[c] < 2]].tolist()
        raise ValueError(
            f"sampling: SMOTE needs at least 2 rows in every class it oversamples; class(es) "
            f"{tiny} have 1 in these training rows"
        )
    k = min(_SMOTE_K, small - 1)
    Xr, codes_r = SMOTE(k_neighbors=k, random_state=seed).fit_resample(Xf, codes)
    # imbalanced-learn keeps the original rows first, then appends the synthetic ones.
    yr = classes[codes_r]
    wr = None
    if weights is not None:
        class_mean = np.bincount(codes, weights=weights) / counts
        wr = np.concatenate([weights, class_mean[codes_r[len(codes) :]]])
    order = np.argsort(codes_r, kind="stable")
    return Xr[order], yr[order], None if wr is None else wr[order]
