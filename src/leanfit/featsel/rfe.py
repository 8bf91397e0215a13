"""Recursive feature elimination with outer resampling (caret's ``rfe``).

For each outer resample, on its training rows only: fit the model on all predictors, rank the
predictors by importance (the model's own importance, classes averaged as caret's rfe does; for
a model without one, the filter score of ``importance.filter_scores``: per-class AUC or |t|), then
for each size, largest first, fit on the top-``size`` predictors and score on the held-out rows.
With ``rerank=True`` the ranking is recomputed from each size's fit before the next, smaller
size is taken (caret's ``rerank``). The performance profile over sizes (the full set included)
picks the size (``pick_size_best`` or ``pick_size_tolerance``, caret's pickSizeBest /
pickSizeTolerance); then the same elimination runs on all rows down to that size, and the
surviving predictors (``optvariables``, by rank) are fitted on all rows: the final model.

Performance is the plain mean (and SD) of the held-out metrics over resamples; LOOCV predictions
are pooled as in train(); the 632 / optimism corrections of train() are not applied.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import Held, PredictsWithSubset, Problem, Setup, fit_seed, guarded, rank_columns

if TYPE_CHECKING:
    import pandas as pd

    from ..control import Control
    from ..tuning.result import TrainResult

DEFAULT_SIZES: tuple[int, ...] = (4, 8, 16)  # caret's 2^(2:4)


# ---------------------------------------------------------------------------------------------
# size selection rules
# ---------------------------------------------------------------------------------------------


def pick_size_best(results: pd.DataFrame, metric: str, maximize: bool = True) -> int:
    """caret's pickSizeBest: the size with the best mean metric (the smallest among ties)."""
    v = results[metric].to_numpy(dtype=float)
    if np.all(np.isnan(v)):
        raise ValueError(f"every size has a missing {metric}: nothing to select")
    best = np.nanmax(v) if maximize else np.nanmin(v)
    sizes = results["Variables"].to_numpy()
    return int(sizes[v == best].min())


def pick_size_tolerance(
    results: pd.DataFrame, metric: str, tol: float = 1.5, maximize: bool = True
) -> int:
    """caret's pickSizeTolerance: the smallest size within ``tol`` percent of the best."""
    v = results[metric].to_numpy(dtype=float)
    if np.all(np.isnan(v)):
        raise ValueError(f"every size has a missing {metric}: nothing to select")
    best = np.nanmax(v) if maximize else np.nanmin(v)
    denom = abs(best) if best != 0 else 1.0
    loss = (best - v) / denom * 100 if maximize else (v - best) / denom * 100
    ok = (loss <= tol) & ~np.isnan(v)
    return int(results["Variables"].to_numpy()[ok].min())


_RULES: Mapping[str, Callable[..., int]] = MappingProxyType(
    {"best": pick_size_best, "tolerance": pick_size_tolerance}
)


# ---------------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------------


