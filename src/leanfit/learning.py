"""Learning curves and an over/under-fitting diagnosis for one candidate of one model.

``learning_curve`` fits one parameter set on growing subsamples of every resample's training rows
and scores each fit twice: on the resample's held-out rows (the *resampled* curve) and on the rows
it was trained on (the *apparent* curve, training performance). The tasks are ordinary train()
tasks (``Task`` / ``Context`` / ``make_executor``) scored by ``metrics.summarize``, so ``n_jobs``
works and the numbers are identical for any ``n_jobs``.

Subsamples. For resample ``r`` with ``n`` training rows and size fraction ``s`` (index ``i``),
``m = round(s * n)`` rows (rounded half up) are drawn without replacement, stratified by class for
classification (largest-remainder allocation, at least ``min(2, n_k)`` rows of every class ``k``)
and uniformly at random for regression (at least 5 rows), from a generator seeded by
``(seed, r, i)``. At ``s = 1`` the subsample is the training rows themselves, in their order.
Every size of one resample uses the same model seed, the one train() gives that resample's fit,
so the fraction-1.0 point repeats train()'s fit of the same candidate exactly.

Diagnosis (``LearningCurve.diagnose``). Every number is put on a scale-free basis with
``q(v) = (v - baseline) / (ideal - baseline)``: 0 is the no-information value of the metric, 1 is
perfect, whichever way the metric points. Baselines (computed on all rows of the outcome):
Accuracy the majority-class rate; Kappa 0; ROC (and multi-class AUC) 0.5; ``"pr"``-summary AUC the
rate of the first level; prAUC ``1/K``; Rsquared 0; RMSE the population SD of y (the RMSE of
predicting its mean); MAE the mean absolute deviation of y from its mean; logLoss the log loss of
predicting the class frequencies. Ideals: 1 for Accuracy, Kappa, ROC, AUC, prAUC and Rsquared; 0
for RMSE, MAE and logLoss. At the largest size with both curves:

* ``gap = q(apparent) - q(resampled)``: how much better the training rows are fitted than held-out
  rows, as a fraction of the baseline-to-ideal distance;
* ``headroom = 1 - q(resampled)``: how far the resampled performance is from perfect;
* ``slope = q(resampled at the largest size) - q(resampled at the middle size)``: the improvement
  over the last half of the sizes (positive: more data still helps).

Verdicts, in this order: **over-fitting** when ``gap > 0.25``; **under-fitting** when
``q(apparent) < 0.5`` (the model fits even its own training rows less than half of the way from
no-information to perfect, and the gap is small); otherwise **balanced**. A slope above 0.02 is
reported as "still rising". The rules cannot tell under-fitting from an outcome that is that noisy
(an irreducible error); the message says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from .control import Control
    from .execute import Context
    from .frame import Dataset
    from .models.base import Model
    from .splits import Resamples
    from .tuning.result import TrainResult

DEFAULT_SIZES: tuple[float, ...] = (0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
TABLE_COLUMNS: tuple[str, ...] = (
    "size",
    "fraction",
    "metric",
    "resampled_mean",
    "resampled_sd",
    "apparent_mean",
    "apparent_sd",
    "n_resamples",
    "n_failed",
)
OVER_GAP = 0.25  # gap (scaled) above which the verdict is over-fitting
UNDER_APPARENT = 0.5  # scaled training performance below which the verdict is under-fitting
RISING_SLOPE = 0.02  # scaled improvement over the last half of sizes that counts as rising
MIN_ROWS_PER_CLASS = 2
MIN_ROWS_REGRESSION = 5
_IDEAL = MappingProxyType(
    {
        "Accuracy": 1.0,
        "Kappa": 1.0,
        "ROC": 1.0,
        "AUC": 1.0,
        "prAUC": 1.0,
        "Rsquared": 1.0,
        "RMSE": 0.0,
        "MAE": 0.0,
        "logLoss": 0.0,
    }
)


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Diagnosis:
    """What the two curves say: a verdict, the numbers behind it in words, and what to try."""

    verdict: str  # "under-fitting" | "over-fitting" | "balanced"
    message: str
    numbers: dict[str, float]
    remedies: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        """Verdict, message and remedies, one per line, for reading at the prompt."""
        lines = [f"Diagnosis: {self.verdict}", f"  {self.message}"]
        if self.remedies:
            lines.append("Remedies:")
            lines.extend(f"  - {r}" for r in self.remedies)
        return "\n".join(lines)


@dataclass(frozen=True, eq=False, repr=False)
class LearningCurve:
    """Resampled and apparent (training) performance of one candidate against training size.

    ``table``: one row per (size, metric) with the columns of ``TABLE_COLUMNS``; ``size`` is the
    mean number of training rows used at that ``fraction`` over the resamples, ``n_resamples`` the
    fits that succeeded and ``n_failed`` those that raised (listed in ``failures``; the fits'
    warnings in ``fit_warnings``). ``baselines``:
    each metric's no-information value on this outcome (see the module docstring).
    """

    table: pd.DataFrame
    metric: str
    maximize: bool
    params: dict[str, Any]
    method: str
    baselines: dict[str, float] = field(default_factory=dict)
    failures: pd.DataFrame | None = None
    resampling: str = ""
    fit_warnings: pd.DataFrame | None = None

    def diagnose(self, metric: str | None = None) -> Diagnosis:
        """Read both curves of ``metric`` (default: the main metric) and name the fitting regime."""
        return diagnose_curve(self, metric)

    def __repr__(self) -> str:
        """A compact table of the main metric: size, resampled and apparent mean ± SD, failures."""
        params = ", ".join(
            f"{k}={v:g}" if _is_num(v) else f"{k}={v}" for k, v in self.params.items()
        )
        head = f"Learning curve: {self.method}" + (f" ({params})" if params else "")
        lines = [head]
        if self.resampling:
            lines.append(f"Resampling: {self.resampling}")
        lines.append(f"Metric: {self.metric} (resampled = held-out rows, apparent = training rows)")
        t = self.table[self.table["metric"] == self.metric]
        lines.append(
            f"{'size':>8} {'fraction':>8} {'resampled':>10} {'sd':>8} {'apparent':>10} {'sd':>8}"
            f" {'failed':>6}"
        )
        for row in t.itertuples(index=False):
            lines.append(
                f"{row.size:8.1f} {row.fraction:8.2f} {_fmt(row.resampled_mean):>10} "
                f"{_fmt(row.resampled_sd):>8} {_fmt(row.apparent_mean):>10} "
                f"{_fmt(row.apparent_sd):>8} {row.n_failed:6d}"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def learning_curve(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    method: str | Model = "gbm",
    params: dict[str, Any] | None = None,
    sizes: Sequence[float] = DEFAULT_SIZES,
    control: Control | None = None,
    preprocess: Any = None,
    metric: str | None = None,
    weights: Any = None,
    seed: int | None = None,
    groups: Any = None,
    task: str | None = None,
) -> LearningCurve:
    """Learning curves of one candidate: resampled and apparent performance vs training size.

    Inputs as in ``train`` (formula + ``data``, DataFrame + target name, or X and y). ``params``
    is one full parameter set (caret's dotted names accepted); without it the candidate is the
    one row of the model's default grid at ``tune_length=1`` (gbm: 50 depth-1 trees, shrinkage
    0.1). ``sizes`` are fractions in (0, 1] of each resample's training rows. ``control``
    defaults to ``Control(method="cv", number=5)``; any method but "none" works (the 632 /
    optimism corrections are not applied: the resampled curve is the plain held-out mean).
    ``groups`` are row groups for ``Control(method="group_cv")``. Every input is checked before
    anything is fitted; failed fits are counted in ``n_failed``, never dropped silently.
    """
    import dataclasses

    from .control import Control
    from .tuning.train import plan_one

    fractions = _check_sizes(sizes)
    control = control if control is not None else Control(method="cv", number=5)
    plan = plan_one(
        x,
        y,
        data=data,
        method=method,
        params=params,
        control=control,
        what="a learning curve",
        preprocess=preprocess,
        metric=metric,
        weights=weights,
        groups=groups,
        seed=seed,
        task=task,
    )
    if plan.resamples is None:  # plan_one refuses Control(method="none"), the only such plan
        raise AssertionError("a learning curve's plan has no resamples")
    row = _row(plan.candidates, 0)
    ctx = dataclasses.replace(plan.context, groups=plan.context.groups[:1])
    return _curve(
        model=plan.model,
        dataset=plan.dataset,
        ctx=ctx,
        params=row,
        control=plan.control,
        resamples=plan.resamples,
        seed=plan.seed,
        seed_group=0,
        metric=plan.metric,
        maximize=plan.maximize,
        names=plan.metric_names,
        fractions=fractions,
    )


def learning_curve_of(
    result: TrainResult,
    sizes: Sequence[float] = DEFAULT_SIZES,
    control: Control | None = None,
) -> LearningCurve:
    """Learning curves of a fitted TrainResult's chosen candidate, on its data and settings.

    Uses the result's data, pre-processing, summary (and class probabilities), metric and seed.
    Without ``control`` the result's own resamples and task seeds are reused, so the fraction-1.0
    point repeats train()'s resampling of that candidate (a result fitted with
    ``Control(method="none")`` gets 5-fold CV). A given ``control`` sets the resampling design and
    ``n_jobs``; its summary and class probabilities are replaced by the result's, so the result's
    metric is always scored.
    """
    import dataclasses

    from .control import Control, make_resamples
    from .metrics import check_summary
    from .models.base import CLASSIFICATION
    from .tuning.plan import fit_groups

    fractions = _check_sizes(sizes)
    own = result.control
    resamples = None
    if control is None:
        if own.method != "none" and result.resamples is not None:
            control, resamples = own, result.resamples
        else:
            control = Control(
                method="cv",
                number=5,
                summary=own.summary,
                class_probs=own.class_probs,
                n_jobs=own.n_jobs,
                verbose=own.verbose,
            )
    else:
        _check_control(control)
        control = dataclasses.replace(control, summary=own.summary, class_probs=own.class_probs)
    ds = result.dataset
    check_summary(control.summary, ds.mode, len(ds.levels), control.class_probs)
    if result.metric not in result.metric_names:
        raise ValueError(f"metric {result.metric!r} is not among {result.metric_names}")
    if resamples is None:
        labels = ds.y_labels if ds.mode == CLASSIFICATION else ds.y
        resamples = make_resamples(control, labels, result.seed)
    best = result.best_index
    row = result.candidates.iloc[[best]].reset_index(drop=True)
    group = fit_groups(result.model, row)[0]
    seed_group = next((g for g, fg in enumerate(result.context.groups) if best in fg.candidates), 0)
    ctx = dataclasses.replace(result.context, groups=(group,), class_probs=control.class_probs)
    return _curve(
        model=result.model,
        dataset=ds,
        ctx=ctx,
        params=_row(result.candidates, best),
        control=control,
        resamples=resamples,
        seed=result.seed,
        seed_group=seed_group,
        metric=result.metric,
        maximize=result.maximize,
        names=list(result.metric_names),
        fractions=fractions,
    )


def diagnose_curve(curve: LearningCurve, metric: str | None = None) -> Diagnosis:
    """Apply the documented rules (module docstring) to one metric of a learning curve."""
    metric = metric or curve.metric
    t = curve.table[curve.table["metric"] == metric].sort_values("fraction")
    if t.empty:
        raise ValueError(f"metric {metric!r} is not in the curve; it has {_metrics(curve)}")
    ideal, base = _IDEAL.get(metric), curve.baselines.get(metric)
    if ideal is None or base is None or not np.isfinite(base) or ideal == base:
        known = [m for m in _metrics(curve) if m in _IDEAL and m in curve.baselines]
        raise ValueError(
            f"no baseline/ideal is defined for metric {metric!r}, so it cannot be diagnosed; "
            f"diagnosable metrics here: {known}"
        )
    ok = t[np.isfinite(t["resampled_mean"]) & np.isfinite(t["apparent_mean"])]
    if ok.empty:
        raise ValueError(f"no size has both curves of {metric!r}; see the curve's failures")
    scale = ideal - base

    def q(v: float) -> float:
        return float((v - base) / scale)

    last = ok.iloc[-1]
    mid = ok.iloc[(len(ok) - 1) // 2]
    app, res, size = float(last["apparent_mean"]), float(last["resampled_mean"]), last["size"]
    q_app, q_res = q(app), q(res)
    gap = q_app - q_res
    slope = q_res - q(float(mid["resampled_mean"])) if len(ok) > 1 else math.nan
    numbers = {
        "size": float(size),
        "apparent": app,
        "resampled": res,
        "baseline": float(base),
        "ideal": float(ideal),
        "gap": gap * abs(scale),
        "gap_scaled": gap,
        "apparent_scaled": q_app,
        "resampled_scaled": q_res,
        "headroom": 1.0 - q_res,
        "slope": slope,
        "slope_from_size": float(mid["size"]),
    }
    rising = bool(np.isfinite(slope) and slope > RISING_SLOPE)
    facts = (
        f"training {metric} {_fmt(app)} vs resampled {_fmt(res)} at {size:.0f} rows: a gap of "
        f"{_fmt(gap * abs(scale))} ({_pct(gap)} of the distance from the no-information value "
        f"{_fmt(base)} to the ideal {_fmt(ideal)}); the resampled {metric} is "
        f"{_pct(1 - q_res)} of that distance short of ideal"
    )
    trend = _trend(slope, float(mid["size"]), size)
    verdict, why, remedies = _verdict(metric, gap, q_app, rising)
    message = f"{verdict}: {facts}; {why}. {trend}"
    return Diagnosis(verdict=verdict, message=message, numbers=numbers, remedies=remedies)


def _verdict(metric: str, gap: float, q_app: float, rising: bool) -> tuple[str, str, list[str]]:
    """The documented rules on the scaled numbers: (verdict, why in words, remedies).

    ``gap`` and ``q_app`` are on the baseline-to-ideal scale; ``rising``: whether the resampled
    curve still rises over the last half of the sizes."""
    if gap > OVER_GAP:
        verdict = "over-fitting"
        why = f"the gap exceeds {OVER_GAP:.0%} of that distance, so the model fits noise"
        remedies = [
            "regularisation: L1/L2 penalties (a larger lambda for glmnet), more shrinkage "
            "(a smaller learning rate), fewer or shallower trees, larger minimum node sizes",
            "early stopping: choose the number of trees / epochs by resampling",
            "dropout for neural networks",
            "fewer predictors (feature selection) or a simpler method",
            "more training data"
            + (
                " (the resampled curve is still rising, so it should help)"
                if rising
                else " (the resampled curve has flattened, so expect a small gain)"
            ),
        ]
    elif q_app < UNDER_APPARENT:
        verdict = "under-fitting"
        why = (
            f"even the training {metric} covers only {_pct(q_app)} of that distance (below "
            f"{UNDER_APPARENT:.0%}) and the gap is small: the model is too simple for the data "
            "(unless the outcome is that noisy)"
        )
        remedies = [
            "more capacity: deeper trees or more boosting iterations, more units or layers, "
            "more epochs",
            "more or better features: polynomial and interaction terms, splines, domain features",
            "less regularisation: a smaller lambda / penalty, a larger shrinkage",
            "a more flexible method (e.g. gbm or svm_radial instead of a linear model)",
        ]
        if not rising:
            remedies.append("more data alone will not help: the resampled curve has flattened")
    else:
        verdict = "balanced"
        why = (
            f"the gap is within {OVER_GAP:.0%} of that distance and training performance covers "
            f"{_pct(q_app)} of it"
        )
        remedies = ["more training data: the resampled curve is still rising"] if rising else []
    return verdict, why, remedies


# ---------------------------------------------------------------------------------------------
# the curve
# ---------------------------------------------------------------------------------------------


@dataclass
class _Scores:
    """Every fit's scores: held-out and apparent metrics per (resample, size, metric), which fits
    failed, LOOCV's held-out predictions pooled per size, and the fits' errors and warnings."""

    held: np.ndarray
    apparent: np.ndarray
    failed: np.ndarray
    failures: list[dict[str, Any]] = field(default_factory=list)
    pooled: dict[int, list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]] = field(
        default_factory=dict
    )
    warned: list[dict[str, Any]] = field(default_factory=list)


def _curve(
    *,
    model: Model,
    dataset: Dataset,
    ctx: Context,
    params: dict[str, Any],
    control: Control,
    resamples: Resamples,
    seed: int,
    seed_group: int,
    metric: str,
    maximize: bool,
    names: list[str],
    fractions: tuple[float, ...],
) -> LearningCurve:
    """Plan (and check) the subsample tasks, run them, score them and build the table."""
    import dataclasses

    from .execute import warn_fit_warnings

    if metric not in names:
        raise ValueError(f"metric {metric!r} is not produced by the summary; it produces {names}")
    subsets = _plan_subsets(dataset, resamples, fractions, seed)
    # one identical fit group per size index, so a task's group is its size index
    ctx = dataclasses.replace(ctx, groups=ctx.groups * len(fractions))
    tasks = _plan_tasks(resamples, subsets, seed, seed_group)
    scores = _run_and_score(ctx, tasks, control, model, resamples, fractions, names)
    table = _curve_table(scores, control, ctx, subsets, fractions, names)
    by_key = {(t.resample, t.group): t for t in tasks}
    warn_fit_warnings(scores.warned, len(tasks), f"learning-curve fits of {model.name!r}")
    return LearningCurve(
        table=table,
        metric=metric,
        maximize=maximize,
        params=params,
        method=model.name or type(model).__name__,
        baselines=_baselines(dataset, control, names),
        failures=_failures_frame(scores.failures),
        resampling=control.describe(),
        fit_warnings=_warnings_frame(scores.warned, resamples, fractions, by_key),
    )


def _plan_tasks(
    resamples: Resamples, subsets: list[list[np.ndarray]], seed: int, seed_group: int
) -> list[Any]:
    """One train() task per (resample, size): fit on the subsample, predict the resample's
    held-out rows ("values") and the subsample itself ("inbag"), with the resample's seed."""
    from .tuning.plan import Task, task_seed

    return [
        Task(r, i, task_seed(seed, r, seed_group), rows, {"values": te, "inbag": rows})
        for r, (_, _, te) in enumerate(resamples)
        for i, rows in enumerate(subsets[r])
    ]


