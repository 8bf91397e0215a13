"""Shared machinery of the feature-selection wrappers: the problem, subset fits and scores,
univariate filters, per-resample scoring and an order-keeping parallel map.

Every wrapper (rfe, sbf, gafs, safs) plans its outer resampling with train()'s ``plan_train``
(so inputs, metric and resamples are checked exactly as train() checks them), then runs one job
per outer resample: the selection sees that resample's training rows only and its chosen subset
is scored on the held-out rows, so the reported performance includes the selection. Fits go
through ``execute.fit_one`` / ``predict_group`` on a Context restricted to the subset's columns,
scores through ``metrics.summarize``. Every job derives its seeds from the run seed and its
resample position, so results are identical for any ``n_jobs``.
"""

from __future__ import annotations

import math
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np

from ..problem import NoImportanceError, Problem, problem_of
from ..problem import parallel_map as parallel_map  # re-exported: the wrappers import it here

if TYPE_CHECKING:
    import pandas as pd

    from ..control import Control
    from ..frame import Dataset
    from ..preprocess import PreProcess
    from ..splits import Resamples
    from ..tuning.result import TrainResult

_P = ParamSpec("_P")
_R = TypeVar("_R")

CLASSIFICATION = "classification"


# ---------------------------------------------------------------------------------------------
# the problem: data, model, one candidate and how to score it
# ---------------------------------------------------------------------------------------------


def rank_columns(cols: np.ndarray, imp: np.ndarray) -> np.ndarray:
    """``cols`` ordered by decreasing importance; ties keep the original column order."""
    order = np.lexsort((cols, -imp))
    return np.asarray(cols)[order]


