"""Adaptive resampling (caret's adaptive_cv / _boot / _lgocv; Kuhn 2014, futility analysis).

Every candidate is scored on the first ``min`` resamples; after that and after each further
resample a futility test against the current best stops the candidates clearly worse. A fit
group is fitted on a resample while any of its candidates is still racing. The tests here are
pure functions of the scores so far, so a run (or a resumed one) makes the same stops whatever
order or executor produced the scores. caret's extra ``filter_on_diff`` step (dropping
near-identical candidates, which make its compound-symmetry gls singular) is left out: the
blocked least squares here has no such trouble, and on gbmFit3 it dropped the best n.trees.

The second rule, successive halving (``method="halving"``), needs no test: resamples come in
rungs of ``min``, and after each rung only the best ``ceil(n / eta)`` of the ``n`` candidates
still racing go on (by mean over the resamples so far; ties go to the simpler candidate), until
one is left or the resamples run out.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..execute import FitGroup, TaskResult
from .plan import Task

__all__ = [
    "Race",
    "bt_survivors",
    "gls_pvalues",
    "gls_survivors",
    "free_riders",
    "halving_survivors",
    "live_groups",
    "race",
]


def _oriented(values: np.ndarray, maximize: bool) -> np.ndarray:
    return values if maximize else -values


def gls_pvalues(values: np.ndarray, maximize: bool) -> tuple[int, np.ndarray]:
    """One-sided p-values that each candidate is worse than the best (caret's "gls" filter).

    ``values``: (resamples, candidates) metric. A linear model of the metric on candidate with
    the resample as block (``metric ~ C(candidate) + C(resample)``, least squares, missing
    cells left out) estimates each candidate's difference from the candidate with the best
    mean; p is the t test of "the difference favours the best" on the residual degrees of
    freedom. Returns (best column, p per column; 1 for the best itself)."""
    y = _oriented(np.asarray(values, dtype=float), maximize)
    n_res, n_c = y.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(y, axis=0)
    best = int(np.nanargmax(means))
    p = np.ones(n_c)
    if not np.isnan(y).any():  # balanced: the two-way model in closed form
        df = (n_res - 1) * (n_c - 1)
        if df <= 0:
            return best, p
        resid = y - y.mean(axis=0) - y.mean(axis=1, keepdims=True) + y.mean()
        se = np.sqrt(2.0 * float((resid**2).sum()) / df / n_res)
        diff = means[best] - means  # positive: the candidate is worse
        with np.errstate(divide="ignore", invalid="ignore"):
            p = stats.t.sf(diff / se, df) if se > 0 else np.where(diff > 0, 0.0, 1.0)
        p = np.asarray(p, dtype=float)
        p[best] = 1.0
        return best, p
    r_idx, c_idx = np.nonzero(~np.isnan(y))
    obs = y[r_idx, c_idx]
    # design: intercept (the best candidate on resample 0), each other candidate's difference
    # from the best, each later resample's block effect; columns never used are left out
    others = np.array([c for c in range(n_c) if c != best], dtype=int)
    col = np.zeros(n_c, dtype=int)
    col[others] = np.arange(1, len(others) + 1)
    X = np.zeros((len(obs), 1 + len(others) + n_res - 1))
    rows = np.arange(len(obs))
    X[:, 0] = 1.0
    other = c_idx != best
    X[rows[other], col[c_idx[other]]] = 1.0
    later = r_idx > 0
    X[rows[later], len(others) + r_idx[later]] = 1.0
    keep: np.ndarray = np.asarray(X.any(axis=0), dtype=bool)
    X = X[:, keep]
    coef, _, rank, _ = np.linalg.lstsq(X, obs, rcond=None)
    df = len(obs) - int(rank)
    if df <= 0:
        return best, p
    resid = obs - X @ coef
    s2 = float(resid @ resid) / df
    cov = s2 * np.linalg.pinv(X.T @ X)
    position = np.cumsum(keep) - 1  # design column -> column of the reduced X
    for c in others:
        if not keep[col[c]]:
            continue  # never scored: nothing to test
        j = int(position[col[c]])
        diff = -float(coef[j])  # best minus candidate (oriented: positive = candidate worse)
        se = float(np.sqrt(max(float(cov[j, j]), 0.0)))
        if se == 0.0:
            p[c] = 0.0 if diff > 0 else 1.0
        else:
            p[c] = float(stats.t.sf(diff / se, df))
    return best, p


def gls_survivors(values: np.ndarray, maximize: bool, alpha: float) -> np.ndarray:
    """Columns that survive the "gls" futility test: p >= alpha (the best always does)."""
    best, p = gls_pvalues(values, maximize)
    keep = p >= alpha
    keep[best] = True
    return np.flatnonzero(keep)


def bt_survivors(values: np.ndarray, maximize: bool, alpha: float) -> np.ndarray:
    """Columns that survive caret's "BT" filter: Bradley-Terry abilities fitted to the pairwise
    wins on each resample (ties count for neither), the best mean as reference; a candidate
    stays while its ability's upper bound (estimate + z(1-alpha) SE) reaches 0. Candidates
    that won no comparison are dropped first (caret's ``skunked``, from 5 resamples)."""
    y = _oriented(np.asarray(values, dtype=float), maximize)
    n_c = y.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        best = int(np.nanargmax(np.nanmean(y, axis=0)))
    a, b = y[:, :, None], y[:, None, :]
    wins = np.nansum(a > b, axis=0).astype(float)  # wins[i, j]: i beat j
    players = np.arange(n_c)
    if y.shape[0] >= 5:
        won = wins.sum(axis=1) > 0
        won[best] = True
        players = np.flatnonzero(won)
    others = [c for c in players if c != best]
    if not others:
        return np.array([best])
    theta = _bt_fit(wins[np.ix_(players, players)], int(np.flatnonzero(players == best)[0]))
    est, se = theta
    z = stats.norm.ppf(1 - alpha)
    keep = [best]
    for k, c in enumerate(players):
        if c == best:
            continue
        dominated = se[k] > 100 and est[k] <= 0
        if est[k] + z * se[k] >= 0 and not dominated:
            keep.append(int(c))
    return np.array(sorted(keep))


def _bt_fit(wins: np.ndarray, ref: int) -> tuple[np.ndarray, np.ndarray]:
    """Bradley-Terry maximum likelihood (Newton) with player ``ref`` fixed at 0: abilities and
    their standard errors (a player never beaten or never winning drifts off: large SE)."""
    n = wins.shape[0]
    free = [i for i in range(n) if i != ref]
    theta = np.zeros(n)
    cov = np.eye(len(free))
    for _ in range(100):
        d = theta[:, None] - theta[None, :]
        prob = 1.0 / (1.0 + np.exp(-d))  # P(i beats j)
        games = wins + wins.T
        grad = (wins - games * prob).sum(axis=1)
        w = games * prob * (1 - prob)
        hess = -np.diag(w.sum(axis=1)) + w  # second derivatives of the log-likelihood
        g, h = grad[free], hess[np.ix_(free, free)]
        try:
            cov = np.linalg.inv(-h)
        except np.linalg.LinAlgError:
            cov = np.linalg.pinv(-h)
        step = cov @ g
        step = np.clip(step, -5, 5)
        theta[free] += step
        if np.max(np.abs(step)) < 1e-8:
            break
    se = np.full(n, 0.0)
    se[free] = np.sqrt(np.clip(np.diag(cov), 0, None))
    return theta, se


def halving_survivors(values: np.ndarray, maximize: bool, eta: float) -> np.ndarray:
    """Columns of the best ``ceil(n / eta)`` of the ``n`` candidates by mean metric (missing
    cells left out; a candidate never scored ranks last; ties go to the earlier column, the
    simpler candidate), in column order."""
    y = _oriented(np.asarray(values, dtype=float), maximize)
    n_c = y.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(y, axis=0)
    means = np.where(np.isnan(means), -np.inf, means)
    keep = max(1, math.ceil(n_c / eta))
    order = np.argsort(-means, kind="stable")  # stable: equal means keep column order
    return np.sort(order[:keep])


FILTERS: dict[str, Callable[[np.ndarray, bool, float], np.ndarray]] = {
    "gls": gls_survivors,
    "BT": bt_survivors,
}


@dataclass
class Race:
    """The stops a race made: ``stopped[c]`` is the number of resamples candidate ``c`` got
    before it stopped (absent: it raced to the end)."""

    stopped: dict[int, int] = field(default_factory=dict)
    fits: int = 0  # tasks run or read back for this race


def live_groups(groups: Sequence[FitGroup], alive: np.ndarray) -> tuple[FitGroup, ...]:
    """The fit groups cut to their candidates still racing (``alive``: one bool per
    candidate): a group's fit then goes only as far as its largest racing sub-model (fewer
    trees). A group with no candidate racing is left whole (it is not fitted)."""
    out = []
    for g in groups:
        keep = [k for k, c in enumerate(g.candidates) if alive[c]]
        if not keep or len(keep) == len(g.candidates):
            out.append(g)
        else:
            subs = [g.subs[k] for k in keep]
            out.append(FitGroup(g.params, subs, tuple(g.candidates[k] for k in keep)))
    return tuple(out)


def free_riders(
    groups: Sequence[FitGroup], kept: np.ndarray, alive: np.ndarray, trim: bool
) -> np.ndarray:
    """``kept`` and every candidate still racing whose scores cost no extra fitting: one of a
    group that keeps a candidate, whose sub-model values are at most the largest kept there
    (with ``trim``, a group is fitted only that far; else it is fitted whole anyway)."""
    keep = set(int(c) for c in kept)
    for g in groups:
        here = [k for k, c in enumerate(g.candidates) if c in keep]
        if not here:
            continue
        top = max(_sub_key(g.subs[k]) for k in here)
        for k, c in enumerate(g.candidates):
            if alive[c] and (not trim or _sub_key(g.subs[k]) <= top):
                keep.add(int(c))
    return np.array(sorted(keep), dtype=int)


def _sub_key(sub: dict[str, object]) -> tuple[object, ...]:
    return tuple(sub[k] for k in sorted(sub))


def race(
    tasks: Sequence[Task],
    groups: Sequence[FitGroup],
    n_resamples: int,
    settings: dict[str, object],
    maximize: bool,
    score: Callable[[list[TaskResult], tuple[FitGroup, ...]], np.ndarray],
    run: Callable[[list[Task], tuple[FitGroup, ...]], Iterator[TaskResult]],
    trim: bool = False,
) -> tuple[list[TaskResult], Race]:
    """Run ``tasks`` resample by resample with futility stops.

    ``score(new_results, groups)`` adds results to the caller's scores and gives the
    (resamples, candidates) selection metric of all results so far; ``run(batch, groups)``
    runs a batch of tasks (reading stored ones back) and yields their results; ``groups`` are
    the fit groups those tasks fit and score. The first ``min`` resamples run as one batch,
    then (futility tests) one resample at a time or (halving) one rung of ``min`` resamples
    at a time, for the groups with a racing candidate; when one candidate is left the race
    ends, and with ``complete`` its group gets the remaining resamples as one batch. With the
    setting ``free`` a candidate is never stopped while it costs nothing (``free_riders``). With
    ``trim`` (a model whose fits for fewer subs score them exactly as longer fits do:
    ``Model.prefix_submodels``) each batch's groups hold only their racing candidates, so a
    group is fitted only as far as they need; the scores are the same as without it. As the
    groups a batch uses depend only on the stops so far, a resumed race cuts them the same."""
    free = bool(settings.get("free", False))
    low = int(settings["min"])  # type: ignore[call-overload]
    alpha = float(settings["alpha"])  # type: ignore[arg-type]
    halving = settings["method"] == "halving"
    eta = float(settings.get("eta", 3))  # type: ignore[arg-type]
    test = None if halving else FILTERS[str(settings["method"])]
    n_c = sum(len(g.candidates) for g in groups)
    by_resample: dict[int, list[Task]] = {}
    for t in tasks:
        by_resample.setdefault(t.resample, []).append(t)
    alive = np.ones(n_c, dtype=bool)
    out = Race()
    results: list[TaskResult] = []
    current = [np.full((n_resamples, n_c), np.nan)]

    def batch(resamples: Iterable[int]) -> None:
        wanted = [
            t
            for r in resamples
            for t in by_resample.get(r, [])
            if alive[list(groups[t.group].candidates)].any()
        ]
        now = live_groups(groups, alive) if trim else tuple(groups)
        got = list(run(wanted, now))
        results.extend(got)
        out.fits += len(got)
        current[0] = score(got, now)

    def stop(racing: np.ndarray, kept: np.ndarray, r: int) -> None:
        if free:
            kept = free_riders(groups, kept, alive, trim)
        for c in racing:
            if c not in kept:
                alive[c] = False
                out.stopped[int(c)] = r

    batch(range(low))
    r = low
    while halving and r < n_resamples:  # successive halving: a rung of ``min`` resamples each
        racing = np.flatnonzero(alive)
        stop(racing, racing[halving_survivors(current[0][:r, racing], maximize, eta)], r)
        if alive.sum() == 1:
            if settings["complete"]:
                batch(range(r, n_resamples))
            return results, out
        batch(range(r, min(r + low, n_resamples)))
        r = min(r + low, n_resamples)
    while r < n_resamples:
        assert test is not None
        values = current[0][:r]
        racing = np.flatnonzero(alive)
        scored = racing[~np.all(np.isnan(values[:, racing]), axis=0)]  # caret drops the others
        kept = scored[test(values[:, scored], maximize, alpha)] if len(scored) else racing
        stop(racing, kept, r)
        if alive.sum() == 1:
            if settings["complete"]:  # else the survivor keeps the r resamples it has
                batch(range(r, n_resamples))
            break
        batch([r])
        r += 1
    return results, out
