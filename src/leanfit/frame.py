"""Input normalisation: a DataFrame + target, a formula, or X/y become one numeric Dataset.

pandas and polars frames are accepted (polars is converted once at the door); factor columns are
dummy-encoded (treatment coding, first level dropped, like R's model.matrix) when a formula or a
DataFrame + target column is given. New data is encoded with the same recipe at predict time.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .formula import FormulaSpec, fit_formula, formula_variables, is_plain
from .models.base import CLASSIFICATION, REGRESSION


def to_pandas(obj: Any) -> Any:
    """Convert a polars DataFrame/Series to pandas; leave everything else alone.

    A polars Categorical has no declared level order (pandas would get first-seen order), so it
    arrives as strings and gets sorted levels like R's factor(); a polars Enum keeps its order.
    """
    if not type(obj).__module__.startswith("polars"):
        return obj
    import polars as pl

    if isinstance(obj, pl.DataFrame):
        obj = obj.with_columns(pl.col(pl.Categorical).cast(pl.String))
    elif isinstance(obj, pl.Series) and obj.dtype == pl.Categorical:
        obj = obj.cast(pl.String)
    return obj.to_pandas()


@dataclass(frozen=True)
class Encoder:
    """How raw predictor columns become the numeric matrix (kept to encode new data alike)."""

    columns: tuple[str, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]  # (column, levels) for factor columns
    feature_names: tuple[str, ...]
    # An R formula beyond names, '.', '+' and '-' (interactions, poly, log, I, C, - 1): its
    # fitted spec builds the matrix; ``categorical`` then lists the factor columns it reads.
    formula: FormulaSpec | None = None
    # Factor columns whose levels unseen in training the fit's pre-processing maps (the
    # ``other`` level, or target_encode's training mean): transform(mark_unseen=True) passes
    # them on with the row's dummy block all +inf, the mark PreProcess reads as "unseen level".
    # Anything else reading the model matrix (a distilled student, a bundle) still refuses them.
    unseen: tuple[str, ...] = ()

    def transform(self, data: Any, *, mark_unseen: bool = False) -> np.ndarray:
        """Encode new data: a DataFrame with the training predictor columns, a mapping of column
        to one value (one row) or to values, or an array.

        ``mark_unseen``: for a fit whose pre-processing maps unseen levels (the columns in
        ``unseen``), mark them (+inf) instead of refusing them; only such a fit may ask."""
        data = to_pandas(data)
        if isinstance(data, Mapping):  # {column: value} is one row, {column: values} a table
            one_row = all(np.ndim(v) == 0 for v in data.values())
            data = pd.DataFrame([data] if one_row else data)
        if not isinstance(data, pd.DataFrame):
            arr = np.asarray(data, dtype=float)
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.shape[1] != len(self.feature_names):
                raise ValueError(
                    f"new data has {arr.shape[1]} columns, the model was trained on "
                    f"{len(self.feature_names)}"
                )
            return arr
        check_unique_columns(data.columns, "new data")
        missing = [c for c in self.columns if c not in data.columns]
        if missing:
            raise ValueError(f"new data lacks the predictor column(s) {missing}")
        cats = dict(self.categorical)
        empty = {}  # numeric columns all missing in the new rows (None read from JSON or CSV)
        for col in self.columns:
            s = data[col]
            if col in cats or s.dtype == bool or pd.api.types.is_numeric_dtype(s.dtype):
                continue
            if s.isna().all():
                empty[col] = s.astype(float)
            else:
                raise ValueError(
                    f"new data's column {col!r} is {s.dtype}, but it was numeric in the training "
                    f"data; convert it as the training data was (e.g. df[{col!r}] = "
                    f"pd.to_numeric(df[{col!r}]))"
                )
        data = data.assign(**empty) if empty else data
        if self.formula is not None:
            _check_levels(data, self.categorical)
            return self.formula.matrix(data[list(self.columns)])
        parts = []
        for col in self.columns:
            s = data[col]
            if col in cats:
                parts.append(
                    _dummies(s, col, cats[col], strict=not (mark_unseen and col in self.unseen))
                )
            else:
                parts.append(_numeric(s, col)[:, None])
        return np.hstack(parts) if parts else np.empty((len(data), 0))


class ImputedWarning(UserWarning):
    """New rows given to predict held missing values, filled by the fit's imputation step."""