@dataclass
class RFEResult(PredictsWithSubset):
    """The outcome of rfe(): caret's ``rfe`` object with pandas tables.

    results: per size (``Variables``, the full set included) every metric's mean and SD over the
    outer resamples. optsize / optvariables: the chosen size and the predictors kept by the
    elimination on all rows (most important first). variables: per outer resample and size the
    predictors kept with their importance and rank. resample: per-resample metrics at optsize.
    ranking: the importance ranking of all predictors on all rows. final_model: a TrainResult
    fitted on optvariables (``predict``/``predict_proba`` here take the full data).
    """

    results: pd.DataFrame
    optsize: int
    optvariables: list[str]
    variables: pd.DataFrame
    resample: pd.DataFrame
    ranking: pd.DataFrame
    final_model: TrainResult
    metric: str
    maximize: bool
    method: str
    control: Control
    rerank: bool
    values: np.ndarray  # (resamples, sizes, metrics) held-out scores
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)
    _encoder: Any = None
    _columns: tuple[str, ...] = ()

    def __repr__(self) -> str:
        from ._common import format_table

        lines = ["", "Recursive feature selection", ""]
        lines.append(f"Outer resampling method: {self.control.describe()}")
        lines += ["", "Resampling performance over subset size:", ""]
        mark = (self.results["Variables"] == self.optsize).tolist()
        lines += format_table(self.results, mark)
        lines.append("")
        top = self.optvariables[:5]
        lines.append(
            f"The top {len(top)} variables (out of {len(self.optvariables)}):\n   " + ", ".join(top)
        )
        lines.append("")
        for n in self.notes:
            lines.append(f"Note: {n}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# rfe()
# ---------------------------------------------------------------------------------------------


def rfe(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    method: Any = "rf",
    sizes: Sequence[int] = DEFAULT_SIZES,
    control: Control | None = None,
    rerank: bool = False,
    params: dict[str, Any] | None = None,
    metric: str | None = None,
    maximize: bool | None = None,
    select_size: str | Callable[..., int] = "best",
    tol: float = 1.5,
    rank: str = "auto",
    seed: int | None = None,
    preprocess: Any = None,
    weights: Any = None,
    groups: Any = None,
    task: str | None = None,
) -> RFEResult:
    """Backwards selection by importance ranking, validated by outer resampling (caret's ``rfe``).

    Inputs as in ``train`` (formula + ``data``, DataFrame + target name, or X and y). ``method``
    is any leanfit model fitted with fixed ``params`` (default: its one-row ``tune_length=1``
    grid). ``sizes``: subset sizes to try (sizes above the number of predictors are dropped with
    a warning; the full set is always scored). ``control``: the outer resampling (default
    10-fold CV), its summary, class probabilities and ``n_jobs``. ``select_size``: "best",
    "tolerance" (``tol`` percent) or ``f(results, metric, maximize) -> size``. ``rank``: "auto"
    (the model's importance, else the filter score), "model" or "filter". One ``seed``
    reproduces everything, whatever ``n_jobs``.
    """
    from ._common import setup

    t0 = time.perf_counter()
    rule = _check_rule(select_size)
    if rank not in ("auto", "model", "filter"):
        raise ValueError(f"rank={rank!r} must be 'auto', 'model' or 'filter'")
    s = setup(
        x,
        y,
        data=data,
        method=method,
        control=control,
        params=params,
        metric=metric,
        maximize=maximize,
        seed=seed,
        preprocess=preprocess,
        weights=weights,
        groups=groups,
        task=task,
        what="rfe",
    )
    prob = s.problem
    sizes_ok, notes = _check_sizes(sizes, prob.p)
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=2)
    return _run(s, sizes_ok, bool(rerank), rule, float(tol), rank, notes, t0)


def _run(
    s: Setup,
    sizes: tuple[int, ...],
    rerank: bool,
    rule: Any,
    tol: float,
    rank: str,
    notes: list[str],
    t0: float,
) -> RFEResult:
    import pandas as pd

    from ._common import (
        final_fit,
        parallel_map,
        profile_frame,
        resample_frame,
        score_outer,
    )

    prob, res = s.problem, s.resamples
    all_sizes = (*sizes, prob.p)  # ascending, the full set last
    jobs = [_Job(prob, r, tr, te, all_sizes, rerank, rank) for r, (_, tr, te) in enumerate(res)]
    t_res = time.perf_counter()
    out = parallel_map(_eliminate_job, jobs, s.control.workers)
    times = {"resampling": time.perf_counter() - t_res}
    failures = [e for o in out for e in o.errors]
    values, mean, sd = score_outer(
        s,
        [o.held for o in out],
        failures,
        f"rfe: every size failed for {prob.model.name!r}; first error:",
    )
    results = profile_frame("Variables", all_sizes, prob.names, mean, sd)
    if callable(rule):
        optsize = int(rule(results, prob.metric, prob.maximize))
    elif rule == "tolerance":
        optsize = pick_size_tolerance(results, prob.metric, tol, prob.maximize)
    else:
        optsize = pick_size_best(results, prob.metric, prob.maximize)
    if optsize not in all_sizes:
        raise ValueError(f"select_size chose {optsize}, which is not one of the sizes {all_sizes}")
    k = all_sizes.index(optsize)
    t_fin = time.perf_counter()
    path = all_sizes[k:] if rerank else tuple(sorted({optsize, prob.p}))
    final = _eliminate(
        prob, np.arange(len(prob.y)), None, path, rerank, rank, fit_seed(prob.seed, -1)
    )
    if final.errors:
        raise RuntimeError(f"rfe: the elimination on all rows failed:\n{final.errors[0]}")
    kept = final.kept[optsize]
    model = final_fit(s, kept)
    times["final"] = time.perf_counter() - t_fin
    variables = pd.DataFrame(
        [rec for o in out for rec in o.records],
        columns=["Resample", "Variables", "var", "Overall", "rank"],
    )
    variables["Resample"] = [res.names[int(r)] for r in variables["Resample"]]
    ranking = pd.DataFrame(
        [
            {"var": prob.columns[c], "Overall": v, "rank": i + 1}
            for i, (c, v) in enumerate(final.full_rank)
        ]
    )
    times["everything"] = time.perf_counter() - t0
    return RFEResult(
        results=results,
        optsize=optsize,
        optvariables=[prob.columns[c] for c in kept],
        variables=variables,
        resample=resample_frame(prob.names, values[:, k, :], res.names, Variables=optsize),
        ranking=ranking,
        final_model=model,
        metric=prob.metric,
        maximize=prob.maximize,
        method=prob.model.name,
        control=s.control,
        rerank=rerank,
        values=values,
        failures=failures,
        notes=notes,
        times=times,
        _encoder=s.dataset.encoder,
        _columns=prob.columns,
    )


