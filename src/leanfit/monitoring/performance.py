"""Model performance on current rows once their labels arrive, joined on an id column, scored
with leanfit's metrics (caret's defaultSummary; ROC/Sens/Spec too for two classes) and set beside
the reference metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leanfit.metrics import summarize


def label_column(labels: pd.DataFrame, id_column: str, target: str | None) -> str:
    """The column of ``labels`` holding the outcome: ``target`` or the one column besides the id."""
    if target is not None and target in labels.columns:
        return target
    others = [c for c in labels.columns if c != id_column]
    if len(others) != 1:
        want = f"a column named {target!r} or " if target else ""
        raise ValueError(
            f"labels: expected {want}exactly one column besides the id column {id_column!r}, "
            f"got {list(labels.columns)}"
        )
    return str(others[0])


def join_labels(
    current: pd.DataFrame, labels: pd.DataFrame, id_column: str, label: str
) -> tuple[pd.DataFrame, int, int]:
    """Current rows with their label; also how many current rows have no label and how many
    labels match no current row (reported, never silently dropped)."""
    for name, df in (("current data", current), ("labels", labels)):
        if id_column not in df.columns:
            raise ValueError(
                f"id_column {id_column!r} is not a column of the {name}: {list(df.columns)}"
            )
    dup = labels[id_column][labels[id_column].duplicated()]
    if len(dup):
        raise ValueError(f"labels: id {dup.iloc[0]!r} appears more than once in {id_column!r}")
    lab = labels[[id_column, label]].rename(columns={label: "__label__"})
    joined = current.merge(lab, on=id_column, how="inner", validate="many_to_one")
    joined = joined[joined["__label__"].notna()]
    unlabelled = len(current) - len(joined)
    unmatched = int((~labels[id_column].isin(current[id_column])).sum())
    return joined, unlabelled, unmatched


def score(
    obs: pd.Series,
    pred: pd.Series,
    prob: pd.DataFrame | None,
    mode: str,
    classes: Sequence[str] | None,
) -> dict[str, float]:
    """caret's default metrics of predictions against observed outcomes."""
    if mode == "regression":
        out = summarize("default", obs.to_numpy(dtype=float), pred.to_numpy(dtype=float), None, ())
        return {k: float(v[0]) for k, v in out.items()}
    o, p = obs.astype(str), pred.astype(str)
    levels = tuple(classes) if classes else tuple(sorted(set(o) | set(p)))
    unknown = sorted((set(o) | set(p)) - set(levels))
    if unknown:
        raise ValueError(
            f"labels: class {unknown[0]!r} is not one of the model's classes {list(levels)}"
        )
    index = {c: i for i, c in enumerate(levels)}
    oc = o.map(index).to_numpy(dtype=np.intp)
    pc = p.map(index).to_numpy(dtype=np.intp)
    res = {k: float(v[0]) for k, v in summarize("default", oc, pc, None, levels).items()}
    if prob is not None and len(levels) == 2 and len(o):
        pr = prob.to_numpy(dtype=float)
        res.update({k: float(v[0]) for k, v in summarize("two_class", oc, pc, pr, levels).items()})
    return res


def compare(current: Mapping[str, float], reference: Mapping[str, Any] | None) -> pd.DataFrame:
    """Metric, current value, reference value and the change (current - reference)."""
    rows = []
    for name, value in current.items():
        ref = reference.get(name) if reference else None
        ref_f = float(ref) if isinstance(ref, int | float | np.floating | np.integer) else np.nan
        rows.append({"metric": name, "current": value, "reference": ref_f, "change": value - ref_f})
    return pd.DataFrame(rows, columns=["metric", "current", "reference", "change"])
