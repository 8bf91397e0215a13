"""Request bodies to rows: JSON parsing and the shape of a body (one object, a list of objects
or ``{"rows": [...]}``), and a quick check of well-formed rows against the bundle's schema.

Rows the quick check cannot pass (any doubt: an extra or missing field, text in a numeric field,
an unseen level, a missing value) go to ``Schema.validate``, which decides and gives reasons; so
the server accepts and refuses exactly what the bundle does, only faster for the common case."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["BodyError", "Body", "parse_body", "quick_clean"]

_NUMERIC, _FACTOR = "numeric", "factor"


class BodyError(ValueError):
    """A body that is not JSON (status 400) or not rows of JSON objects (422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Body:
    """The rows of a request, and whether it was one object (answered with one object)."""

    rows: list[dict[str, Any]]
    single: bool


def parse_body(raw: bytes) -> Body:
    """The rows of a JSON body, or ``BodyError`` saying what is wrong and what is expected."""
    expected = 'expected one JSON object (a row), a list of them, or {"rows": [...]}'
    if not raw.strip():
        raise BodyError(400, f"the request body is empty; {expected}")
    try:
        data = json.loads(raw, parse_int=_parse_int)
    except RecursionError as e:
        raise BodyError(400, f"the JSON is nested too deeply; {expected}") from e
    except UnicodeDecodeError as e:
        raise BodyError(400, f"the request body is not UTF-8 text ({e}); {expected}") from e
    except json.JSONDecodeError as e:
        raise BodyError(
            400, f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}; {expected}"
        ) from e
    single = False
    if isinstance(data, dict) and set(data) == {"rows"}:
        data = data["rows"]
        if not isinstance(data, list):
            raise BodyError(422, f'"rows" must be a list of objects, got {_kind(data)}; {expected}')
    elif isinstance(data, dict):
        data, single = [data], True
    elif not isinstance(data, list):
        raise BodyError(422, f"the body is {_kind(data)}; {expected}")
    if not data:
        raise BodyError(422, f"the body holds no rows; {expected}")
    for i, r in enumerate(data):
        if not isinstance(r, dict):
            raise BodyError(
                422, f"row {i} is {_kind(r)}, not an object of field: value; {expected}"
            )
    return Body(rows=data, single=single)


def _parse_int(text: str) -> int | float:
    """JSON integers; those too long for a float become float (inf past its range, which the
    schema refuses as not finite) instead of failing the parse."""
    return int(text) if len(text) <= 300 else float(text)


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(v), "null" if v is None else "a number"
    )


def quick_clean(columns: list[Any], rows: list[dict[str, Any]]) -> dict[str, list[Any]] | None:
    """The rows' values per column (numbers as float, missing as NaN, factor levels as str)
    when every row is plainly valid for the schema's ``columns`` (``ColumnSpec``s); ``None``
    when any row needs ``Schema.validate`` to decide."""
    names = [c.name for c in columns]
    want = len(names)
    out: dict[str, list[Any]] = {n: [] for n in names}
    levels = [set(c.levels or ()) if c.kind == _FACTOR else None for c in columns]
    for r in rows:
        if len(r) != want:
            return None
        for spec, lv in zip(columns, levels, strict=True):
            try:
                v = r[spec.name]
            except KeyError:
                return None
            if v is None:
                if not spec.nullable:
                    return None
                out[spec.name].append(math.nan)
            elif lv is None:
                t = type(v)
                if t is not float and t is not int:
                    return None
                try:
                    f = float(v)
                except OverflowError:  # an integer beyond float: Schema.validate says so
                    return None
                if math.isinf(f) or (math.isnan(f) and not spec.nullable):
                    return None
                out[spec.name].append(f)
            else:
                if type(v) is not str or v not in lv:
                    return None
                out[spec.name].append(v)
    return out
