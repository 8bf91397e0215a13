"""Printing a TrainResult the way caret's ``print.train`` does, so a caret user can read it.

Below ``result.py`` (whose ``TrainResult.__repr__`` calls ``format_train``): what is printed is
described by the ``Printable`` protocol, so this module imports nothing from above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..models.base import CLASSIFICATION

if TYPE_CHECKING:
    import pandas as pd

    from ..control import Control
    from ..frame import Dataset
    from ..models.base import Model
    from ..splits import Resamples


class _FitNotes(Protocol):
    """The failures and warnings of the resampling fits (``result.Scores``)."""

    @property
    def failures(self) -> list[dict[str, Any]]: ...
    @property
    def warned(self) -> list[dict[str, Any]]: ...
    @property
    def warned_fits(self) -> int: ...


class Printable(Protocol):
    """What ``format_train`` reads of a ``TrainResult``."""

    @property
    def model(self) -> Model: ...
    @property
    def control(self) -> Control: ...
    @property
    def dataset(self) -> Dataset: ...
    @property
    def candidates(self) -> pd.DataFrame: ...
    @property
    def objectives(self) -> pd.DataFrame | None: ...
    @property
    def metric(self) -> str: ...
    @property
    def maximize(self) -> bool: ...
    @property
    def resamples(self) -> Resamples | None: ...
    @property
    def scores(self) -> _FitNotes | None: ...
    @property
    def metric_names(self) -> list[str]: ...
    @property
    def final_preprocess(self) -> Any: ...
    @property
    def final_info(self) -> dict[str, Any]: ...
    @property
    def final_warnings(self) -> list[str]: ...
    @property
    def results(self) -> pd.DataFrame: ...
    @property
    def best_params(self) -> dict[str, Any]: ...
    @property
    def best_index(self) -> int: ...


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:.7g}"
    return str(v)


def _dotted(model: Model, name: str) -> str:
    """caret's parameter name (``n.trees``) where the model declares one."""
    for p in model.params:
        if p.name == name:
            dotted = [a for a in p.aliases if "." in a]
            return dotted[0] if dotted else name
    return name