# preProcess steps that fill missing values (canonical names, as PreProcess.steps holds them).
_IMPUTE_STEPS = ("knn_impute", "bag_impute", "median_impute")


def feature_sources(encoder: Encoder) -> list[str]:
    """The user column each model-matrix column comes from (dummy columns -> their factor);
    a formula's terms (``a:b``, ``poly(x, 2)1``) are their own sources."""
    if encoder.formula is not None:
        return list(encoder.feature_names)
    cats = dict(encoder.categorical)
    out: list[str] = []
    for col in encoder.columns:
        out.extend([col] * (len(cats[col]) - 1 if col in cats else 1))
    return out if len(out) == len(encoder.feature_names) else list(encoder.feature_names)


def check_missing_rows(
    encoder: Encoder,
    X: np.ndarray,
    *,
    takes_missing: bool,
    preprocess: Any = None,
    who: str = "the model",
    advice: str = "",
) -> None:
    """Judge missing values in encoded new rows before predicting: a model that takes them gets
    them; a fit whose pre-processing imputes fills them (with an ImputedWarning saying where);
    anything else is refused, naming the columns, rather than predicting from NaN."""
    if takes_missing or X.size == 0:
        return
    miss = np.isnan(X)
    kept = getattr(preprocess, "kept_", None)
    if kept is not None and len(kept) and max(kept) < X.shape[1]:
        used = np.zeros(X.shape[1], dtype=bool)
        used[np.asarray(kept, dtype=int)] = True
        miss &= used[None, :]  # columns the pre-processing drops (zv, nzv, corr) do not count
    holes = miss.any(axis=0)
    if not holes.any():
        return
    sources = feature_sources(encoder)
    cols = list(dict.fromkeys(sources[j] for j in np.flatnonzero(holes)))
    n_rows, n = int(miss.any(axis=1).sum()), X.shape[0]
    shown = cols[:10] + (["..."] if len(cols) > 10 else [])
    imputer = [s for s in getattr(preprocess, "steps", ()) if s in _IMPUTE_STEPS]
    if imputer:
        import warnings

        warnings.warn(
            ImputedWarning(
                f"{n_rows} of {n} new row(s) have missing values in column(s) {shown}; "
                f"they were filled by the fit's {imputer[0]} step (learned on the training rows)"
            ),
            stacklevel=4,
        )
        return
    advice = advice or (
        "impute those values before predicting, drop those rows, or train with "
        "preprocess=['median_impute'] (or knn_impute, bag_impute) so the fit imputes them"
    )
    raise ValueError(
        f"{n_rows} of {n} new row(s) have missing values in column(s) {shown} and {who} cannot "
        f"take them; {advice}"
    )


def _numeric(s: pd.Series, name: str) -> np.ndarray:
    if s.dtype == bool:
        return s.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(s.dtype):
        raise ValueError(
            f"column {name!r} is not numeric (dtype {s.dtype}); use the formula interface "
            f"('y ~ .') or a DataFrame with a target column, which dummy-encode factor columns"
        )
    return s.to_numpy(dtype=float, na_value=np.nan)


def _check_levels(data: pd.DataFrame, categorical: Any) -> None:
    """Refuse factor levels that training did not see (a formula's factors, like _dummies)."""
    for col, levels in categorical:
        unknown = set(data[col].dropna().astype(str).unique()) - set(levels)
        if unknown:
            raise ValueError(
                f"column {col!r} has level(s) {sorted(unknown)} not seen in training "
                f"(known: {list(levels)})"
            )


def _dummies(s: pd.Series, name: str, levels: tuple[str, ...], strict: bool) -> np.ndarray:
    values = s.astype("string")
    unknown = set(values.dropna().unique()) - set(levels)
    if strict and unknown:
        raise ValueError(
            f"column {name!r} has level(s) {sorted(unknown)} not seen in training "
            f"(known: {list(levels)})"
        )
    arr = values.to_numpy(dtype=object, na_value=None)
    out = np.zeros((len(arr), len(levels) - 1))
    for j, lev in enumerate(levels[1:]):
        out[:, j] = arr == lev
    out[pd.isna(values).to_numpy()] = np.nan
    if unknown:  # lenient: marked for the pre-processing that maps unseen levels
        out[values.isin(list(unknown)).fillna(False).to_numpy(dtype=bool)] = np.inf
    return out


