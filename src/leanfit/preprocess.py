"""caret's preProcess, the subset needed now: zero-variance filter, center, scale, range, median
imputation.

Steps are always applied in caret's documented fixed order, whatever order they were listed in:

    zv filter -> center -> scale -> range -> median imputation   (see ``STEP_ORDER``)

Statistics are learned on the training rows only (NaN-aware: missing values are ignored) and
reused unchanged on new data, so the transform fitted inside a resample never peeks at its
held-out rows. ``range`` and the medians are learned on the already centered/scaled training
values; because those steps are monotone affine maps this gives the same result as caret.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["STEP_ORDER", "PreProcess"]

#: The order in which steps are applied (caret's), regardless of how they are listed.
STEP_ORDER: tuple[str, ...] = ("zv", "center", "scale", "range", "median_impute")

#: Accepted spellings (caret's names and snake_case aliases) -> canonical step name.
_ALIASES: dict[str, str] = {
    "zv": "zv",
    "center": "center",
    "scale": "scale",
    "range": "range",
    "medianImpute": "median_impute",
    "median_impute": "median_impute",
}


def _canonical_steps(steps: Sequence[str] | str) -> tuple[str, ...]:
    """Validate step names and return them de-duplicated, in ``STEP_ORDER``."""
    if isinstance(steps, str):
        steps = (steps,)
    found = set()
    for step in steps:
        canon = _ALIASES.get(step) if isinstance(step, str) else None
        if canon is None:
            raise ValueError(f"steps: unknown step {step!r}; valid steps are {list(_ALIASES)}")
        found.add(canon)
    return tuple(s for s in STEP_ORDER if s in found)


def _numeric_matrix(X: Any) -> tuple[np.ndarray, list[Any], bool]:
    """Return (float64 2-D copy, column names, was-a-DataFrame), rejecting non-numeric columns."""
    if isinstance(X, pd.DataFrame):
        for name, dtype in X.dtypes.items():
            if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
                raise ValueError(
                    f"X: column {name!r} is not numeric (dtype {dtype}); encode it first"
                )
        values = X.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        return values.reshape(X.shape), list(X.columns), True
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x columns), got an array of shape {arr.shape}")
    names = [f"x{j}" for j in range(arr.shape[1])]
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64, copy=True), names, False
    out = np.empty(arr.shape, dtype=np.float64)
    for j in range(arr.shape[1]):
        try:
            out[:, j] = np.asarray(arr[:, j], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"X: column {j} ({names[j]}) is not numeric (dtype {arr.dtype}); encode it first"
            ) from None
    return out, names, False


def _nan_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column count of non-missing values and NaN-ignoring mean (0 for empty columns)."""
    ok = ~np.isnan(X)
    count = ok.sum(axis=0)
    total = np.where(ok, X, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.zeros(X.shape[1]), where=count > 0)
    return count, mean


def _nan_extreme(X: np.ndarray, count: np.ndarray, largest: bool) -> np.ndarray:
    """Per-column NaN-ignoring min or max; NaN for columns with no observed value."""
    fill = -np.inf if largest else np.inf
    vals = np.where(np.isnan(X), fill, X)
    ext = vals.max(axis=0) if largest else vals.min(axis=0)
    return np.where(count > 0, ext, np.nan)


def _nan_median(col: np.ndarray) -> float:
    """Median of the observed values of one column; NaN when none is observed."""
    seen = col[~np.isnan(col)]
    return float(np.median(seen)) if seen.size else float("nan")


