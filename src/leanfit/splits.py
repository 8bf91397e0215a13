"""Data splitting with caret's semantics: partitions, folds, bootstrap, LGOCV, time slices.

Every function is seeded through ``np.random.default_rng(seed)`` and returns row *positions*
(0-based ``int64`` arrays), never labels, so the result can index any array, DataFrame or
sparse matrix with the same rows. Resampling schemes come back as a :class:`Resamples` with
caret's names ("Fold01", "Fold01.Rep1", "Resample01", "Training010", ...) and a content hash,
so the same splits can be recognised (and cached) across runs and processes.

Names are zero-padded to the width of the largest number, as caret's
``gsub(" ", "0", format(1:k))`` does: 10 folds give "Fold01".."Fold10", 5 give "Fold1".."Fold5".
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Resamples",
    "bootstrap",
    "from_indices",
    "group_kfold",
    "kfold",
    "lgocv",
    "loocv",
    "partition",
    "repeated_kfold",
    "time_slices",
]

METHODS: tuple[str, ...] = (
    "cv",
    "repeatedcv",
    "boot",
    "lgocv",
    "loocv",
    "group_cv",
    "timeslice",
    "user",
)


def _rows(a: Any) -> np.ndarray:
    """Return ``a`` as a read-only 1-D int64 array (so stored splits cannot drift)."""
    out = np.array(a, dtype=np.int64).reshape(-1)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False, repr=False)
class Resamples:
    """A list of (training rows, held-out rows), named like caret, with a content hash."""

    train: tuple[np.ndarray, ...]
    test: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    method: str
    n: int

    def __post_init__(self) -> None:
        """Normalise the index arrays to read-only int64 and check the parts line up."""
        train = tuple(_rows(a) for a in self.train)
        test = tuple(_rows(a) for a in self.test)
        names = tuple(str(s) for s in self.names)
        if not (len(train) == len(test) == len(names)):
            raise ValueError(
                f"train, test and names must have the same length, got "
                f"{len(train)}, {len(test)} and {len(names)}"
            )
        if len(set(names)) != len(names):
            raise ValueError("names must be unique")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {self.method!r}")
        if not isinstance(self.n, numbers.Integral) or self.n < 1:
            raise ValueError(f"n must be an integer >= 1, got {self.n!r}")
        object.__setattr__(self, "train", train)
        object.__setattr__(self, "test", test)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "n", int(self.n))

    @cached_property
    def hash(self) -> str:
        """SHA-256 hex over n, names and every train/test array: same content, same hash."""
        h = hashlib.sha256()
        h.update(np.array([self.n, len(self.names)], dtype="<i8").tobytes())
        for name, tr, te in zip(self.names, self.train, self.test, strict=True):
            raw = name.encode("utf-8")
            h.update(np.array([len(raw)], dtype="<i8").tobytes())
            h.update(raw)
            for rows in (tr, te):
                h.update(np.array([rows.size], dtype="<i8").tobytes())
                h.update(rows.astype("<i8", copy=False).tobytes())
        return h.hexdigest()

    def __len__(self) -> int:
        """Number of resamples (folds, bootstrap draws, slices)."""
        return len(self.names)

    def __iter__(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Yield ``(name, train_rows, test_rows)`` for each resample, in caret's order."""
        return iter(zip(self.names, self.train, self.test, strict=True))

    def __eq__(self, other: object) -> bool:
        """Equal when the method and the content hash agree (arrays are compared via hash)."""
        if not isinstance(other, Resamples):
            return NotImplemented
        return self.method == other.method and self.hash == other.hash

    def __hash__(self) -> int:
        """Hash consistent with ``__eq__`` so resamples can key dicts and caches."""
        return hash((self.method, self.hash))

    def __repr__(self) -> str:
        """Short summary instead of printing every index array."""
        return (
            f"Resamples(method={self.method!r}, n={self.n}, resamples={len(self)}, "
            f"hash={self.hash[:12]})"
        )

    def to_frame(self) -> pd.DataFrame:
        """Long table (resample, row, role) of every index, for storage or inspection."""
        names, rows, roles = [], [], []
        for name, tr, te in self:
            names.append(np.full(tr.size + te.size, name, dtype=object))
            rows.append(np.concatenate([tr, te]))
            roles.append(np.repeat(np.array(["train", "test"], dtype=object), [tr.size, te.size]))
        if not names:
            return pd.DataFrame(
                {
                    "resample": pd.Series([], dtype=object),
                    "row": pd.Series([], dtype=np.int64),
                    "role": pd.Series([], dtype=object),
                }
            )
        return pd.DataFrame(
            {
                "resample": np.concatenate(names),
                "row": np.concatenate(rows).astype(np.int64),
                "role": np.concatenate(roles),
            }
        )


