"""train(): validate everything, plan the tasks, run them, score them, select, refit.

Nothing here is model-specific: models come from the registry, resamples from control.py,
scores from metrics.py and the choice from selection.py.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import time
from collections.abc import Generator, Mapping
from contextlib import closing, suppress
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..control import SAMPLERS, Control, make_resamples
from ..execute import (
    Context,
    FitGroup,
    OverlappedExecutor,
    ProcessExecutor,
    SerialExecutor,
    TaskResult,
    warn_fit_warnings,
)
from ..frame import Dataset, make_dataset
from ..metrics import check_summary, maximize_default, metric_names, resolve_metric
from ..models.base import CLASSIFICATION, REGRESSION, Model, TrainingData, get_model
from ..preprocess import PreProcess
from ..splits import Resamples
from .bayes import SearchInfo
from .front import pareto_mask, pick_on_front
from .plan import (
    MAX_CANDIDATES,
    DataShape,
    Task,
    candidates,
    fit_groups,
    plan_size,
    task_seed,
    within_limits,
)
from .result import Scores, TrainResult, fit_final
from .trainplan import TrainPlan

if TYPE_CHECKING:
    from ..store import Store

_IMPUTERS = {"median_impute", "knn_impute", "bag_impute"}


def plan_train(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    method: str | Model | Any = "gbm",
    control: Control | None = None,
    grid: Any = None,
    tune_length: int = 3,
    preprocess: list[str] | tuple[str, ...] | PreProcess | Mapping[str, Any] | None = None,
    metric: str | None = None,
    maximize: bool | None = None,
    weights: Any = None,
    groups: Any = None,
    seed: int | None = None,
    allow_large: bool = False,
    task: str | None = None,
    options: Mapping[str, Any] | None = None,
    space: Mapping[str, Any] | None = None,
) -> TrainPlan:
    """Validate train()'s inputs and plan its tasks without fitting anything (see ``train``)."""
    control = control or Control()
    _check_jobs(control)
    model = get_model(method)
    if options is not None:
        if not isinstance(options, Mapping):
            raise ValueError(f"options must be a mapping, got {options!r}")
        model = copy.copy(model)  # the caller's Model instance keeps its own options
        model.options = {**model.options, **options}
    if grid is not None:
        model = model.tuned_over(grid)
    ds = make_dataset(x, y, data=data, weights=weights, task=task)
    steps = _check_preprocess(preprocess)
    if steps is not None:
        steps, ds = _factor_steps(steps, ds)
    _warn_duplicates(ds, control)
    _check_inputs(model, ds, steps, control)
    if seed is None:
        seed = (
            control.seed
            if control.seed is not None
            else int(np.random.SeedSequence().generate_state(1)[0])
        )
    resampling = control.method != "none"
    if resampling:
        check_summary(control.summary, ds.mode, len(ds.levels), control.class_probs)
    names = metric_names(
        control.summary, ds.mode, ds.levels, control.class_probs, y_sample=ds.y_labels[:20]
    )
    metric = metric or _default_metric(ds.mode, names)
    if resampling or any(n.lower() == metric.lower() for n in names):
        # matched ignoring case; an unproduced metric says which Control settings produce it
        metric = resolve_metric(
            metric, names, summary=control.summary, mode=ds.mode, n_classes=len(ds.levels)
        )
    maximize = maximize_default(metric) if maximize is None else bool(maximize)

    guided = control.search in SAMPLERS
    if guided:
        if grid is not None:
            raise ValueError(
                f"Control(search={control.search!r}) draws candidates from a search space; "
                "pass space={...} (or nothing: the model's default space), not grid="
            )
        groups_arr = None if groups is None else np.asarray(groups)
        return _plan_guided(
            model, ds, steps, control, seed, names, metric, maximize, space, groups_arr
        )
    if space is not None:
        raise ValueError(
            f"space= is for Control(search='bayes') or 'genetic'; search={control.search!r} "
            "uses grid= or tune_length="
        )
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    needs_data = grid is None  # default and random grids may look at the data (as caret's do)
    whole = _grid_data(ds, steps) if needs_data else None
    limit = None if allow_large else MAX_CANDIDATES
    cands = candidates(model, whole, grid, tune_length, control.search, rng, limit)
    groups_ = fit_groups(model, cands)
    if resampling:  # counted from the settings: nothing large is built before this check
        size = plan_size(control, len(ds.y), len(cands), len(groups_), len(names), len(ds.levels))
        size.check(len(cands), len(groups_), allow_large)
    resamples: Resamples | None = None
    if resampling:
        resamples = make_resamples(
            control,
            ds.y_labels if ds.mode == CLASSIFICATION else ds.y,
            seed,
            None if groups is None else np.asarray(groups),
        )
        if resamples.n != len(ds.y):
            raise ValueError(f"resamples refer to {resamples.n} rows, the data has {len(ds.y)}")
        if control.selection in ("one_se", "oneSE") and len(resamples) < 2:
            raise ValueError(
                f"Control(selection={control.selection!r}) needs the SD over at least 2 "
                f"resamples; this design has {len(resamples)}; use selection='best' or more "
                "resamples"
            )
    if any(p.at_most for p in model.params):  # mtry <= predictors, k <= rows, ...
        shape = _data_shape(ds, steps, whole, resamples, control.sampling)
        checked = within_limits(model, cands, shape, generated=grid is None)
        if len(checked) < len(cands):
            cands, groups_ = checked, fit_groups(model, checked)
    ctx = _context(ds, control, model, steps, tuple(groups_))
    tasks: tuple[Task, ...] = ()
    if resamples is not None:
        tasks = tuple(_plan_tasks(control.method, resamples, len(groups_), seed, len(ds.y)))
        _warn_constant_columns(ds, resamples, steps)
    elif len(cands) != 1:
        raise ValueError(
            f"Control(method='none') fits exactly one candidate; the grid has {len(cands)} "
            "rows (pass a one-row grid)"
        )
    return TrainPlan(
        model=model,
        control=control,
        dataset=ds,
        context=ctx,
        candidates=cands,
        metric=metric,
        maximize=maximize,
        seed=seed,
        metric_names=names,
        resamples=resamples,
        tasks=tasks,
    )


