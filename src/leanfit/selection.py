"""Selection rules (caret's ``best``, ``oneSE``, ``tolerance``) over a simplest-first results table.

Every rule takes the results table ordered simplest first (as ``TrainResult.results`` is), the
metric name and its direction, and returns the chosen row position.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def _values(results: pd.DataFrame, metric: str) -> np.ndarray:
    if metric not in results.columns:
        valid = [c for c in results.columns if f"{c}SD" in results.columns]
        raise ValueError(f"metric {metric!r} is not in the results; available: {valid}")
    return results[metric].to_numpy(dtype=float)


def best(results: pd.DataFrame, metric: str, maximize: bool = True) -> int:
    """The row with the best mean metric (the first, i.e. simplest, among exact ties)."""
    v = _values(results, metric)
    if np.all(np.isnan(v)):
        raise ValueError(f"every candidate has a missing {metric}: nothing to select")
    return int(np.nanargmax(v) if maximize else np.nanargmin(v))


def one_se(
    results: pd.DataFrame, metric: str, maximize: bool = True, num: int | None = None
) -> int:
    """Simplest row within one standard error of the best (Breiman et al., caret's ``oneSE``).

    The standard error is the best row's resampled SD / sqrt(number of resamples); ``num``
    defaults to ``results.attrs["n_resamples"]``, which ``TrainResult.results`` sets.
    """
    v = _values(results, metric)
    sd = results[f"{metric}SD"].to_numpy(dtype=float)
    if num is None:
        if "n_resamples" not in results.attrs:
            raise ValueError("one_se needs num= (the number of resamples) for this table")
        num = int(results.attrs["n_resamples"])
    i = best(results, metric, maximize)
    se = sd[i] / np.sqrt(num)
    ok = v >= v[i] - se if maximize else v <= v[i] + se
    return int(np.flatnonzero(ok & ~np.isnan(v))[0])


def tolerance(results: pd.DataFrame, metric: str, tol: float = 1.5, maximize: bool = True) -> int:
    """Simplest row within ``tol`` percent of the best (caret's ``tolerance``)."""
    v = _values(results, metric)
    b = v[best(results, metric, maximize)]
    loss = (v - b) / abs(b) * 100 if b != 0 else v - b
    ok = loss >= -tol if maximize else loss <= tol
    return int(np.flatnonzero(ok & ~np.isnan(v))[0])


RULES: dict[str, Callable[..., int]] = {
    "best": best,
    "one_se": one_se,
    "oneSE": one_se,
    "tolerance": tolerance,
}