def _run_and_score(
    ctx: Context,
    tasks: list[Any],
    control: Control,
    model: Model,
    resamples: Resamples,
    fractions: tuple[float, ...],
    names: list[str],
) -> _Scores:
    """Run the tasks and score each fit on its held-out and training rows (LOOCV's held-out
    predictions are pooled per size instead); failed fits are recorded, not dropped."""
    from .tuning.train import run_tasks

    n_r, n_s = len(resamples), len(fractions)
    shape = (n_r, n_s, len(names))
    out = _Scores(np.full(shape, np.nan), np.full(shape, np.nan), np.zeros((n_r, n_s), dtype=bool))
    loocv = control.method == "loocv"
    by_key = {(t.resample, t.group): t for t in tasks}
    for res in run_tasks(ctx, tasks, control, f"learning curve {model.name}"):
        task = by_key[(res.resample, res.group)]
        out.warned.extend(res.warned())
        if res.error is not None:
            out.failed[res.resample, res.group] = True
            out.failures.append(
                {
                    "Resample": resamples.names[res.resample],
                    "fraction": fractions[res.group],
                    "size": len(task.train),
                    "error": res.error.strip().splitlines()[-1],
                    "traceback": res.error,
                }
            )
            continue
        for ev, target in (("values", out.held), ("inbag", out.apparent)):
            rows = task.evals[ev]
            pred, prob = res.preds[ev], res.probs.get(ev)
            if ev == "values" and loocv:
                out.pooled.setdefault(res.group, []).append((res.resample, rows, pred, prob))
                continue
            target[res.resample, res.group] = _score(control, ctx, rows, pred, prob, names)
    return out