# A text column is taken for a numeric one with stray entries when at least this share of its
# non-missing values parse as numbers and those numbers take more than _FACTOR_LEVELS values
# (fewer could be a factor's coded levels, e.g. "1", "2", "3", "other").
_NUMERIC_SHARE = 0.9
_FACTOR_LEVELS = 10


def check_text_column(s: pd.Series, name: str, what: str) -> None:
    """Refuse a text column that would be misread (see ``text_column_problem``)."""
    problem = text_column_problem(s, name, what)
    if problem:
        raise ValueError(problem)


def text_column_problem(s: pd.Series, name: str, what: str) -> str | None:
    """Why a text column would be misread, or None: a numeric column with a few stray strings
    (it would become a factor with a level per number), or values such as ``'1'`` and ``1``
    that read the same as text (they would be merged into one level without a word)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        values = pd.Series(s.cat.categories, dtype=object)  # declared levels: only the merge
    elif _is_factor(s):  # object or string dtype (a CSV's text column)
        values = s.dropna().astype(object)
    else:
        return None
    pairs = set(zip(map(type, values), map(str, values), strict=True))
    texts: dict[str, list[type]] = {}
    for kind, text in pairs:
        texts.setdefault(text, []).append(kind)
    clash = sorted(
        (t, sorted(k.__name__ for k in kinds)) for t, kinds in texts.items() if len(kinds) > 1
    )
    if clash:
        shown = "; ".join(f"{t!r} as {' and '.join(kinds)}" for t, kinds in clash[:5])
        return (
            f"{what} {name!r} holds values that read the same as text but differ in type "
            f"({shown}); they would be merged into one level silently; make the column one "
            f"type first, e.g. df[{name!r}].astype(str)"
        )
    if isinstance(s.dtype, pd.CategoricalDtype) or values.empty:
        return None
    numbers = pd.to_numeric(values, errors="coerce")
    stray = values[numbers.isna()]
    if (
        len(stray)
        and len(stray) <= (1 - _NUMERIC_SHARE) * len(values)
        and numbers.nunique() > _FACTOR_LEVELS
    ):
        counts = stray.astype(str).value_counts()
        shown = ", ".join(f"{v!r} ({c})" for v, c in counts.head(5).items())
        more = f" and {len(counts) - 5} other(s)" if len(counts) > 5 else ""
        return (
            f"{what} {name!r} is numeric but for {len(stray)} of its {len(values)} values: "
            f"{shown}{more}; it would be read as a factor with a level per number. Clean those "
            f"values, make them missing with pd.to_numeric(df[{name!r}], errors='coerce'), or "
            f"declare the column a factor with df[{name!r}].astype('category')"
        )
    return None


# A text or categorical predictor with more than _FACTOR_LEVELS levels, at least this share of
# its non-missing values distinct, is an id or free text: each level names about one row.
_ID_SHARE = 0.9


def _id_problem(s: pd.Series, name: str, levels: tuple[str, ...]) -> str | None:
    """Why a factor column is an id or free text rather than a factor, or None."""
    n = int(s.notna().sum())
    if len(levels) <= _FACTOR_LEVELS or len(levels) < _ID_SHARE * n:
        return None
    drop = f"drop it (df.drop(columns=[{name!r}]), or '- {_term(name)}' in the formula)"
    seen = f"{len(levels)} distinct values in {n} non-missing rows"
    if pd.to_numeric(pd.Series(levels), errors="coerce").notna().all():
        return (
            f"predictor column {name!r} holds numbers stored as text ({seen}): as a factor it "
            f"would get a level per number; convert it with "
            f"df[{name!r}] = pd.to_numeric(df[{name!r}]), or {drop}"
        )
    return (
        f"predictor column {name!r} is an id or free text ({seen}): as a factor it would become "
        f"{len(levels) - 1} dummy columns that each name about one row; {drop}"
    )


# A text value that is an ISO 8601 date or time stamp, as CSV files write them.
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


def _dtype_problem(s: pd.Series, name: str, what: str, text_dates: bool = True) -> str | None:
    """Why a column of dates, durations or complex numbers cannot be used as it is, or None.

    As a factor each date would be a level (and a date after the training rows an unknown
    one); a complex number would lose its imaginary part. How they should enter a model is the
    user's call, so the message shows the usual conversions. ``text_dates``: text that is all
    ISO dates (a CSV's date column) counts as dates too (not for a target: dates can be classes)."""
    ref = f"df[{name!r}]"
    kind = pd.api.types.infer_dtype(s, skipna=True) if s.dtype == object else None
    text = pd.api.types.is_string_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype)
    if text_dates and text:
        texts = pd.Series(s.dropna().unique())
        if (
            len(texts)
            and texts.map(lambda v: isinstance(v, str) and bool(_ISO_DATE.match(v))).all()
        ):
            kind = "date text"  # a CSV's dates: every value an ISO 8601 date or time stamp
    drop = f"or drop it (df.drop(columns=[{name!r}]), or '- {_term(name)}' in the formula)"
    if isinstance(s.dtype, pd.PeriodDtype) or kind == "period":
        return (
            f"{what} {name!r} holds periods ({s.dtype}): make it a number, e.g. its year and "
            f"month ({ref}.dt.year, {ref}.dt.month) or its start ({ref}.dt.to_timestamp(), "
            f"then days since the first), {drop}"
        )
    if pd.api.types.is_datetime64_any_dtype(s.dtype) or kind in (
        "datetime",
        "datetime64",
        "date",
        "date text",
    ):
        held = "dates written as text" if kind == "date text" else "dates"
        return (
            f"{what} {name!r} holds {held} ({s.dtype}): as a factor every date would be a level "
            f"and a later date unknown; make it numbers, e.g. days since the first "
            f"(pd.to_datetime({ref}) - pd.to_datetime({ref}).min()).dt.days, or parts such "
            f"as pd.to_datetime({ref}).dt.month and .dt.dayofweek, {drop}"
        )
    if pd.api.types.is_timedelta64_dtype(s.dtype) or kind in ("timedelta", "timedelta64"):
        return (
            f"{what} {name!r} holds durations ({s.dtype}): make it a number, e.g. "
            f"pd.to_timedelta({ref}).dt.total_seconds(), {drop}"
        )
    if pd.api.types.is_complex_dtype(s.dtype) or kind == "complex":
        return (
            f"{what} {name!r} holds complex numbers: no model takes them, and the imaginary "
            f"part would be dropped; use two columns (np.real({ref}), np.imag({ref})) or the "
            f"modulus (np.abs({ref})), {drop}"
        )
    return None


