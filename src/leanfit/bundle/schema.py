"""The input schema of a bundle: the raw predictor columns a model was trained on, and the
row-by-row check of new data against it (what passes is predicted, the rest is rejected with a
reason naming the field and what was expected)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NUMERIC", "FACTOR", "ColumnSpec", "Schema"]

NUMERIC, FACTOR = "numeric", "factor"
_SHOWN_LEVELS = 20  # levels listed in a reason before "..."


@dataclass(frozen=True)
class ColumnSpec:
    """One raw predictor: its kind ("numeric" | "factor"), factor levels, whether missing values
    are allowed (seen in training, or handled by the model / its imputation), training range."""

    name: str
    kind: str
    levels: list[str] | None = None
    nullable: bool = False
    low: float | None = None
    high: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ColumnSpec:
        kind = d.get("kind")
        if kind not in (NUMERIC, FACTOR):
            raise ValueError(f"column {d.get('name')!r}: kind {kind!r} is not numeric or factor")
        levels = d.get("levels")
        return cls(
            name=str(d["name"]),
            kind=str(kind),
            levels=None if levels is None else [str(v) for v in levels],
            nullable=bool(d.get("nullable", False)),
            low=None if d.get("low") is None else float(d["low"]),
            high=None if d.get("high") is None else float(d["high"]),
        )

    def _expected(self) -> str:
        if self.kind == NUMERIC:
            return "a number"
        lv = self.levels or []
        shown = lv[:_SHOWN_LEVELS] + (["..."] if len(lv) > _SHOWN_LEVELS else [])
        return f"one of {shown}"


@dataclass(frozen=True)
class Schema:
    """The raw predictor columns, in training order."""

    columns: list[ColumnSpec]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.columns]

    @classmethod
    def from_json(cls, items: list[dict[str, Any]]) -> Schema:
        return cls([ColumnSpec.from_json(d) for d in items])

    def validate(
        self, data: pd.DataFrame | list[dict[str, Any]] | dict[str, Any], extra: str = "reject"
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split rows into (clean, rejects).

        ``data``: a DataFrame, a list of JSON records (dicts) or one record. A row is rejected,
        with every reason joined by "; ", for a missing field, an extra field (unless
        ``extra="ignore"``), a wrong type (text that is not a number in a numeric field), an
        unseen factor level, or a missing value where the schema allows none. ``clean`` holds the
        schema's columns (numeric as float64, factors as str or NaN) of the rows that passed, on
        their original index; ``rejects`` holds the original fields of the others (as given) and
        a ``reason`` column, on their original index.
        """
        if extra not in ("reject", "ignore"):
            raise ValueError(f"extra must be 'reject' or 'ignore', got {extra!r}")
        frame, absent = _as_frame(data)
        n = len(frame)
        reasons: list[list[str]] = [[] for _ in range(n)]
        known = set(self.names)
        if extra == "reject":
            for col in frame.columns:
                if col in known:
                    continue
                present = ~absent.get(col, np.zeros(n, dtype=bool))
                why = (
                    f"extra field {col!r} (not a predictor of this model; expected fields: "
                    f"{_short(self.names)})"
                )
                for i in np.flatnonzero(present):
                    reasons[i].append(why)
        clean: dict[str, Any] = {}
        for spec in self.columns:
            if spec.name not in frame.columns:
                why = f"missing field {spec.name!r} (expected {spec._expected()})"
                for r in reasons:
                    r.append(why)
                clean[spec.name] = np.full(n, np.nan)
                continue
            missing_key = absent.get(spec.name)
            if missing_key is not None:
                why = f"missing field {spec.name!r} (expected {spec._expected()})"
                for i in np.flatnonzero(missing_key):
                    reasons[i].append(why)
            values, bad = _check_column(frame[spec.name], spec)
            for pos, why in bad:
                if missing_key is None or not missing_key[pos]:
                    reasons[pos].append(why)
            clean[spec.name] = values
        ok = np.array([not r for r in reasons], dtype=bool)
        out = pd.DataFrame(clean, index=frame.index)
        for spec in self.columns:
            if spec.kind == FACTOR:
                out[spec.name] = out[spec.name].astype(object)
        rejects = frame.loc[~ok].copy()
        rejects["reason"] = ["; ".join(r) for r, good in zip(reasons, ok, strict=True) if not good]
        return out.loc[ok], rejects


def _short(names: list[str], k: int = 10) -> str:
    return ", ".join(names[:k]) + (", ..." if len(names) > k else "")


