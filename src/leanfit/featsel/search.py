"""Feature selection by genetic algorithm and simulated annealing with outer resampling (caret's
``gafs`` and ``safs``).

The search runs inside each outer resample, on its training rows only. A subset's *internal*
fitness is the mean metric over an internal resampling of those rows (``internal``, default
3-fold CV; ``Control(method="lgocv", number=1, p=0.8)`` is a 20 % holdout), cached per subset.
At every iteration the reported subset (GA: the generation's best by internal fitness; SA: the
current subset, as caret) is fitted on all the resample's training rows and scored on its
held-out rows: the *external* performance. The iteration with the best mean external metric is
``optiter``; the same search then runs on all rows, and its subset at ``optiter`` is fitted on all
rows: the final model.

GA: a population of ``pop_size`` random subsets (each of a random size); every generation keeps
the ``elite`` best, and fills the rest with children of two parents chosen by tournaments of
``tournament`` individuals: uniform crossover with probability ``pcrossover`` (else a copy of the
first parent), then bit-flip mutation of each bit with probability ``pmutation`` (default
1 / number of predictors). ``iters`` generations, the first being the random one.

SA (caret's defaults where small enough): start from ``floor(0.2 p) + 1`` random predictors; each
iteration flips 1 to 3 random bits (``perturb``); a better subset is always accepted, a worse one
with probability ``exp(-iteration * relative loss)`` (caret's ``safs_prob``: the temperature falls
as 1 / iteration); after ``improve`` iterations without a new best the search restarts from the
best subset.

Subsets are never empty. Seeds derive from the run seed and the resample position, so results do
not depend on ``n_jobs``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import Held, PredictsWithSubset, Problem, fit_seed, guarded, job_seed

if TYPE_CHECKING:
    import pandas as pd

    from ..control import Control
    from ..tuning.result import TrainResult


# ---------------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------------


@dataclass
class SearchResult(PredictsWithSubset):
    """The outcome of gafs()/safs(): caret's ``gafs``/``safs`` object with pandas tables.

    external: per iteration (``Iter``) every metric's mean and SD over the outer resamples of the
    reported subset scored on held-out rows. internal: per iteration the mean and SD of that
    subset's internal fitness and of its size. external_resamples / internal_resamples: the same
    per resample. optiter: the iteration with the best mean external metric. optvariables: the
    final search's subset (all rows) at optiter. variables: per outer resample its subset at
    optiter. final_search: the final search's trajectory. final_model: a TrainResult fitted on
    optvariables (``predict``/``predict_proba`` here take the full data).
    """

    algorithm: str
    external: pd.DataFrame
    internal: pd.DataFrame
    external_resamples: pd.DataFrame
    internal_resamples: pd.DataFrame
    optiter: int
    optvariables: list[str]
    variables: dict[str, list[str]]
    final_search: pd.DataFrame
    final_model: TrainResult
    metric: str
    maximize: bool
    method: str
    control: Control
    settings: dict[str, Any]
    n_samples: int = 0
    n_predictors: int = 0
    failures: list[str] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)
    _encoder: Any = None
    _columns: tuple[str, ...] = ()

    def __repr__(self) -> str:
        title = {
            "GA": "Genetic Algorithm Feature Selection",
            "SA": "Simulated Annealing Feature Selection",
        }
        direction = "maximize" if self.maximize else "minimize"
        lines = ["", title[self.algorithm], ""]
        lines.append(f"{self.n_samples} samples")
        lines.append(f"{self.n_predictors} predictors")
        lines.append("")
        for k, v in self.settings.items():
            lines.append(f"{k}: {v}")
        lines.append("")
        lines.append(f"Subset selection driven to {direction} internal {self.metric}")
        lines.append(f"Best iteration chosen by {direction[:-1]}ing external {self.metric}")
        lines.append(f"External resampling method: {self.control.describe()}")
        lines.append("")
        freq: dict[str, int] = {}
        for v in self.variables.values():
            for name in v:
                freq[name] = freq.get(name, 0) + 1
        n = max(1, len(self.variables))
        top = sorted(freq.items(), key=lambda kv: -kv[1])[:5]
        sizes = [len(v) for v in self.variables.values()] or [0]
        lines.append("During resampling:")
        lines.append(
            f"  * the top {len(top)} selected variables (out of a possible {self.n_predictors}):"
        )
        lines.append("    " + ", ".join(f"{k} ({c / n:.0%})" for k, c in top))
        lines.append(
            f"  * on average, {np.mean(sizes):.1f} variables were selected (min = "
            f"{min(sizes)}, max = {max(sizes)})"
        )
        lines.append("")
        lines.append("In the final search using the entire training set:")
        shown = ", ".join(self.optvariables[:5]) + (", ..." if len(self.optvariables) > 5 else "")
        lines.append(
            f"  * {len(self.optvariables)} features selected at iteration {self.optiter} "
            f"including:\n    {shown}"
        )
        row = self.external[self.external["Iter"] == self.optiter].iloc[0]
        lines.append(f"  * external {self.metric} at this iteration: {row[self.metric]:.4g}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# fitness
# ---------------------------------------------------------------------------------------------


class _Fitness:
    """Internal fitness of subsets on one job's rows (mean metric over internal splits), cached;
    plus the external score of a subset (fit on all the job's rows, predict held-out rows)."""

    def __init__(self, prob: Problem, rows: np.ndarray, internal: Control, resample: int) -> None:
        from ..control import make_resamples

        self.prob, self.rows, self.resample = prob.on_rows(rows), rows, resample
        inner = make_resamples(
            internal, prob.strata[rows], int(job_seed(prob.seed, resample, 3).generate_state(1)[0])
        )
        self.splits = [(rows[tr], rows[te]) for _, tr, te in inner]
        # a stateful formula: refitted on each internal resample's training rows too, so the
        # internal estimates do not see their held-out rows either
        self.inner = [
            prob.on_rows(tr) if prob.formula is not None else self.prob for tr, _ in self.splits
        ]
        self.cache: dict[bytes, float] = {}
        self.held: dict[bytes, Held | None] = {}
        self.errors: list[str] = []

    def __call__(self, mask: np.ndarray) -> float:
        key = mask.tobytes()
        if key not in self.cache:
            cols = np.flatnonzero(mask)
            vals = []
            for i, (tr, te) in enumerate(self.splits):
                prob = self.inner[i]
                seed = fit_seed(prob.seed, self.resample, i + 1)
                label = f"resample {self.resample}, internal {i}"
                fit = guarded(prob.fit, self.errors, label, tr, cols, seed)
                if fit is None:
                    continue
                h = guarded(prob.predict, self.errors, label, fit, te)
                if h is not None:
                    vals.append(prob.score(te, h[0], h[1])[prob.metric_index])
            v = np.asarray(vals, dtype=float)
            v = v[~np.isnan(v)]
            self.cache[key] = float(v.mean()) if v.size else math.nan
        return self.cache[key]

    def signed(self, mask: np.ndarray) -> float:
        """Fitness where larger is better; failures are the worst."""
        v = self(mask)
        return -math.inf if math.isnan(v) else self.prob.sign * v

    def external(self, mask: np.ndarray, test: np.ndarray) -> Held | None:
        key = mask.tobytes()
        if key not in self.held:
            prob, cols = self.prob, np.flatnonzero(mask)
            seed = fit_seed(prob.seed, self.resample, 0)
            label = f"resample {self.resample}, external"
            fit = guarded(prob.fit, self.errors, label, self.rows, cols, seed)
            h = None if fit is None else guarded(prob.predict, self.errors, label, fit, test)
            self.held[key] = None if h is None else Held(test, h[0], h[1])
        return self.held[key]


# ---------------------------------------------------------------------------------------------
# the searches
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    problem: Problem
    resample: int  # -1: the final search on all rows
    rows: np.ndarray
    test: np.ndarray | None
    algorithm: str
    settings: dict[str, Any]
    internal: Control


@dataclass
class _Trace:
    subsets: list[np.ndarray] = field(default_factory=list)
    internal: list[float] = field(default_factory=list)
    held: list[Held | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    evaluations: int = 0


def _search_job(job: _Job) -> _Trace:
    # a stateful formula: fitted on the outer resample's training rows only (in _Fitness)
    fitness = _Fitness(job.problem, job.rows, job.internal, job.resample)
    rng = np.random.default_rng(job_seed(job.problem.seed, job.resample, 1))
    run = _ga if job.algorithm == "GA" else _sa
    trace = _Trace()
    for mask in run(fitness, rng, job.problem.p, **job.settings):
        trace.subsets.append(np.flatnonzero(mask))
        trace.internal.append(fitness(mask))
        if job.test is not None:
            trace.held.append(fitness.external(mask, job.test))
    trace.errors = fitness.errors
    trace.evaluations = len(fitness.cache)
    return trace


def _random_mask(rng: np.random.Generator, p: int, k: int) -> np.ndarray:
    m = np.zeros(p, dtype=bool)
    m[rng.choice(p, size=k, replace=False)] = True
    return m


def _ga(
    fitness: _Fitness,
    rng: np.random.Generator,
    p: int,
    *,
    iters: int,
    pop_size: int,
    pcrossover: float,
    pmutation: float,
    elite: int,
    tournament: int,
) -> Any:
    """Yield the best subset of every generation (a generator: fitness is evaluated lazily)."""
    pop = [_random_mask(rng, p, int(rng.integers(1, p + 1))) for _ in range(pop_size)]
    for it in range(iters):
        fit = np.array([fitness.signed(m) for m in pop])
        order = np.argsort(-fit, kind="stable")
        yield pop[int(order[0])]
        if it == iters - 1:
            return
        nxt = [pop[int(i)].copy() for i in order[:elite]]
        while len(nxt) < pop_size:
            a = _tournament(rng, fit, tournament)
            b = _tournament(rng, fit, tournament)
            if rng.random() < pcrossover:
                child = np.where(rng.random(p) < 0.5, pop[a], pop[b])
            else:
                child = pop[a].copy()
            child ^= rng.random(p) < pmutation
            if not child.any():
                child[int(rng.integers(p))] = True
            nxt.append(child)
        pop = nxt


def _tournament(rng: np.random.Generator, fit: np.ndarray, size: int) -> int:
    idx = rng.choice(len(fit), size=min(size, len(fit)), replace=False)
    return int(idx[np.argmax(fit[idx])])


def _sa(
    fitness: _Fitness,
    rng: np.random.Generator,
    p: int,
    *,
    iters: int,
    perturb: tuple[int, int],
    improve: int,
    initial: float,
) -> Any:
    """Yield the current subset after every iteration (caret's safs records the current one)."""
    current = _random_mask(rng, p, min(p, int(math.floor(initial * p)) + 1))
    cur = fitness.signed(current)
    best, best_fit, since = current, cur, 0
    for it in range(1, iters + 1):
        cand = current.copy()
        k = min(p, int(rng.integers(perturb[0], perturb[1] + 1)))
        cand[rng.choice(p, size=k, replace=False)] ^= True
        if not cand.any():
            cand[int(rng.integers(p))] = True
        new = fitness.signed(cand)
        u = rng.random()
        if new >= cur:
            accept = True
        else:
            rel = (cur - new) / max(abs(cur), 1e-12)
            accept = u < math.exp(-rel * it)
        if accept:
            current, cur = cand, new
        if cur > best_fit:
            best, best_fit, since = current, cur, 0
        else:
            since += 1
            if since >= improve:
                current, cur, since = best, best_fit, 0
        yield current


# ---------------------------------------------------------------------------------------------
# gafs() / safs()
# ---------------------------------------------------------------------------------------------


def gafs(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    method: Any = "rf",
    control: Control | None = None,
    iters: int = 10,
    pop_size: int = 10,
    pcrossover: float = 0.8,
    pmutation: float | None = None,
    elite: int = 1,
    tournament: int = 2,
    internal: Control | None = None,
    params: dict[str, Any] | None = None,
    metric: str | None = None,
    maximize: bool | None = None,
    seed: int | None = None,
    preprocess: Any = None,
    weights: Any = None,
    groups: Any = None,
    task: str | None = None,
) -> SearchResult:
    """Genetic-algorithm feature selection with outer resampling (caret's ``gafs``); see the
    module docstring. Inputs as in ``rfe``; ``internal`` is the resampling of each outer training
    set that gives the internal fitness (default 3-fold CV)."""
    _check_int(iters, "iters", 1)
    _check_int(pop_size, "pop_size", 2)
    _check_int(elite, "elite", 0, pop_size - 1)
    _check_int(tournament, "tournament", 1)
    _check_prob(pcrossover, "pcrossover")
    if pmutation is not None:
        _check_prob(pmutation, "pmutation")
    settings = {
        "iters": int(iters),
        "pop_size": int(pop_size),
        "pcrossover": float(pcrossover),
        "pmutation": pmutation,
        "elite": int(elite),
        "tournament": int(tournament),
    }
    return _run("GA", settings, internal, _shared_inputs(locals()))


def safs(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    method: Any = "rf",
    control: Control | None = None,
    iters: int = 10,
    perturb: tuple[int, int] = (1, 3),
    improve: int = 5,
    initial: float = 0.2,
    internal: Control | None = None,
    params: dict[str, Any] | None = None,
    metric: str | None = None,
    maximize: bool | None = None,
    seed: int | None = None,
    preprocess: Any = None,
    weights: Any = None,
    groups: Any = None,
    task: str | None = None,
) -> SearchResult:
    """Simulated-annealing feature selection with outer resampling (caret's ``safs``); see the
    module docstring. Inputs as in ``gafs``."""
    _check_int(iters, "iters", 1)
    _check_int(improve, "improve", 1)
    if (
        not isinstance(perturb, tuple | list)
        or len(perturb) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in perturb)
        or not 1 <= perturb[0] <= perturb[1]
    ):
        raise ValueError(f"perturb={perturb!r} must be (low, high) whole numbers, 1 <= low <= high")
    if isinstance(initial, bool) or not isinstance(initial, int | float) or not 0 <= initial < 1:
        raise ValueError(f"initial={initial!r} must be a fraction in [0, 1)")
    settings = {
        "iters": int(iters),
        "perturb": (int(perturb[0]), int(perturb[1])),
        "improve": int(improve),
        "initial": float(initial),
    }
    return _run("SA", settings, internal, _shared_inputs(locals()))


_SHARED_INPUTS = (
    "x", "y", "data", "method", "control", "params", "metric", "maximize", "seed", "preprocess",
    "weights", "groups", "task",
)  # fmt: skip


def _shared_inputs(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments gafs() and safs() share (data, model, resampling), picked by name from the
    caller's arguments, for ``setup``."""
    return {k: args[k] for k in _SHARED_INPUTS}


def _run(
    algorithm: str, settings: dict[str, Any], internal: Control | None, inputs: dict[str, Any]
) -> SearchResult:
    """Check the inputs, run the searches (outer resamples and all rows) and collect them."""
    from ._common import final_fit, setup

    t0 = time.perf_counter()
    internal = _check_internal(internal)
    what = "gafs" if algorithm == "GA" else "safs"
    s = setup(**inputs, what=what)
    prob = s.problem
    if algorithm == "GA" and settings["pmutation"] is None:
        settings = {**settings, "pmutation": 1.0 / prob.p}
    t_res = time.perf_counter()
    traces, final = _search_all(s, algorithm, settings, internal)
    times = {"search": time.perf_counter() - t_res}
    ext = _external(prob, traces, final, s.control.method == "loocv", what, settings["iters"])
    t_fin = time.perf_counter()
    chosen = final.subsets[ext.optiter - 1]
    model = final_fit(s, chosen)
    times["final"] = time.perf_counter() - t_fin
    names = s.resamples.names
    shown = _shown_settings(algorithm, settings, internal)
    times["everything"] = time.perf_counter() - t0
    return SearchResult(
        algorithm=algorithm,
        external=ext.frame,
        internal=_internal_frame(prob, traces, ext.iters),
        external_resamples=_external_resamples(prob, traces, ext, names),
        internal_resamples=_internal_resamples(prob, traces, ext.iters, names),
        optiter=ext.optiter,
        optvariables=[prob.columns[c] for c in chosen],
        variables={
            names[r]: [prob.columns[c] for c in t.subsets[ext.optiter - 1]]
            for r, t in enumerate(traces)
        },
        final_search=_final_search_frame(prob, final, ext.iters),
        final_model=model,
        metric=prob.metric,
        maximize=prob.maximize,
        method=prob.model.name,
        control=s.control,
        settings=shown,
        n_samples=len(prob.y),
        n_predictors=prob.p,
        failures=[e for t in [*traces, final] for e in t.errors],
        times=times,
        _encoder=s.dataset.encoder,
        _columns=prob.columns,
    )


def _search_all(
    s: Any, algorithm: str, settings: dict[str, Any], internal: Control
) -> tuple[list[_Trace], _Trace]:
    """Run the search in every outer resample (on its training rows) and on all rows: the
    resamples' traces and the final search's."""
    from ._common import parallel_map

    prob = s.problem
    jobs = [
        _Job(prob, r, tr, te, algorithm, settings, internal)
        for r, (_, tr, te) in enumerate(s.resamples)
    ]
    jobs.append(_Job(prob, -1, np.arange(len(prob.y)), None, algorithm, settings, internal))
    out = parallel_map(_search_job, jobs, s.control.workers)
    return out[:-1], out[-1]


@dataclass
class _External:
    """The external performance per iteration: per resample (``values``), its mean and SD, the
    profile table and the best iteration."""

    iters: list[int]
    values: np.ndarray  # (resamples, iterations, metrics)
    frame: pd.DataFrame
    optiter: int


def _external(
    prob: Problem, traces: list[_Trace], final: _Trace, loocv: bool, what: str, iters: int
) -> _External:
    """Score every resample's reported subsets on its held-out rows and pick the iteration with
    the best mean main metric; every fit failing is an error quoting the first failure."""
    from ._common import mean_sd, profile_frame, score_held

    values, pooled = score_held(prob, [t.held for t in traces], loocv)
    mean, sd = mean_sd(values, pooled)
    col = mean[:, prob.metric_index]
    if np.all(np.isnan(col)):
        first = next((e for t in [*traces, final] for e in t.errors), "no metric was computed")
        raise RuntimeError(f"{what}: every external fit failed; first error:\n{first}")
    its = list(range(1, iters + 1))
    optiter = int(np.nanargmax(col) if prob.maximize else np.nanargmin(col)) + 1
    return _External(its, values, profile_frame("Iter", its, prob.names, mean, sd), optiter)


def _sizes(traces: list[_Trace]) -> np.ndarray:
    """The subset size per (resample, iteration)."""
    return np.array([[len(s_) for s_ in t.subsets] for t in traces], dtype=float)


def _internal_frame(prob: Problem, traces: list[_Trace], its: list[int]) -> pd.DataFrame:
    """Per iteration: the mean and SD over resamples of the internal fitness and subset size."""
    import pandas as pd

    from ._common import mean_sd

    internal_vals = np.array([t.internal for t in traces], dtype=float)  # (R, iters)
    imean, isd = mean_sd(internal_vals[:, :, None], None)
    smean, ssd = mean_sd(_sizes(traces)[:, :, None], None)
    return pd.DataFrame(
        {
            "Iter": its,
            prob.metric: imean[:, 0],
            f"{prob.metric}SD": isd[:, 0],
            "Variables": smean[:, 0],
            "VariablesSD": ssd[:, 0],
        }
    )


def _external_resamples(
    prob: Problem, traces: list[_Trace], ext: _External, names: Any
) -> pd.DataFrame:
    """Per resample and iteration: the external metrics and the subset size."""
    import pandas as pd

    sizes = _sizes(traces)
    return pd.concat(
        [
            pd.DataFrame(ext.values[r], columns=list(prob.names)).assign(
                Iter=ext.iters, Variables=sizes[r].astype(int), Resample=names[r]
            )
            for r in range(len(traces))
        ],
        ignore_index=True,
    )


def _internal_resamples(
    prob: Problem, traces: list[_Trace], its: list[int], names: Any
) -> pd.DataFrame:
    """Per resample and iteration: the internal fitness and the subset size."""
    import pandas as pd

    internal_vals = np.array([t.internal for t in traces], dtype=float)
    sizes = _sizes(traces)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "Iter": its,
                    prob.metric: internal_vals[r],
                    "Variables": sizes[r].astype(int),
                    "Resample": names[r],
                }
            )
            for r in range(len(traces))
        ],
        ignore_index=True,
    )