# ----------------------------------------------------------------------------- validation


def _check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    """Return ``value`` as int when it is a whole number in [low, high], else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        rng = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng}, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng}, got {v}")
    return v


def _check_fraction(value: Any, name: str = "p") -> float:
    """Return ``value`` as float when 0 < value < 1, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number with 0 < {name} < 1, got {value!r}")
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must satisfy 0 < {name} < 1, got {value!r}")
    return v


def _as_vector(y: Any, name: str = "y") -> np.ndarray:
    """Return ``y`` as a 1-D array, rejecting missing values and empty input."""
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"{name} must be 1-D, got a DataFrame with {y.shape[1]} columns")
        y = y.iloc[:, 0]
    missing: np.ndarray | None
    if isinstance(y, pd.Series | pd.Index | pd.Categorical):
        # categories are labels even when they are numbers
        categorical = isinstance(y.dtype, pd.CategoricalDtype)
        arr = np.asarray(y, dtype=object) if categorical else np.asarray(y)
        missing = np.asarray(pd.isna(y))
    else:
        arr = np.asarray(y)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
        missing = np.asarray(pd.isna(arr)) if arr.dtype.kind in "fcmMOSU" else None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if missing is not None and missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"{name} has {rows.size} missing value(s) (first at row {int(rows[0])}); "
            f"remove or impute them before splitting"
        )
    return arr


def _check_rows(arr: np.ndarray, name: str = "y") -> int:
    """Return the number of rows, requiring at least 2 (one to train on, one to hold out)."""
    if arr.size < 2:
        raise ValueError(f"{name} must have at least 2 values, got {arr.size}")
    return int(arr.size)


def _is_numeric(arr: np.ndarray) -> bool:
    """True for numbers (ints, floats), False for labels (str, object, category, bool)."""
    return arr.dtype.kind in "iuf"