def _term(name: str) -> str:
    """``name`` as a formula term (backquoted unless it is a plain identifier)."""
    return name if name.isidentifier() else f"`{name}`"


def check_unique_columns(columns: Any, what: str) -> None:
    """Refuse duplicate column names (compared as text): pandas would hand back a table for
    one name, and which of the columns is meant cannot be known."""
    names = pd.Index([str(c) for c in columns])
    dup = list(dict.fromkeys(names[names.duplicated()]))
    if dup:
        counts = ", ".join(f"{d!r} ({int((names == d).sum())} times)" for d in dup[:10])
        more = f" and {len(dup) - 10} other(s)" if len(dup) > 10 else ""
        raise ValueError(
            f"{what} has duplicate column names: {counts}{more}; rename them so each name is "
            "one column (e.g. df.columns = [...]) or drop the copies"
        )


def _is_factor(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s.dtype) or s.dtype == bool)


def _levels(s: pd.Series) -> tuple[str, ...]:
    if isinstance(s.dtype, pd.CategoricalDtype):
        used = set(s.dropna().astype(str))
        return tuple(str(c) for c in s.cat.categories if str(c) in used)
    return tuple(sorted(s.dropna().astype(str).unique()))


@dataclass(frozen=True)
class Dataset:
    """A training table made numeric: X, encoded target, class levels, weights and the recipe."""

    X: np.ndarray
    y: np.ndarray
    mode: str
    levels: tuple[str, ...]
    encoder: Encoder
    target: str
    weights: np.ndarray | None = None
    # The predictor columns as given, kept for an R formula beyond names, '.', '+' and '-': a
    # formula with stateful terms (poly, center, scale) is refitted on each resample's training
    # rows from these, and a bundle keeps them as its raw columns (they cannot be decoded).
    frame: pd.DataFrame | None = None

    @property
    def y_labels(self) -> np.ndarray:
        """The target as the user gave it (class names for classification)."""
        if self.mode == CLASSIFICATION:
            return np.asarray(self.levels, dtype=object)[self.y]
        return self.y