# ---------------------------------------------------------------------------------------------
# planning: inputs checked by train()'s own planner
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What a wrapper needs after its inputs were checked: the problem, dataset and resamples."""

    problem: Problem
    dataset: Dataset
    control: Control
    resamples: Resamples
    params: dict[str, Any]
    preprocess: PreProcess | None


def setup(
    x: Any,
    y: Any,
    *,
    data: Any,
    method: Any,
    control: Control | None,
    params: dict[str, Any] | None,
    metric: str | None,
    maximize: bool | None,
    seed: int | None,
    preprocess: Any,
    weights: Any,
    groups: Any,
    what: str,
    task: str | None = None,
) -> Setup:
    """Plan the outer resampling with ``plan_train`` (one candidate) and build the Problem."""
    from ..control import Control
    from ..tuning.train import plan_one

    control = control if control is not None else Control(method="cv", number=10)
    if not isinstance(control, Control):
        raise TypeError(f"control must be a leanfit Control, got {type(control).__name__}")
    plan = plan_one(
        x,
        y,
        data=data,
        method=method,
        params=params,
        control=control,
        what=what,
        preprocess=preprocess,
        metric=metric,
        maximize=maximize,
        weights=weights,
        groups=groups,
        seed=seed,
        task=task,
    )
    ds = plan.dataset
    assert plan.resamples is not None  # plan_one refuses Control(method='none')
    problem = problem_of(plan, 0, plan.metric, plan.maximize, refit_formula=True)
    row = plan.candidates.iloc[[0]].reset_index(drop=True)
    chosen = {k: _py(v) for k, v in row.to_dict("records")[0].items()} if row.shape[1] else {}
    return Setup(
        problem=problem,
        dataset=ds,
        control=plan.control,
        resamples=plan.resamples,
        params=chosen,
        preprocess=plan.context.preprocess,
    )


def final_fit(s: Setup, cols: Sequence[int] | np.ndarray) -> TrainResult:
    """Fit the candidate on all rows using only ``cols`` (a TrainResult: predict, var_imp...)."""
    import pandas as pd

    from ..control import Control
    from ..tuning.train import train

    ds, prob = s.dataset, s.problem
    cols = np.sort(np.asarray(cols, dtype=np.int64))
    frame = pd.DataFrame(ds.X[:, cols], columns=[prob.columns[c] for c in cols])
    if ds.mode == CLASSIFICATION:
        target = pd.Series(pd.Categorical.from_codes(ds.y, categories=list(ds.levels)))
    else:
        target = pd.Series(ds.y)
    target.name = ds.target
    control = Control(method="none", summary=prob.summary, class_probs=prob.class_probs)
    grid = {k: [v] for k, v in _within_subset(s, len(cols)).items()} if s.params else None
    return train(
        frame,
        target,
        method=prob.model,
        control=control,
        grid=grid,
        tune_length=1,
        preprocess=s.preprocess,
        metric=prob.metric,
        maximize=prob.maximize,
        weights=ds.weights,
        seed=prob.seed,
    )


def _within_subset(s: Setup, n_cols: int) -> dict[str, Any]:
    """The candidate's parameters for a fit on ``n_cols`` selected predictors: one the subset is
    too small for (mtry=5 of 3) is fitted as the subset's limit, with a ParamLimitWarning, as
    the subset fits inside the resamples are (train() would refuse it as a user's grid)."""
    from ..models.base import fitted_as, param_bounds

    params = dict(s.params)
    bounds = param_bounds(s.problem.model, len(s.dataset.y), n_cols)
    for name, (top, limit) in bounds.items():
        if name in params and top >= 1 and int(params[name]) > top:
            what = f"{n_cols} selected predictors" if limit == "predictors" else f"{top} {limit}"
            fitted_as(name, params[name], top, what)
            params[name] = top
    return params


class PredictsWithSubset:
    """Mixin of the selection results: predict new rows given with all the original predictors
    (encoded as at training time, then reduced to the final model's columns)."""

    final_model: TrainResult
    _encoder: Any
    _columns: tuple[str, ...]

    def _x(self, newdata: Any) -> pd.DataFrame:
        import pandas as pd

        X = self._encoder.transform(newdata)
        names = list(self.final_model.dataset.encoder.feature_names)
        pos = [self._columns.index(c) for c in names]
        index = newdata.index if isinstance(newdata, pd.DataFrame) else None
        return pd.DataFrame(X[:, pos], columns=names, index=index)

    def predict(self, newdata: Any) -> pd.Series:
        """Predicted classes (or values) for new rows with all the original predictor columns."""
        return self.final_model.predict(self._x(newdata))

    def predict_proba(self, newdata: Any) -> pd.DataFrame:
        """Class probabilities for new rows with all the original predictor columns."""
        return self.final_model.predict_proba(self._x(newdata))


# ---------------------------------------------------------------------------------------------
# scoring held-out predictions per resample (pooled for LOOCV, as train() does)
# ---------------------------------------------------------------------------------------------


@dataclass
class Held:
    """Held-out predictions of one outer resample for one setting (a size, an iteration...)."""

    rows: np.ndarray
    pred: np.ndarray
    prob: np.ndarray | None


def score_held(
    prob: Problem, held: list[list[Held | None]], pooled: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores (resamples, settings, metrics) of ``held[r][k]``; with ``pooled`` (LOOCV) also the
    score of every setting's predictions pooled over resamples (settings, metrics)."""
    n_r = len(held)
    n_k = max((len(h) for h in held), default=0)
    values = np.full((n_r, n_k, len(prob.names)), np.nan)
    for r, per in enumerate(held):
        for k, h in enumerate(per):
            if h is not None and not pooled:
                values[r, k] = prob.score(h.rows, h.pred, h.prob)
    if not pooled:
        return values, None
    out = np.full((n_k, len(prob.names)), np.nan)
    for k in range(n_k):
        parts = [h for h in (per[k] for per in held if k < len(per)) if h is not None]
        if parts:
            rows = np.concatenate([h.rows for h in parts])
            pred = np.concatenate([h.pred for h in parts])
            pr = None if parts[0].prob is None else np.concatenate([h.prob for h in parts])
            out[k] = prob.score(rows, pred, pr)
    return values, out


def mean_sd(values: np.ndarray, pooled: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD (n - 1) over resamples (axis 0) ignoring missing values; pooled for LOOCV."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0, ddof=1)
    if pooled is not None:
        return pooled, np.full_like(pooled, np.nan)
    return mean, sd


def score_outer(
    s: Setup, held: list[list[Held | None]], errors: Sequence[str], failure: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The outer resamples' scores (``score_held``) with their mean and SD per setting; raises
    ``failure`` followed by the first of ``errors`` when no setting got the metric anywhere."""
    values, pooled = score_held(s.problem, held, s.control.method == "loocv")
    mean, sd = mean_sd(values, pooled)
    if np.all(np.isnan(mean[:, s.problem.metric_index])):
        first = errors[0] if errors else "no metric was computed"
        raise RuntimeError(f"{failure}\n{first}")
    return values, mean, sd


def profile_frame(
    key: str, keys: Sequence[Any], names: Sequence[str], mean: np.ndarray, sd: np.ndarray
) -> pd.DataFrame:
    """caret's results layout: the key column, every metric's mean, then every metric's SD."""
    import pandas as pd

    out = pd.DataFrame({key: list(keys)})
    for j, n in enumerate(names):
        out[n] = mean[:, j]
    for j, n in enumerate(names):
        out[f"{n}SD"] = sd[:, j]
    return out


def resample_frame(
    names: Sequence[str], values: np.ndarray, resample_names: Sequence[str], **extra: Any
) -> pd.DataFrame:
    """Per-resample metrics (one row per resample) with extra columns and the resample name."""
    import pandas as pd

    df = pd.DataFrame(values, columns=list(names))
    for k, v in extra.items():
        df[k] = v
    df["Resample"] = list(resample_names)
    return df


# ---------------------------------------------------------------------------------------------
# running jobs
# ---------------------------------------------------------------------------------------------


def job_seed(seed: int, resample: int, stream: int) -> np.random.SeedSequence:
    """A seed sequence for job ``resample`` (-1: the search on all rows) and purpose ``stream``."""
    return np.random.SeedSequence([seed, resample + 2, 7919, stream])


def fit_seed(seed: int, resample: int, stream: int = 0) -> int:
    """A model seed for a job's fits; the same for every subset, so subsets are compared fairly."""
    return int(job_seed(seed, resample, 1000 + stream).generate_state(1, dtype=np.uint32)[0])


def guarded(
    fn: Callable[_P, _R], errors: list[str], label: str, /, *args: _P.args, **kwargs: _P.kwargs
) -> _R | None:
    """Run ``fn(*args, **kwargs)``; on failure record the short traceback under ``label`` and
    return None."""
    try:
        return fn(*args, **kwargs)
    except NoImportanceError:
        raise
    except Exception:  # a failed fit is recorded and scored as missing, never dropped silently
        errors.append(f"{label}: {traceback.format_exc(limit=4)}")
        return None


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def fmt(v: float) -> str:
    """A metric value for printed tables: 4 significant digits, NA for missing."""
    if v is None or not math.isfinite(v):
        return "NA"
    return f"{v:.4g}"


def format_table(df: pd.DataFrame, mark: Sequence[bool] | None = None) -> list[str]:
    """Right-aligned text table (caret's print layout), with a ``Selected`` star column."""
    cols = list(df.columns)
    cells = [[str(c) for c in cols] + (["Selected"] if mark is not None else [])]
    for i, row in enumerate(df.itertuples(index=False)):
        line = [fmt(float(v)) if isinstance(v, float) else str(v) for v in row]
        if mark is not None:
            line.append("*" if mark[i] else "")
        cells.append(line)
    widths = [max(len(r[j]) for r in cells) for j in range(len(cells[0]))]
    return [" " + " ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