def _codes(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer class codes 0..K-1 (classes sorted like R's factor levels where possible)."""
    try:
        codes, uniques = pd.factorize(arr, sort=True)
    except TypeError:  # mixed, unorderable labels: first-appearance order
        codes, uniques = pd.factorize(arr, sort=False)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _quantile_groups(y: np.ndarray, n_breaks: int) -> np.ndarray:
    """Group codes from ``cut(y, unique(quantile(y, seq(0, 1, length = n_breaks))))``."""
    yf = np.asarray(y, dtype=np.float64)
    breaks = np.unique(np.quantile(yf, np.linspace(0.0, 1.0, n_breaks)))
    if breaks.size < 2:  # a constant y: one group
        return np.zeros(yf.size, dtype=np.int64)
    # right-closed intervals (a, b], the first one closed on the left too (include.lowest)
    idx = np.searchsorted(breaks, yf, side="left") - 1
    return np.clip(idx, 0, breaks.size - 2).astype(np.int64)


def _pad(prefix: str, count: int) -> list[str]:
    """caret-style names: ``prefix`` + 1..count zero-padded to the width of ``count``."""
    width = len(str(count))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def _complement(rows: np.ndarray, n: int) -> np.ndarray:
    """Sorted rows of 0..n-1 that do not appear in ``rows``."""
    mask = np.ones(n, dtype=bool)
    mask[rows] = False
    return np.flatnonzero(mask).astype(np.int64)


# ----------------------------------------------------------------------------- partition


def _partition_once(strata: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """One createDataPartition draw: ``ceil(p * n_class)`` random rows from every stratum."""
    picked = []
    for g in range(int(strata.max()) + 1):
        rows = np.flatnonzero(strata == g)
        if rows.size == 0:
            continue
        size = int(np.ceil(p * rows.size))
        picked.append(rng.choice(rows, size=size, replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _partition_strata(arr: np.ndarray, groups: int) -> np.ndarray:
    """Strata for createDataPartition: the classes, or quantile groups of a numeric y."""
    if _is_numeric(arr):
        return _quantile_groups(arr, groups)
    return _codes(arr)[0]


def partition(
    y: Any,
    p: float = 0.5,
    times: int = 1,
    seed: int | None = None,
    groups: int | None = None,
) -> np.ndarray | list[np.ndarray]:
    """caret's createDataPartition: stratified random training rows, ``ceil(p * n)`` per class.

    A numeric ``y`` is first cut into quantile groups (``groups`` breakpoints, default
    ``min(5, n)``, i.e. quartiles) and sampled within them. Returns the sorted training row
    positions, or a list of ``times`` such arrays when ``times > 1``.
    """
    arr = _as_vector(y)
    n = _check_rows(arr)
    p = _check_fraction(p, "p")
    times = _check_int(times, "times", 1)
    groups = min(5, n) if groups is None else _check_int(groups, "groups", 2)
    strata = _partition_strata(arr, groups)
    rng = np.random.default_rng(seed)
    out = [_partition_once(strata, p, rng) for _ in range(times)]
    return out[0] if times == 1 else out


# ----------------------------------------------------------------------------- k-fold


def _fold_vector(arr: np.ndarray, k: int, rng: np.random.Generator, stratify: bool) -> np.ndarray:
    """caret's createFolds fold ids (1..k) for every row, balanced within each stratum."""
    n = arr.size
    if k >= n:  # caret: k == n puts every row in its own fold, in row order
        return np.arange(1, n + 1, dtype=np.int64)
    if not stratify:
        strata = np.zeros(n, dtype=np.int64)
    elif _is_numeric(arr):
        strata = _quantile_groups(arr, int(np.clip(n // k, 2, 5)))
    else:  # a class with fewer rows than folds goes to distinct folds, as in caret
        strata, _ = _codes(arr)
    folds = np.zeros(n, dtype=np.int64)
    for g in range(int(strata.max()) + 1):
        rows = np.flatnonzero(strata == g)
        n_class = rows.size
        if n_class == 0:
            continue
        min_reps, spares = divmod(n_class, k)
        if min_reps > 0:
            ids = np.tile(np.arange(1, k + 1, dtype=np.int64), min_reps)
            if spares > 0:
                ids = np.concatenate([ids, rng.choice(k, size=spares, replace=False) + 1])
            folds[rows] = rng.permutation(ids)
        else:
            folds[rows] = rng.choice(k, size=n_class, replace=False) + 1
    return folds


def _split_folds(folds: np.ndarray, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Turn fold ids 1..k into (train rows, test rows) per fold; error on an empty fold."""
    sizes = np.bincount(folds, minlength=k + 1)[1:]
    if (sizes == 0).any():
        empty = int(np.flatnonzero(sizes == 0)[0]) + 1
        raise ValueError(f"k={k} leaves fold {empty} empty; use a smaller k")
    order = np.argsort(folds, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    all_rows = np.arange(folds.size, dtype=np.int64)
    train, test = [], []
    for i in range(k):
        te = np.sort(order[bounds[i] : bounds[i + 1]]).astype(np.int64)
        train.append(np.delete(all_rows, te))
        test.append(te)
    return train, test


def kfold(y: Any, k: int = 10, seed: int | None = None, stratify: bool = True) -> Resamples:
    """caret's createFolds: k folds balanced within each class (or quantile group of y).

    Per class, fold ids ``rep(1:k, n_class %/% k)`` plus ``n_class %% k`` distinct random ids
    are shuffled onto the class's rows; a numeric y is stratified on ``clip(n // k, 2, 5)``
    quantile breakpoints. ``stratify=False`` balances fold sizes over all rows at once.
    Names are "Fold01".."Fold10" (padded to the width of k).
    """
    arr = _as_vector(y)
    n = _check_rows(arr)
    k = _check_int(k, "k", 2, n)
    rng = np.random.default_rng(seed)
    folds = _fold_vector(arr, k, rng, stratify)
    train, test = _split_folds(folds, k)
    return Resamples(tuple(train), tuple(test), tuple(_pad("Fold", k)), "cv", n)


def repeated_kfold(y: Any, k: int = 10, repeats: int = 1, seed: int | None = None) -> Resamples:
    """caret's createMultiFolds: ``repeats`` independent stratified k-fold draws from one rng.

    Names follow caret: "Fold01.Rep1", "Fold02.Rep1", ..., "Fold10.Rep1", "Fold01.Rep2", ...
    (fold and repeat numbers each padded to the width of k and of repeats).
    """
    arr = _as_vector(y)
    n = _check_rows(arr)
    k = _check_int(k, "k", 2, n)
    repeats = _check_int(repeats, "repeats", 1)
    rng = np.random.default_rng(seed)
    fold_names = _pad("Fold", k)
    rep_names = _pad("Rep", repeats)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    names: list[str] = []
    for r in range(repeats):
        tr, te = _split_folds(_fold_vector(arr, k, rng, True), k)
        train += tr
        test += te
        names += [f"{f}.{rep_names[r]}" for f in fold_names]
    return Resamples(tuple(train), tuple(test), tuple(names), "repeatedcv", n)


# ----------------------------------------------------------------------------- bootstrap, LGOCV


def bootstrap(y: Any, number: int = 25, seed: int | None = None) -> Resamples:
    """caret's createResample: n rows drawn with replacement (sorted, duplicates kept).

    Not stratified. The held-out rows are the out-of-bag rows (never drawn). A draw whose
    out-of-bag set is empty (probability n!/n^n, only plausible for tiny n) is redrawn so that
    every resample can be scored. Names are "Resample01".. (padded to the width of number).
    """
    arr = _as_vector(y)
    n = _check_rows(arr)
    number = _check_int(number, "number", 1)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for _ in range(number):
        while True:
            drawn = np.sort(rng.integers(0, n, size=n)).astype(np.int64)
            oob = _complement(drawn, n)
            if oob.size:
                break
        train.append(drawn)
        test.append(oob)
    return Resamples(tuple(train), tuple(test), tuple(_pad("Resample", number)), "boot", n)


def lgocv(y: Any, number: int = 25, p: float = 0.75, seed: int | None = None) -> Resamples:
    """Leave-group-out CV: ``number`` stratified partitions (fraction p); the rest is held out.

    Same draws as ``partition(y, p, times=number, seed=seed)``. Names "Resample01"...
    """
    arr = _as_vector(y)
    n = _check_rows(arr)
    number = _check_int(number, "number", 1)
    p = _check_fraction(p, "p")
    strata = _partition_strata(arr, min(5, n))
    rng = np.random.default_rng(seed)
    train, test = [], []
    for _ in range(number):
        tr = _partition_once(strata, p, rng)
        te = _complement(tr, n)
        if te.size == 0:
            raise ValueError(
                f"p={p} puts every row of every class in training (ceil(p * n_class) == n_class)"
                f"; use a smaller p"
            )
        train.append(tr)
        test.append(te)
    return Resamples(tuple(train), tuple(test), tuple(_pad("Resample", number)), "lgocv", n)


def loocv(n: int) -> Resamples:
    """Leave-one-out CV over n rows: fold i holds out row i. Names "Fold001".. (width of n)."""
    n = _check_int(n, "n", 2)
    all_rows = np.arange(n, dtype=np.int64)
    train = tuple(np.delete(all_rows, i) for i in range(n))
    test = tuple(all_rows[i : i + 1] for i in range(n))
    return Resamples(train, test, tuple(_pad("Fold", n)), "loocv", n)


# ----------------------------------------------------------------------------- groups, time


def group_kfold(groups: Any, k: int = 10, seed: int | None = None) -> Resamples:
    """k folds that never split a group, always exactly k non-empty folds, sizes balanced.

    Groups are shuffled with the rng, stable-sorted by size (largest first), and each is put in
    the fold with the fewest rows so far (lowest fold number on ties). Names "Fold01"...
    """
    arr = _as_vector(groups, "groups")
    n = arr.size
    k = _check_int(k, "k", 2)
    codes, uniques = _codes(arr)
    n_groups = uniques.size
    if n_groups < k:
        raise ValueError(
            f"groups has {n_groups} distinct group(s), fewer than k={k} folds; use k <= {n_groups}"
        )
    sizes = np.bincount(codes, minlength=n_groups)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_groups)
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    fold_sizes = np.zeros(k, dtype=np.int64)
    for g in order:
        f = int(np.argmin(fold_sizes))
        fold_of_group[g] = f + 1
        fold_sizes[f] += sizes[g]
    train, test = _split_folds(fold_of_group[codes], k)
    return Resamples(tuple(train), tuple(test), tuple(_pad("Fold", k)), "group_cv", n)


def time_slices(
    n: int,
    initial_window: int,
    horizon: int = 1,
    fixed_window: bool = True,
    skip: int = 0,
) -> Resamples:
    """caret's createTimeSlices: rolling-origin training windows, each followed by a test block.

    Slice ends run over rows initial_window..n-horizon (1-based) stepping by ``skip + 1``
    (caret's thinning). A fixed window trains on the last ``initial_window`` rows up to the end,
    a growing window on all rows from 0; the test is the next ``horizon`` rows. Names are
    "Training" + the 1-based last training row, zero-padded to the width of the largest one
    (caret's ``format(stops)``), e.g. "Training05".."Training10".
    """
    n = _check_int(n, "n", 2)
    initial_window = _check_int(initial_window, "initial_window", 1)
    horizon = _check_int(horizon, "horizon", 1)
    skip = _check_int(skip, "skip", 0)
    if initial_window + horizon > n:
        raise ValueError(
            f"initial_window + horizon must be <= n, got {initial_window} + {horizon} > {n}"
        )
    stops = np.arange(initial_window, n - horizon + 1, skip + 1)
    width = len(str(int(stops[-1])))
    train, test, names = [], [], []
    for stop in stops:
        start = stop - initial_window if fixed_window else 0
        train.append(np.arange(start, stop, dtype=np.int64))
        test.append(np.arange(stop, stop + horizon, dtype=np.int64))
        names.append(f"Training{int(stop):0{width}d}")
    return Resamples(tuple(train), tuple(test), tuple(names), "timeslice", n)


# ----------------------------------------------------------------------------- user-given


def _user_rows(rows: Any, n: int, what: str) -> np.ndarray:
    """Validate one user-given list of row positions: integers within 0..n-1."""
    arr = np.asarray(rows)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D list of row positions, got shape {arr.shape}")
    if arr.size and (arr.dtype.kind not in "iu"):
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{what} must hold integer row positions, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() > n - 1):
        bad = arr[(arr < 0) | (arr > n - 1)][0]
        raise ValueError(f"{what} rows must be within 0..{n - 1} (n={n}), got {int(bad)}")
    return arr


def from_indices(
    index: Sequence[Any] | Mapping[str, Any],
    n: int,
    index_out: Sequence[Any] | Mapping[str, Any] | None = None,
    names: Sequence[str] | None = None,
) -> Resamples:
    """User-given training rows (caret's ``index``/``indexOut``) as validated Resamples.

    ``index`` is a list of row-position arrays (or a mapping name -> rows, giving the names);
    ``index_out`` defaults to the complement of each. Rows must lie in 0..n-1 and every
    training and held-out set must be non-empty. Default names are "Resample01"...
    """
    n = _check_int(n, "n", 1)
    if isinstance(index, Mapping):
        if names is None:
            names = [str(key) for key in index]
        index = list(index.values())
    if isinstance(index_out, Mapping):
        index_out = list(index_out.values())
    if isinstance(index, str | bytes) or not isinstance(index, Sequence | np.ndarray):
        raise ValueError("index must be a list of training row arrays")
    index = list(index)
    if not index:
        raise ValueError("index must hold at least one training row array")
    count = len(index)
    names = _pad("Resample", count) if names is None else [str(s) for s in names]
    if len(names) != count:
        raise ValueError(f"names must have {count} entries (one per index), got {len(names)}")
    if len(set(names)) != count:
        raise ValueError("names must be unique")
    if index_out is not None:
        index_out = list(index_out)
        if len(index_out) != count:
            raise ValueError(
                f"index_out must have {count} entries (one per index), got {len(index_out)}"
            )
    train, test = [], []
    for i, rows in enumerate(index):
        tr = _user_rows(rows, n, f"index[{i}]")
        if tr.size == 0:
            raise ValueError(f"index[{i}] ({names[i]}) has no training rows")
        if index_out is None:
            te = _complement(tr, n)
        else:
            te = _user_rows(index_out[i], n, f"index_out[{i}]")
        if te.size == 0:
            raise ValueError(f"index_out[{i}] ({names[i]}) has no held-out rows")
        train.append(tr)
        test.append(te)
    return Resamples(tuple(train), tuple(test), tuple(names), "user", n)
