"""The accuracy-size-latency front and caret-style selection from it.

A candidate is on the front when no other candidate is at least as good on all three of the
metric, the size and the single-row p50 latency, and strictly better on one. Selection, in the
spirit of caret's ``tolerance``: among the candidates within ``tolerance`` of the best metric,
the smallest (``objective="size"``) or the fastest (``objective="latency"``). The original is
the reference and never chosen; for speed, a candidate slower than it is never chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

OBJECTIVES = ("size", "latency")


def pareto_front(
    metric: np.ndarray, size: np.ndarray, latency: np.ndarray, maximize: bool
) -> np.ndarray:
    """Booleans: which candidates no other dominates on (metric, size, latency)."""
    m = np.asarray(metric, dtype=float) * (-1.0 if maximize else 1.0)  # all: lower is better
    pts = np.column_stack([m, np.asarray(size, dtype=float), np.asarray(latency, dtype=float)])
    pts = np.where(np.isnan(pts), np.inf, pts)
    n = len(pts)
    on = np.ones(n, dtype=bool)
    for i in range(n):
        others = np.delete(pts, i, axis=0)
        dominated = np.all(others <= pts[i], axis=1) & np.any(others < pts[i], axis=1)
        on[i] = not bool(dominated.any())
    return on


def parse_tolerance(tolerance: float | str) -> tuple[float, bool]:
    """(value, relative): a number is an absolute metric difference (0.01 = one accuracy
    point); a string "2%" is relative to the best metric (caret's tolerance, in percent)."""
    relative = False
    value: float
    if isinstance(tolerance, str):
        text = tolerance.strip()
        if not text.endswith("%"):
            raise ValueError(
                f"tolerance {tolerance!r}: give a number (an absolute metric difference, e.g. "
                "0.01) or a percentage of the best metric as a string, e.g. '2%'"
            )
        try:
            value = float(text[:-1])
        except ValueError:
            raise ValueError(f"tolerance {tolerance!r} is not a percentage such as '2%'") from None
        relative = True
    elif isinstance(tolerance, (int, float)) and not isinstance(tolerance, bool):
        value = float(tolerance)
    else:
        raise TypeError(f"tolerance must be a number or a percentage string, got {tolerance!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    return value, relative


@dataclass(frozen=True)
class Selection:
    """Which candidate was chosen (row position, or None) and why, in words."""

    index: int | None
    message: str


def select(
    table: pd.DataFrame,
    metric: str,
    maximize: bool,
    tolerance: float | str,
    objective: str = "size",
) -> Selection:
    """Choose from ``table`` (one row per candidate, the first the original, with ``metric``,
    ``size_bytes`` and ``p50_us``): the smallest / fastest compressed candidate within
    ``tolerance`` of the best metric (the original's included); ties go to the better metric,
    then the other objective. The original is the reference, never chosen (that would be no
    compression), and neither is a candidate no smaller (objective "size") or no faster
    ("latency") than it: when no compressed candidate qualifies, nothing is chosen."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    value, relative = parse_tolerance(tolerance)
    scores = table[metric].to_numpy(dtype=float)
    if not np.isfinite(scores).any():
        return Selection(None, f"no candidate has a finite {metric}: nothing chosen")
    best = np.nanmax(scores) if maximize else np.nanmin(scores)
    allowed = value * abs(best) / 100.0 if relative else value
    gap = (best - scores) if maximize else (scores - best)
    within = np.isfinite(scores) & (gap <= allowed + 1e-12)
    within[0] = False  # the original: the reference, not a compression
    what = f"{tolerance}" if relative else f"{value:g}"
    reason = ""
    # a candidate no smaller (no faster) than the original is no compression for that objective
    column = "size_bytes" if objective == "size" else "p50_us"
    cost = table[column].to_numpy(dtype=float)
    worse = np.isfinite(cost) & (cost >= cost[0])
    if (within & worse).any():
        reason = (
            f"; {int((within & worse).sum())} candidate(s) within it are "
            f"{'no smaller' if objective == 'size' else 'slower'} than the original and not "
            f"chosen for {'size' if objective == 'size' else 'speed'}"
        )
    within &= ~worse & np.isfinite(cost)
    if not within.any():
        return Selection(
            None,
            f"no compressed candidate is within tolerance {what} of the best {metric} "
            f"({best:.4g})"
            f"{reason}: nothing chosen; pick from the front (or widen the tolerance)",
        )
    key_obj = table["size_bytes" if objective == "size" else "p50_us"].to_numpy(dtype=float)
    key_other = table["p50_us" if objective == "size" else "size_bytes"].to_numpy(dtype=float)
    key_other = np.where(np.isnan(key_other), np.inf, key_other)
    order = np.lexsort((key_other, gap, key_obj))  # last key is primary
    idx = int(next(i for i in order if within[i]))
    return Selection(
        idx,
        f"the {'smallest' if objective == 'size' else 'fastest'} of {int(within.sum())} "
        f"compressed candidate(s) within tolerance {what} of the best {metric} ({best:.4g})"
        f"{reason}",
    )