def _plan_guided(
    model: Model,
    ds: Dataset,
    steps: PreProcess | None,
    control: Control,
    seed: int,
    names: list[str],
    metric: str,
    maximize: bool,
    space: Mapping[str, Any] | None,
    groups: np.ndarray | None,
) -> TrainPlan:
    """The plan of a Bayesian or genetic search: the resolved space and the resamples; its
    candidates, fit groups and tasks are made as the search asks for them."""
    from .space import resolve_space

    resamples = make_resamples(
        control, ds.y_labels if ds.mode == CLASSIFICATION else ds.y, seed, groups
    )
    if control.selection in ("one_se", "oneSE") and len(resamples) < 2:
        raise ValueError(f"Control(selection={control.selection!r}) needs at least 2 resamples")
    shape = _data_shape(ds, steps, None, resamples, control.sampling)
    resolved = resolve_space(model, space, shape)
    if control.budget is not None:
        size = plan_size(control, len(ds.y), control.budget, control.budget, len(names), 0)
        size.check(control.budget, control.budget, False)
    ctx = _context(ds, control, model, steps, ())
    if "size" in (control.objectives or ()):
        from .bayes import portable_size

        ctx = dataclasses.replace(ctx, measure_size=portable_size)
    _warn_constant_columns(ds, resamples, steps)
    plan = TrainPlan(
        model=model,
        control=control,
        dataset=ds,
        context=ctx,
        candidates=pd.DataFrame(columns=model.param_names),
        metric=metric,
        maximize=maximize,
        seed=seed,
        metric_names=names,
        resamples=resamples,
        tasks=(),
        space=resolved,
    )
    from .bayes import objective_names

    objective_names(plan)  # an unmeasured objective is refused before any fit
    return plan


def one_candidate_grid(model: Model, params: dict[str, Any], what: str) -> dict[str, list[Any]]:
    """A full parameter set (caret's dotted names accepted) as a one-row grid, for tools that fix
    the model (learning curves, feature selection); unknown, missing or repeated ones fail."""
    if not isinstance(params, dict):
        raise ValueError(
            f"params must be a dict of parameter -> value, got {type(params).__name__}"
        )
    aliases, valid = model.alias_map(), model.param_names
    unknown = [k for k in params if k not in aliases]
    if unknown:
        raise ValueError(
            f"params {unknown} are not parameters of {model.name!r}; its parameters are {valid}"
        )
    mapped: dict[str, Any] = {}
    for k, v in params.items():
        if aliases[k] in mapped:
            raise ValueError(f"params give {aliases[k]!r} twice (as {k!r} and another name)")
        if isinstance(v, list | tuple | set | np.ndarray):
            raise ValueError(f"params[{k!r}] must be one value ({what} fixes the model)")
        mapped[aliases[k]] = v
    missing = [p for p in valid if p not in mapped]
    if missing:
        raise ValueError(f"params for {model.name!r} lack {missing}; {what} needs all of {valid}")
    return {p: [mapped[p]] for p in valid}


def plan_one(
    x: Any,
    y: Any = None,
    *,
    method: Any,
    params: dict[str, Any] | None,
    control: Control,
    what: str,
    **kwargs: Any,
) -> TrainPlan:
    """Plan one fixed candidate (``params``, else the model's tune_length=1 default) on the
    control's resamples — the planning step shared by learning curves and feature selection."""
    if control.method == "none":
        raise ValueError(
            f"{what} needs held-out rows, and Control(method='none') has no held-out rows; use "
            "a resampling method such as Control(method='cv', number=5)"
        )
    if control.adaptive is not None:
        raise ValueError(
            f"Control(method={control.method!r}) races tuning candidates in train(); {what} "
            f"scores one fixed candidate: use method={control.base_method!r}"
        )
    model = get_model(method)
    if params is not None:
        model = model.tuned_over(params)
    grid = None if params is None else one_candidate_grid(model, params, what)
    try:
        return plan_train(x, y, method=model, control=control, grid=grid, tune_length=1, **kwargs)
    except NotImplementedError as err:
        raise ValueError(f"{err}; pass params= (one value per parameter) to {what}") from err


