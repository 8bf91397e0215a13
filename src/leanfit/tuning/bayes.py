"""Bayesian and genetic search on Optuna's samplers, with leanfit doing the resampling.

Ask/tell: leanfit asks the sampler for a batch of candidates (``Control.batch``), resamples
each in full with its own tasks on the control's executor (every task stored before it is
counted, so a killed search resumes from the store), then tells the sampler each candidate's
mean metric (or its objectives). Optuna's study lives in memory only; the store is leanfit's.
The sampler is seeded from the run's seed and told a whole batch before the next ask, so the
candidates depend only on the seed, the space and the batch size — never on ``n_jobs`` or on
which fit finished first — and a resumed search replays the stored results into a fresh
study, asking the same candidates again.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..control import COSTS
from ..execute import FitGroup, TaskResult
from ..metrics import maximize_default
from ..models.space import Choice, Range
from .plan import Task
from .result import Scores
from .trainplan import TrainPlan

__all__ = ["SearchInfo", "guided_search", "objective_names"]

# train() hands the search a way to plan and run (or read back from the store) every resample
# of the given fit groups under a context holding all groups so far.
RunGroups = Callable[[Any, list[int]], Iterable[tuple[Task, TaskResult]]]


@dataclass
class SearchInfo:
    """How a search went: its kind and sampler, how many candidates it scored, what ended it
    ("budget", "time" or None when it ran to the end of its candidates) and, for a
    multi-objective search, the objectives and their directions."""

    search: str
    candidates: int = 0
    ended_by: str | None = None
    budget: int | None = None
    time: float | None = None
    sampler: str | None = None
    batches: int = 0
    objectives: tuple[str, ...] = ()
    maximize: tuple[bool, ...] = ()
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for print(fit) and the report."""
        kind = f"{self.search} search" + (f" ({self.sampler})" if self.sampler else "")
        why = ""
        if self.ended_by == "budget":
            why = f", stopped by its budget of {self.budget} candidates"
        elif self.ended_by == "time":
            why = f", stopped by its time budget of {self.time} s"
        return f"{kind}: {self.candidates} candidates scored{why}"


def objective_names(plan: TrainPlan) -> tuple[list[str], list[bool]]:
    """The objectives of the plan's search with their directions (True: maximise); a single
    objective is the plan's metric. An objective that is not measured is refused, listing the
    ones that are."""
    objectives = plan.control.objectives
    if not objectives:
        return [plan.metric], [plan.maximize]
    lower = {n.lower(): n for n in plan.metric_names}
    out: list[str] = []
    for o in objectives:
        name = lower.get(o.lower(), o)
        if name not in plan.metric_names and name not in COSTS:
            raise ValueError(
                f"Control(objectives=...) names {o!r}, which is not measured; measured: the "
                f"metrics {plan.metric_names} and {list(COSTS)}"
            )
        out.append(name)
    if out[0] not in plan.metric_names:
        raise ValueError(
            f"Control(objectives={list(objectives)}) must start with a metric (one of "
            f"{plan.metric_names}), then costs such as {list(COSTS)}"
        )
    ups = [
        plan.maximize if n == plan.metric else (False if n in COSTS else maximize_default(n))
        for n in out
    ]
    return out, ups


def portable_size(fitted: Any, preprocess: Any) -> int:
    """Bytes of a fit in its portable form: the model (and its fitted pre-processing) as the
    store and bundles serialise them (an engine's own format, else skops; no pickle). It
    exists for every model, unlike ONNX export (which also sits above train())."""
    from ..store.artifacts import dump_model

    size = len(dump_model(fitted)[1])
    if preprocess is not None:
        size += len(dump_model(preprocess)[1])
    return size


def make_sampler(plan: TrainPlan, multi: bool) -> Any:
    """The Optuna sampler the control names, seeded from the run's seed."""
    import optuna

    c = plan.control
    seed = int(np.random.SeedSequence([plan.seed, 7]).generate_state(1)[0])
    kinds: dict[str, Any] = {
        "tpe": optuna.samplers.TPESampler,
        "gp": optuna.samplers.GPSampler,
        "cmaes": optuna.samplers.CmaEsSampler,
        "random": optuna.samplers.RandomSampler,
        "nsga2": optuna.samplers.NSGAIISampler,
    }
    options = dict(c.sampler_options or {})
    if "seed" in options:
        raise ValueError(
            "Control(sampler_options=...) must not set 'seed': the run's seed seeds the sampler"
        )
    try:
        return kinds[str(c.sampler)](seed=seed, **options)
    except TypeError as err:
        raise ValueError(
            f"Control(sampler_options={options!r}) for sampler {c.sampler!r}: {err}"
        ) from None


def _distribution(dim: Range | Choice) -> Any:
    import optuna

    if isinstance(dim, Choice):
        return optuna.distributions.CategoricalDistribution(dim.values)
    if dim.integer:
        return optuna.distributions.IntDistribution(int(dim.low), int(dim.high), log=dim.log)
    return optuna.distributions.FloatDistribution(float(dim.low), float(dim.high), log=dim.log)


