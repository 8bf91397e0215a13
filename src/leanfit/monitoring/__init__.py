"""Watch a model in production: drift of its inputs and predictions against the reference rows
it was trained on, missing-value and range violations, and performance once labels arrive.

``monitor(reference, current)`` takes the reference as a DataFrame or as a bundle-like object
(anything with a ``.reference`` DataFrame and a ``.schema``); the tests and thresholds are
Evidently's community defaults (see ``leanfit.monitor.drift``), all configurable.
``read_request_logs(folder, since=..., until=...)`` gives the current rows a server logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .checks import expectations, missing_table, violations
from .drift import (
    CATEGORICAL,
    KINDS,
    NUMERIC,
    NUMERIC_ONLY,
    TESTS,
    column_kind,
    default_test,
    finite,
    run_test,
)
from .logs import read_request_logs
from .performance import compare, join_labels, label_column, score
from .result import MonitorResult

__all__ = ["MonitorResult", "monitor", "read_request_logs"]

_PROB = "prob_"
Setting = str | float | Mapping[str, Any] | None


def _setting(value: Setting, column: str, kind: str) -> Any:
    """A per-column setting: one value for all, or a mapping by column name or by kind."""
    if isinstance(value, Mapping):
        if column in value:
            return value[column]
        return value.get(kind)
    return value


def _check_setting(value: Setting, name: str, columns: Sequence[str], number: bool) -> None:
    items = value.items() if isinstance(value, Mapping) else [(None, value)]
    for key, v in items:
        if key is not None and key not in KINDS and key not in columns:
            raise ValueError(
                f"{name}: {key!r} is neither a kind ({', '.join(KINDS)}) nor a monitored column"
            )
        if v is None:
            continue
        if number and (not isinstance(v, int | float) or isinstance(v, bool) or v < 0):
            raise ValueError(f"{name}: {v!r} must be a non-negative number")
        if not number and v not in TESTS:
            raise ValueError(f"{name}: unknown test {v!r}; valid: {', '.join(TESTS)}")


def _drift_row(
    column: str, ref: pd.Series, cur: pd.Series, kind: str, stattest: Setting, threshold: Setting
) -> dict[str, Any]:
    r, c = finite(ref), finite(cur)
    row: dict[str, Any] = {
        "column": column,
        "kind": kind,
        "reference_n": len(r),
        "current_n": len(c),
    }
    if len(r) == 0 or len(c) == 0:
        side = "reference" if len(r) == 0 else "current data"
        raise ValueError(
            f"column {column!r} has no non-missing values in the {side}; drop it "
            "with columns=[...] to monitor the others"
        )
    test = _setting(stattest, column, kind) or default_test(r, c, kind)
    if test in NUMERIC_ONLY and kind != NUMERIC:
        raise ValueError(f"stattest {test!r} needs a numeric column; {column!r} is categorical")
    thr = _setting(threshold, column, kind)
    thr = TESTS[test][1] if thr is None else float(thr)
    d = run_test(r, c, kind, test, thr)
    row.update(
        test=d.test,
        stat_type=d.stat_type,
        statistic=d.statistic,
        threshold=d.threshold,
        drifted=d.drifted,
    )
    return row


_DRIFT_COLS = [
    "column",
    "kind",
    "test",
    "stat_type",
    "statistic",
    "threshold",
    "drifted",
    "reference_n",
    "current_n",
]


def monitor(
    reference: Any,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    prediction: str = "prediction",
    target: str | None = None,
    id_column: str | None = None,
    labels: pd.DataFrame | None = None,
    stattest: str | Mapping[str, str] | None = None,
    threshold: float | Mapping[str, float] | None = None,
    drift_share: float = 0.5,
) -> MonitorResult:
    """Compare ``current`` rows with the ``reference`` (a DataFrame or a bundle-like object).

    ``stattest`` and ``threshold`` are one value for every column or a mapping keyed by column
    name or by kind (``"numeric"``, ``"categorical"``); tests: ks, chisquare, z, wasserstein,
    jensenshannon. ``labels`` (with ``id_column``) adds performance against the reference metrics.
    """
    ref_obj = reference
    schema = None
    if not isinstance(reference, pd.DataFrame):
        if not hasattr(reference, "reference"):
            raise TypeError(
                "reference must be a DataFrame or a bundle-like object with a "
                f".reference DataFrame, got {type(reference).__name__}"
            )
        schema = getattr(reference, "schema", None)
        reference = reference.reference
        target = target or getattr(ref_obj, "target", None)
    if not isinstance(reference, pd.DataFrame) or not isinstance(current, pd.DataFrame):
        raise TypeError("reference and current must be pandas DataFrames")
    if not 0 < drift_share <= 1:
        raise ValueError(f"drift_share must be in (0, 1], got {drift_share!r}")
    if labels is not None and id_column is None:
        raise ValueError("labels need id_column: the column joining labels to current rows")
    special = {prediction, target, id_column} - {None}
    probs = [c for c in reference.columns if str(c).startswith(_PROB)]
    if columns is None:
        columns = [c for c in reference.columns if c not in special and c not in probs]
        if schema is not None and getattr(schema, "columns", None):
            names = [str(s.name) for s in schema.columns]
            columns = [c for c in names if c in reference.columns]
    columns = list(columns)
    absent_ref = [c for c in columns if c not in reference.columns]
    if absent_ref:
        raise ValueError(
            f"columns {absent_ref} are not in the reference; it has {list(reference.columns)}"
        )
    absent = [c for c in columns if c not in current.columns]
    if absent:
        raise ValueError(
            f"current data lacks the monitored columns {absent}; they are in the "
            "reference. Pass columns=[...] to monitor the others."
        )
    if not columns:
        raise ValueError("no columns to monitor: the reference holds only special columns")
    mode = getattr(ref_obj, "mode", None) if ref_obj is not reference else None
    classes = getattr(ref_obj, "classes", None) if ref_obj is not reference else None
    if (
        prediction not in current.columns
        and prediction in reference.columns
        and hasattr(ref_obj, "predict")
    ):
        current = _with_predictions(ref_obj, current, columns, schema)
    kinds = {c: _schema_kind(schema, c) or column_kind(reference[c]) for c in columns}
    _check_setting(stattest, "stattest", columns, number=False)
    _check_setting(threshold, "threshold", columns, number=True)
    rows = [_drift_row(c, reference[c], current[c], kinds[c], stattest, threshold) for c in columns]
    table = pd.DataFrame(rows, columns=_DRIFT_COLS)

    if mode is None and prediction in reference.columns:
        p = reference[prediction]
        numeric = pd.api.types.is_float_dtype(p.dtype)
        mode = "classification" if (probs or not numeric) else "regression"
    pred_rows = []
    if prediction in reference.columns and prediction in current.columns:
        pkind = CATEGORICAL if mode == "classification" else NUMERIC
        pred_rows.append(
            _drift_row(prediction, reference[prediction], current[prediction], pkind, None, None)
        )
        for pc in probs:
            if pc in current.columns:
                pred_rows.append(_drift_row(pc, reference[pc], current[pc], NUMERIC, None, None))
    pred_table = pd.DataFrame(pred_rows, columns=_DRIFT_COLS)

    viol = violations(current, expectations(reference, columns, kinds, schema))
    miss = missing_table(reference, current, columns)
    perf, label_counts = _performance(
        ref_obj, reference, current, labels, id_column, target, prediction, mode, classes, probs
    )
    ignored = [
        str(c) for c in current.columns if c not in columns and c not in special and c not in probs
    ]
    return MonitorResult(
        columns=table,
        drift_share=drift_share,
        prediction=pred_table,
        violations=viol,
        missing=miss,
        performance=perf,
        labels=label_counts,
        reference_rows=len(reference),
        current_rows=len(current),
        ignored_columns=ignored,
        mode=mode,
        reference_data=reference,
        current_data=current,
    )


def _schema_kind(schema: Any, column: str) -> str | None:
    for spec in getattr(schema, "columns", None) or ():
        if str(spec.name) == column:
            return NUMERIC if getattr(spec, "kind", None) == "numeric" else CATEGORICAL
    return None


def _with_predictions(
    bundle: Any, current: pd.DataFrame, columns: list[str], schema: Any
) -> pd.DataFrame:
    """Current rows plus the bundle's predictions (rows its schema rejects get none)."""
    rows = current[columns]
    if schema is not None and hasattr(schema, "validate"):
        rows, _rejects = schema.validate(rows)
    pred = bundle.predict(rows)
    pred.index = rows.index
    return current.join(pred[[c for c in pred.columns if c not in current.columns]])