def _final_search_frame(prob: Problem, final: _Trace, its: list[int]) -> pd.DataFrame:
    """The search on all rows: per iteration its internal fitness, size and subset."""
    import pandas as pd

    return pd.DataFrame(
        {
            "Iter": its,
            prob.metric: final.internal,
            "Variables": [len(s_) for s_ in final.subsets],
            "variables": [[prob.columns[c] for c in s_] for s_ in final.subsets],
        }
    )


def _shown_settings(algorithm: str, settings: dict[str, Any], internal: Control) -> dict[str, Any]:
    """The settings as the result shows them (pmutation rounded, the internal resampling)."""
    shown = dict(settings)
    if algorithm == "GA":
        shown["pmutation"] = round(float(shown["pmutation"]), 4)
    shown["internal"] = internal.describe()
    return shown


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _check_internal(internal: Control | None) -> Control:
    from ..control import Control

    if internal is None:
        return Control(method="cv", number=3)
    if not isinstance(internal, Control):
        raise TypeError(f"internal must be a leanfit Control, got {type(internal).__name__}")
    if internal.index is not None:
        raise ValueError(
            "internal=Control(index=...) cannot be used: the internal resampling splits each "
            "outer training set, whose rows differ per resample"
        )
    if internal.method in ("none", "loocv", "group_cv"):
        raise ValueError(
            f"internal=Control(method={internal.method!r}) cannot give the internal fitness; use "
            "cv (e.g. 3 folds), repeatedcv, lgocv (a holdout), or boot"
        )
    return internal


def _check_int(v: Any, name: str, low: int, high: int | None = None) -> None:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
        raise ValueError(f"{name}={v!r} must be a whole number >= {low}")
    if high is not None and v > high:
        raise ValueError(f"{name}={v!r} must be <= {high}")


def _check_prob(v: Any, name: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
        raise ValueError(f"{name}={v!r} must be a probability in [0, 1]")