def _curve_table(
    scores: _Scores,
    control: Control,
    ctx: Context,
    subsets: list[list[np.ndarray]],
    fractions: tuple[float, ...],
    names: list[str],
) -> pd.DataFrame:
    """One row per (size, metric): mean rows used, both curves' mean and SD over resamples (LOOCV:
    the pooled held-out score, no SD), and how many fits succeeded and failed."""
    import pandas as pd

    loocv = control.method == "loocv"
    pooled = {i: _pool(control, ctx, parts, names) for i, parts in scores.pooled.items()}
    failed = scores.failed
    records = []
    for i, s in enumerate(fractions):
        n_rows = float(np.mean([len(subsets[r][i]) for r in range(len(subsets))]))
        ok = int((~failed[:, i]).sum())
        for j, name in enumerate(names):
            if loocv:
                r_mean = pooled[i][j] if i in pooled else math.nan
                r_sd = math.nan
            else:
                r_mean, r_sd = _mean_sd(scores.held[:, i, j])
            a_mean, a_sd = _mean_sd(scores.apparent[:, i, j])
            records.append(
                (n_rows, s, name, r_mean, r_sd, a_mean, a_sd, ok, int(failed[:, i].sum()))
            )
    table = pd.DataFrame.from_records(records, columns=list(TABLE_COLUMNS))
    return table.astype({"n_resamples": "int64", "n_failed": "int64"})


