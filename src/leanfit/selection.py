"""Selection rules (caret's ``best``, ``oneSE``, ``tolerance``) over a simplest-first results table.

Every rule takes the results table ordered simplest first (as ``TrainResult.results`` is), the
metric name and its direction, and returns the chosen row position. ``choose`` applies a rule
among the candidates scored on every resample (the ``Resamples`` column), so a mean over the few
resamples where a candidate did not fail is not ranked beside full ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

COUNT = "Resamples"  # results column: resamples each candidate was scored on
# results column of a racing run: the resamples a stopped candidate got (<NA>: raced to the end)
STOPPED = "StoppedAfter"


class IncompleteResamplesWarning(UserWarning):
    """A candidate scored on fewer resamples than the others was, or would have been, chosen."""


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

    The standard error is the best row's resampled SD / sqrt(its number of resamples): ``num``,
    else the best row's ``Resamples`` (which ``TrainResult.results`` has), else
    ``results.attrs["n_resamples"]``. A best row without an SD (one resample) is chosen itself.
    """
    v = _values(results, metric)
    sd = results[f"{metric}SD"].to_numpy(dtype=float)
    i = best(results, metric, maximize)
    if num is None:
        if COUNT in results.columns:
            num = int(results[COUNT].iloc[i])
        elif "n_resamples" in results.attrs:
            num = int(results.attrs["n_resamples"])
        else:
            raise ValueError("one_se needs num= (the number of resamples) for this table")
    se = sd[i] / np.sqrt(num) if num > 0 else np.nan
    if not np.isfinite(se):
        warnings.warn(
            f"one_se: the best row ({i}) has no {metric}SD (scored on {num} resample(s)), so "
            "there is no standard error to step back by; choosing the best row",
            UserWarning,
            stacklevel=2,
        )
        return i
    ok = v >= v[i] - se if maximize else v <= v[i] + se
    return int(np.flatnonzero(ok & ~np.isnan(v))[0])


def tolerance(results: pd.DataFrame, metric: str, tol: float = 1.5, maximize: bool = True) -> int:
    """Simplest row within ``tol`` percent of the best (caret's ``tolerance``)."""
    v = _values(results, metric)
    b = v[best(results, metric, maximize)]
    loss = (v - b) / abs(b) * 100 if b != 0 else v - b
    ok = loss >= -tol if maximize else loss <= tol
    return int(np.flatnonzero(ok & ~np.isnan(v))[0])


def _describe(results: pd.DataFrame, i: int) -> str:
    """Row ``i`` as ``row 2 (k=5, alpha=0.1)``: its tuning parameters (the non-metric columns)."""
    cols = set(results.columns)
    params = [
        c
        for c in results.columns
        if c not in (COUNT, STOPPED)
        and f"{c}SD" not in cols
        and not (c.endswith("SD") and c[:-2] in cols)
    ]
    row = results.iloc[[i]][params].to_dict("records")[0]  # plain Python values
    shown = ", ".join(f"{c}={v!r}" for c, v in row.items())
    return f"row {i} ({shown})" if shown else f"row {i}"


def choose(
    results: pd.DataFrame,
    rule: str | Callable[..., int],
    metric: str,
    maximize: bool = True,
    select_incomplete: bool = False,
    stacklevel: int = 2,
) -> int:
    """The row ``rule`` picks among the candidates scored on every resample (``Resamples``
    equal to ``results.attrs["n_resamples"]``); with none, among the best-covered ones.

    An ``IncompleteResamplesWarning`` names the candidate and its count when an incomplete one
    would have changed the choice, when none is complete, or when ``select_incomplete=True``
    lets one be chosen. A callable rule sees only the eligible rows (simplest first, renumbered
    from 0). A table without a ``Resamples`` column is taken as complete.
    """
    if isinstance(rule, str) and rule not in RULES:
        raise ValueError(f"selection {rule!r} is not one of {list(RULES)} or a callable")
    pick = _by_keyword(RULES[rule]) if isinstance(rule, str) else rule
    v = _values(results, metric)
    if COUNT not in results.columns:
        return int(pick(results, metric, maximize))
    counts = results[COUNT].to_numpy(dtype=int)
    n = int(results.attrs.get("n_resamples", counts.max(initial=0)))
    free = int(pick(results, metric, maximize))  # raises when no row has the metric
    if select_incomplete:
        if counts[free] < n:
            _warn(
                f"{_describe(results, free)} was chosen by {metric} although it was scored on "
                f"only {counts[free]} of {n} resamples (Control(select_incomplete=True)); its "
                "mean covers fewer resamples than the complete candidates' means",
                stacklevel,
            )
        return free
    scored = ~np.isnan(v)
    top = int(counts[scored].max())
    rows = np.flatnonzero(scored & (counts == top))
    sub = results.iloc[rows].reset_index(drop=True)
    sub.attrs = dict(results.attrs)
    i = int(rows[int(pick(sub, metric, maximize))])
    if top < n:
        passed = (
            ""
            if free == i
            else f"; {_describe(results, free)}, scored on {counts[free]}, would have been "
            "chosen on its partial mean"
        )
        _warn(
            f"no candidate was scored on all {n} resamples (see the Resamples column and "
            f".failures); chose {_describe(results, i)} among the best-covered ones "
            f"({top} of {n} resamples){passed}; Control(select_incomplete=True) lets all compete",
            stacklevel,
        )
    elif free != i:
        culprit = free if counts[free] < n else _best_incomplete(results, metric, maximize, n)
        effect = (
            "it would have been chosen"
            if culprit == free
            else f"the choice would have been {_describe(results, free)}"
        )
        _warn(
            f"{_describe(results, culprit)} was scored on only {counts[culprit]} of {n} "
            f"resamples; ranked on that partial mean beside complete candidates, {effect}. "
            f"Chose {_describe(results, i)} among the candidates scored on all {n}; "
            "Control(select_incomplete=True) lets incomplete ones compete",
            stacklevel,
        )
    return i


def _by_keyword(rule: Callable[..., int]) -> Callable[..., int]:
    """A built-in rule called as ``f(results, metric, maximize)`` (tolerance's third is tol)."""
    return lambda results, metric, maximize: rule(results, metric=metric, maximize=maximize)


def _best_incomplete(results: pd.DataFrame, metric: str, maximize: bool, n: int) -> int:
    """The incomplete row with the best mean (what moved a one_se / tolerance reference)."""
    v = _values(results, metric).copy()
    v[results[COUNT].to_numpy(dtype=int) >= n] = np.nan
    if np.all(np.isnan(v)):
        return best(results, metric, maximize)
    return int(np.nanargmax(v) if maximize else np.nanargmin(v))


def _warn(message: str, stacklevel: int) -> None:
    warnings.warn(message, IncompleteResamplesWarning, stacklevel=stacklevel + 2)


RULES: dict[str, Callable[..., int]] = {
    "best": best,
    "one_se": one_se,
    "oneSE": one_se,
    "tolerance": tolerance,
}