def guided_search(
    plan: TrainPlan, run_groups: RunGroups, t_start: float
) -> tuple[TrainPlan, list[TaskResult], SearchInfo]:
    """Run the plan's Bayesian or genetic search until its budget ends; returns the plan of
    every candidate tried (candidates in trial order, one fit group each), all task results
    and how the search went."""
    import optuna

    assert plan.space is not None and plan.resamples is not None
    c = plan.control
    names, ups = objective_names(plan)
    multi = len(names) > 1
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            sampler=make_sampler(plan, multi),
            directions=["maximize" if u else "minimize" for u in ups],
        )
        dims = {k: v for k, v in plan.space.items() if isinstance(v, Range | Choice)}
        dists = {k: _distribution(v) for k, v in dims.items()}
        model = plan.model
        records: list[dict[str, Any]] = []
        groups: list[FitGroup] = []
        tasks: list[Task] = []
        results: list[TaskResult] = []
        info = SearchInfo(
            search=c.search,
            budget=c.budget,
            time=c.time,
            sampler=c.sampler,
            objectives=tuple(names) if multi else (),
            maximize=tuple(ups) if multi else (),
        )
        t0 = time.perf_counter()
        while True:
            n = c.batch if c.budget is None else min(c.batch, c.budget - len(records))
            if n <= 0:
                info.ended_by = "budget"
                break
            if c.time is not None and records and time.perf_counter() - t0 >= c.time:
                info.ended_by = "time"
                break
            trials = [study.ask(dists) for _ in range(n)]
            first = len(records)
            for t in trials:
                rec = {p: t.params.get(p, plan.space[p]) for p in model.param_names}
                i = len(records)
                records.append(rec)
                groups.append(
                    FitGroup(
                        params=rec,
                        subs=[{s: rec[s] for s in model.submodel}],
                        candidates=(i,),
                    )
                )
            ctx = dataclasses.replace(plan.context, groups=tuple(groups))
            new = list(run_groups(ctx, list(range(first, len(groups)))))
            tasks.extend(t for t, _ in new)
            results.extend(r for _, r in new)
            values = _batch_objectives(plan, ctx, new, first, n, names)
            for t, v in zip(trials, values, strict=True):
                if np.isnan(v).any():
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(t, v.tolist() if multi else float(v[0]))
            info.batches += 1
        info.candidates = len(records)
        info.seconds = time.perf_counter() - t0
    finally:
        optuna.logging.set_verbosity(verbosity)
    cands = pd.DataFrame(records, columns=model.param_names)
    done = dataclasses.replace(
        plan,
        candidates=cands,
        context=dataclasses.replace(plan.context, groups=tuple(groups)),
        tasks=tuple(tasks),
    )
    return done, results, info


def _batch_objectives(
    plan: TrainPlan,
    ctx: Any,
    new: list[tuple[Task, TaskResult]],
    first: int,
    n: int,
    names: list[str],
) -> np.ndarray:
    """(n, objectives) values of the batch's candidates: metrics' resampled estimates, mean
    fit seconds per resample, predict seconds per held-out row, mean bytes of the fits'
    portable form; NaN where nothing scored."""
    assert plan.resamples is not None
    local = dataclasses.replace(
        ctx,
        groups=tuple(
            dataclasses.replace(g, candidates=(i - first,)) if i >= first else g
            for i, g in enumerate(ctx.groups)
        ),
    )
    scores = Scores.empty(len(plan.resamples), n, plan.metric_names, plan.control.method)
    costs = _Costs(n)
    for task, r in new:
        scores.add(r, local, task, plan.control)
        costs.add(r.group - first, task, r)
    if plan.control.method == "loocv":
        scores.pool(local, plan.control)
    mean, _ = scores.estimates()
    means = costs.means()
    out = np.full((n, len(names)), np.nan)
    for j, name in enumerate(names):
        out[:, j] = means[name] if name in means else mean[:, plan.metric_names.index(name)]
    return out


class _Costs:
    """Per candidate, sums of what the cost objectives average: fit seconds per resample fit,
    predict seconds per held-out row, bytes of the fits' portable form where measured."""

    def __init__(self, n: int):
        self.fit, self.fits, self.pred, self.rows, self.size, self.sized = (
            np.zeros(n) for _ in range(6)
        )

    def add(self, k: int, task: Task, r: TaskResult) -> None:
        self.fit[k] += r.fit_time
        self.fits[k] += 1
        if r.error is None and "values" in task.evals:
            self.pred[k] += r.predict_time
            self.rows[k] += len(task.evals["values"])
        if r.error is None and "size" in r.info:
            self.size[k] += r.info["size"]
            self.sized[k] += 1

    def means(self) -> dict[str, np.ndarray]:
        """The cost objectives (names as in ``COSTS``); NaN where nothing was measured."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return {
                "fit_time": np.where(self.fits > 0, self.fit / np.maximum(self.fits, 1), np.nan),
                "predict_time": np.where(self.rows > 0, self.pred / self.rows, np.nan),
                "size": np.where(self.sized > 0, self.size / self.sized, np.nan),
            }


def objective_table(plan: TrainPlan, results: Iterable[TaskResult]) -> pd.DataFrame:
    """Per candidate: mean fit seconds per resample fit (``fit_time``), predict seconds per
    held-out row (``predict_time``) and mean bytes of the fits' portable form (``size``;
    missing where not measured), from the task results."""
    costs = _Costs(len(plan.candidates))
    by_key = {(t.resample, t.group): t for t in plan.tasks}
    for r in results:
        task = by_key.get((r.resample, r.group))
        if task is None:
            continue
        for cand in plan.context.groups[r.group].candidates:
            costs.add(cand, task, r)
    return pd.DataFrame(costs.means())


def space_config(space: Mapping[str, Any]) -> dict[str, str]:
    """The space in words, for the stored run's config."""
    from .space import describe_space

    return describe_space(space)