def _failures_frame(failures: list[dict[str, Any]]) -> pd.DataFrame:
    """The failed fits, ordered by size then resample."""
    import pandas as pd

    fail_cols = ["Resample", "fraction", "size", "error", "traceback"]
    return pd.DataFrame(
        sorted(failures, key=lambda f: (f["fraction"], f["Resample"])), columns=fail_cols
    )


def _warnings_frame(
    warned: list[dict[str, Any]],
    resamples: Resamples,
    fractions: tuple[float, ...],
    by_key: dict[tuple[int, int], Any],
) -> pd.DataFrame:
    """The fits' warnings, one row each, with the resample, size fraction and rows used."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "Resample": resamples.names[w["resample"]],
                "fraction": fractions[w["group"]],
                "size": len(by_key[(w["resample"], w["group"])].train),
                "warning": w["warning"],
            }
            for w in warned
        ],
        columns=["Resample", "fraction", "size", "warning"],
    )


def _score(
    control: Control,
    ctx: Context,
    rows: np.ndarray,
    pred: np.ndarray,
    prob: np.ndarray | None,
    names: list[str],
) -> np.ndarray:
    """One candidate's metrics on ``rows``, exactly as train() scores a resample."""
    from .metrics import summarize

    w = None if ctx.weights is None else ctx.weights[rows]
    m = summarize(control.summary, ctx.y[rows], pred, prob, ctx.levels, w)
    return np.array([float(np.asarray(m[n], dtype=float)[0]) if n in m else np.nan for n in names])


