"""Per-column drift tests with Evidently's community defaults, vectorised with numpy per column.

Which test runs (``default_test``), as Evidently 0.7 picks it, on the non-missing values:

* numeric column, <= 1000 reference rows: two-sample Kolmogorov-Smirnov (drift when p <= 0.05);
  but chi-squared (> 2 distinct values) or the two-proportion Z-test (<= 2) when reference and
  current together hold <= 5 distinct values;
* numeric column, > 1000 reference rows: Wasserstein distance divided by the reference standard
  deviation (floored at 0.001), drift when >= 0.1; Jensen-Shannon distance when <= 5 distinct;
* categorical column: chi-squared goodness of fit of the current counts against the reference
  proportions (> 2 distinct) or the Z-test (<= 2), drift when p < 0.05, at <= 1000 reference rows;
  Jensen-Shannon distance of the category shares (natural log), drift when >= 0.1, above.

A column is categorical when it is not numeric (strings, booleans, pandas categories) or when it
holds integers with at most 10 distinct values (Evidently's ``infer_column_type``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

NUMERIC = "numeric"
CATEGORICAL = "categorical"
KINDS = (NUMERIC, CATEGORICAL)

# name -> (kind of number it returns, default threshold)
TESTS: dict[str, tuple[str, float]] = {
    "ks": ("p_value", 0.05),
    "chisquare": ("p_value", 0.05),
    "z": ("p_value", 0.05),
    "wasserstein": ("distance", 0.1),
    "jensenshannon": ("distance", 0.1),
}
NUMERIC_ONLY = ("ks", "wasserstein")
SMALL_REFERENCE = 1000  # at most this many reference rows: the p-value tests
INTEGER_CARDINALITY_LIMIT = 10  # integer columns with at most this many values are categorical
_EXACT_ROWS = 200_000  # Wasserstein from the exact sorted arrays up to this many rows in all
_BINS = 1 << 16


@dataclass(frozen=True)
class Drift:
    """One column's test: its name, the statistic (p-value or distance), threshold and verdict."""

    test: str
    statistic: float
    threshold: float
    drifted: bool
    stat_type: str  # "p_value" or "distance"


def _few_distinct(values: np.ndarray | pd.Series, limit: int) -> int | None:
    """The number of distinct non-missing values if it is at most ``limit``, else None (cheaply:
    a prefix with more distinct values settles it without hashing the whole column)."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if pd.unique(s.iloc[:10_000].dropna()).size > limit:
        return None
    n = s.nunique(dropna=True)
    return n if n <= limit else None


def column_kind(values: pd.Series) -> str:
    """``numeric`` or ``categorical``, as Evidently infers a column's type from its reference."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    if pd.api.types.is_float_dtype(dtype):
        return NUMERIC
    if pd.api.types.is_integer_dtype(dtype):
        few = _few_distinct(values, INTEGER_CARDINALITY_LIMIT)
        return CATEGORICAL if few is not None else NUMERIC
    return CATEGORICAL


def finite(values: pd.Series) -> pd.Series:
    """The column without missing values (and, for numbers, without +-inf), as Evidently drops."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        a = values.to_numpy(dtype=float, na_value=np.nan)
        ok = np.isfinite(a)
        return pd.Series(a if ok.all() else a[ok], copy=False)
    return values.dropna()


def _n_distinct_union(ref: pd.Series, cur: pd.Series, limit: int) -> int | None:
    """Distinct values of reference and current together if at most ``limit``, else None."""
    a = _few_distinct(ref, limit)
    b = _few_distinct(cur, limit) if a is not None else None
    if a is None or b is None:
        return None
    n = pd.unique(pd.concat([pd.Series(pd.unique(ref)), pd.Series(pd.unique(cur))])).size
    return n if n <= limit else None


def default_test(ref: pd.Series, cur: pd.Series, kind: str) -> str:
    """Evidently's default test for one column (``ref`` and ``cur`` without missing values)."""
    small = len(ref) <= SMALL_REFERENCE
    if kind == NUMERIC:
        few = _n_distinct_union(ref, cur, 5)
        if small:
            if few is None:
                return "ks"
            return "chisquare" if few > 2 else "z"
        return "wasserstein" if few is None else "jensenshannon"
    if small:
        n = pd.unique(pd.concat([pd.Series(pd.unique(ref)), pd.Series(pd.unique(cur))])).size
        return "chisquare" if n > 2 else "z"
    return "jensenshannon"