def train(
    x: Any,
    y: Any = None,
    *,
    store: Store | None = None,
    experiment: str = "default",
    fit: str = "train",
    **kwargs: Any,
) -> TrainResult:
    """Tune a model by resampling and refit the chosen candidate on all rows (caret's ``train``).

    Inputs: a formula with ``data=`` (``train("Class ~ .", data=df)``), a DataFrame and a target
    column name (``train(df, "Class")``), or ``X`` and ``y``. ``method`` is a model name (see
    ``leanfit models``), a user-defined ``Model`` or a scikit-learn estimator instance (tuned
    over its get_params() names). ``grid`` is a DataFrame or dict of lists
    (caret's dotted names such as ``interaction.depth`` accepted); without it ``tune_length``
    (default 3) builds the model's default grid (or random draws with
    ``Control(search="random")``). ``preprocess`` steps (names, a PreProcess, or a mapping
    ``{"steps": [...], option: value}`` as a config writes it) are fitted inside every resample
    on its training rows only. ``metric`` defaults to Accuracy / RMSE (or the summary's first
    metric); ``maximize`` to the metric's natural direction. ``weights`` are observation weights,
    ``groups`` row groups for ``Control(method="group_cv")``. One ``seed`` reproduces every
    resample and fit, whatever ``n_jobs``. Every input is checked before anything is fitted.
    ``options`` are the model's settings outside the grid (``{"n_trees": 1000}``, rf's
    ``{"engine": "sklearnex"}``; ``leanfit models NAME`` lists them), checked before any fit.
    ``task``: "classification" or "regression" (default None: a numeric target is regressed,
    with a warning when it holds at most 10 whole values, as class codes do; any other is
    classified); classifying a numeric target makes its values the class names ("1", "2").
    ``space`` (with ``Control(search="bayes" | "genetic")``): the search space, parameter ->
    ``lf.uniform`` / ``lf.loguniform`` / ``lf.integer`` range, a list of choices or one fixed
    value, replacing the model's default space (``Model.space``) parameter by parameter.
    ``store`` (``leanfit.store.Store.open(url)``) keeps every task result under
    (``experiment``, ``fit``), so an interrupted run resumes where it stopped; without a seed
    the run's stored seed is reused (the first run draws it; ``.seed`` shows it).
    """
    t_start = time.perf_counter()
    control = kwargs.get("control")
    if store is not None and kwargs.get("seed") is None and getattr(control, "seed", None) is None:
        kwargs["seed"] = stored_run_seed(store, experiment, fit)  # None: drawn, then stored
    plan = plan_train(x, y, **kwargs)
    return run_plan(plan, t_start, store=store, experiment=experiment, fit=fit)


def stored_run_seed(store: Store, experiment: str, fit: str) -> int | None:
    """The seed of the stored run (``experiment``, ``fit``), or None when there is none: a call
    without a seed reuses it, so running it again resumes instead of drawing a new one."""
    runs = store.runs()
    hit = runs.loc[(runs["experiment"] == experiment) & (runs["fit"] == fit), "seed"]
    return int(hit.iloc[0]) if len(hit) else None


def run_plan(
    plan: TrainPlan,
    t_start: float | None = None,
    *,
    store: Store | None = None,
    experiment: str = "default",
    fit: str = "train",
    source: dict[str, Any] | None = None,
) -> TrainResult:
    """Execute a plan: run its tasks, score them, select a candidate and refit it on all rows.

    With a ``store`` (leanfit.store.Store) every task result is written before it is counted,
    and tasks already stored for this (experiment, fit) — same data, same settings — are read
    back instead of recomputed: a killed run resumes where it stopped. The final model and
    pre-processing are stored as artifacts (no pickle) with a spec to re-plan the fit from
    (``source``: the experiment config it came from), so ``leanfit.store.restore`` rebuilds the
    result without refitting.
    """
    t_start = time.perf_counter() if t_start is None else t_start
    run_id = None if store is None else _start_run(store, plan, experiment, fit, source)
    try:
        res = _run_started(plan, t_start, store, run_id)
        if res.store_run is not None:  # which run it is, for whatever names it later (ensembles)
            res.store_run.update(experiment=experiment, fit=fit)
        return res
    except BaseException as err:  # interrupted or failed: keep how long this invocation ran
        if store is not None and run_id is not None:
            status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            with suppress(Exception):  # the store may be what failed; the error above matters
                _end_invocation(store, run_id, time.perf_counter() - t_start, status)
        raise


def _run_started(
    plan: TrainPlan, t_start: float, store: Store | None, run_id: int | None
) -> TrainResult:
    """run_plan's work once the stored run (if any) is open: resample, select, refit, finish.
    ``times["compute"]`` sums the fit and predict seconds behind the result, stored tasks'
    included (a resumed run's total), ``times["compute_this_run"]`` this invocation's."""
    res = plan.empty_result()
    if plan.resamples is None:
        res = fit_final(res, 0)
        res.times["everything"] = time.perf_counter() - t_start
        res.times["compute"] = res.times["compute_this_run"] = res.times["final"]
        if store is not None:
            assert run_id is not None  # run_plan opens a run exactly when there is a store
            res.store_run = {"run_id": run_id, "resumed_tasks": 0, "computed_tasks": 0}
            _finish_run(store, run_id, res)
        return res
    t_res = time.perf_counter()
    assert (store is None) == (run_id is None)  # run_plan opens a run exactly when there is a store
    done: list[TaskResult] = []
    if store is not None and run_id is not None:  # a search's tasks are known as it asks them
        done = (
            store.done_tasks(run_id)
            if plan.space is not None
            else plan.stored_results(store, run_id)
        )
    finished = {(r.resample, r.group) for r in done}
    todo = [t for t in plan.tasks if (t.resample, t.group) not in finished]
    spent = [0.0]  # fit + predict seconds of the tasks computed now

    def computed() -> Generator[TaskResult, None, None]:
        desc = f"train {plan.model.name}"
        with closing(run_tasks(plan.context, todo, plan.control, desc)) as results:
            for r in results:
                if store is not None and run_id is not None:
                    store.save_task(run_id, r)  # stored before it is counted
                spent[0] += r.fit_time + r.predict_time
                yield r

    info = None
    searched: list[TaskResult] = []  # a guided search's task results, stored ones included
    if plan.space is not None:  # Bayesian or genetic search: the candidates come as it goes
        plan, scores, info, n_done, n_new, searched = _guided_plan(plan, done, store, run_id, spent)
        res = plan.empty_result()
    elif plan.control.adaptive is not None:
        scores, res.stopped, n_done, n_new = race_plan(plan, done, store, run_id, spent)
    elif plan.control.budget is not None or plan.control.time is not None:
        scores, info, n_done, n_new = _budgeted_plan(plan, done, store, run_id, spent)
    else:
        fresh = computed()
        try:
            scores = plan.scores_of(itertools.chain(done, fresh))
        finally:  # interrupted: the executor stops its workers now, not when garbage is collected
            fresh.close()
        n_done, n_new = len(done), len(todo)
    res.store_run = (
        None
        if run_id is None
        else {"run_id": run_id, "resumed_tasks": n_done, "computed_tasks": n_new}
    )
    if np.all(np.isnan(scores.values)) and not scores.apparent_ok():
        first = scores.failures[0]["error"] if scores.failures else "no metric was computed"
        raise RuntimeError(f"every candidate failed for {plan.model.name!r}; first error:\n{first}")
    res.scores = scores
    res.times["resampling"] = time.perf_counter() - t_res
    warn_fit_warnings(scores.warned, len(plan.tasks), f"resampling fits of {plan.model.name!r}")
    res.search_info = info
    if info is not None and info.objectives:
        res.objectives = _objective_table(plan, res, searched)
        best = pick_on_front(
            res.front if res.front is not None else pd.DataFrame(),
            info.objectives,
            info.maximize,
            plan.control.tolerance,
        )
        res = fit_final(res, best)
    else:
        res = fit_final(res, res.select())
    res.times["everything"] = time.perf_counter() - t_start
    earlier = sum(r.fit_time + r.predict_time for r in done)
    res.times["compute_this_run"] = spent[0] + res.times["final"]
    res.times["compute"] = earlier + res.times["compute_this_run"]
    if store is not None and run_id is not None:
        _finish_run(store, run_id, res)
    return res