_FORMULA = re.compile(r"^\s*([^~]+?)\s*~\s*(.+?)\s*$")


def split_formula(formula: str, columns: list[str]) -> tuple[str, str]:
    """``"y ~ rhs"`` into (target, right-hand side); the target must be a column."""
    m = _FORMULA.match(formula)
    if not m:
        raise ValueError(f"formula {formula!r} must look like 'Class ~ .' or 'y ~ a + b'")
    target, rhs = m.group(1).strip().strip("`"), m.group(2)
    if target not in columns:
        raise ValueError(
            f"formula target {target!r} is not a column of data (columns: {columns[:30]})"
        )
    return target, rhs


def parse_formula(formula: str, columns: list[str]) -> tuple[str, list[str]]:
    """Parse ``"y ~ ."``, ``"y ~ a + b"`` or ``"y ~ . - a"`` into (target, predictor columns);
    any other R formula (``a*b``, ``poly(x, 2)``, ``- 1``) into (target, the columns it reads)."""
    target, rhs = split_formula(formula, columns)
    if not is_plain(rhs):
        return target, formula_variables(rhs, columns, target)
    terms = re.findall(r"([+-]?)\s*([^+-]+)", rhs)
    keep: list[str] = []
    drop: set[str] = set()
    for sign, term in terms:
        term = term.strip().strip("`")
        if term in ("1", "0"):
            continue
        if any(ch in term for ch in ":*^()|/"):
            raise ValueError(
                f"formula term {term!r} is not supported: use '.', column names, '+' and '-'"
            )
        names = [c for c in columns if c != target] if term == "." else [term]
        for n in names:
            if n not in columns:
                valid = [c for c in columns if c != target]
                raise ValueError(
                    f"formula names column {n!r}, which data does not have (columns: "
                    f"{valid[:30]}{' ...' if len(valid) > 30 else ''})"
                )
            if sign == "-":
                drop.add(n)
            elif n not in keep:
                keep.append(n)
    preds = [c for c in keep if c not in drop and c != target]
    if not preds:
        raise ValueError(f"formula {formula!r} leaves no predictor columns")
    return target, preds


def make_dataset(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    weights: Any = None,
    task: str | None = None,
) -> Dataset:
    """Normalise train()'s inputs: (formula, data), (DataFrame, target name) or (X, y).

    ``task``: "classification", "regression" or None (a numeric target is regressed, any other
    classified; see ``target_for_task``)."""
    task = check_task(task)
    x, y, data = to_pandas(x), to_pandas(y), to_pandas(data)
    encode_factors = True
    if isinstance(x, str):
        if data is None:
            raise ValueError("a formula needs data=: train('Class ~ .', data=df, ...)")
        if not isinstance(data, pd.DataFrame):
            raise TypeError("data= must be a pandas or polars DataFrame")
        check_unique_columns(data.columns, "data")
        columns = list(map(str, data.columns))
        if not is_plain(split_formula(x, columns)[1]):
            return _formula_dataset(x, data, weights, task)
        target, preds = parse_formula(x, columns)
        frame, ys = data[preds], data[target]
    elif isinstance(x, pd.DataFrame) and isinstance(y, str):
        check_unique_columns(x.columns, "the DataFrame")
        if y not in x.columns:
            raise ValueError(f"target column {y!r} is not a column of the DataFrame")
        target, frame, ys = y, x.drop(columns=[y]), x[y]
    else:
        if y is None:
            raise ValueError(
                "train() needs a target: a formula with data=, a DataFrame and a target column "
                "name, or X and y"
            )
        encode_factors = False
        frame = x if isinstance(x, pd.DataFrame) else _array_frame(x)
        check_unique_columns(frame.columns, "X")
        ys = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
        target = str(ys.name) if ys.name is not None else "y"
        if len(ys) != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {len(ys)}")
    if len(frame) == 0:
        raise ValueError("the data has no rows: nothing to train on")
    frame.columns = [str(c) for c in frame.columns]
    encoder = _fit_encoder(frame, encode_factors)
    X = encoder.transform(frame)
    _check_finite(X, encoder.feature_names)
    yv, levels, mode = _encode_target(ys, target, task)
    w = _check_weights(weights, len(yv))
    return Dataset(X=X, y=yv, mode=mode, levels=levels, encoder=encoder, target=target, weights=w)