def _counts(ref: pd.Series, cur: pd.Series) -> tuple[np.ndarray, np.ndarray, list[object]]:
    """Counts of every value seen in either sample, aligned on one key order."""
    rc = ref.value_counts(sort=False)
    cc = cur.value_counts(sort=False)
    keys = rc.index.union(cc.index, sort=False) if rc.index.dtype == cc.index.dtype else None
    if keys is None:
        keys = pd.Index(list(dict.fromkeys([*rc.index, *cc.index])), dtype=object)
    r = rc.reindex(keys, fill_value=0).to_numpy(dtype=float)
    c = cc.reindex(keys, fill_value=0).to_numpy(dtype=float)
    return r, c, list(keys)


def chisquare_p(ref: pd.Series, cur: pd.Series) -> float:
    """Chi-squared goodness of fit of the current counts to the reference shares (Evidently's)."""
    r, c, _ = _counts(ref, cur)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(c, r * (len(cur) / len(ref)))[1])


def z_p(ref: pd.Series, cur: pd.Series) -> float:
    """Two-sided two-proportion Z-test on the share of the first (sorted) value."""
    r, c, keys = _counts(ref, cur)
    if len(keys) == 1:
        return 1.0
    first = sorted(keys)[0]  # type: ignore[type-var]
    i = keys.index(first)
    n1, n2 = r.sum(), c.sum()
    p1, p2 = 1 - r[i] / n1, 1 - c[i] / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def jensenshannon_distance(ref: pd.Series, cur: pd.Series, kind: str) -> float:
    """Jensen-Shannon distance (natural log) of the shares: Sturges bins over both samples for
    numbers with more than 20 reference values, else the share of each value."""
    if kind == NUMERIC and _few_distinct(ref, 20) is None:
        a, b = ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)
        lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
        n_bins = max(int(math.ceil(math.log2(a.size + b.size) + 1.0)), 1) if hi > lo else 1
        edges = np.histogram_bin_edges(np.array([lo, hi]), bins=n_bins, range=(lo, hi))
        p = np.histogram(a, edges)[0] / a.size
        q = np.histogram(b, edges)[0] / b.size
    else:
        r, c, _ = _counts(ref, cur)
        p, q = r / len(ref), c / len(cur)
    return float(distance.jensenshannon(p, q))


def _wasserstein_exact(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.wasserstein_distance(a, b))


def wasserstein_normed(ref: pd.Series, cur: pd.Series, threshold: float) -> float:
    """Wasserstein-1 distance over the reference standard deviation (ddof 0, floored at 0.001).

    Exact for small samples. For large ones, from histograms on 65 536 common bins: the bins
    bound the exact distance from both sides, and the exact computation (sorting) runs only when
    the threshold lies inside those bounds, so the verdict is always the exact one.
    """
    a, b = ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)
    norm = max(float(np.std(a)), 0.001)
    if a.size + b.size <= _EXACT_ROWS:
        return _wasserstein_exact(a, b) / norm
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    if not hi > lo:
        return 0.0
    width = (hi - lo) / _BINS
    fa = np.cumsum(_bincount(a, lo, hi)) / a.size
    fb = np.cumsum(_bincount(b, lo, hi)) / b.size
    fa_l, fb_l = np.concatenate(([0.0], fa[:-1])), np.concatenate(([0.0], fb[:-1]))
    # Inside a bin F lies in [F_left, F_right] and so does G: bound |F - G| from both sides.
    d1, d2 = fa_l - fb, fa - fb_l
    upper = width * np.maximum(np.abs(d1), np.abs(d2)).sum() / norm
    lower = width * np.where(d1 * d2 <= 0, 0.0, np.minimum(np.abs(d1), np.abs(d2))).sum() / norm
    if lower <= threshold <= upper and upper - lower > 1e-12:
        return _wasserstein_exact(a, b) / norm
    return float((lower + upper) / 2)


def _bincount(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    y = x - lo
    y *= _BINS / (hi - lo)
    idx = y.astype(np.intp)
    del y
    np.minimum(idx, _BINS - 1, out=idx)
    return np.bincount(idx, minlength=_BINS).astype(float)


def run_test(ref: pd.Series, cur: pd.Series, kind: str, test: str, threshold: float) -> Drift:
    """Run ``test`` on two samples without missing values; drift by Evidently's comparison."""
    stat_type = TESTS[test][0]
    if test == "ks":
        value = float(stats.ks_2samp(ref.to_numpy(dtype=float), cur.to_numpy(dtype=float))[1])
        drifted = value <= threshold
    elif test == "chisquare":
        value = chisquare_p(ref, cur)
        drifted = value < threshold
    elif test == "z":
        value = z_p(ref, cur)
        drifted = value < threshold
    elif test == "wasserstein":
        value = wasserstein_normed(ref, cur, threshold)
        drifted = value >= threshold
    else:
        value = jensenshannon_distance(ref, cur, kind)
        drifted = value >= threshold
    return Drift(test, value, threshold, bool(drifted), stat_type)