def format_train(res: Printable) -> str:
    """caret-style text: data, pre-processing, resampling, the results table and the choice."""
    ds, ctl, model = res.dataset, res.control, res.model
    lines = [model.label or model.name, ""]
    lines.append(f"{len(ds.y)} samples")
    lines.append(f"{len(ds.encoder.feature_names)} predictors")
    if ds.mode == CLASSIFICATION:
        lines.append(f"{len(ds.levels)} classes: " + ", ".join(f"'{lv}'" for lv in ds.levels))
    lines.append("")
    if res.final_preprocess is not None:
        lines.append(f"Pre-processing: {res.final_preprocess.describe()}")
    else:
        lines.append("No pre-processing")
    lines.append(f"Resampling: {ctl.describe()}")
    if res.resamples is None:
        lines.append("")
        lines.append("Tuning parameters were fixed: " + _params(res, res.best_params))
        lines.extend(_final_notes(res))
        return "\n".join(lines)
    sizes = [len(t) for t in res.resamples.train[:6]]
    lines.append(
        "Summary of sample sizes: "
        + ", ".join(map(str, sizes))
        + (", ..." if len(res.resamples) > 6 else "")
    )
    lines.append(
        "Resampling results across tuning parameters:"
        if len(res.candidates) > 1
        else "Resampling results:"
    )
    lines.append("")
    table = res.results
    varying = [c for c in res.candidates.columns if res.candidates[c].nunique() > 1]
    constant = [c for c in res.candidates.columns if c not in varying]
    counts = table["Resamples"].to_numpy() if "Resamples" in table.columns else None
    n_res = len(res.resamples)
    stopped_rows = list(getattr(res, "stopped", None) or {})  # adaptive: expected to be short
    short = None if counts is None else counts < n_res
    info = getattr(res, "search_info", None)
    if short is not None:
        short[stopped_rows] = False
        if info is not None and info.ended_by:  # a budget ended the search before these
            short[counts == 0] = False
    incomplete = 0 if short is None else int(short.sum())
    cols = varying + res.metric_names + (["Resamples"] if incomplete or stopped_rows else [])
    if stopped_rows:
        cols.append("StoppedAfter")
    show = table[cols].rename(columns={c: _dotted(model, c) for c in varying})
    lines.extend("  " + ln for ln in show.to_string(index=False, float_format=_fmt).splitlines())
    lines.append("")
    for c in constant:
        lines.append(
            f"Tuning parameter '{_dotted(model, c)}' was held constant at a value of "
            f"{_fmt(table[c].iloc[0])}"
        )
    for k, v in res.final_info.items():
        lines.append(f"The final model used {k} = {_fmt(v)} (estimated from the training rows)")
    direction = "largest" if res.maximize else "smallest"
    rule = ctl.selection if isinstance(ctl.selection, str) else "a custom rule"
    how = {
        "best": f"the {direction} value",
        "one_se": "the one SE rule",
        "oneSE": "the one SE rule",
        "tolerance": "a tolerance rule",
    }.get(rule, rule)
    lines.append(f"{res.metric} was used to select the optimal model using {how}.")
    lines.append("The final values used for the model were " + _params(res, res.best_params) + ".")
    if info is not None:
        lines.append(f"Search: {info.describe()}.")
        if info.objectives:
            lines.append(
                f"Objectives {list(info.objectives)}: {_on_front(res.objectives)} "
                f"candidates on the Pareto front (.front); chosen within {ctl.tolerance}% of "
                f"the best {info.objectives[0]} on it, then the smallest {info.objectives[1]}."
            )
    scores = res.scores
    assert scores is not None  # a resampled fit (returned above otherwise) has scores
    failures = scores.failures
    if failures:
        n_fits = len({(f["resample"], f["group"]) for f in failures})
        lines.append(
            f"WARNING: {n_fits} model fits failed ({len(failures)} candidate x "
            "resample scores missing); see .failures"
        )
    if incomplete:
        assert counts is not None  # incomplete counts come from the Resamples column
        chosen = int(counts[res.best_index])
        lines.append(
            f"NOTE: {incomplete} of {len(counts)} candidates were scored on fewer than all "
            f"{n_res} resamples (column Resamples); their means cover only those. The chosen "
            f"candidate was scored on {chosen} of {n_res}"
            + (
                (
                    "."
                    if ctl.select_incomplete
                    else "; only complete candidates could be chosen "
                    "(Control(select_incomplete=True) lets others compete)."
                )
                if chosen == n_res
                else (
                    " (Control(select_incomplete=True))."
                    if ctl.select_incomplete
                    else " (no candidate was complete: chosen among the best-covered)."
                )
            )
        )
    stopped: dict[int, int] = getattr(res, "stopped", None) or {}
    if stopped:
        after: dict[int, int] = {}
        for got in stopped.values():
            after[got] = after.get(got, 0) + 1
        when = ", ".join(f"{n} after {got}" for got, n in sorted(after.items()))
        adaptive = ctl.adaptive or {}
        why = (
            f"outside the best 1/{adaptive.get('eta')} of a rung (successive halving)"
            if adaptive.get("method") == "halving"
            else "as clearly worse than the best"
        )
        lines.append(
            f"NOTE: adaptive resampling stopped {len(stopped)} of {len(res.candidates)} "
            f"candidates {why} ({when} resamples; columns Resamples, StoppedAfter); the "
            "choice was made among the others."
        )
    if scores.warned:
        lines.append(
            f"NOTE: {scores.warned_fits} resampling fits raised warnings; see .fit_warnings"
        )
    lines.extend(_final_notes(res))
    return "\n".join(lines)


def _final_notes(res: Printable) -> list[str]:
    """One line on what the final fit warned about (its first warning), if it did."""
    warned = res.final_warnings
    if not warned:
        return []
    more = f" (and {len(warned) - 1} more)" if len(warned) > 1 else ""
    return [f"NOTE: the final fit raised {warned[0]}{more}; see .final_warnings"]


def _params(res: Printable, params: dict[str, Any]) -> str:
    parts = [f"{_dotted(res.model, k)} = {_fmt(v)}" for k, v in params.items()]
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return parts[0] if parts else "(none)"


def _on_front(table: pd.DataFrame | None) -> int:
    return 0 if table is None else int(table["on_front"].sum())
