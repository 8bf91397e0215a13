"""The statistics behind PreProcess's cleaning and encoding steps, each learned on given rows.

``other`` (rare-level grouping, recipes::step_other), ``target_encode`` (scikit-learn's
``TargetEncoder``: smoothed means with inner K-fold cross-fitting), ``winsorize`` (capping at
quantiles), ``discretize`` (equal-width or quantile bins, scikit-learn's ``KBinsDiscretizer``
edges) and the duplicate-row count. PreProcess calls these inside each resample on its training
rows only; nothing here keeps state between calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "UNSEEN",
    "DuplicateRowsWarning",
    "apply_bins",
    "apply_other",
    "apply_target_encoding",
    "block_values",
    "count_duplicates",
    "duplicated_rows",
    "factor_values",
    "fit_bins",
    "fit_other",
    "fit_target_encoding",
    "winsor_limits",
]


class DuplicateRowsWarning(UserWarning):
    """The training data repeats rows (or predictor values with a different outcome)."""


#: Stands for a level the training data never had (an unseen level at predict time).
UNSEEN = "\x00unseen level"


def factor_values(s: pd.Series) -> np.ndarray:
    """A factor column as an object array of level strings (None for missing)."""
    return s.astype("string").to_numpy(dtype=object, na_value=None)


def block_values(block: np.ndarray, levels: Sequence[str]) -> np.ndarray:
    """A factor rebuilt from its treatment-coded dummy block (levels[1:], first level = all 0).

    Rows that are all missing are missing (None); rows marked +inf (an unseen level, see
    frame.Encoder) are ``UNSEEN``.
    """
    out = np.full(block.shape[0], levels[0], dtype=object)
    for j, lev in enumerate(levels[1:]):
        out[block[:, j] == 1.0] = lev
    if block.shape[1]:
        out[np.isnan(block).all(axis=1)] = None
        out[np.isinf(block).any(axis=1)] = UNSEEN
    return out


def fit_other(values: np.ndarray, threshold: float) -> tuple[str, ...]:
    """The levels kept by rare-level grouping, sorted: seen at least ``threshold`` times (a
    count, when >= 1) or in at least that fraction of the non-missing rows (when < 1)."""
    seen = pd.Series([v for v in values if v is not None and v != UNSEEN], dtype=object)
    counts = seen.value_counts(sort=False)
    need = threshold * len(seen) if threshold < 1 else threshold
    return tuple(sorted(str(lev) for lev, c in counts.items() if c >= need))


def apply_other(values: np.ndarray, kept: Sequence[str], other: str) -> np.ndarray:
    """Every level not in ``kept`` (rare in training, or never seen) becomes ``other``."""
    keep = set(kept)
    out = values.copy()
    for i, v in enumerate(values):
        if v is not None and v not in keep:
            out[i] = other
    return out


def _encoder_input(values: np.ndarray) -> np.ndarray:
    """The column as scikit-learn wants it: 2-D object, missing as NaN (its own category)."""
    col = np.array([np.nan if v is None else v for v in values], dtype=object)
    return col.reshape(-1, 1)


def fit_target_encoding(
    values: np.ndarray,
    y: np.ndarray,
    target_type: str,
    smooth: float | str,
    folds: int,
    seed: int,
) -> tuple[tuple[Any, ...], np.ndarray, np.ndarray, np.ndarray, tuple[Any, ...]]:
    """scikit-learn's TargetEncoder on one factor: (categories, encodings [levels x m], target
    mean [m], cross-fitted encodings of these rows [n x m], classes); m = 1, or the class count
    for multiclass (``classes``: the classes of ``y`` in column order; empty for continuous).
    ``categories`` holds None for the missing-value category."""
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.preprocessing import TargetEncoder

    # TargetEncoder's own splitter, shuffled with the seed (its shuffle= is deprecated in 1.9)
    split = KFold if target_type == "continuous" else StratifiedKFold
    enc = TargetEncoder(
        categories="auto",
        target_type=target_type,
        smooth=smooth,
        cv=split(n_splits=folds, shuffle=True, random_state=seed),
    )
    oof = np.asarray(enc.fit_transform(_encoder_input(values), y), dtype=np.float64)
    cats = tuple(None if isinstance(c, float) and np.isnan(c) else c for c in enc.categories_[0])
    table = np.column_stack([np.asarray(e, dtype=np.float64) for e in enc.encodings_])
    mean = np.atleast_1d(np.asarray(enc.target_mean_, dtype=np.float64))
    classes = tuple(getattr(enc, "classes_", ()) if target_type == "multiclass" else ())
    return cats, table, mean, oof, classes


def apply_target_encoding(
    values: np.ndarray, categories: Sequence[Any], table: np.ndarray, mean: np.ndarray
) -> np.ndarray:
    """Each row's level encoding (rows of ``table``); levels not in ``categories`` get the
    training target mean, as TargetEncoder.transform does."""
    pos = {c: i for i, c in enumerate(categories)}
    idx = np.array([pos.get(v, -1) for v in values], dtype=np.int64)
    out = np.empty((len(values), table.shape[1]))
    known = idx >= 0
    out[known] = table[idx[known]]
    out[~known] = mean
    return out


def _many_values(col: np.ndarray) -> bool:
    """More than two distinct observed values (dummies and flags are left alone)."""
    seen = col[~np.isnan(col)]
    return bool(np.unique(seen).size > 2)


def winsor_limits(Z: np.ndarray, limits: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per column lower/upper caps: the ``limits`` quantiles (R's type 7, numpy's default) of
    the observed training values; NaN for columns left alone (<= 2 distinct values)."""
    lo = np.full(Z.shape[1], np.nan)
    hi = np.full(Z.shape[1], np.nan)
    for j in range(Z.shape[1]):
        col = Z[:, j]
        if _many_values(col):
            seen = col[~np.isnan(col)]
            lo[j], hi[j] = np.quantile(seen, limits[0]), np.quantile(seen, limits[1])
    return lo, hi