def _guided_plan(
    plan: TrainPlan,
    done: list[TaskResult],
    store: Store | None,
    run_id: int | None,
    spent: list[float],
) -> tuple[TrainPlan, Scores, SearchInfo, int, int, list[TaskResult]]:
    """A Bayesian or genetic search (``bayes.guided_search``) whose tasks run on the control's
    executor, stored as they come; stored ones (a resumed search) are read back instead.
    Returns the plan of every candidate tried, their scores, how the search went, the tasks
    read back and computed, and every task result."""
    from .bayes import guided_search

    assert plan.resamples is not None
    stored = {(r.resample, r.group): r for r in done}
    counts = [0, 0]  # read back, computed

    def run_groups(ctx: Context, groups: list[int]) -> list[tuple[Task, TaskResult]]:
        assert plan.resamples is not None
        tasks = _plan_tasks(
            plan.control.method,
            plan.resamples,
            len(ctx.groups),
            plan.seed,
            len(plan.dataset.y),
            groups,
        )
        by_key = {(t.resample, t.group): t for t in tasks}
        out = [(t, stored[(t.resample, t.group)]) for t in tasks if (t.resample, t.group) in stored]
        counts[0] += len(out)
        todo = [t for t in tasks if (t.resample, t.group) not in stored]
        if todo:
            desc = f"{plan.control.search} {plan.model.name}"
            with closing(_run_guided_tasks(ctx, todo, plan.control, desc)) as results:
                for r in results:
                    if store is not None and run_id is not None:
                        store.save_task(run_id, r)  # stored before it is counted
                    spent[0] += r.fit_time + r.predict_time
                    counts[1] += 1
                    out.append((by_key[(r.resample, r.group)], r))
        out.sort(key=lambda tr: (tr[0].group, tr[0].resample))  # the same order however run
        return out

    searched, results, info = guided_search(plan, run_groups, time.perf_counter())
    if store is not None and run_id is not None:
        from ..store import _dumps

        trials = searched.candidates.astype(object).to_dict("records")
        store.save_artifact(run_id, "trials", _dumps(trials).encode(), "json")
    scores = searched.scores_of(results)
    return searched, scores, info, counts[0], counts[1], results


def replay_plan(plan: TrainPlan, trials: list[dict[str, Any]]) -> TrainPlan:
    """The plan of a finished Bayesian or genetic search from its stored ``trials`` (the
    candidates in the order asked: one fit group each), for restoring it from the store."""
    from ..execute import FitGroup

    assert plan.resamples is not None
    model = plan.model
    groups = tuple(
        FitGroup(params=dict(t), subs=[{s: t[s] for s in model.submodel}], candidates=(i,))
        for i, t in enumerate(trials)
    )
    tasks = _plan_tasks(
        plan.control.method, plan.resamples, len(groups), plan.seed, len(plan.dataset.y)
    )
    return dataclasses.replace(
        plan,
        candidates=pd.DataFrame(list(trials), columns=model.param_names),
        context=dataclasses.replace(plan.context, groups=groups),
        tasks=tuple(tasks),
    )


def _run_guided_tasks(
    ctx: Context, tasks: list[Task], control: Control, desc: str
) -> Generator[TaskResult, None, None]:
    """A search's (or a race's later) batch of tasks: with several local workers this process
    and the workers share them from the first task (no timing probe: a batch is small, the
    search long)."""
    from ..progress import Progress

    workers = min(control.workers, len(tasks))
    if control.executor == "local" and workers > 1:
        with Progress(len(tasks), desc, "fit", enabled=control.verbose, leave=False) as bar:
            for r in OverlappedExecutor(workers).run(ctx, tasks):
                bar.update(1)
                yield r
        return
    yield from run_tasks(ctx, tasks, control, desc)