def _performance(
    ref_obj: Any,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    labels: pd.DataFrame | None,
    id_column: str | None,
    target: str | None,
    prediction: str,
    mode: str | None,
    classes: Sequence[str] | None,
    probs: list[str],
) -> tuple[pd.DataFrame | None, dict[str, int] | None]:
    if labels is None or id_column is None:
        return None, None
    if prediction not in current.columns:
        raise ValueError(
            f"labels given but the current data has no {prediction!r} column to score "
            "(and the reference cannot predict)"
        )
    label = label_column(labels, id_column, target)
    joined, unlabelled, unmatched = join_labels(current, labels, id_column, label)
    predicted = joined[prediction].notna()
    no_prediction = int((~predicted).sum())  # rows the schema rejected: reported, not scored
    joined = joined[predicted]
    m = mode or "classification"
    prob_cols = [p for p in probs if p in joined.columns]
    if classes and prob_cols:
        prob_cols = [f"{_PROB}{c}" for c in classes if f"{_PROB}{c}" in joined.columns]
    if not classes and prob_cols:
        classes = [p[len(_PROB) :] for p in prob_cols]
    cur = score(
        joined["__label__"],
        joined[prediction],
        joined[prob_cols] if prob_cols and len(prob_cols) == len(classes or ()) else None,
        m,
        classes,
    )
    ref_metrics = getattr(ref_obj, "metrics", None) if ref_obj is not reference else None
    if (
        not ref_metrics
        and target is not None
        and target in reference.columns
        and prediction in reference.columns
    ):
        ok = reference[target].notna() & reference[prediction].notna()
        ref_metrics = score(
            reference.loc[ok, target],
            reference.loc[ok, prediction],
            reference.loc[ok, prob_cols]
            if prob_cols and len(prob_cols) == len(classes or ())
            else None,
            m,
            classes,
        )
    counts = {
        "scored": len(joined),
        "unlabelled": unlabelled,
        "unmatched_labels": unmatched,
        "no_prediction": no_prediction,
    }
    return compare(cur, ref_metrics), counts