def fit_bins(Z: np.ndarray, bins: int, strategy: str) -> list[np.ndarray | None]:
    """Per column bin edges from scikit-learn's KBinsDiscretizer on the observed training
    values (quantile: linear interpolation, repeated edges merged); None for columns left
    alone (<= 2 distinct values)."""
    import warnings

    from sklearn.preprocessing import KBinsDiscretizer

    edges: list[np.ndarray | None] = []
    for j in range(Z.shape[1]):
        col = Z[:, j]
        if not _many_values(col):
            edges.append(None)
            continue
        seen = col[~np.isnan(col)].reshape(-1, 1)
        kw: dict[str, Any] = {"quantile_method": "linear"} if strategy == "quantile" else {}
        kb = KBinsDiscretizer(n_bins=bins, encode="ordinal", strategy=strategy, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "bins too small ... removed"
            kb.fit(seen)
        edges.append(np.asarray(kb.bin_edges_[0], dtype=np.float64))
    return edges


def apply_bins(col: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin number 0..len(edges)-2 of each value (below the first edge: 0, above the last: the
    last bin, as KBinsDiscretizer); missing stays missing."""
    out = np.searchsorted(edges[1:-1], col, side="right").astype(np.float64)
    out[np.isnan(col)] = np.nan
    return out


def duplicated_rows(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True for each row identical (predictors and outcome) to an earlier row."""
    frame = pd.DataFrame(X)
    frame["__y__"] = y
    return np.asarray(frame.duplicated(keep="first").to_numpy(), dtype=bool)


def count_duplicates(X: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """(rows that repeat an earlier row exactly, rows whose predictors repeat another row's
    with a different outcome)."""
    n_dup = int(duplicated_rows(X, y).sum())
    frame = pd.DataFrame(X)
    keys = list(frame.columns)
    frame["__y__"] = y
    outcomes = frame.groupby(keys, dropna=False, sort=False)["__y__"].transform("nunique")
    return n_dup, int((outcomes.to_numpy() > 1).sum())