def _budgeted_plan(
    plan: TrainPlan,
    done: list[TaskResult],
    store: Store | None,
    run_id: int | None,
    spent: list[float],
) -> tuple[Scores, SearchInfo, int, int]:
    """A grid or random search under ``Control(budget=, time=)``: fit groups run simplest
    first, a chunk of them at a time (as many as there are workers); no chunk starts once the
    budget is spent, and the chunk in flight finishes and is stored. Returns the scores (the
    candidates never reached all missing), how the search went, the tasks read back and
    computed."""
    from .bayes import SearchInfo

    c = plan.control
    groups = plan.context.groups
    info = SearchInfo(search=c.search, budget=c.budget, time=c.time)
    take = len(groups)
    if c.budget is not None:  # whole fit groups until the budget's candidates are covered
        covered = 0
        for g, group in enumerate(groups):
            covered += len(group.candidates)
            if covered >= c.budget:
                take = g + 1
                break
    stored = {(r.resample, r.group): r for r in done}
    chunk = max(1, c.workers)
    results: list[TaskResult] = []
    counts = [0, 0]
    t0 = time.perf_counter()
    ran = 0
    for start in range(0, take, chunk):
        if c.time is not None and start > 0 and time.perf_counter() - t0 >= c.time:
            info.ended_by = "time"
            break
        want = set(range(start, min(start + chunk, take)))
        tasks = [t for t in plan.tasks if t.group in want]
        have = [stored[(t.resample, t.group)] for t in tasks if (t.resample, t.group) in stored]
        counts[0] += len(have)
        results.extend(have)
        todo = [t for t in tasks if (t.resample, t.group) not in stored]
        if todo:
            with closing(run_tasks(plan.context, todo, c, f"train {plan.model.name}")) as rs:
                for r in rs:
                    if store is not None and run_id is not None:
                        store.save_task(run_id, r)  # stored before it is counted
                    spent[0] += r.fit_time + r.predict_time
                    counts[1] += 1
                    results.append(r)
        ran = max(want) + 1
    if info.ended_by is None and ran < len(groups):
        info.ended_by = "budget"
    info.candidates = sum(len(groups[g].candidates) for g in range(ran))
    info.seconds = time.perf_counter() - t0
    return plan.scores_of(results), info, counts[0], counts[1]


def _objective_table(plan: TrainPlan, res: TrainResult, results: list[TaskResult]) -> pd.DataFrame:
    """Every candidate's parameters and objectives, ``on_front`` marking the Pareto front."""
    from .bayes import objective_table

    info = res.search_info
    table = res.results
    costs = objective_table(plan, results)
    out = plan.candidates.copy()
    for name in info.objectives:
        out[name] = costs[name].to_numpy() if name in costs else table[name].to_numpy()
    out["on_front"] = pareto_mask(out[list(info.objectives)].to_numpy(float), info.maximize)
    return out


def race_plan(
    plan: TrainPlan,
    done: list[TaskResult],
    store: Store | None,
    run_id: int | None,
    spent: list[float],
    compute: bool = True,
) -> tuple[Scores, dict[int, int], int, int]:
    """Adaptive resampling (``racing.race``) on the plan's tasks: stored results are read back,
    the others run batch by batch on the control's executor and are stored as they come.
    Returns the scores (a stopped candidate's cells after its stop left missing, even where its
    fit group went on for others), the stops, and the tasks read back and computed. Without
    ``compute`` (restoring a finished run) a task the race needs and ``done`` lacks is an
    error."""
    from .racing import race

    assert plan.resamples is not None and plan.control.adaptive is not None
    stored = {(r.resample, r.group): r for r in done}
    by_key = {(t.resample, t.group): t for t in plan.tasks}
    scores = Scores.empty(
        len(plan.resamples), len(plan.candidates), plan.metric_names, plan.control.method
    )
    j = plan.metric_names.index(plan.metric)
    counts = [0, 0]  # read back, computed
    shared = [False]  # a batch was worth the workers: they are started, later batches share

    def score(new: list[TaskResult], groups: tuple[FitGroup, ...]) -> np.ndarray:
        ctx = dataclasses.replace(plan.context, groups=groups)
        for r in new:
            fitted = len(next(iter(r.preds.values()), groups[r.group].subs))
            # a result stored before its group was cut (an older run) holds every candidate
            use = ctx if fitted == len(groups[r.group].subs) else plan.context
            scores.add(r, use, by_key[(r.resample, r.group)], plan.control)
        return scores.values[:, :, j]

    def run(batch: list[Task], groups: tuple[FitGroup, ...]) -> Generator[TaskResult, None, None]:
        have = [stored[(t.resample, t.group)] for t in batch if (t.resample, t.group) in stored]
        counts[0] += len(have)
        yield from have
        todo = [t for t in batch if (t.resample, t.group) not in stored]
        if not todo:
            return
        if not compute:
            raise LookupError(f"{len(todo)} task result(s) the race needs are not stored")
        ctx = dataclasses.replace(plan.context, groups=groups)
        desc = f"race {plan.model.name}"
        # the first batch's tasks tell whether workers pay off; once they do, every later
        # batch shares its tasks with them from the first task (no probe run here first),
        # however small: the workers are running by then (spent: the fit + predict seconds of
        # the counts[1] tasks computed so far)
        mean = spent[0] / counts[1] if counts[1] else 0.0
        shared[0] = shared[0] or mean * len(todo) >= _PARALLEL_MIN_SECONDS
        source = (_run_guided_tasks if shared[0] else run_tasks)(ctx, todo, plan.control, desc)
        with closing(source) as rs:
            for r in rs:
                if store is not None and run_id is not None:
                    store.save_task(run_id, r)  # stored before it is counted
                spent[0] += r.fit_time + r.predict_time
                counts[1] += 1
                yield r

    _, info = race(
        plan.tasks,
        plan.context.groups,
        len(plan.resamples),
        dict(plan.control.adaptive),
        plan.maximize,
        score,
        run,
        trim=plan.model.prefix_submodels,
    )
    for c, k in info.stopped.items():
        scores.values[k:, c] = np.nan
    return scores, info.stopped, counts[0], counts[1]