# ---------------------------------------------------------------------------------------------
# the elimination (one outer resample, or all rows)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    problem: Problem
    resample: int
    train: np.ndarray
    test: np.ndarray
    sizes: tuple[int, ...]  # ascending, the full set last
    rerank: bool
    rank: str


@dataclass
class _Path:
    """What one elimination produced: held-out predictions per size (ascending), kept columns."""

    held: list[Held | None] = field(default_factory=list)
    kept: dict[int, np.ndarray] = field(default_factory=dict)
    records: list[tuple[int, int, str, float, int]] = field(default_factory=list)
    full_rank: list[tuple[int, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _eliminate_job(job: _Job) -> _Path:
    return _eliminate(
        job.problem.on_rows(job.train),  # a stateful formula: fitted on these rows only
        job.train,
        job.test,
        job.sizes,
        job.rerank,
        job.rank,
        fit_seed(job.problem.seed, job.resample),
        job.resample,
    )


def _eliminate(
    prob: Problem,
    train: np.ndarray,
    test: np.ndarray | None,
    sizes: tuple[int, ...],
    rerank: bool,
    rank: str,
    seed: int,
    resample: int = -1,
) -> _Path:
    """Fit all columns, rank, then fit the top ``size`` columns for every size, largest first;
    predict ``test`` at each size when given. Only ``train`` rows are used for fits and ranks."""
    out = _Path(held=[None] * len(sizes))
    label = f"resample {resample}" if resample >= 0 else "all rows"
    last = len(sizes) - 1
    order = np.arange(prob.p)  # the current ranking, most important first
    imp_of: dict[int, float] = {}
    for k in range(last, -1, -1):
        size = sizes[k]
        cols = order[:size]
        if test is None and k == 0 < last:  # all rows: the final fit on these is made later
            out.kept[size] = cols.copy()
            break
        fit = guarded(prob.fit, out.errors, f"{label}, {size}", train, cols, seed)
        if fit is None:
            if k == last:  # no ranking without the full fit: nothing else can run
                return out
            continue
        if test is not None:
            h = guarded(prob.predict, out.errors, f"{label}, {size}", fit, test)
            if h is not None:
                out.held[k] = Held(test, h[0], h[1])
        if k == last:
            imp = guarded(prob.importance, out.errors, f"{label}, rank", fit, train, rank)
            if imp is None:
                return out
            order = rank_columns(fit.cols, imp)
            imp_of = dict(zip(fit.cols.tolist(), imp.tolist(), strict=True))
            out.full_rank = [(int(c), _finite(imp_of[int(c)])) for c in order]
            cols = order
        out.kept[size] = cols.copy()
        for i, c in enumerate(cols):
            out.records.append((resample, size, prob.columns[c], _finite(imp_of[int(c)]), i + 1))
        if rerank and 0 < k < last:
            imp = guarded(prob.importance, out.errors, f"{label}, rerank", fit, train, rank)
            if imp is not None:
                order = rank_columns(fit.cols, imp)
                imp_of = dict(zip(fit.cols.tolist(), imp.tolist(), strict=True))
    return out


def _finite(v: float) -> float:
    return float(v) if math.isfinite(v) else math.nan


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _check_sizes(sizes: Any, p: int) -> tuple[tuple[int, ...], list[str]]:
    """Whole sizes in 1..p-1, sorted and de-duplicated; larger ones dropped with a note."""
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence | np.ndarray):
        raise ValueError(f"sizes must be a sequence of whole numbers, got {sizes!r}")
    vals = []
    for v in sizes:
        if isinstance(v, bool) or not isinstance(v, int | np.integer | float | np.floating):
            raise ValueError(f"size {v!r} is not a whole number")
        if float(v) != int(v) or int(v) < 1:
            raise ValueError(f"size {v!r} must be a whole number >= 1")
        vals.append(int(v))
    if not vals:
        raise ValueError(f"sizes is empty; give subset sizes between 1 and {p - 1}, e.g. (2, 4)")
    notes = []
    big = sorted({v for v in vals if v > p})
    if big:
        notes.append(
            f"sizes {big} exceed the {p} predictors and were dropped (the full set of {p} is "
            "always scored)"
        )
    return tuple(sorted({v for v in vals if v < p})), notes


def _check_rule(rule: Any) -> Any:
    if callable(rule):
        return rule
    if rule not in _RULES:
        raise ValueError(
            f"select_size={rule!r} must be one of {list(_RULES)} or a callable "
            "f(results, metric, maximize) -> size"
        )
    return rule