def _as_frame(data: Any) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A DataFrame of the rows, and per column the rows whose record lacked that key (only for
    JSON records, where a missing key differs from an explicit null)."""
    if isinstance(data, dict):
        data = [data]
    if isinstance(data, pd.DataFrame):
        return data, {}
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise TypeError(
            f"validate() takes a DataFrame or a list of records (dicts), got {type(data).__name__}"
        )
    keys: list[str] = list(dict.fromkeys(k for r in data for k in r))
    frame = pd.DataFrame(
        {k: pd.Series([r.get(k) for r in data], dtype=object) for k in keys},
        index=pd.RangeIndex(len(data)),
    )
    absent = {k: np.array([k not in r for r in data], dtype=bool) for k in keys}
    return frame, absent


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def _check_column(s: pd.Series, spec: ColumnSpec) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """The column's clean values and (row position, reason) for each bad value."""
    bad: list[tuple[int, str]] = []
    name = spec.name
    na_why = (
        f"field {name!r} is missing a value, which this model does not allow (no missing values "
        f"in training, and the model cannot take them); expected {spec._expected()}"
    )
    if spec.kind == NUMERIC:
        if pd.api.types.is_bool_dtype(s.dtype):
            values = s.to_numpy(dtype=float)
            miss = np.zeros(len(s), dtype=bool)
        elif pd.api.types.is_numeric_dtype(s.dtype):
            values = s.to_numpy(dtype=float, na_value=np.nan)
            miss = np.isnan(values)
        else:
            raw = s.to_numpy(dtype=object)
            miss = np.array([_is_missing(v) or (isinstance(v, str) and not v.strip()) for v in raw])
            huge = np.array([_beyond_float(v) for v in raw], dtype=bool)
            num = pd.to_numeric(
                pd.Series(
                    [None if m or h else v for v, m, h in zip(raw, miss, huge, strict=True)],
                    dtype=object,
                ).map(lambda v: v if not isinstance(v, bool) else float(v)),
                errors="coerce",
            ).to_numpy(dtype=float, na_value=np.nan)
            for i in np.flatnonzero(huge):
                bad.append(
                    (
                        int(i),
                        f"field {name!r} expected a finite number, got an integer beyond the "
                        f"float range (magnitude about 10^{_digits(raw[i])})",
                    )
                )
            for i in np.flatnonzero(~miss & ~huge & np.isnan(num)):
                bad.append((int(i), f"field {name!r} expected a number, got {raw[i]!r}"))
            values = num
        for i in np.flatnonzero(np.isinf(values)):
            bad.append((int(i), f"field {name!r} expected a finite number, got {values[i]!r}"))
        if not spec.nullable:
            bad.extend((int(i), na_why) for i in np.flatnonzero(miss))
        return values, bad
    levels = set(spec.levels or [])
    raw = s.to_numpy(dtype=object)
    out = np.empty(len(raw), dtype=object)
    for pos, v in enumerate(raw):
        if _is_missing(v):
            out[pos] = np.nan
            if not spec.nullable:
                bad.append((pos, na_why))
            continue
        if _beyond_float(v):  # str() of it may raise; no level is a number this long
            out[pos] = np.nan
            bad.append(
                (
                    pos,
                    f"field {name!r} has an integer of magnitude about 10^{_digits(v)}, not "
                    f"seen in training; expected {spec._expected()}",
                )
            )
            continue
        text = _level_text(v, levels)
        out[pos] = text
        if text not in levels:
            bad.append(
                (
                    pos,
                    f"field {name!r} has level {text!r}, not seen in training; expected "
                    f"{spec._expected()}",
                )
            )
    return out, bad


def _beyond_float(v: Any) -> bool:
    """An integer (JSON allows any size) that no float can hold."""
    if not isinstance(v, int | np.integer) or isinstance(v, bool):
        return False
    try:
        float(v)
    except OverflowError:
        return True
    return False


def _digits(v: int) -> int:
    """The decimal exponent of a huge integer, without printing it (str() of an integer over
    4 300 digits raises)."""
    return int(abs(int(v)).bit_length() * math.log10(2))


def _level_text(v: Any, levels: set[str]) -> str:
    """A factor value as text, as training saw it (an integral float 2.0 read from a file as
    "2" when "2" is a level and "2.0" is not)."""
    text = str(v)
    if text not in levels and isinstance(v, float | np.floating) and float(v).is_integer():
        alt = str(int(v))
        return alt if alt in levels else text
    return text