class PreProcess:
    """caret's preProcess (zv, center, scale, range, medianImpute), fitted on training rows only.

    Attributes after ``fit``: ``kept_`` (kept column positions), ``columns_`` (kept names),
    ``removed_`` (names dropped by zv), ``center_``, ``scale_``, ``min_``, ``max_``, ``median_``
    (arrays over the kept columns, None when the step is absent), ``n_features_in_``,
    ``feature_names_in_``. ``scale_`` holds 1.0 for columns whose sd is 0 or undefined (they
    are left unscaled); ``min_``/``max_``/``median_`` are on the centered/scaled scale.
    """

    def __init__(self, steps: Sequence[str] | str = ("center", "scale")) -> None:
        """Validate the step names now, so a typo fails before any fitting."""
        self.steps: tuple[str, ...] = _canonical_steps(steps)

    def __repr__(self) -> str:
        """Show the canonical, ordered steps."""
        return f"PreProcess(steps={list(self.steps)!r})"

    # ------------------------------------------------------------------ fitting

    def fit(self, X: Any, y: Any = None) -> PreProcess:
        """Learn the column filter and statistics from training rows (y is ignored)."""
        values, names, from_frame = _numeric_matrix(X)
        n_rows, n_cols = values.shape
        if n_rows == 0:
            raise ValueError("X must have at least one row to fit on")
        steps = set(self.steps)
        keep = np.ones(n_cols, dtype=bool)
        if "zv" in steps:
            count = (~np.isnan(values)).sum(axis=0)
            lo = _nan_extreme(values, count, largest=False)
            hi = _nan_extreme(values, count, largest=True)
            keep = ~(np.isnan(lo) | (lo == hi))  # all missing, or one distinct value
        self.n_features_in_: int = n_cols
        self.feature_names_in_: np.ndarray | None = (
            np.asarray(names, dtype=object) if from_frame else None
        )
        self.kept_: np.ndarray = np.flatnonzero(keep).astype(np.int64)
        self.columns_: list[Any] = [names[j] for j in self.kept_]
        self.removed_: list[Any] = [names[j] for j in np.flatnonzero(~keep)]

        Z = values[:, self.kept_]
        self.center_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.min_: np.ndarray | None = None
        self.max_: np.ndarray | None = None
        self.median_: np.ndarray | None = None
        if "center" in steps:
            _, self.center_ = _nan_stats(Z)
            Z -= self.center_
        if "scale" in steps:
            count, mean = _nan_stats(Z)
            dev = np.where(np.isnan(Z), 0.0, Z - mean)
            var = np.divide(
                (dev**2).sum(axis=0), count - 1, out=np.zeros(Z.shape[1]), where=count > 1
            )
            sd = np.sqrt(var)
            self.scale_ = np.where(sd > 0, sd, 1.0)
            Z /= self.scale_
        if "range" in steps:
            count = (~np.isnan(Z)).sum(axis=0)
            self.min_ = _nan_extreme(Z, count, largest=False)
            self.max_ = _nan_extreme(Z, count, largest=True)
            Z = self._apply_range(Z)
        if "median_impute" in steps:
            self.median_ = np.array([_nan_median(col) for col in Z.T], dtype=np.float64)
        return self

    # ------------------------------------------------------------------ applying

    def _apply_range(self, Z: np.ndarray) -> np.ndarray:
        """Map to [0, 1] with the training min/max (constant or empty columns: shift only)."""
        lo = np.where(np.isnan(self.min_), 0.0, self.min_)
        span = self.max_ - self.min_
        span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
        return (Z - lo) / span

    def _check_fitted(self) -> None:
        """Raise a clear error when transform is called before fit."""
        if not hasattr(self, "kept_"):
            raise RuntimeError("PreProcess is not fitted yet; call fit(X) first")

    def _select(self, X: Any) -> tuple[np.ndarray, list[Any], Any]:
        """Pick the kept columns of new data (by name when possible): values, names, index."""
        if isinstance(X, pd.DataFrame):
            fitted_names = self.feature_names_in_
            if fitted_names is not None and len(set(fitted_names)) == len(fitted_names):
                missing = [c for c in self.columns_ if c not in X.columns]
                if missing:
                    raise ValueError(f"X is missing column(s) seen in fit: {missing}")
                sub = X.loc[:, self.columns_]
            else:
                if X.shape[1] != self.n_features_in_:
                    raise ValueError(
                        f"X has {X.shape[1]} columns, but PreProcess was fitted on "
                        f"{self.n_features_in_}"
                    )
                sub = X.iloc[:, self.kept_]
            values, names, _ = _numeric_matrix(sub)
            return values, names, X.index
        values, _, _ = _numeric_matrix(X)
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {values.shape[1]} columns, but PreProcess was fitted on "
                f"{self.n_features_in_}"
            )
        return values[:, self.kept_], self.columns_, None

    def transform(self, X: Any) -> Any:
        """Apply the fitted steps with the training statistics; DataFrame in -> DataFrame out."""
        self._check_fitted()
        Z, names, index = self._select(X)
        if self.center_ is not None:
            Z -= self.center_
        if self.scale_ is not None:
            Z /= self.scale_
        if self.min_ is not None:
            Z = self._apply_range(Z)
        if self.median_ is not None:
            fill = np.broadcast_to(self.median_, Z.shape)
            holes = np.isnan(Z)
            Z[holes] = fill[holes]
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(Z, columns=pd.Index(names), index=index)
        return Z

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """Fit on X and return X transformed."""
        return self.fit(X, y).transform(X)

    # ------------------------------------------------------------------ reporting

    def describe(self) -> str:
        """One line saying what was done, e.g. 'centered (60), scaled (60), removed ...: V3'."""
        if not hasattr(self, "kept_"):
            return f"not fitted (steps: {', '.join(self.steps) or 'none'})"
        k = len(self.kept_)
        parts = []
        if self.center_ is not None:
            parts.append(f"centered ({k})")
        if self.scale_ is not None:
            parts.append(f"scaled ({k})")
        if self.min_ is not None:
            parts.append(f"range [0, 1] ({k})")
        if self.median_ is not None:
            parts.append(f"median imputed ({k})")
        if "zv" in self.steps:
            removed = ", ".join(str(c) for c in self.removed_) or "none"
            parts.append(f"removed zero-variance: {removed}")
        return ", ".join(parts) if parts else "no pre-processing"