def _pool(control: Control, ctx: Context, parts: list[Any], names: list[str]) -> np.ndarray:
    """LOOCV: score the pooled held-out predictions of one size (train()'s LOOCV rule)."""
    parts = sorted(parts, key=lambda p: p[0])
    rows = np.concatenate([p[1] for p in parts])
    pred = np.concatenate([p[2] for p in parts], axis=1)
    prob = None if parts[0][3] is None else np.concatenate([p[3] for p in parts], axis=1)
    return _score(control, ctx, rows, pred, prob, names)


def _mean_sd(v: np.ndarray) -> tuple[float, float]:
    """Mean and SD (n - 1) over resamples, ignoring missing values, NaN when too few."""
    v = v[np.isfinite(v)]
    mean = float(v.mean()) if v.size else math.nan
    sd = float(v.std(ddof=1)) if v.size > 1 else math.nan
    return mean, sd


# ---------------------------------------------------------------------------------------------
# subsamples
# ---------------------------------------------------------------------------------------------


def subsample_size(fraction: float, n: int) -> int:
    """Rows used at ``fraction`` of ``n`` training rows: ``round(fraction * n)``, half up, >= 1."""
    return max(1, int(math.floor(fraction * n + 0.5)))


def _plan_subsets(
    ds: Dataset, resamples: Resamples, fractions: tuple[float, ...], seed: int
) -> list[list[np.ndarray]]:
    """Every resample's subsample rows per size, after checking each size is large enough."""
    from .models.base import CLASSIFICATION

    classif = ds.mode == CLASSIFICATION
    k = len(ds.levels)
    for s in fractions:
        for name, tr, _ in resamples:
            m = subsample_size(s, len(tr))
            if classif:
                counts = np.bincount(ds.y[tr], minlength=k)
                need = int(np.minimum(counts, MIN_ROWS_PER_CLASS).sum())
                if m < need:
                    raise ValueError(
                        f"size {s:g} gives {m} training row(s) in resample {name} (of "
                        f"{len(tr)}); keeping {MIN_ROWS_PER_CLASS} rows of each of the {k} "
                        f"classes needs at least {need}: use sizes >= "
                        f"{_min_fraction(need, len(tr)):.3g}"
                    )
            elif m < MIN_ROWS_REGRESSION:
                raise ValueError(
                    f"size {s:g} gives {m} training row(s) in resample {name} (of {len(tr)}); "
                    f"a regression fit needs at least {MIN_ROWS_REGRESSION}: use sizes >= "
                    f"{_min_fraction(MIN_ROWS_REGRESSION, len(tr)):.3g}"
                )
    out = []
    for r, (_, tr, _) in enumerate(resamples):
        per = []
        for i, s in enumerate(fractions):
            rng = np.random.default_rng(np.random.SeedSequence([seed, r + 2, i, 1]))
            y = ds.y[tr] if classif else None
            pos = _draw(len(tr), subsample_size(s, len(tr)), y, k, rng)
            per.append(tr[pos])
        out.append(per)
    return out