def _start_run(
    store: Store, plan: TrainPlan, experiment: str, fit: str, source: dict[str, Any] | None
) -> int:
    """Create or resume the stored run, keeping its resample rows and re-plan spec with it."""
    from ..store import _dumps, _now
    from .persist import data_fingerprint, resamples_npz, run_config, run_spec, versions

    run_id = store.start_run(
        experiment,
        fit,
        config=run_config(plan),
        fingerprint=data_fingerprint(plan),
        seed=plan.seed,
        versions=versions(),
    )
    have = store.run(run_id)["artifacts"]
    if plan.resamples is not None and not have.get("resamples"):
        store.save_artifact(run_id, "resamples", resamples_npz(plan.resamples), "npz")
    store.save_artifact(run_id, "spec", _dumps(run_spec(plan, source)).encode(), "json")
    log = invocations(store, run_id) if "invocations" in have else []
    log.append({"started": _now(), "seconds": None, "computed_tasks": None, "status": "running"})
    store.save_artifact(run_id, "invocations", _dumps(log).encode(), "json")
    return run_id


def invocations(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The stored run's invocations, oldest first: when each started, its wall seconds (None
    for one killed outright), the tasks it computed and how it ended."""
    import json

    from ..store import StoreError

    try:
        return list(json.loads(store.load_artifact(run_id, "invocations")))
    except StoreError:  # a run stored by an older leanfit: no log
        return []


def _end_invocation(
    store: Store, run_id: int, seconds: float, status: str, computed: int | None = None
) -> list[dict[str, Any]]:
    """Record how the current (last) invocation of the run ended; returns the whole log."""
    from ..store import _dumps

    log = invocations(store, run_id) or [{"started": None}]
    log[-1].update(seconds=round(seconds, 3), computed_tasks=computed, status=status)
    store.save_artifact(run_id, "invocations", _dumps(log).encode(), "json")
    return log


def _finish_run(store: Store, run_id: int, res: TrainResult) -> None:
    """Store the final model and pre-processing, record this invocation (a resumed run's wall
    time over all its invocations in ``times["wall_total"]``), then mark the run finished."""
    from .persist import run_summary, save_final

    notes = save_final(store, run_id, res)
    computed = (res.store_run or {}).get("computed_tasks")
    # this invocation's wall time as times["everything"] counts it (storing the model aside)
    log = _end_invocation(store, run_id, res.times["everything"], "finished", computed)
    # rounded as each logged figure is, so the summary, the printed line and the report agree
    res.times["wall_total"] = round(sum(e["seconds"] or 0.0 for e in log), 3)
    res.store_run = {
        **(res.store_run or {}),
        "resumed": len(log) > 1,
        "invocations": len(log),
        **({"notes": notes} if notes else {}),
    }
    store.finish_run(run_id, run_summary(res, notes))


# Worker processes pay off only when the work outweighs starting them (about a second).
_PARALLEL_MIN_SECONDS = 1.0


def run_tasks(
    ctx: Context, tasks: list[Task], control: Control, desc: str
) -> Generator[TaskResult, None, None]:
    """Run every task on the control's executor, streaming results with a progress report."""
    from ..progress import Progress

    with Progress(len(tasks), desc, "fit", enabled=control.verbose, leave=False) as bar:
        for r in _execute(ctx, tasks, control):
            bar.update(1)
            yield r


def _execute(
    ctx: Context, tasks: list[Task], control: Control
) -> Generator[TaskResult, None, None]:
    """Dask, local worker processes for every task ("processes"), or "local": there the workers
    start at once while the first two tasks run in this process, and the second's time (the
    first pays the engine's import) decides whether the rest are worth the workers; if so, this
    process keeps computing beside them. Results are the same either way — every task is
    deterministic given its seed.
    """
    workers = min(control.workers, len(tasks))
    if control.executor == "dask":
        from ..execute.dask import DaskExecutor

        yield from DaskExecutor(control.scheduler, max(workers, 1)).run(ctx, tasks)
        return
    if control.executor == "processes":
        yield from ProcessExecutor(max(workers, 1)).run(ctx, tasks)
        return
    if workers > 1 and len(tasks) > 2:
        yield from OverlappedExecutor(workers, 2, _PARALLEL_MIN_SECONDS).run(ctx, tasks)
    else:
        yield from SerialExecutor().run(ctx, tasks)


def _plan_tasks(
    method: str,
    resamples: Resamples,
    n_groups: int,
    seed: int,
    n: int,
    only: list[int] | None = None,
) -> list[Task]:
    """Resample x fit group, plus the apparent (all rows) fits the 632 / optimism rules need;
    ``only``: just these fit groups' tasks (a search's newest candidates)."""
    all_rows = np.arange(n)
    tasks: list[Task] = []
    groups = range(n_groups) if only is None else only
    for r, (_, tr, te) in enumerate(resamples):
        evals = {"values": te}  # named after the Scores array each evaluation fills
        if method == "optimism_boot":
            evals.update(inbag=tr, allrows=all_rows)
        tasks.extend(Task(r, g, task_seed(seed, r, g), tr, evals) for g in groups)
    if method in ("boot632", "optimism_boot"):
        tasks.extend(
            Task(-1, g, task_seed(seed, -1, g), all_rows, {"apparent": all_rows}) for g in groups
        )
    return tasks


