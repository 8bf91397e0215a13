"""Missing-value, range and unseen-level violations of current data against the reference.

The expectations come from the bundle's schema when one is given (``nullable``, ``low``/``high``,
``levels``), else from the reference rows themselves (missing values seen, min/max, values seen).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .drift import NUMERIC


def expectations(
    reference: pd.DataFrame, columns: Sequence[str], kinds: dict[str, str], schema: Any
) -> dict[str, dict[str, Any]]:
    """Per column: kind, nullable, low, high, levels (None when not constrained)."""
    specs = {}
    for spec in getattr(schema, "columns", None) or ():
        specs[str(spec.name)] = spec
    out: dict[str, dict[str, Any]] = {}
    for col in columns:
        spec = specs.get(col)
        ref = reference[col]
        numeric = kinds[col] == NUMERIC or (
            pd.api.types.is_numeric_dtype(ref.dtype) and not pd.api.types.is_bool_dtype(ref.dtype)
        )
        if spec is not None:
            levels = getattr(spec, "levels", None)
            out[col] = {
                "source": "schema",
                "numeric": getattr(spec, "kind", "numeric") == "numeric",
                "nullable": bool(getattr(spec, "nullable", True)),
                "low": getattr(spec, "low", None),
                "high": getattr(spec, "high", None),
                "levels": [str(v) for v in levels] if levels is not None else None,
            }
            continue
        a = ref.dropna()
        e: dict[str, Any] = {
            "source": "reference",
            "numeric": numeric,
            "nullable": bool(ref.isna().any()),
            "low": None,
            "high": None,
            "levels": None,
        }
        if numeric and len(a):
            e["low"], e["high"] = float(a.min()), float(a.max())
        elif not numeric:
            e["levels"] = sorted(str(v) for v in pd.unique(a))
        out[col] = e
    return out


def violations(current: pd.DataFrame, expected: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per (column, problem): rows affected, their share and a few example values."""
    rows = []
    n = len(current)
    for col, e in expected.items():
        cur = current[col]
        miss = cur.isna()
        n_miss = int(miss.sum())
        if n_miss and not e["nullable"]:
            rows.append(
                _row(
                    col,
                    "missing",
                    n_miss,
                    n,
                    f"not nullable (no missing values in the {e['source']})",
                    [],
                )
            )
        present = cur[~miss]
        if e["numeric"]:
            vals = pd.to_numeric(present, errors="coerce")
            bad_type = vals.isna()
            if bad_type.any():
                rows.append(
                    _row(
                        col,
                        "type",
                        int(bad_type.sum()),
                        n,
                        "a number",
                        present[bad_type].unique()[:5],
                    )
                )
            v = vals[~bad_type].to_numpy(dtype=float)
            for side, bound, mask in (
                ("below range", e["low"], v < e["low"] if e["low"] is not None else None),
                ("above range", e["high"], v > e["high"] if e["high"] is not None else None),
            ):
                if mask is not None and mask.any():
                    what = f">= {bound:g}" if side == "below range" else f"<= {bound:g}"
                    rows.append(_row(col, side, int(mask.sum()), n, what, np.unique(v[mask])[:5]))
        elif e["levels"] is not None:
            s = present.astype(str)
            unseen = ~s.isin(e["levels"])
            if unseen.any():
                shown = ", ".join(e["levels"][:10]) + (" ..." if len(e["levels"]) > 10 else "")
                rows.append(
                    _row(
                        col,
                        "unseen level",
                        int(unseen.sum()),
                        n,
                        f"one of {shown}",
                        s[unseen].unique()[:5],
                    )
                )
    cols = ["column", "problem", "rows", "share", "expected", "examples"]
    return pd.DataFrame(rows, columns=cols)


def _row(col: str, problem: str, k: int, n: int, expected: str, examples: Any) -> dict[str, Any]:
    return {
        "column": col,
        "problem": problem,
        "rows": k,
        "share": k / n if n else 0.0,
        "expected": expected,
        "examples": ", ".join(str(x) for x in list(examples)[:5]),
    }


def missing_table(
    reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str]
) -> pd.DataFrame:
    """Share of missing values per column in the reference and in the current data."""
    return pd.DataFrame(
        {
            "column": list(columns),
            "reference_missing": [float(reference[c].isna().mean()) for c in columns],
            "current_missing": [float(current[c].isna().mean()) for c in columns],
        }
    )
