"""Pareto fronts of a multi-objective search, and the rule that picks one candidate from one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["pareto_mask", "pick_on_front"]


def pareto_mask(values: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Rows of ``values`` (candidates x objectives) that no other row dominates: another row
    dominates one when it is at least as good in every objective and better in one. Rows with
    a missing value are never on the front."""
    v = np.asarray(values, dtype=float)
    sign = np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)
    cost = v * sign  # lower is better in every column now
    ok = ~np.isnan(cost).any(axis=1)
    mask = np.zeros(len(cost), dtype=bool)
    for i in np.flatnonzero(ok):
        others = cost[ok]
        no_worse = (others <= cost[i]).all(axis=1)
        better = (others < cost[i]).any(axis=1)
        mask[i] = not (no_worse & better).any()
    return mask


def pick_on_front(
    front: pd.DataFrame, objectives: Sequence[str], maximize: Sequence[bool], tol: float
) -> int:
    """The index label of the front's row whose first objective (the metric) is within ``tol``
    percent of the best one's and that is best in the next objectives, in order (smallest
    fit time, say): caret's tolerance rule with "simplest" meaning "cheapest"."""
    if front.empty:
        raise ValueError("the Pareto front is empty: no candidate was scored on every objective")
    first = front[objectives[0]].to_numpy(dtype=float)
    best = first.max() if maximize[0] else first.min()
    gap = (best - first) if maximize[0] else (first - best)
    within = front[gap * 100 <= tol * abs(best) + 1e-12]
    keys = list(objectives[1:]) + [objectives[0]]
    ups = [bool(m) for m in maximize[1:]] + [bool(maximize[0])]
    order = within.sort_values(keys, ascending=[not m for m in ups], kind="mergesort")
    return int(order.index[0])