def _draw(n: int, m: int, y: np.ndarray | None, k: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of ``m`` of ``n`` rows: stratified by ``y`` codes, or uniform."""
    if m >= n:
        return np.arange(n)
    if y is None:
        return np.sort(rng.choice(n, size=m, replace=False))
    alloc = _allocate(np.bincount(y, minlength=k), m)
    picked = [
        rng.choice(np.flatnonzero(y == c), size=int(a), replace=False)
        for c, a in enumerate(alloc)
        if a > 0
    ]
    return np.sort(np.concatenate(picked))


def _allocate(counts: np.ndarray, m: int) -> np.ndarray:
    """Rows per class: proportional to ``counts`` (largest remainder), >= min(2, count)."""
    n = int(counts.sum())
    target = m * counts / n
    low = np.minimum(counts, MIN_ROWS_PER_CLASS)
    alloc = np.clip(np.floor(target).astype(int), low, counts)
    diff = m - int(alloc.sum())
    while diff != 0:
        room = target - alloc
        if diff > 0:
            room = np.where(alloc < counts, room, -np.inf)
            c = int(np.argmax(room))
            alloc[c] += 1
            diff -= 1
        else:
            room = np.where(alloc > low, room, np.inf)
            c = int(np.argmin(room))
            alloc[c] -= 1
            diff += 1
    return alloc


def _min_fraction(rows: int, n: int) -> float:
    """The smallest fraction whose rounded size reaches ``rows`` of ``n``."""
    return (rows - 0.5) / n


# ---------------------------------------------------------------------------------------------
# input checks and helpers
# ---------------------------------------------------------------------------------------------


def _check_sizes(sizes: Sequence[float]) -> tuple[float, ...]:
    """Fractions in (0, 1], sorted and de-duplicated; a clear error for anything else."""
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence | np.ndarray):
        raise ValueError(f"sizes must be a sequence of fractions in (0, 1], got {sizes!r}")
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int | float | np.integer | np.floating):
            raise ValueError(f"size {s!r} is not a number; sizes are fractions in (0, 1]")
        v = float(s)
        if not (0.0 < v <= 1.0):
            raise ValueError(
                f"size {s!r} is outside (0, 1]: sizes are fractions of each resample's "
                "training rows"
            )
        out.append(v)
    if not out:
        raise ValueError("sizes is empty; give fractions in (0, 1], e.g. (0.25, 0.5, 1.0)")
    return tuple(sorted(set(out)))


def _check_control(control: Control) -> None:
    """A learning curve needs held-out rows: reject Control(method="none")."""
    if control.method == "none":
        raise ValueError(
            "Control(method='none') has no held-out rows, so there is no resampled curve; "
            "use a resampling method such as Control(method='cv', number=5)"
        )


def _baselines(ds: Dataset, control: Control, names: list[str]) -> dict[str, float]:
    """The no-information value of every known metric on this outcome (module docstring)."""
    from .models.base import CLASSIFICATION

    out: dict[str, float] = {}
    if ds.mode == CLASSIFICATION:
        freq = np.bincount(ds.y, minlength=len(ds.levels)) / len(ds.y)
        nz = freq[freq > 0]
        known = {
            "Accuracy": float(freq.max()),
            "Kappa": 0.0,
            "ROC": 0.5,
            "AUC": float(freq[0]) if control.summary == "pr" else 0.5,
            "prAUC": 1.0 / len(ds.levels),
            "logLoss": float(-(nz * np.log(nz)).sum()),
        }
    else:
        y = np.asarray(ds.y, dtype=float)
        known = {
            "RMSE": float(np.sqrt(np.mean((y - y.mean()) ** 2))),
            "MAE": float(np.mean(np.abs(y - y.mean()))),
            "Rsquared": 0.0,
        }
    for n in names:
        if n in known:
            out[n] = known[n]
    return out


def _trend(slope: float, from_size: float, to_size: float) -> str:
    """The resampled curve's last-half trend in words, with the number."""
    if not np.isfinite(slope):
        return "With one size there is no trend to read."
    state = "is still rising" if slope > RISING_SLOPE else "has flattened"
    return (
        f"The resampled curve {state}: {_pct(slope, True)} of that distance from "
        f"{from_size:.0f} to {to_size:.0f} rows."
    )


def _row(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    """Row ``i`` of the candidates as plain Python values (an empty dict for no parameters)."""
    if frame.shape[1] == 0:
        return {}
    rec = frame.iloc[[i]].to_dict("records")[0]
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}


def _metrics(curve: LearningCurve) -> list[str]:
    return list(dict.fromkeys(curve.table["metric"]))


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _pct(v: float, sign: bool = False) -> str:
    """A scaled number as a whole percentage (no "-0%"), with its sign when asked."""
    v = 0.0 if abs(v) < 0.005 else float(v)
    return f"{v:+.0%}" if sign else f"{v:.0%}"


def _fmt(v: float) -> str:
    """A metric value for messages: 3 decimals, or 4 significant digits when large."""
    if v is None or not np.isfinite(v):
        return "NA"
    v = 0.0 if abs(v) < 5e-4 else float(v)  # no "-0.000"
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.4g}"
