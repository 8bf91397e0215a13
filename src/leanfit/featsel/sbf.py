"""Selection by filter with outer resampling (caret's ``sbf``).

Inside each outer resample, on its training rows only, every predictor gets a univariate p-value
(classification: one-way ANOVA of the predictor across the classes, caret's ``anovaScores``;
regression: the t-test of its Pearson correlation with the outcome, a linear stand-in for
caret's ``gamScores``); predictors with ``p < alpha`` (default 0.05, caret's default filter) are
kept, the model is fitted on them and scored on the held-out rows. When no predictor passes, the
one with the smallest p-value is kept (counted in ``n_empty``). The reported performance thus
includes the filtering. Finally the filter runs on all rows and the model is fitted on the
predictors it keeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import Held, PredictsWithSubset, Problem, fit_seed, guarded

if TYPE_CHECKING:
    import pandas as pd

    from ..control import Control
    from ..tuning.result import TrainResult

CLASSIFICATION = "classification"


# ---------------------------------------------------------------------------------------------
# univariate scores
# ---------------------------------------------------------------------------------------------


def anova_scores(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """p-value of a one-way ANOVA of each column across the classes ``y`` (caret's anovaScores);
    NaN rows are dropped per column; constant columns get 1."""
    from scipy.stats import f as f_dist

    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    out = np.ones(X.shape[1])
    for j in range(X.shape[1]):
        ok = ~np.isnan(X[:, j])
        x, g = X[ok, j], y[ok]
        classes = np.unique(g)
        n, k = len(x), len(classes)
        if k < 2 or n <= k:
            continue
        mean = x.mean()
        ssb = sum(((g == c).sum() * (x[g == c].mean() - mean) ** 2) for c in classes)
        ssw = sum((((x[g == c] - x[g == c].mean()) ** 2).sum()) for c in classes)
        if ssw <= 0:
            out[j] = 0.0 if ssb > 0 else 1.0
            continue
        f = (ssb / (k - 1)) / (ssw / (n - k))
        out[j] = float(f_dist.sf(f, k - 1, n - k))
    return out


def cor_scores(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """p-value of the t-test of each column's Pearson correlation with ``y`` (two-sided);
    NaN rows are dropped per column; constant columns get 1."""
    from scipy.stats import t as t_dist

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    out = np.ones(X.shape[1])
    for j in range(X.shape[1]):
        ok = ~np.isnan(X[:, j])
        x, v = X[ok, j], y[ok]
        n = len(x)
        xc, vc = x - x.mean(), v - v.mean()
        sxx, svv = float(xc @ xc), float(vc @ vc)
        if n < 3 or sxx <= 0 or svv <= 0:
            continue
        r = float(xc @ vc) / np.sqrt(sxx * svv)
        r2 = min(r * r, 1.0 - 1e-15)
        t = abs(r) * np.sqrt((n - 2) / (1.0 - r2))
        out[j] = float(2.0 * t_dist.sf(t, n - 2))
    return out


def _scores(prob: Problem, rows: np.ndarray, filter: Any) -> np.ndarray:
    X, y = prob.X[rows], prob.y[rows]
    if callable(filter):
        p = np.asarray(filter(X, y), dtype=float)
        if p.shape != (prob.p,):
            raise ValueError(f"filter returned shape {p.shape}, expected ({prob.p},) p-values")
        return np.where(np.isnan(p), 1.0, p)
    return anova_scores(X, y) if prob.mode == CLASSIFICATION else cor_scores(X, y)


def _keep(pvalues: np.ndarray, alpha: float) -> tuple[np.ndarray, bool]:
    """Columns with p < alpha; when none passes, the smallest p-value (flagged as empty)."""
    kept = np.flatnonzero(pvalues < alpha)
    if kept.size:
        return kept, False
    return np.array([int(np.argmin(pvalues))]), True


# ---------------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------------


@dataclass
class SBFResult(PredictsWithSubset):
    """The outcome of sbf(): caret's ``sbf`` object with pandas tables.

    results: every metric's mean and SD over the outer resamples (held-out rows only).
    resample: per-resample metrics and the number of predictors kept. variables: per outer
    resample the predictors kept. selection_frequency: per predictor, the fraction of resamples
    that kept it. optvariables / pvalues: the filter on all rows. final_model: a TrainResult
    fitted on optvariables (``predict``/``predict_proba`` here take the full data).
    """

    results: pd.DataFrame
    resample: pd.DataFrame
    variables: dict[str, list[str]]
    selection_frequency: pd.Series
    optvariables: list[str]
    pvalues: pd.Series
    final_model: TrainResult
    metric: str
    maximize: bool
    method: str
    control: Control
    alpha: float
    n_empty: int = 0
    failures: list[str] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)
    _encoder: Any = None
    _columns: tuple[str, ...] = ()

    def __repr__(self) -> str:
        from ._common import format_table

        lines = ["", "Selection By Filter", ""]
        lines.append(f"Outer resampling method: {self.control.describe()}")
        lines += ["", "Resampling performance:", ""]
        lines += format_table(self.results)
        lines.append("")
        sizes = self.resample["Variables"].to_numpy()
        lines.append(
            f"Using the training set, {len(self.optvariables)} variables were selected:\n   "
            + ", ".join(self.optvariables[:5])
            + (", ..." if len(self.optvariables) > 5 else "")
        )
        lines.append("")
        lines.append(
            f"During resampling, the number of variables kept ranged from {sizes.min()} to "
            f"{sizes.max()} (mean {sizes.mean():.1f}); the most frequent:"
        )
        top = self.selection_frequency.sort_values(ascending=False, kind="mergesort").head(5)
        lines.append("   " + ", ".join(f"{k} ({v:.0%})" for k, v in top.items()))
        if self.n_empty:
            lines.append(
                f"Note: in {self.n_empty} resample(s) no predictor had p < {self.alpha}; the one "
                "with the smallest p-value was kept"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# sbf()
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    problem: Problem
    resample: int
    train: np.ndarray
    test: np.ndarray
    filter: Any
    alpha: float


@dataclass
class _Out:
    kept: np.ndarray
    empty: bool
    held: Held | None
    errors: list[str]


def _sbf_job(job: _Job) -> _Out:
    prob = job.problem.on_rows(job.train)  # a stateful formula: fitted on these rows only
    errors: list[str] = []
    p = _scores(prob, job.train, job.filter)
    kept, empty = _keep(p, job.alpha)
    label = f"resample {job.resample}"
    fit = guarded(prob.fit, errors, label, job.train, kept, fit_seed(prob.seed, job.resample))
    held = None
    if fit is not None:
        h = guarded(prob.predict, errors, label, fit, job.test)
        held = None if h is None else Held(job.test, h[0], h[1])
    return _Out(kept=kept, empty=empty, held=held, errors=errors)


def sbf(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    method: Any = "rf",
    control: Control | None = None,
    params: dict[str, Any] | None = None,
    metric: str | None = None,
    maximize: bool | None = None,
    filter: str | Callable[[np.ndarray, np.ndarray], np.ndarray] = "auto",
    alpha: float = 0.05,
    seed: int | None = None,
    preprocess: Any = None,
    weights: Any = None,
    groups: Any = None,
    task: str | None = None,
) -> SBFResult:
    """Univariate filtering inside every outer resample, then a fit on the kept predictors
    (caret's ``sbf``); inputs as in ``rfe``. ``filter``: "auto" (ANOVA p-values for classes,
    correlation-test p-values for numbers) or ``f(X, y) -> p-values`` on the training rows
    (y: class codes or numbers); predictors with ``p < alpha`` are kept."""
    import pandas as pd

    from ._common import (
        final_fit,
        parallel_map,
        profile_frame,
        resample_frame,
        score_outer,
        setup,
    )

    t0 = time.perf_counter()
    if not (callable(filter) or filter == "auto"):
        raise ValueError(f"filter={filter!r} must be 'auto' or a callable f(X, y) -> p-values")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 1:
        raise ValueError(f"alpha={alpha!r} must be a number in (0, 1]")
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
        what="sbf",
    )
    prob, res = s.problem, s.resamples
    jobs = [_Job(prob, r, tr, te, filter, float(alpha)) for r, (_, tr, te) in enumerate(res)]
    t_res = time.perf_counter()
    out = parallel_map(_sbf_job, jobs, s.control.workers)
    times = {"resampling": time.perf_counter() - t_res}
    failures = [e for o in out for e in o.errors]
    values, mean, sd = score_outer(
        s,
        [[o.held] for o in out],
        failures,
        f"sbf: every resample failed for {prob.model.name!r}; first:",
    )
    results = profile_frame("Variables", ["filtered"], prob.names, mean, sd).drop(
        columns="Variables"
    )
    t_fin = time.perf_counter()
    p_all = _scores(prob, np.arange(len(prob.y)), filter)
    kept_all, _ = _keep(p_all, float(alpha))
    model = final_fit(s, kept_all)
    times["final"] = time.perf_counter() - t_fin
    cols = prob.columns
    counts = np.zeros(prob.p)
    for o in out:
        counts[o.kept] += 1
    times["everything"] = time.perf_counter() - t0
    return SBFResult(
        results=results,
        resample=resample_frame(
            prob.names, values[:, 0, :], res.names, Variables=[len(o.kept) for o in out]
        ),
        variables={res.names[r]: [cols[c] for c in o.kept] for r, o in enumerate(out)},
        selection_frequency=pd.Series(counts / len(out), index=list(cols), name="frequency"),
        optvariables=[cols[c] for c in kept_all],
        pvalues=pd.Series(p_all, index=list(cols), name="p_value"),
        final_model=model,
        metric=prob.metric,
        maximize=prob.maximize,
        method=prob.model.name,
        control=s.control,
        alpha=float(alpha),
        n_empty=sum(o.empty for o in out),
        failures=failures,
        times=times,
        _encoder=s.dataset.encoder,
        _columns=cols,
    )
