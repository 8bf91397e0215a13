"""caret's preProcess: filters, power transformations, scaling, imputation, PCA/ICA, spatial sign.

Steps are always applied in caret's documented fixed order, whatever order they were listed in
(``?preProcess``; see ``STEP_ORDER``)::

    other -> target_encode -> dummy -> zv -> nzv -> corr -> winsorize -> discretize -> BoxCox
          -> YeoJohnson -> expoTrans -> center -> scale -> range
          -> knnImpute / bagImpute / medianImpute -> pca -> ica -> spatialSign

``other`` and ``target_encode`` (not caret's; recipes' step_other and scikit-learn's
TargetEncoder) read factor columns, so they come before ``dummy``: raw factor columns of a
DataFrame, or, inside train(), the dummy blocks frame.Encoder built (``for_training``).
``other`` groups levels rarer than ``other_threshold`` in the training rows, and levels never
seen, as ``other_level``. ``target_encode`` needs the outcome (``fit(X, y)``); ``fit_transform``
gives the training rows cross-fitted encodings (``encode_folds`` inner folds), ``transform`` the
all-training-rows encodings (unseen levels: the training mean). ``winsorize`` (caps at the
``limits`` quantiles) and ``discretize`` (``bins`` of ``strategy`` quantile/uniform) act on the
columns the filters keep, before the power transformations, and leave columns with at most two
distinct values alone. The statistics live in ``leanfit.encodings``.

Every statistic is learned on the rows given to ``fit`` only (NaN-aware: missing values are
ignored) and reused unchanged by ``transform``, so a transform fitted inside a resample never
peeks at its held-out rows. Each step is learned on the output of the steps before it.

Automatic additions, as caret makes them: ``corr`` adds ``zv``; ``knnImpute``, ``pca``, ``ica``
and ``spatialSign`` add ``center`` and ``scale`` unless ``range`` is listed (distances, components
and the spatial sign are meaningless on unscaled data); with both ``pca`` and ``ica`` only ICA is
run (fastICA whitens with PCA itself). ``describe()`` reports every addition. As in caret, PCA
and ICA are learned on the complete training rows (before imputation) and applied to imputed
rows; the PCA keeps at least 2 components when chosen by ``thresh``.

Where leanfit differs from caret (on purpose, each noted at its step):

* ``YeoJohnson``: caret (recipes::estimate_yj) maximises the same profile likelihood with
  ``optimize(tol = 1e-4)`` on [-3, 3]; leanfit maximises it to ~1e-9 (its lambdas agree with
  ``scipy.stats.yeojohnson`` to ~1e-6 and with caret's to ~1e-4). caret's rules are kept: fewer
  than 3 distinct values, or an optimum within 0.001 of -3 or 3, leave the column untouched.
* ``expoTrans``: the likelihood is computed in a way that cannot overflow, so the optimiser is
  never drawn to the overflowing region that caret's code treats as the best value.
* ``spatialSign`` with ``pca``/``ica``: applied to the components (caret's vector form keeps the
  original columns next to the components and signs only the originals).
* an all-missing column with an imputation step is an error (caret fills it with 0).
* ``bagImpute``: 10 sklearn trees per column (``BaggingRegressor``) instead of ipred's rpart trees.
* ``dummy`` (caret's ``dummyVars``, not a preProcess method) runs first; columns are named like
  ``model.matrix`` (column + level) and a level unseen in ``fit`` is an error.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import encodings as enc

__all__ = ["STEP_ORDER", "PreProcess"]

#: The order in which steps are applied (caret's), regardless of how they are listed.
STEP_ORDER: tuple[str, ...] = (
    "other",
    "target_encode",
    "dummy",
    "zv",
    "nzv",
    "corr",
    "winsorize",
    "discretize",
    "box_cox",
    "yeo_johnson",
    "expo_trans",
    "center",
    "scale",
    "range",
    "knn_impute",
    "bag_impute",
    "median_impute",
    "pca",
    "ica",
    "spatial_sign",
)

#: Accepted spellings (caret's names and snake_case aliases) -> canonical step name.
_ALIASES: dict[str, str] = {
    "other": "other",
    "target_encode": "target_encode",
    "targetEncode": "target_encode",
    "winsorize": "winsorize",
    "discretize": "discretize",
    "dummy": "dummy",
    "zv": "zv",
    "nzv": "nzv",
    "corr": "corr",
    "BoxCox": "box_cox",
    "box_cox": "box_cox",
    "YeoJohnson": "yeo_johnson",
    "yeo_johnson": "yeo_johnson",
    "expoTrans": "expo_trans",
    "expo_trans": "expo_trans",
    "center": "center",
    "scale": "scale",
    "range": "range",
    "knnImpute": "knn_impute",
    "knn_impute": "knn_impute",
    "bagImpute": "bag_impute",
    "bag_impute": "bag_impute",
    "medianImpute": "median_impute",
    "median_impute": "median_impute",
    "pca": "pca",
    "ica": "ica",
    "spatialSign": "spatial_sign",
    "spatial_sign": "spatial_sign",
}

_IMPUTERS = ("knn_impute", "bag_impute", "median_impute")
_FACTOR_STEPS = ("other", "target_encode")  # they read factor columns, before dummy
_STRATEGIES = ("quantile", "uniform")
_NEED_STANDARDIZED = ("knn_impute", "pca", "ica", "spatial_sign")
_NUM_UNIQUE = 3  # caret's numUnique: fewer distinct values -> no power transformation
_BC_GRID = -2.0 + 0.1 * np.arange(41)  # MASS::boxcox's default lambda = seq(-2, 2, 1/10)
_YJ_LIMITS = (-3.0, 3.0)  # caret passes limits = c(-3, 3) to recipes::estimate_yj
_EXPO_LIMITS = (-4.0, 4.0)  # caret's expoTrans lim = c(-4, 4)
_BAG_TREES = 10  # caret's bagImp(B = 10)
_SPATIAL_EPS = np.finfo(np.float64).eps  # caret: rows with norm <= .Machine$double.eps -> 0


def _canonical_steps(steps: Sequence[str] | str) -> tuple[str, ...]:
    """Validate step names and return them de-duplicated, in ``STEP_ORDER``."""
    if isinstance(steps, str):
        steps = (steps,)
    found = set()
    for step in steps:
        canon = _ALIASES.get(step) if isinstance(step, str) else None
        if canon is None:
            lower = {name.lower(): name for name in _ALIASES}
            close = difflib.get_close_matches(str(step).lower(), list(lower), n=1, cutoff=0.6)
            hint = f" (did you mean {lower[close[0]]!r}?)" if close else ""
            raise ValueError(
                f"steps: unknown step {step!r}{hint}; valid steps are {list(_ALIASES)}"
            )
        found.add(canon)
    return tuple(s for s in STEP_ORDER if s in found)


def _plan(steps: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    """The steps actually run (caret's automatic additions), the added ones, and notes."""
    run = set(steps)
    added: list[str] = []
    notes: list[str] = []
    if "corr" in run and "zv" not in run:
        run.add("zv")
        added.append("zv")
        notes.append("zv added for corr")
    needing = [s for s in _NEED_STANDARDIZED if s in run]
    if needing and "range" not in run:
        new = [s for s in ("center", "scale") if s not in run]
        if new:
            run.update(new)
            added.extend(new)
            notes.append(f"{' and '.join(new)} added for {', '.join(needing)}")
    if {"pca", "ica"} <= run:
        run.discard("pca")
        notes.append("pca dropped: ica already decorrelates the data (as caret)")
    return tuple(s for s in STEP_ORDER if s in run), tuple(added), notes


# ---------------------------------------------------------------------------- input handling


def _is_numeric(dtype: Any) -> bool:
    """Whether a pandas dtype is numeric (bool counts as numeric)."""
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def _numeric_matrix(X: Any) -> tuple[np.ndarray, list[Any], bool]:
    """Return (float64 2-D copy, column names, was-a-DataFrame), rejecting non-numeric columns."""
    if isinstance(X, pd.DataFrame):
        for name, dtype in X.dtypes.items():
            if not _is_numeric(dtype):
                raise ValueError(
                    f"X: column {name!r} is not numeric (dtype {dtype}); encode it first or "
                    "add the 'dummy' step"
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


def _factor_levels(s: pd.Series) -> tuple[str, ...]:
    """R's factor levels of a column: a categorical's used categories in order, else sorted."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        used = set(s.dropna().astype(str))
        return tuple(str(c) for c in s.cat.categories if str(c) in used)
    return tuple(sorted(s.dropna().astype(str).unique()))


def _factor_values(s: pd.Series, name: Any, levels: tuple[str, ...]) -> tuple[np.ndarray, Any]:
    """A factor column as an object array of level strings (None for missing), checking levels."""
    values = s.astype("string")
    arr = values.to_numpy(dtype=object, na_value=None)
    unknown = set(values.dropna().unique()) - set(levels)
    if unknown:
        raise ValueError(
            f"column {name!r} has level(s) {sorted(unknown)} not seen in fit "
            f"(known: {list(levels)})"
        )
    return arr, pd.isna(values).to_numpy()


def _series_numeric(s: pd.Series, name: Any) -> np.ndarray:
    """One numeric column as float64 (NaN for missing), with a clear error otherwise."""
    if not _is_numeric(s.dtype):
        raise ValueError(f"X: column {name!r} is not numeric (dtype {s.dtype}) as it was in fit")
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


# ---------------------------------------------------------------------------- statistics


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


def _distinct(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct observed values of a column and their counts (likelihoods only need these)."""
    return np.unique(col[~np.isnan(col)], return_counts=True)


def _zero_variance(X: np.ndarray) -> np.ndarray:
    """caret's zv: columns that are all missing or hold a single distinct value."""
    count = (~np.isnan(X)).sum(axis=0)
    lo = _nan_extreme(X, count, largest=False)
    hi = _nan_extreme(X, count, largest=True)
    return np.isnan(lo) | (lo == hi)


def _near_zero_var(
    X: np.ndarray, freq_cut: float, unique_cut: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """caret's nearZeroVar: (freqRatio, percentUnique, flagged) per column.

    freqRatio = most common / second most common count (0 with <= 1 distinct value);
    percentUnique = 100 * distinct / rows (rows include missing ones); a column is flagged when
    freqRatio > freq_cut and percentUnique <= unique_cut, or when it has zero variance.
    """
    n_rows, n_cols = X.shape
    ratio = np.zeros(n_cols)
    pct = np.zeros(n_cols)
    flagged = np.zeros(n_cols, dtype=bool)
    for j in range(n_cols):
        _, counts = _distinct(X[:, j])
        if counts.size > 1:
            top2 = np.sort(counts)[-2:]
            ratio[j] = top2[1] / top2[0]
        pct[j] = 100.0 * counts.size / n_rows
        flagged[j] = (ratio[j] > freq_cut and pct[j] <= unique_cut) or counts.size <= 1
    return ratio, pct, flagged


def _correlation(X: np.ndarray) -> np.ndarray:
    """Pearson correlations, pairwise-complete like R's cor(use = "pairwise.complete.obs")."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if not np.isnan(X).any():
            C = np.atleast_2d(np.corrcoef(X, rowvar=False))
        else:
            M = (~np.isnan(X)).astype(np.float64)
            _, mean = _nan_stats(X)
            Zc = np.where(M > 0, X - mean, 0.0)
            n = M.T @ M
            sx = Zc.T @ M  # sum of column i over the rows where j is also observed
            sxx = (Zc**2).T @ M
            cov = Zc.T @ Zc - sx * sx.T / n
            var_i = sxx - sx**2 / n
            C = cov / np.sqrt(var_i * var_i.T)
    C = np.where(np.isfinite(C), np.clip(C, -1.0, 1.0), 0.0)  # undefined pairs count as 0
    np.fill_diagonal(C, 1.0)
    return C


def _find_correlation_exact(C: np.ndarray, cutoff: float) -> np.ndarray:
    """caret's findCorrelation(exact = TRUE), step by step (re-computing the mean correlations).

    Columns are visited by decreasing mean absolute correlation; for each pair above the cutoff
    the row's mean correlation is compared with caret's ``mean(x2[-j, ])`` (the mean of the
    whole remaining matrix without row j, as caret's code has it) and the larger loses.
    Returns the positions removed.
    """
    p = C.shape[0]
    x = np.abs(C)
    tmp = x.copy()
    np.fill_diagonal(tmp, np.nan)
    order = np.argsort(-np.nanmean(tmp, axis=0), kind="stable")  # R's order(decreasing = TRUE)
    x = x[np.ix_(order, order)]
    delete = np.zeros(p, dtype=bool)
    x2 = x.copy()
    np.fill_diagonal(x2, np.nan)
    with np.errstate(invalid="ignore"):
        for i in range(p - 1):
            if not (x2[~np.isnan(x2)] > cutoff).any():
                break
            if delete[i]:
                continue
            for j in range(i + 1, p):
                if delete[i] or delete[j] or not x[i, j] > cutoff:
                    continue
                mn1 = np.nanmean(x2[i, :])
                mn2 = np.nanmean(np.delete(x2, j, axis=0))
                gone = i if mn1 > mn2 else j
                delete[gone] = True
                x2[gone, :] = np.nan
                x2[:, gone] = np.nan
    return np.sort(order[delete])


def _find_correlation_fast(C: np.ndarray, cutoff: float) -> np.ndarray:
    """caret's findCorrelation(exact = FALSE): one pass over the pairs above the cutoff.

    For each such pair (upper triangle, column-major as R's which()) the member with the larger
    mean absolute correlation (diagonal included, compared as ranks like caret) is removed.
    """
    x = np.abs(C)
    avg = x.mean(axis=0)
    keys = np.array([float(f"{v:.15g}") for v in avg])  # R's as.numeric(as.factor(x))
    rank = np.unique(keys, return_inverse=True)[1]
    rows, cols = np.nonzero(np.triu(x, k=1) > cutoff)
    by_col = np.lexsort((rows, cols))  # column-major, as R's which()
    rows, cols = rows[by_col], cols[by_col]
    drop_col = rank[cols] > rank[rows]
    gone = np.concatenate([cols[drop_col], rows[~drop_col]])
    return np.sort(np.unique(gone))


def _box_cox_lambda(col: np.ndarray) -> tuple[float, str | None]:
    """MASS::boxcox's lambda (grid -2..2 by 0.1, intercept-only model), or NaN and the reason."""
    seen = col[~np.isnan(col)]
    if seen.size == 0:
        return math.nan, "no observed values"
    if (seen <= 0).any():
        return math.nan, "values not all positive"
    vals, w = np.unique(seen, return_counts=True)
    if vals.size < _NUM_UNIQUE:
        return math.nan, f"fewer than {_NUM_UNIQUE} distinct values"
    n = w.sum()
    y = vals / math.exp(float((w * np.log(vals)).sum() / n))  # y / geometric mean, as MASS
    logy = np.log(y)
    la = _BC_GRID[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        power = (y[None, :] ** la - 1.0) / la
    lx = la * logy[None, :]
    series = logy[None, :] * (1 + lx / 2 * (1 + lx / 3 * (1 + lx / 4)))  # MASS for |la| <= 1/50
    yt = np.where(np.abs(la) > 1 / 50, power, series)
    mean = (yt * w).sum(axis=1, keepdims=True) / n
    ss = (w * (yt - mean) ** 2).sum(axis=1)
    with np.errstate(divide="ignore"):
        loglik = -n / 2 * np.log(ss)
    return float(_BC_GRID[int(np.argmax(loglik))]), None


def _box_cox_apply(x: np.ndarray, lam: float, fudge: float) -> np.ndarray:
    """caret's predict.BoxCoxTrans: log near 0, untouched near 1, else (x^lam - 1) / lam."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if -fudge < lam < fudge:
            return np.log(x)
        if 1 - fudge < lam < 1 + fudge:
            return x
        return (x**lam - 1.0) / lam


def _yj_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log1p(|x|) and the sign mask of x: the Yeo-Johnson transform needs only these."""
    return np.log1p(np.abs(x)), x < 0


def _yj_from_parts(L: np.ndarray, neg: np.ndarray, lam: float) -> np.ndarray:
    """Yeo-Johnson from L = log1p(|x|): expm1(lam L)/lam, or -expm1((2-lam) L)/(2-lam) if x < 0."""
    power = np.where(neg, 2.0 - lam, lam)
    safe = np.where(power == 0.0, 1.0, power)
    out = np.where(power == 0.0, L, np.expm1(power * L) / safe)
    return np.where(neg, -out, out)


def _yj_lambda(col: np.ndarray) -> float:
    """Yeo-Johnson lambda by maximum likelihood on [-3, 3] (caret's limits and rules); NaN = skip.

    The profile log-likelihood -n/2 log(var(psi)) + (lam - 1) sum(sign(x) log1p(|x|)) (the one
    scipy and recipes maximise) is evaluated on the distinct values weighted by their counts --
    exactly the all-rows likelihood, at a fraction of the cost -- and maximised by Brent's
    bounded method to ~1e-9.
    """
    from scipy.optimize import minimize_scalar

    vals, w = _distinct(col)
    if vals.size < _NUM_UNIQUE:
        return math.nan
    n = float(w.sum())
    L, neg = _yj_parts(vals)
    const = float((np.where(neg, -L, L) * w).sum())

    def neg_loglik(lam: float) -> float:
        """Minus the profile log-likelihood at lam (inf where it overflows)."""
        with np.errstate(over="ignore", invalid="ignore"):
            psi = _yj_from_parts(L, neg, lam)
            mean = (w * psi).sum() / n
            var = (w * (psi - mean) ** 2).sum() / n
        if not (np.isfinite(var) and var > 0):
            return math.inf
        return 0.5 * n * math.log(var) - (lam - 1.0) * const

    lo, hi = _YJ_LIMITS
    res = minimize_scalar(neg_loglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    lam = float(res.x)
    if abs(lam - lo) <= 1e-3 or abs(hi - lam) <= 1e-3:  # recipes: optimum at a limit -> NA
        return math.nan
    return lam


def _expo_lambda(col: np.ndarray) -> float:
    """Manly's exponential-transformation lambda by maximum likelihood on [-4, 4], as caret.

    Log-likelihood: lam * sum(x) - n * log(sd((exp(lam x) - 1) / lam)); the sd is computed
    relative to exp(lam * max|min) so it never overflows. NaN when fewer than 3 distinct values.
    """
    from scipy.optimize import minimize_scalar

    vals, w = _distinct(col)
    if vals.size < _NUM_UNIQUE:
        return math.nan
    n = float(w.sum())
    total = float((w * vals).sum())
    lo_x, hi_x = float(vals[0]), float(vals[-1])

    def log_sd(e: np.ndarray) -> float:
        """log of the weighted (n - 1) standard deviation of e."""
        mean = (w * e).sum() / n
        var = (w * (e - mean) ** 2).sum() / (n - 1)
        return 0.5 * math.log(var) if var > 0 else -math.inf

    def neg_loglik(lam: float) -> float:
        """Minus the log-likelihood at lam."""
        if lam == 0.0:
            ls = log_sd(vals)
        else:
            c = hi_x if lam > 0 else lo_x
            ls = lam * c + log_sd(np.expm1(lam * (vals - c))) - math.log(abs(lam))
        out = -(lam * total - n * ls)
        return out if math.isfinite(out) else math.inf

    lo, hi = _EXPO_LIMITS
    res = minimize_scalar(neg_loglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    return float(res.x)


def _expo_apply(x: np.ndarray, lam: float) -> np.ndarray:
    """caret's manly(): (exp(lam x) - 1) / lam, or x when lam is 0."""
    if lam == 0.0:
        return x
    with np.errstate(over="ignore"):
        return np.expm1(lam * x) / lam


def _name_list(names: Sequence[Any], limit: int = 10) -> str:
    """Names joined with commas, at most ``limit`` of them shown."""
    shown = ", ".join(str(c) for c in names[:limit])
    if len(names) > limit:
        shown += f", ... (+{len(names) - limit} more)"
    return shown or "none"


def _check_cleaning_options(
    other_threshold: float,
    other_level: str,
    encode_min_levels: int,
    smooth: float | str,
    encode_folds: int,
    limits: tuple[float, float],
    bins: int,
    strategy: str,
) -> None:
    """Clear errors for the options of other, target_encode, winsorize and discretize."""
    if not (isinstance(other_threshold, int | float) and other_threshold > 0):
        raise ValueError(
            f"other_threshold must be a fraction in (0, 1) or a count >= 1, got {other_threshold!r}"
        )
    if not isinstance(other_level, str) or not other_level:
        raise ValueError(f"other_level must be a non-empty string, got {other_level!r}")
    if not isinstance(encode_min_levels, int | np.integer) or encode_min_levels < 0:
        raise ValueError(f"encode_min_levels must be an integer >= 0, got {encode_min_levels!r}")
    if not (smooth == "auto" or (isinstance(smooth, int | float) and smooth >= 0)):
        raise ValueError(f"smooth must be 'auto' or a number >= 0, got {smooth!r}")
    if not isinstance(encode_folds, int | np.integer) or encode_folds < 2:
        raise ValueError(f"encode_folds must be an integer >= 2, got {encode_folds!r}")
    ok = (
        isinstance(limits, tuple | list)
        and len(limits) == 2
        and all(isinstance(v, int | float) for v in limits)
        and 0 <= limits[0] < limits[1] <= 1
    )
    if not ok:
        raise ValueError(
            f"limits must be two quantiles (low, high) with 0 <= low < high <= 1, got {limits!r}"
        )
    if not isinstance(bins, int | np.integer) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {list(_STRATEGIES)}, got {strategy!r}")


def _column_list(columns: Sequence[str] | str | None, what: str) -> tuple[str, ...] | None:
    """A column option as a tuple of names (one name may be given as a string)."""
    if columns is None:
        return None
    if isinstance(columns, str):
        return (columns,)
    out = tuple(columns)
    if not out or not all(isinstance(c, str) for c in out):
        raise ValueError(f"{what} must be column names (a non-empty list of strings) or None")
    return out


def _same_values(s: pd.Series, y: Any) -> bool:
    """Whether a column holds exactly the outcome's values (the target passed as a predictor)."""
    yv = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y)
    return len(yv) == len(s) and bool((s.astype("string").to_numpy() == yv.astype(str)).all())


def _like(out: Any, X: Any) -> Any:
    """``out`` as an array when the input was not a DataFrame."""
    return (
        out.to_numpy() if isinstance(out, pd.DataFrame) and not isinstance(X, pd.DataFrame) else out
    )


# ---------------------------------------------------------------------------- the class


class PreProcess:
    """caret's preProcess with every method, fitted on training rows only.

    Steps (caret's name or the snake_case alias): ``dummy``, ``zv``, ``nzv``, ``corr``,
    ``BoxCox``, ``YeoJohnson``, ``expoTrans``, ``center``, ``scale``, ``range``, ``knnImpute``,
    ``bagImpute``, ``medianImpute``, ``pca``, ``ica``, ``spatialSign``, and before them
    ``other`` and ``target_encode``, after the filters ``winsorize`` and ``discretize`` (options
    ``other_threshold``, ``other_columns``, ``other_level``, ``encode_columns``,
    ``encode_min_levels``, ``smooth``, ``encode_folds``, ``limits``, ``bins``, ``strategy``;
    see the module docstring). Keywords are caret's
    arguments in snake_case: ``thresh`` (PCA variance to keep), ``pca_comp`` (PCA component
    count, overrides thresh), ``n_comp`` (ICA components, required by ``ica``), ``k``
    (knnImpute neighbours), ``freq_cut``/``unique_cut`` (nzv), ``cutoff`` (corr), ``fudge``
    (BoxCox), ``seed`` (bagImpute and ICA; None means 0, so results are reproducible) and
    ``dummy_full_rank`` (drop each factor's first level, like model.matrix).

    Attributes after ``fit``: ``kept_`` (kept positions among the encoded input columns),
    ``columns_`` (their names), ``removed_`` (names dropped by zv/nzv/corr; also split in
    ``removed_zv_``, ``removed_nzv_``, ``removed_corr_``), ``bc_lambda_``, ``yj_lambda_``,
    ``expo_lambda_`` (per kept column, NaN = left untouched), ``center_``, ``scale_``,
    ``min_``, ``max_``, ``median_``, ``knn_data_``, ``bag_models_``, ``rotation_``,
    ``pca_variance_`` (proportion of variance of every component), ``n_components_``,
    ``ica_mean_``/``ica_unmixing_``, ``output_names_``; unused ones are None. ``scale_`` holds
    1.0 for columns whose sd is 0 or undefined; later statistics are on the transformed scale.
    Encoding and cleaning steps: ``other_grouped_`` (factor -> kept levels + other_level),
    ``te_`` (factor -> (levels, encodings [levels x m], training mean, output names)),
    ``winsor_lo_``/``winsor_hi_`` (per kept column, NaN = left alone), ``bin_edges_`` (per kept
    column, None = left alone).
    """

    def __init__(
        self,
        steps: Sequence[str] | str = ("center", "scale"),
        *,
        thresh: float = 0.95,
        pca_comp: int | None = None,
        n_comp: int | None = None,
        k: int = 5,
        freq_cut: float = 95 / 5,
        unique_cut: float = 10,
        cutoff: float = 0.9,
        fudge: float = 0.2,
        seed: int | None = None,
        dummy_full_rank: bool = True,
        other_threshold: float = 0.05,
        other_columns: Sequence[str] | None = None,
        other_level: str = "other",
        encode_columns: Sequence[str] | None = None,
        encode_min_levels: int = 10,
        smooth: float | str = "auto",
        encode_folds: int = 5,
        limits: tuple[float, float] = (0.01, 0.99),
        bins: int = 5,
        strategy: str = "quantile",
    ) -> None:
        """Validate the step names and options now, so a mistake fails before any fitting."""
        self.steps: tuple[str, ...] = _canonical_steps(steps)
        _check_cleaning_options(
            other_threshold,
            other_level,
            encode_min_levels,
            smooth,
            encode_folds,
            limits,
            bins,
            strategy,
        )
        self.other_threshold = float(other_threshold)
        self.other_columns = _column_list(other_columns, "other_columns")
        self.other_level = str(other_level)
        self.encode_columns = _column_list(encode_columns, "encode_columns")
        self.encode_min_levels = int(encode_min_levels)
        self.smooth: float | str = smooth if isinstance(smooth, str) else float(smooth)
        self.encode_folds = int(encode_folds)
        self.limits = (float(limits[0]), float(limits[1]))
        self.bins = int(bins)
        self.strategy = str(strategy)
        # Set by for_training(): factors that arrive dummy-encoded, the outcome and its name.
        self.factors: dict[str, tuple[str, ...]] | None = None
        self.outcome_levels: tuple[str, ...] | None = None
        self.target: str | None = None
        imputers = [s for s in self.steps if s in _IMPUTERS]
        if len(imputers) > 1:
            raise ValueError(f"steps: pick a single imputation method, not {imputers}")
        if not 0 < thresh <= 1:
            raise ValueError(f"thresh must be in (0, 1], got {thresh!r}")
        for name, val in (("pca_comp", pca_comp), ("n_comp", n_comp)):
            if val is not None and (not isinstance(val, int | np.integer) or val < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {val!r}")
        if "ica" in self.steps and n_comp is None:
            raise ValueError("the 'ica' step needs n_comp (caret's n.comp): how many components")
        if not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if not 0 <= cutoff <= 1:
            raise ValueError(f"cutoff must be in [0, 1], got {cutoff!r}")
        if freq_cut <= 0 or not 0 <= unique_cut <= 100 or fudge < 0:
            raise ValueError("freq_cut must be > 0, unique_cut in [0, 100] and fudge >= 0")
        self.thresh = float(thresh)
        self.pca_comp = None if pca_comp is None else int(pca_comp)
        self.n_comp = None if n_comp is None else int(n_comp)
        self.k = int(k)
        self.freq_cut = float(freq_cut)
        self.unique_cut = float(unique_cut)
        self.cutoff = float(cutoff)
        self.fudge = float(fudge)
        self.seed = seed
        self.dummy_full_rank = bool(dummy_full_rank)
        self._run, self._added, self._plan_notes = _plan(self.steps)

    def __repr__(self) -> str:
        """Show the canonical, ordered steps."""
        return f"PreProcess(steps={list(self.steps)!r})"

    # ------------------------------------------------------------------ factor steps

    @property
    def _factor_stage(self) -> bool:
        """Whether a step reads factor columns (other, target_encode)."""
        return any(s in self._run for s in _FACTOR_STEPS)

    def for_training(
        self,
        factors: Sequence[tuple[str, tuple[str, ...]]],
        columns: Sequence[str],
        target: str,
        outcome_levels: Sequence[str] = (),
    ) -> PreProcess:
        """A copy ready for train(): its factor columns arrive as the treatment-coded dummy
        blocks frame.Encoder builds (column + level), ``columns`` are the predictors,
        ``outcome_levels`` the classes (empty for regression). Column options are checked now,
        before any resample is fitted."""
        pp = copy.deepcopy(self)
        pp.factors = {str(c): tuple(lv) for c, lv in factors}
        pp.outcome_levels = tuple(outcome_levels)
        pp.target = str(target)
        if pp._factor_stage:
            pp._check_factor_columns(list(pp.factors), [str(c) for c in columns])
        return pp

    def _check_factor_columns(
        self, factors: list[str], columns: list[str], X: Any = None, y: Any = None
    ) -> None:
        """Columns named for other/target_encode must be factor predictors, not the target."""
        named = (("other", self.other_columns), ("target_encode", self.encode_columns))
        for step, wanted in named:
            if step not in self._run or wanted is None:
                continue
            for c in wanted:
                is_target = c == self.target or (isinstance(y, pd.Series) and c == y.name)
                if not is_target and X is not None and y is not None and c in X.columns:
                    is_target = _same_values(X[c], y)
                if is_target:
                    raise ValueError(
                        f"{step}: column {c!r} is the target itself; encoding the outcome "
                        "would hand the model its answer: name predictor columns only"
                    )
                if c not in columns:
                    raise ValueError(
                        f"{step}: column {c!r} is not a predictor column (factor columns: "
                        f"{factors[:20]})"
                    )
                if c not in factors:
                    raise ValueError(
                        f"{step}: column {c!r} is not a factor (it is numeric); {step} works "
                        f"on factor columns: {factors[:20]}"
                    )

    def _stage_sources(self, X: pd.DataFrame) -> dict[str, tuple[tuple[str, ...], ...]]:
        """Factor name -> (its dummy block's columns (empty: a raw column), its levels)."""
        names = [str(c) for c in X.columns]
        out: dict[str, tuple[tuple[str, ...], ...]] = {}
        if self.factors is not None:
            for c, levels in self.factors.items():
                block = tuple(f"{c}{lev}" for lev in levels[1:])
                if block and all(b in names for b in block):
                    out[c] = (block, levels)
            return out
        for pos, c in enumerate(names):
            s = X.iloc[:, pos]
            if not _is_numeric(s.dtype):
                out[c] = ((), _factor_levels(s))
        return out

    @staticmethod
    def _stage_values(X: pd.DataFrame, c: str, source: tuple[tuple[str, ...], ...]) -> np.ndarray:
        """One factor's values as level strings (None: missing; enc.UNSEEN: an unseen level)."""
        block, levels = source
        if block:
            arr = X[list(block)].to_numpy(dtype=np.float64, na_value=np.nan)
            return enc.block_values(arr, levels)
        return enc.factor_values(X[c])

    def _outcome(self, y: Any) -> tuple[np.ndarray, str, tuple[str, ...]]:
        """The outcome for target encoding: values, sklearn's target_type, class names."""
        if y is None:
            raise ValueError("target_encode needs the outcome: fit(X, y)")
        if self.outcome_levels is not None:  # train(): class codes, or numbers to regress
            levels = self.outcome_levels
            kind = "continuous" if not levels else "binary" if len(levels) == 2 else "multiclass"
            return np.asarray(y), kind, levels
        s = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
        if _is_numeric(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            return s.to_numpy(dtype=np.float64), "continuous", ()
        levels = _factor_levels(s.astype("string"))
        codes = pd.Categorical(s.astype("string"), categories=list(levels)).codes
        kind = "binary" if len(levels) == 2 else "multiclass"
        return np.asarray(codes, dtype=np.int64), kind, levels

    def _stage_fit(self, X: Any, y: Any) -> pd.DataFrame:
        """Learn rare levels and target encodings; return these rows' output (cross-fitted)."""
        if not isinstance(X, pd.DataFrame):
            raise ValueError(
                f"{'/'.join(s for s in _FACTOR_STEPS if s in self._run)}: X must be a DataFrame "
                "with its factor columns"
            )
        if y is not None and len(y) != len(X):
            raise ValueError(f"y has {len(y)} values, X has {len(X)} rows")
        sources = self._stage_sources(X)
        names = list(sources)
        self._check_factor_columns(names, names + [str(c) for c in X.columns], X, y)
        other = (self.other_columns or names) if "other" in self._run else []
        if "target_encode" not in self._run:
            te: list[str] = []
        elif self.encode_columns is not None:
            te = list(self.encode_columns)
        else:
            te = [c for c in names if len(sources[c][1]) > self.encode_min_levels]
        self.stage_columns_: list[str] = [str(c) for c in X.columns]
        self.stage_sources_ = {c: sources[c] for c in names if c in other or c in te}
        vals = {c: self._stage_values(X, c, sources[c]) for c in self.stage_sources_}
        self.other_grouped_: dict[str, tuple[str, ...]] = {}
        for c in other:
            levels = sources[c][1]
            if self.other_level in levels:
                raise ValueError(
                    f"other: column {c!r} already has a level {self.other_level!r}; pass "
                    "other_level= a name it does not use"
                )
            frequent = set(enc.fit_other(vals[c], self.other_threshold))
            kept = tuple(lev for lev in levels if lev in frequent)
            self.other_grouped_[c] = (*kept, self.other_level)
            vals[c] = enc.apply_other(vals[c], kept, self.other_level)
        self.te_: dict[str, tuple[Any, ...]] = {}
        encoded: dict[str, np.ndarray] = {}
        if te:
            yv, kind, classes = self._outcome(y)
            seed = 0 if self.seed is None else int(self.seed)
            for c in te:
                cats, table, mean, oof, seen = enc.fit_target_encoding(
                    vals[c], yv, kind, self.smooth, self.encode_folds, seed
                )
                if table.shape[1] == 1:
                    out_names: tuple[str, ...] = (c,)
                else:
                    out_names = tuple(f"{c}_{classes[int(k)]}" for k in seen)
                self.te_[c] = (cats, table, mean, out_names)
                encoded[c] = oof
        return self._stage_output(X, vals, encoded)

    def _stage_transform(self, X: Any) -> pd.DataFrame:
        """New rows through the fitted factor steps (unseen levels: other / training mean)."""
        if not isinstance(X, pd.DataFrame):
            arr = np.asarray(X, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != len(self.stage_columns_):
                raise ValueError(
                    f"X has shape {arr.shape}, PreProcess was fitted on "
                    f"{len(self.stage_columns_)} columns"
                )
            X = pd.DataFrame(arr, columns=pd.Index(self.stage_columns_), copy=False)
        missing = [c for c in self.stage_columns_ if c not in X.columns]
        if missing:
            raise ValueError(f"X is missing column(s) seen in fit: {missing}")
        vals = {c: self._stage_values(X, c, src) for c, src in self.stage_sources_.items()}
        for c, grouped in self.other_grouped_.items():
            vals[c] = enc.apply_other(vals[c], grouped[:-1], self.other_level)
        encoded = {
            c: enc.apply_target_encoding(vals[c], cats, table, mean)
            for c, (cats, table, mean, _) in self.te_.items()
        }
        return self._stage_output(X, vals, encoded)

    def _stage_output(
        self, X: pd.DataFrame, vals: dict[str, np.ndarray], encoded: dict[str, np.ndarray]
    ) -> pd.DataFrame:
        """X with each handled factor (raw column or dummy block) replaced, in place, by its
        encodings or by its grouped levels (a categorical, or a new dummy block)."""
        first: dict[str, str] = {}
        skip: set[str] = set()
        for c, (block, _) in self.stage_sources_.items():
            cols = block or (c,)
            first[cols[0]] = c
            skip.update(cols[1:])
        out: dict[str, Any] = {}
        for col in self.stage_columns_:
            if col in skip:
                continue
            owner = first.get(col)
            if owner is None:
                out[col] = X[col].to_numpy() if self.factors is not None else X[col]
            elif owner in encoded:
                for k, name in enumerate(self.te_[owner][3]):
                    out[name] = encoded[owner][:, k]
            else:
                grouped, v = self.other_grouped_[owner], vals[owner]
                if self.stage_sources_[owner][0]:
                    gone = np.array([x is None for x in v], dtype=bool)
                    for lev in grouped[1:]:
                        dummy = (v == lev).astype(np.float64)
                        out[f"{owner}{lev}"] = np.where(gone, np.nan, dummy)
                else:
                    out[owner] = pd.Categorical(v, categories=list(grouped))
        return pd.DataFrame(out, index=X.index)

    # ------------------------------------------------------------------ encoding

    def _encode_fit(self, X: Any) -> tuple[np.ndarray, list[Any]]:
        """Training matrix (factor columns dummy-encoded when asked) and its column names."""
        self.levels_: dict[Any, tuple[str, ...]] = {}
        self._levels_at: dict[int, tuple[str, ...]] = {}
        if not isinstance(X, pd.DataFrame) or all(_is_numeric(d) for d in X.dtypes):
            values, names, from_frame = _numeric_matrix(X)
            self.n_features_in_: int = values.shape[1]
            self.feature_names_in_: np.ndarray | None = (
                np.asarray(names, dtype=object) if from_frame else None
            )
            self.sources_: list[tuple[int, str | None]] = [(j, None) for j in range(len(names))]
            return values, names
        if "dummy" not in self._run:
            _numeric_matrix(X)  # raises the not-numeric error
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        blocks: list[np.ndarray] = []
        names = []
        self.sources_ = []
        for pos, name in enumerate(X.columns):
            s = X.iloc[:, pos]
            if _is_numeric(s.dtype):
                blocks.append(_series_numeric(s, name)[:, None])
                names.append(name)
                self.sources_.append((pos, None))
                continue
            levels = _factor_levels(s)
            self.levels_[name] = levels
            used = levels[1:] if self.dummy_full_rank else levels
            arr, missing = _factor_values(s, name, levels)
            self._levels_at[pos] = levels
            block = np.empty((len(arr), len(used)))
            for i, lev in enumerate(used):
                block[:, i] = arr == lev
            block[missing] = np.nan
            blocks.append(block)
            names.extend(f"{name}{lev}" for lev in used)
            self.sources_.extend((pos, lev) for lev in used)
        values = np.hstack(blocks) if blocks else np.empty((len(X), 0))
        return values, names

    def _select(self, X: Any) -> tuple[np.ndarray, Any]:
        """The kept encoded columns of new data (DataFrames matched by name when possible)."""
        if not isinstance(X, pd.DataFrame):
            values, _, _ = _numeric_matrix(X)
            if values.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {values.shape[1]} columns, but PreProcess was fitted on "
                    f"{self.n_features_in_}"
                )
            return values[:, self.kept_], None
        fitted_names = self.feature_names_in_
        by_name = fitted_names is not None and len(set(fitted_names)) == len(fitted_names)
        positions = sorted({self.sources_[j][0] for j in self.kept_})
        if by_name:
            assert fitted_names is not None  # by_name needs them
            missing = [fitted_names[p] for p in positions if fitted_names[p] not in X.columns]
            if missing:
                raise ValueError(f"X is missing column(s) seen in fit: {missing}")

            def column(pos: int) -> pd.Series:
                """The new data's column that feeds fitted input position ``pos``."""
                assert fitted_names is not None
                return X[fitted_names[pos]]
        else:
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} columns, but PreProcess was fitted on "
                    f"{self.n_features_in_}"
                )

            def column(pos: int) -> pd.Series:
                """The new data's column at input position ``pos``."""
                return X.iloc[:, pos]

        return self._build(column, len(X)), X.index

    def _build(self, column: Callable[[int], pd.Series], n_rows: int) -> np.ndarray:
        """Assemble the kept encoded columns from the new data's source columns."""
        out = np.empty((n_rows, len(self.kept_)))
        factors: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        names = self.feature_names_in_
        for out_j, enc_j in enumerate(self.kept_):
            pos, level = self.sources_[enc_j]
            name = names[pos] if names is not None else f"x{pos}"
            if level is None:
                out[:, out_j] = _series_numeric(column(pos), name)
                continue
            if pos not in factors:
                factors[pos] = _factor_values(column(pos), name, self._levels_at[pos])
            arr, missing = factors[pos]
            out[:, out_j] = arr == level
            out[missing, out_j] = np.nan
        return out

    # ------------------------------------------------------------------ fitting

    def fit(self, X: Any, y: Any = None) -> PreProcess:
        """Learn every step's statistics from the training rows X (y: the outcome, which only
        ``target_encode`` reads)."""
        self._fit(X, y)
        return self

    def _fit(self, X: Any, y: Any) -> Any:
        """Fit every step; return the factor steps' output for these rows (cross-fitted target
        encodings: what later steps, and the model, learn from)."""
        if self._factor_stage:
            X = self._stage_fit(X, y)
        self._fit_numeric(X)
        return X

    def _fit_numeric(self, X: Any) -> None:
        """Learn the column filters and every numeric step's statistics from the rows X."""
        values, names = self._encode_fit(X)
        n_rows, n_cols = values.shape
        if n_rows == 0:
            raise ValueError("X must have at least one row to fit on")
        run = set(self._run)
        self.notes_: list[str] = list(self._plan_notes)
        keep = np.ones(n_cols, dtype=bool)
        self.removed_zv_: list[Any] = []
        self.removed_nzv_: list[Any] = []
        self.removed_corr_: list[Any] = []
        self.freq_ratio_: np.ndarray | None = None
        self.percent_unique_: np.ndarray | None = None
        if "zv" in run:
            zv = _zero_variance(values)
            self.removed_zv_ = [names[j] for j in np.flatnonzero(zv)]
            keep &= ~zv
        if "nzv" in run:
            self.freq_ratio_, self.percent_unique_, nzv = _near_zero_var(
                values, self.freq_cut, self.unique_cut
            )
            self.removed_nzv_ = [names[j] for j in np.flatnonzero(nzv & keep)]
            keep &= ~nzv
        if "corr" in run:
            idx = np.flatnonzero(keep)
            if idx.size >= 2:
                C = _correlation(values[:, idx])
                find = _find_correlation_exact if idx.size < 100 else _find_correlation_fast
                gone = idx[find(C, self.cutoff)]
                self.removed_corr_ = [names[j] for j in gone]
                keep[gone] = False
        self.kept_: np.ndarray = np.flatnonzero(keep).astype(np.int64)
        self.columns_: list[Any] = [names[j] for j in self.kept_]
        self.removed_: list[Any] = [names[j] for j in np.flatnonzero(~keep)]
        if n_cols and not self.kept_.size:
            filters = [s for s in ("zv", "nzv", "corr") if s in run]
            raise ValueError(f"every column was removed by the filters ({', '.join(filters)})")
        Z = values[:, self.kept_]
        self._fit_cleaning(Z, run)  # applies them to Z in place
        self._fit_transformations(Z, run)  # applies them to Z in place
        self._fit_scaling(Z, run)
        Z = self._apply_scaling(Z)
        self._fit_imputation(Z, run)
        self._fit_projection(Z, run)  # on the complete rows, before imputation (as caret)

    def _fit_cleaning(self, Z: np.ndarray, run: set[str]) -> None:
        """Winsorizing caps, then discretization edges (on the capped values), in place."""
        self.winsor_lo_: np.ndarray | None = None
        self.winsor_hi_: np.ndarray | None = None
        self.bin_edges_: list[np.ndarray | None] | None = None
        if "winsorize" in run:
            self.winsor_lo_, self.winsor_hi_ = enc.winsor_limits(Z, self.limits)
        if "discretize" in run:
            Z[:] = self._apply_cleaning(Z)  # capped first
            self.bin_edges_ = enc.fit_bins(Z, self.bins, self.strategy)
        Z[:] = self._apply_cleaning(Z)

    def _apply_cleaning(self, Z: np.ndarray) -> np.ndarray:
        """Cap at the fitted quantiles and replace values by their bin numbers (in place)."""
        if self.winsor_lo_ is not None and self.winsor_hi_ is not None:
            for w in np.flatnonzero(~np.isnan(self.winsor_lo_)).tolist():
                Z[:, w] = np.clip(Z[:, w], self.winsor_lo_[w], self.winsor_hi_[w])
        if self.bin_edges_ is not None:
            for j, edges in enumerate(self.bin_edges_):
                if edges is not None:
                    Z[:, j] = enc.apply_bins(Z[:, j], edges)
        return Z

    def _fit_transformations(self, Z: np.ndarray, run: set[str]) -> None:
        """Box-Cox, Yeo-Johnson and exponential lambdas, each on the previous one's output."""
        self.bc_lambda_: np.ndarray | None = None
        self.yj_lambda_: np.ndarray | None = None
        self.expo_lambda_: np.ndarray | None = None
        self.bc_skipped_: dict[str, list[Any]] = {}
        self.expo_omitted_: list[Any] = []
        if "box_cox" in run:
            lams = np.full(Z.shape[1], np.nan)
            for j in range(Z.shape[1]):
                lams[j], why = _box_cox_lambda(Z[:, j])
                if why:
                    self.bc_skipped_.setdefault(why, []).append(self.columns_[j])
            self.bc_lambda_ = lams
            Z[:] = self._apply_box_cox(Z)
        if "yeo_johnson" in run:
            self.yj_lambda_ = np.array([_yj_lambda(Z[:, j]) for j in range(Z.shape[1])])
            Z[:] = self._apply_yeo_johnson(Z)
        if "expo_trans" in run:
            lams = np.array([_expo_lambda(Z[:, j]) for j in range(Z.shape[1])])
            for j in np.flatnonzero(~np.isnan(lams)).tolist():
                out = _expo_apply(Z[:, j], lams[j])
                seen = out[~np.isnan(out)]
                if not np.isfinite(seen).all() or np.unique(seen).size == 1:
                    lams[j] = np.nan  # caret omits transformations giving infinite values
                    self.expo_omitted_.append(self.columns_[j])
            self.expo_lambda_ = lams
            Z[:] = self._apply_expo(Z)

    def _fit_scaling(self, Z: np.ndarray, run: set[str]) -> None:
        """Means, standard deviations and ranges (each learned after the previous is applied)."""
        self.center_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.min_: np.ndarray | None = None
        self.max_: np.ndarray | None = None
        Z = Z.copy() if {"center", "scale", "range"} & run else Z
        if "center" in run:
            _, self.center_ = _nan_stats(Z)
            Z -= self.center_
        if "scale" in run:
            count, mean = _nan_stats(Z)
            dev = np.where(np.isnan(Z), 0.0, Z - mean)
            var = np.divide(
                (dev**2).sum(axis=0), count - 1, out=np.zeros(Z.shape[1]), where=count > 1
            )
            sd = np.sqrt(var)
            self.scale_ = np.where(sd > 0, sd, 1.0)
            Z /= self.scale_
        if "range" in run:
            count = (~np.isnan(Z)).sum(axis=0)
            self.min_ = _nan_extreme(Z, count, largest=False)
            self.max_ = _nan_extreme(Z, count, largest=True)

    def _fit_imputation(self, Z: np.ndarray, run: set[str]) -> None:
        """Training rows for knnImpute, bagged trees for bagImpute, or the medians."""
        self.median_: np.ndarray | None = None
        self.knn_data_: np.ndarray | None = None
        self.bag_models_: list[Any] | None = None
        step = next((s for s in _IMPUTERS if s in run), None)
        if step is None:
            return
        empty = np.flatnonzero(np.isnan(Z).all(axis=0))
        if empty.size:
            raise ValueError(
                f"{step}: column(s) {[self.columns_[j] for j in empty]} have no observed value "
                "in the training rows, so there is nothing to impute from; add 'zv' or 'nzv' "
                "to remove them"
            )
        if step == "median_impute":
            self.median_ = np.array([_nan_median(col) for col in Z.T], dtype=np.float64)
        elif step == "knn_impute":
            complete = ~np.isnan(Z).any(axis=1)
            if not complete.any():
                raise ValueError(
                    "knn_impute: no training row is complete, so there are no neighbours"
                )
            self.knn_data_ = Z[complete].copy()
        else:
            self.bag_models_ = self._fit_bags(Z)

    def _fit_bags(self, Z: np.ndarray) -> list[Any]:
        """One bag of 10 regression trees per column, predicting it from the other columns."""
        from sklearn.ensemble import BaggingRegressor
        from sklearn.tree import DecisionTreeRegressor

        if Z.shape[1] < 2:
            raise ValueError("bag_impute needs at least 2 columns (one is predicted from others)")
        seed = 0 if self.seed is None else int(self.seed)
        models = []
        for j in range(Z.shape[1]):
            seen = ~np.isnan(Z[:, j])
            model = BaggingRegressor(
                DecisionTreeRegressor(), n_estimators=_BAG_TREES, random_state=seed + j
            )
            models.append(model.fit(np.delete(Z[seen], j, axis=1), Z[seen, j]))
        return models

    def _fit_projection(self, Z: np.ndarray, run: set[str]) -> None:
        """PCA rotation or ICA unmixing from the complete training rows (as caret)."""
        self.rotation_: np.ndarray | None = None
        self.pca_variance_: np.ndarray | None = None
        self.n_components_: int | None = None
        self.ica_mean_: np.ndarray | None = None
        self.ica_unmixing_: np.ndarray | None = None
        self.output_names_: list[Any] = list(self.columns_)
        step = "ica" if "ica" in run else "pca" if "pca" in run else None
        if step is None:
            return
        p = Z.shape[1]
        if p < 2:
            self.notes_.append(f"{step} skipped: it needs at least 2 columns (as caret)")
            return
        Zc = Z[~np.isnan(Z).any(axis=1)]
        if Zc.shape[0] < 2:
            raise ValueError(f"{step}: fewer than 2 complete training rows to learn from")
        sd = Zc.std(axis=0, ddof=1)
        flat = np.flatnonzero(~(sd > 0))
        if flat.size:
            raise ValueError(
                f"{step}: column(s) {[self.columns_[j] for j in flat]} are constant in the "
                "training rows; add 'zv' or 'nzv' to the steps"
            )
        if step == "pca":
            self._fit_pca((Zc - Zc.mean(axis=0)) / sd)
        else:
            self._fit_ica(Zc)

    def _fit_pca(self, S: np.ndarray) -> None:
        """prcomp(scale = TRUE): components of the standardized rows; keep thresh or pca_comp."""
        _, s, vt = np.linalg.svd(S, full_matrices=False)
        rotation = vt.T
        big = np.argmax(np.abs(rotation), axis=0)  # sign convention: largest loading positive
        rotation *= np.sign(rotation[big, np.arange(rotation.shape[1])])
        var = s**2 / (S.shape[0] - 1)
        prop = var / var.sum()
        n_avail = rotation.shape[1]
        if self.pca_comp is None:
            above = np.cumsum(prop) >= self.thresh
            n = max(2, int(np.argmax(above)) + 1) if above.any() else n_avail
        else:
            n = self.pca_comp
        n = min(n, n_avail)
        self.rotation_ = np.ascontiguousarray(rotation[:, :n])
        self.pca_variance_ = prop
        self.n_components_ = n
        self.output_names_ = [f"PC{i + 1}" for i in range(n)]

    def _fit_ica(self, Zc: np.ndarray) -> None:
        """sklearn's FastICA (logcosh, parallel, unit-variance whitening -- fastICA's defaults)."""
        import warnings

        from sklearn.decomposition import FastICA
        from sklearn.exceptions import ConvergenceWarning

        n = self.n_comp or 0
        if n > Zc.shape[1]:
            raise ValueError(f"ica: n_comp={n} is more than the {Zc.shape[1]} columns left")
        seed = 0 if self.seed is None else int(self.seed)
        ica = FastICA(
            n_components=n, whiten="unit-variance", max_iter=200, tol=1e-4, random_state=seed
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            ica.fit(Zc)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            self.notes_.append("ica did not converge in 200 iterations")
        self.ica_mean_ = np.asarray(ica.mean_, dtype=np.float64)
        self.ica_unmixing_ = np.asarray(ica.components_, dtype=np.float64)
        self.n_components_ = n
        self.output_names_ = [f"IC{i + 1}" for i in range(n)]

    # ------------------------------------------------------------------ applying

    def _apply_box_cox(self, Z: np.ndarray) -> np.ndarray:
        """Box-Cox with the fitted lambdas (NaN lambda: column untouched)."""
        lam = self.bc_lambda_
        assert lam is not None  # fitted before it is applied
        for j in np.flatnonzero(~np.isnan(lam)):
            Z[:, j] = _box_cox_apply(Z[:, j], float(lam[j]), self.fudge)
        return Z

    def _apply_yeo_johnson(self, Z: np.ndarray) -> np.ndarray:
        """Yeo-Johnson with the fitted lambdas (NaN lambda: column untouched)."""
        lam = self.yj_lambda_
        assert lam is not None  # fitted before it is applied
        with np.errstate(over="ignore", invalid="ignore"):
            for j in np.flatnonzero(~np.isnan(lam)):
                L, neg = _yj_parts(Z[:, j])
                Z[:, j] = _yj_from_parts(L, neg, float(lam[j]))
        return Z

    def _apply_expo(self, Z: np.ndarray) -> np.ndarray:
        """Exponential transformation with the fitted lambdas (NaN lambda: column untouched)."""
        lam = self.expo_lambda_
        assert lam is not None  # fitted before it is applied
        for j in np.flatnonzero(~np.isnan(lam)):
            Z[:, j] = _expo_apply(Z[:, j], float(lam[j]))
        return Z

    def _apply_transformations(self, Z: np.ndarray) -> np.ndarray:
        """The power/exponential transformations, in place (Z is already a private copy)."""
        if self.bc_lambda_ is not None:
            Z = self._apply_box_cox(Z)
        if self.yj_lambda_ is not None:
            Z = self._apply_yeo_johnson(Z)
        if self.expo_lambda_ is not None:
            Z = self._apply_expo(Z)
        return Z

    def _apply_scaling(self, Z: np.ndarray) -> np.ndarray:
        """Center, scale and range with the training statistics."""
        if self.center_ is not None:
            Z -= self.center_
        if self.scale_ is not None:
            Z /= self.scale_
        if self.min_ is not None:
            Z = self._apply_range(Z)
        return Z

    def _apply_range(self, Z: np.ndarray) -> np.ndarray:
        """Map to [0, 1] with the training min/max (constant or empty columns: shift only)."""
        lo_, hi_ = self.min_, self.max_
        assert lo_ is not None and hi_ is not None  # fitted together before they are applied
        lo = np.where(np.isnan(lo_), 0.0, lo_)
        span = hi_ - lo_
        span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
        return (Z - lo) / span

    def _impute_knn(self, Z: np.ndarray) -> np.ndarray:
        """Fill each incomplete row with the mean of its k nearest complete training rows.

        Distances (Euclidean, exact) use only the columns observed in that row, as caret's nnimp.
        """
        miss = np.isnan(Z)
        rows = np.flatnonzero(miss.any(axis=1))
        if not rows.size:
            return Z
        if miss[rows].all(axis=1).any():
            raise ValueError("knn_impute: cannot impute a row whose every column is missing")
        data = self.knn_data_
        assert data is not None  # fitted before it is applied
        k = min(self.k, data.shape[0])
        patterns, which = np.unique(miss[rows], axis=0, return_inverse=True)
        for p_i, pattern in enumerate(patterns):
            sub = rows[which.ravel() == p_i]
            obs = ~pattern
            D = data[:, obs]
            chunk = max(1, 4_000_000 // max(1, D.size))
            for start in range(0, sub.size, chunk):
                part = sub[start : start + chunk]
                R = Z[np.ix_(part, np.flatnonzero(obs))]
                dist = ((R[:, None, :] - D[None, :, :]) ** 2).sum(axis=2)
                if k < data.shape[0]:
                    nn = np.argpartition(dist, k - 1, axis=1)[:, :k]
                else:
                    nn = np.broadcast_to(np.arange(k), (part.size, k))
                fill = data[:, pattern][nn].mean(axis=1)
                Z[np.ix_(part, np.flatnonzero(pattern))] = fill
        return Z

    def _impute_bag(self, Z: np.ndarray) -> np.ndarray:
        """Fill missing values column by column with the bagged trees (earlier fills are used)."""
        rows = np.flatnonzero(np.isnan(Z).any(axis=1))
        if not rows.size:
            return Z
        H = Z[rows]
        models = self.bag_models_
        assert models is not None  # fitted before it is applied
        for j in np.flatnonzero(np.isnan(H).any(axis=0)):
            miss = np.isnan(H[:, j])
            H[miss, j] = models[j].predict(np.delete(H[miss], j, axis=1))
        Z[rows] = H
        return Z

    def _check_fitted(self) -> None:
        """Raise a clear error when transform is called before fit."""
        if not hasattr(self, "kept_"):
            raise RuntimeError("PreProcess is not fitted yet; call fit(X) first")

    def transform(self, X: Any) -> Any:
        """Apply the fitted steps with the training statistics; DataFrame in -> DataFrame out.

        ``target_encode`` gives new rows the encodings learned on all training rows (levels it
        never saw: the training mean); ``other`` maps rare and unseen levels to ``other_level``.
        """
        self._check_fitted()
        Z = self._stage_transform(X) if self._factor_stage else X
        return _like(self._transform_numeric(Z), X)

    def _transform_numeric(self, X: Any) -> Any:
        """The steps after the factor steps, on their output."""
        Z, index = self._select(X)
        if self.winsor_lo_ is not None or self.bin_edges_ is not None:
            Z = self._apply_cleaning(Z)
        Z = self._apply_transformations(Z)
        Z = self._apply_scaling(Z)
        if self.knn_data_ is not None:
            Z = self._impute_knn(Z)
        if self.bag_models_ is not None:
            Z = self._impute_bag(Z)
        if self.median_ is not None:
            holes = np.isnan(Z)
            Z[holes] = np.broadcast_to(self.median_, Z.shape)[holes]
        if self.rotation_ is not None:
            Z = Z @ self.rotation_
        if self.ica_unmixing_ is not None:
            Z = (Z - self.ica_mean_) @ self.ica_unmixing_.T
        if "spatial_sign" in self._run:
            with np.errstate(invalid="ignore"):
                norm = np.sqrt(np.nansum(Z**2, axis=1))[:, None]
                Z = np.where(norm > _SPATIAL_EPS, Z / np.where(norm > 0, norm, 1.0), Z * 0.0)
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(Z, columns=pd.Index(self.output_names_), index=index)
        return Z

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """Fit on X and return X transformed, as the model should see its training rows: with
        ``target_encode``, each row's encoding comes from the inner folds it is not in (so it
        differs from ``fit(X, y).transform(X)``, which gives the all-rows encodings)."""
        return _like(self._transform_numeric(self._fit(X, y)), X)

    # ------------------------------------------------------------------ reporting

    def describe(self) -> str:
        """One line saying what each step did, e.g. 'centered (60), scaled (60), removed ...'."""
        if not hasattr(self, "kept_"):
            return f"not fitted (steps: {', '.join(self.steps) or 'none'})"
        k = len(self.kept_)
        parts = []
        if getattr(self, "other_grouped_", None):
            parts.append(
                f"rare levels (< {self.other_threshold:g}) grouped as {self.other_level!r} in "
                f"{_name_list(list(self.other_grouped_))}"
            )
        if self._factor_stage and self.te_:
            parts.append(
                f"target encoded {_name_list(list(self.te_))} (smooth {self.smooth}, "
                f"{self.encode_folds} inner folds)"
            )
        if self._factor_stage and not (getattr(self, "other_grouped_", None) or self.te_):
            steps = "/".join(s for s in _FACTOR_STEPS if s in self._run)
            parts.append(f"{steps}: no factor column to encode")
        if self.winsor_lo_ is not None:
            n_w = int((~np.isnan(self.winsor_lo_)).sum())
            lo, hi = self.limits
            parts.append(f"winsorized at quantiles {lo:g} and {hi:g} ({n_w})")
        if self.bin_edges_ is not None:
            n_b = sum(e is not None for e in self.bin_edges_)
            parts.append(f"discretized into {self.bins} {self.strategy} bins ({n_b})")
        if self.levels_:
            kind = "full rank" if self.dummy_full_rank else "one-hot"
            parts.append(f"dummy variables ({kind}) for {_name_list(list(self.levels_))}")
        if self.bc_lambda_ is not None:
            text = f"Box-Cox on {int((~np.isnan(self.bc_lambda_)).sum())} columns"
            skips = "; ".join(f"{why}: {_name_list(c)}" for why, c in self.bc_skipped_.items())
            parts.append(text + (f" (skipped, {skips})" if skips else ""))
        if self.yj_lambda_ is not None:
            text = f"YeoJohnson on {int((~np.isnan(self.yj_lambda_)).sum())}"
            left = [c for c, v in zip(self.columns_, self.yj_lambda_, strict=True) if np.isnan(v)]
            parts.append(text + (f" (untouched: {_name_list(left)})" if left else ""))
        if self.expo_lambda_ is not None:
            text = f"exponential transformation on {int((~np.isnan(self.expo_lambda_)).sum())}"
            if self.expo_omitted_:
                text += f" (omitted, infinite values: {_name_list(self.expo_omitted_)})"
            parts.append(text)
        if self.center_ is not None:
            parts.append(f"centered ({k})")
        if self.scale_ is not None:
            parts.append(f"scaled ({k})")
        if self.min_ is not None:
            parts.append(f"range [0, 1] ({k})")
        if self.knn_data_ is not None:
            parts.append(f"{self.k}-nearest-neighbour imputed ({k})")
        if self.bag_models_ is not None:
            parts.append(f"bagged-tree imputed ({k})")
        if self.median_ is not None:
            parts.append(f"median imputed ({k})")
        if self.rotation_ is not None:
            n = self.n_components_
            noun = "components" if n != 1 else "component"
            if self.pca_comp is None:
                pct = f"{round(self.thresh * 100, 2):g}"
                parts.append(f"PCA needed {n} {noun} to capture {pct} percent of the variance")
            else:
                parts.append(f"PCA used {n} {noun} as specified")
        if self.ica_unmixing_ is not None:
            parts.append(f"ICA used {self.n_components_} components")
        if "spatial_sign" in self._run:
            parts.append(f"spatial sign ({len(self.output_names_)})")
        if "zv" in self.steps or self.removed_zv_:
            parts.append(f"removed zero-variance: {_name_list(self.removed_zv_)}")
        if "nzv" in self._run:
            parts.append(f"removed near-zero-variance: {_name_list(self.removed_nzv_)}")
        if "corr" in self._run:
            parts.append(
                f"removed correlated (|r| > {self.cutoff:g}): {_name_list(self.removed_corr_)}"
            )
        parts.extend(self.notes_)
        return ", ".join(parts) if parts else "no pre-processing"