def _formula_dataset(formula: str, data: pd.DataFrame, weights: Any, task: str | None) -> Dataset:
    """make_dataset for a formula beyond names, '.', '+' and '-': formulaic builds the matrix
    (R's model.matrix coding); its factor columns pass the same checks as plain ones."""
    data = data.copy()
    data.columns = [str(c) for c in data.columns]
    target, rhs = split_formula(formula, list(data.columns))
    formula_variables(rhs, list(data.columns), target)  # unknown names, the target: now
    if len(data) == 0:
        raise ValueError("the data has no rows: nothing to train on")
    yv, levels, mode = _encode_target(data[target], target, task)
    spec = fit_formula(rhs, data, target)
    frame = data[list(spec.columns)]
    checked = _fit_encoder(frame, True)  # empty, id or one-level factors: named as for plain
    encoder = Encoder(spec.columns, checked.categorical, spec.feature_names, formula=spec)
    X = spec.matrix(frame)
    _check_finite(X, encoder.feature_names)
    w = _check_weights(weights, len(yv))
    raw = frame.reset_index(drop=True)
    return Dataset(
        X=X, y=yv, mode=mode, levels=levels, encoder=encoder, target=target, weights=w, frame=raw
    )


def _array_frame(x: Any) -> pd.DataFrame:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {arr.shape}")
    return pd.DataFrame(arr, columns=[f"X{j + 1}" for j in range(arr.shape[1])])


TASKS = (CLASSIFICATION, REGRESSION)


def check_task(task: Any) -> str | None:
    """``task`` if it is "classification", "regression" or None; else a clear error."""
    if task is not None and task not in TASKS:
        raise ValueError(
            f"task={task!r} is not one of 'classification', 'regression' or None (None: a "
            "numeric target is regressed, any other is classified)"
        )
    return task


def target_for_task(ys: pd.Series, name: str, task: str | None) -> pd.Series:
    """The target as ``task`` reads it: a numeric one asked to be classified becomes a
    categorical with string levels in numeric order (``1.0`` reads ``'1'``); a non-numeric one
    asked to be regressed is refused. Without a task the target is returned as it is."""
    numeric = pd.api.types.is_numeric_dtype(ys.dtype) and ys.dtype != bool
    if task == REGRESSION and not pd.api.types.is_numeric_dtype(ys.dtype):
        shown = [str(v) for v in _levels(ys)[:5]]
        raise ValueError(
            f"task='regression' needs a numeric target, and target {name!r} is not (dtype "
            f"{ys.dtype}, values such as {shown}); drop task= to classify it, or make it "
            f"numeric first (df[{name!r}].astype(float))"
        )
    if task != CLASSIFICATION or not numeric:
        return ys
    values = ys.to_numpy(dtype=float, na_value=np.nan)
    finite = values[np.isfinite(values)]
    whole = bool(np.all(finite == np.round(finite)))
    order = np.unique(values[~np.isnan(values)])
    text = {v: (str(int(v)) if whole and np.isfinite(v) else str(v)) for v in order}
    labels = [None if np.isnan(v) else text[v] for v in values]
    return pd.Series(
        pd.Categorical(labels, categories=[text[v] for v in order]), index=ys.index, name=ys.name
    )