def _warn_constant_columns(ds: Dataset, resamples: Resamples, steps: PreProcess | None) -> None:
    """Warn (as caret does) about predictors constant in some resample's training rows, unless a
    zero-variance filter runs inside the resamples."""
    import warnings

    if steps is not None and {"zv", "nzv"} & set(steps.steps):
        return
    counts = np.zeros(ds.X.shape[1], dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
        for tr in resamples.train:
            x = ds.X[tr]
            counts += ~(np.nanmax(x, axis=0) > np.nanmin(x, axis=0))
    # dummies of factors that other / target_encode replace inside each resample do not count
    replaced = {
        f"{c}{lev}" for c, lv in ds.encoder.categorical if c in ds.encoder.unseen for lev in lv
    }
    names = ds.encoder.feature_names
    bad = [(c, int(k)) for c, k in zip(names, counts, strict=True) if k and c not in replaced]
    if bad:
        shown = ", ".join(f"{c!r} ({k} of {len(resamples)})" for c, k in bad[:8])
        warnings.warn(
            f"predictor(s) constant in the training rows of some resamples: {shown}"
            f"{', ...' if len(bad) > 8 else ''}; add preprocess=['zv'] to drop them inside "
            "each resample",
            UserWarning,
            stacklevel=3,
        )


def _check_jobs(control: Control) -> None:
    """Warn when n_jobs asks for more local workers than this machine has cores (capped)."""
    from ..control import available_cores

    cores = available_cores()
    if control.scheduler is None and control.n_jobs > cores:
        import warnings

        warnings.warn(
            f"n_jobs={control.n_jobs} is more than the {cores} CPU core(s) available here; "
            f"using {cores} worker(s)",
            UserWarning,
            stacklevel=4,
        )


def _data_shape(
    ds: Dataset,
    steps: PreProcess | None,
    whole: TrainingData | None,
    resamples: Resamples | None,
    sampling: str | None,
) -> DataShape:
    """The smallest data a fit of this plan sees, for parameters' data-dependent limits: the
    predictors after pre-processing on all rows (a resample's own pre-processing may leave
    fewer: that fit then warns) and the smallest resample's training rows after class sampling
    (all rows without resampling)."""
    if whole is None and steps is not None:
        whole = _grid_data(ds, steps)
    predictors = ds.X.shape[1] if whole is None else whole.X.shape[1]
    what = "predictors after pre-processing" if steps is not None else "predictors"
    train_rows = [np.arange(len(ds.y))] if resamples is None else list(resamples.train)
    rows = min(_sampled_rows(ds.y[tr], sampling) for tr in train_rows)
    where = "training rows" if resamples is None else "training rows of the smallest resample"
    if sampling:
        where += f" after {sampling} sampling"
    return DataShape(rows=rows, predictors=predictors, rows_what=where, predictors_what=what)


def _sampled_rows(y: np.ndarray, sampling: str | None) -> int:
    """How many rows class sampling leaves of training rows with class codes ``y``: down
    sampling keeps the smallest class's count per class; up and SMOTE reach the largest's."""
    if not sampling or len(y) == 0:
        return len(y)
    counts = np.bincount(np.asarray(y, dtype=int))
    counts = counts[counts > 0]
    return int(len(counts) * (counts.min() if sampling == "down" else counts.max()))


def _grid_data(ds: Dataset, steps: PreProcess | None) -> TrainingData:
    """All rows, pre-processed like the fits will be, for data-dependent default grids (caret
    also builds its grid from the pre-processed training data)."""
    X, columns = ds.X, ds.encoder.feature_names
    if steps is not None:
        import copy

        pp = copy.deepcopy(steps)
        X = np.asarray(pp.fit_transform(pd.DataFrame(X, columns=list(columns), copy=False), ds.y))
        columns = tuple(map(str, pp.output_names_))
    return TrainingData(
        X=X, y=ds.y, mode=ds.mode, levels=ds.levels, columns=columns, weights=ds.weights
    )


def _factor_steps(steps: PreProcess, ds: Dataset) -> tuple[PreProcess, Dataset]:
    """The template told which matrix columns are each factor's dummies (so other and
    target_encode see the factors) and the outcome; the encoder then marks levels unseen in
    training instead of refusing them, for those steps to map (other / the training mean)."""
    enc = ds.encoder
    if enc.formula is not None and {"other", "target_encode"} & set(steps._run):
        raise ValueError(
            f"the steps 'other' and 'target_encode' read factor columns, which the formula "
            f"'~ {enc.formula.rhs}' turns into its own terms; use a DataFrame and target "
            "column, or a formula of names, '.', '+' and '-'"
        )
    pp = steps.for_training(enc.categorical, enc.columns, ds.target, ds.levels)
    if not pp._factor_stage:
        return pp, ds
    handled = tuple(pp.encode_columns or ()) + tuple(pp.other_columns or ())
    if "other" in pp._run and pp.other_columns is None:
        handled = tuple(c for c, _ in enc.categorical)
    if "target_encode" in pp._run and pp.encode_columns is None:
        handled += tuple(c for c, lv in enc.categorical if len(lv) > pp.encode_min_levels)
    if not handled:
        return pp, ds
    new = dataclasses.replace(enc, unseen=tuple(dict.fromkeys(handled)))
    return pp, dataclasses.replace(ds, encoder=new)


def _warn_duplicates(ds: Dataset, control: Control) -> None:
    """Say how many rows repeat an earlier row, and how many repeat another's predictors with
    a different outcome, before anything is fitted; say whether they are dropped."""
    import warnings

    from ..encodings import DuplicateRowsWarning, count_duplicates

    n_dup, n_conflict = count_duplicates(ds.X, ds.y)
    if not (n_dup or n_conflict):
        return
    what = "are dropped from" if control.duplicates == "drop" else "stay in"
    how = "" if control.duplicates == "drop" else " (Control(duplicates='drop') drops them)"
    warnings.warn(
        f"{n_dup} of {len(ds.y)} rows repeat an earlier row exactly, and {n_conflict} rows share "
        f"their predictor values with a row of a different outcome; the repeated rows {what} "
        f"each resample's training rows{how}; held-out rows are never dropped",
        DuplicateRowsWarning,
        stacklevel=4,
    )


def _check_preprocess(steps: Any) -> PreProcess | None:
    """A list of step names or a PreProcess (with options such as thresh=) becomes an unfitted
    template, validated now; each resample fits its own copy."""
    if steps is None or isinstance(steps, PreProcess):
        return steps
    if isinstance(steps, Mapping):  # a config's {steps: [...], option: value, ...}
        import inspect

        opts = dict(steps)
        valid = [p for p in inspect.signature(PreProcess).parameters if p != "steps"]
        unknown = sorted(set(opts) - {"steps", *valid})
        if unknown or "steps" not in opts:
            raise ValueError(
                f"preprocess: a mapping needs 'steps' and takes the options {valid}; got "
                f"{'unknown ' + str(unknown) if unknown else 'no steps'}"
            )
        if isinstance(opts.get("limits"), list):
            opts["limits"] = tuple(opts["limits"])
        return PreProcess(**opts)
    if isinstance(steps, str):
        steps = [steps]
    return PreProcess(tuple(steps)) if len(steps) else None


# Suggested when a method cannot do the task and no method shares its tags: general-purpose ones.
_GENERAL_METHODS = ("gbm", "rf", "glmnet", "lightgbm", "svm_radial", "knn", "lm", "glm")


def _check_inputs(model: Model, ds: Dataset, steps: PreProcess | None, control: Control) -> None:
    if ds.mode not in model.modes:
        from ..models.base import registry

        same_family = [
            n for n, c in registry().items() if ds.mode in c.modes and set(c.tags) & set(model.tags)
        ]
        general = [n for n in _GENERAL_METHODS if ds.mode in registry()[n].modes]
        others = same_family[:6] or general[:6]
        raise ValueError(
            f"method {model.name!r} does not do {ds.mode} (it does {', '.join(model.modes)}); "
            f"methods that do: {', '.join(others)}, ... (leanfit models --mode {ds.mode})"
        )
    if ds.weights is not None and not model.takes_weights:
        raise ValueError(f"method {model.name!r} does not take observation weights")
    step_names = set(steps.steps if steps else ())
    missing = np.isnan(ds.X)
    some_missing, all_missing = missing.any(axis=0), missing.all(axis=0)
    names = np.asarray(ds.encoder.feature_names, dtype=object)
    if {"zv", "nzv"} & step_names:  # they drop entirely missing columns first
        some_missing &= ~all_missing
    elif all_missing.any() and not model.takes_missing:
        empty = list(names[all_missing])
        raise ValueError(
            f"predictor column(s) {empty[:5] + (['...'] if len(empty) > 5 else [])} are "
            "entirely missing: there is nothing to learn or impute from; drop them, or add "
            "preprocess=['zv'] to remove them"
        )
    nan_cols = list(names[some_missing])
    if nan_cols and not model.takes_missing and not _IMPUTERS & step_names:
        shown = nan_cols[:5] + (["..."] if len(nan_cols) > 5 else [])
        raise ValueError(
            f"predictor column(s) {shown} have missing values and method {model.name!r} cannot "
            "take them; add preprocess=['median_impute'] (or knn_impute, bag_impute) or remove "
            "those rows"
        )
    if control.method == "oob" and not model.supports_oob:
        raise ValueError(
            f"Control(method='oob') needs a bagged model or forest; {model.name!r} has no "
            "out-of-bag predictions"
        )
    if control.sampling and control.method == "oob":
        raise ValueError(
            "Control(sampling=...) cannot be combined with method='oob': sampled "
            "rows have no out-of-bag predictions of the original rows"
        )
    if control.sampling and ds.mode != CLASSIFICATION:
        raise ValueError(f"Control(sampling={control.sampling!r}) is for classification targets")
    if control.class_probs and ds.mode == REGRESSION:
        raise ValueError("Control(class_probs=True) is for classification; the target is numeric")
    if control.class_probs and not model.probabilities:
        raise ValueError(f"method {model.name!r} gives no class probabilities")
    model.check_options()
    model.check_task(ds.mode, len(ds.levels) if ds.mode == CLASSIFICATION else 0)
    if (
        ds.mode == CLASSIFICATION
        and control.base_method in ("cv", "repeatedcv")
        and (control.index is None)
    ):
        counts = np.bincount(ds.y, minlength=len(ds.levels))
        rows = list(zip(ds.levels, (int(c) for c in counts), strict=True))
        single = [(lev, c) for lev, c in rows if c < 2]
        if single:
            raise ValueError(
                f"class(es) {single} have fewer than 2 rows: the fold holding such a row out "
                "would train without its class; drop or merge the class"
            )
        small = [(lev, c) for lev, c in rows if c < control.folds]
        if small:  # caret and scikit-learn go on too: every training set still has each class
            import warnings

            warnings.warn(
                f"class(es) {small} have fewer rows than the {control.folds} folds: some folds' "
                "held-out rows lack them, so per-class metrics there are missing; fewer folds "
                "(Control(number=...)) avoid that",
                UserWarning,
                stacklevel=3,
            )


def _default_metric(mode: str, names: list[str]) -> str:
    preferred = "Accuracy" if mode == CLASSIFICATION else "RMSE"
    return preferred if preferred in names else names[0]


def _context(
    ds: Dataset,
    control: Control,
    model: Model,
    steps: PreProcess | None,
    groups: tuple[FitGroup, ...],
) -> Context:
    """What every task of a fit sees: the data, the model, its pre-processing and fit groups,
    and the run settings a task needs (a stateful formula is refitted per resample)."""
    return Context(
        X=ds.X,
        y=ds.y,
        weights=ds.weights,
        mode=ds.mode,
        levels=ds.levels,
        columns=ds.encoder.feature_names,
        model=model,
        preprocess=steps,
        groups=groups,
        class_probs=control.class_probs,
        sampling=control.sampling,
        duplicates=control.duplicates,
        oob=control.method == "oob",
        formula=ds.encoder.formula if _stateful(ds) else None,
        raw=ds.frame if _stateful(ds) else None,
    )


def _stateful(ds: Dataset) -> bool:
    """Whether a formula with stateful terms (poly, center, scale) must be refitted on each
    resample's training rows (from ``ds.frame``, the raw columns it reads)."""
    formula = ds.encoder.formula
    return ds.frame is not None and formula is not None and bool(formula.stateful)