def _fit_encoder(frame: pd.DataFrame, encode_factors: bool) -> Encoder:
    """The encoding recipe; every predictor column that cannot be used as it is is named in one
    error (empty text, an id or free text, numeric with stray strings, one level, text for X).
    An entirely missing numeric column is train()'s to judge (a model may take it, zv drops it)."""
    cats: list[tuple[str, tuple[str, ...]]] = []
    names: list[str] = []
    problems: list[str] = []
    for col in frame.columns:
        s = frame[col]
        kind = _dtype_problem(s, col, "predictor column")
        if kind:
            problems.append(kind)
            continue
        if _is_factor(s) and len(s) and s.isna().all():  # all None: no level, no number
            problems.append(
                f"predictor column {col!r} is empty (all {len(s)} values missing): drop it "
                f"(df.drop(columns=[{col!r}]), or '- {_term(col)}' in the formula)"
            )
            continue
        if not _is_factor(s):
            names.append(col)
            continue
        problem = text_column_problem(s, col, "predictor column")
        if not encode_factors:
            try:
                _numeric(s, col)
            except ValueError as e:  # X is numeric: the clear message, with the others
                problems.append(problem or str(e))
            continue
        levels = _levels(s)
        problem = problem or _id_problem(s, col, levels)
        if problem is None and len(levels) < 2:
            problem = (
                f"factor column {col!r} has fewer than 2 levels: {list(levels)}; a constant "
                f"column tells the rows apart by nothing: drop it"
            )
        if problem:
            problems.append(problem)
            continue
        cats.append((col, levels))
        names.extend(f"{col}{lev}" for lev in levels[1:])
    if len(problems) == 1:
        raise ValueError(problems[0])
    if problems:
        raise ValueError(
            f"{len(problems)} predictor columns cannot be used as they are:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return Encoder(tuple(frame.columns), tuple(cats), tuple(names))


# A numeric target with at most this many distinct values, all whole numbers, is regressed but
# warned about: it may be class codes (0/1, 1..5).
_CODED_CLASSES = 10


def _encode_target(
    ys: pd.Series, name: str, task: str | None
) -> tuple[np.ndarray, tuple[str, ...], str]:
    n_missing = int(ys.isna().sum())
    if n_missing:
        rows = np.flatnonzero(ys.isna().to_numpy())[:5].tolist()
        raise ValueError(
            f"target {name!r} has {n_missing} missing value(s) (first rows {rows}); "
            "drop or impute those rows first"
        )
    kind = _dtype_problem(ys, name, "target", text_dates=False)
    if kind:
        raise ValueError(kind)
    check_text_column(ys, name, "target")
    if ys.nunique() < 2:
        raise ValueError(f"target {name!r} is constant ({ys.iloc[0]!r}): nothing to learn")
    ys = target_for_task(ys, name, task)
    if task is None:
        numeric = pd.api.types.is_numeric_dtype(ys.dtype) and ys.dtype != bool
        task = REGRESSION if numeric else CLASSIFICATION
        if numeric:
            _warn_coded_classes(ys, name)
    if task == REGRESSION:
        yv = ys.to_numpy(dtype=float)
        n_inf = int(np.isinf(yv).sum())
        if n_inf:
            rows = np.flatnonzero(np.isinf(yv))[:5].tolist()
            raise ValueError(
                f"target {name!r} has {n_inf} infinite value(s) (first rows {rows}); "
                "drop those rows or replace the values first"
            )
        return yv, (), REGRESSION
    levels = _levels(ys)
    codes = pd.Categorical(ys.astype(str), categories=list(levels)).codes.astype(np.int64)
    return codes, levels, CLASSIFICATION


def _warn_coded_classes(ys: pd.Series, name: str) -> None:
    """Warn when a numeric target that is regressed by default looks like class codes."""
    values = np.unique(ys.to_numpy(dtype=float))
    finite = values[np.isfinite(values)]
    if len(values) > _CODED_CLASSES or not np.all(finite == np.round(finite)):
        return
    shown = [int(v) if np.isfinite(v) else float(v) for v in values]
    warnings.warn(
        f"target {name!r} is numeric with only {len(values)} distinct whole values {shown}, so "
        f"it is fitted as regression; if these are class codes pass task='classification' "
        f"(`task: classification` in a config) or make it a category "
        f"(df[{name!r}].astype('category')); task='regression' silences this warning",
        UserWarning,
        stacklevel=2,
    )


def _check_finite(X: np.ndarray, names: tuple[str, ...]) -> None:
    """Refuse infinite predictor values (missing ones are train()'s to judge, per model)."""
    counts = np.isinf(X).sum(axis=0)
    if counts.any():
        bad = [(n, int(c)) for n, c in zip(names, counts, strict=True) if c]
        shown = ", ".join(f"{n!r} ({c})" for n, c in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise ValueError(
            f"predictor column(s) {shown} hold infinite values; no model can use them: make "
            "them missing (df.replace([np.inf, -np.inf], np.nan)) and impute, or drop those rows"
        )


def _check_weights(weights: Any, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(to_pandas(weights), dtype=float)
    if w.shape != (n,):
        raise ValueError(f"weights must have one value per row ({n}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    if n and not np.any(w > 0):
        raise ValueError(
            f"weights are all zero ({n} rows): no row would count in any fit; give at least "
            "one row a positive weight"
        )
    return w
