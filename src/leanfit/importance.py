"""Variable importance (caret's ``varImp`` and ``filterVarImp``) for a fitted TrainResult.

Three kinds, all returned as a DataFrame indexed by feature name (the encoded columns the model
saw), scaled 0-100 over the whole table when ``scale=True`` (caret: global minimum to 0, global
maximum to 100):

* ``"model"``: the model's own importance (``Model.importance``: impurity / gain for trees and
  boosting, |coefficient| for linear models ...) of the final model at the chosen candidate; one
  ``Overall`` column, or one column per class when the model gives a matrix.
* ``"filter"``: model-free, one predictor at a time on all training rows (caret's
  ``filterVarImp``). Classification: the ROC AUC of the predictor as a score for each class
  against the rest, with caret's automatic direction (``max(AUC, 1 - AUC)``); two classes give
  two identical columns, as in caret. For more than two classes caret takes, per class, the
  largest *pairwise* AUC; leanfit uses the one-vs-rest AUC (one number per class, the same
  definition as the multi-class summary's AUC). Regression: caret's default (``nonpara=FALSE``),
  the absolute t statistic of the slope of a simple linear regression of y on the predictor; with
  ``nonpara=True`` the pseudo-R² of a smoother, as caret's loess: here a cubic regression spline
  with knots at the 25/50/75 % quantiles (a plain linear fit when the predictor has fewer than
  20 % distinct values, as in caret), floored at 0.
* ``"permutation"``: on held-out rows. For each of train()'s resamples (or the ones named by
  ``resamples=``) the chosen candidate is refitted on that resample's training rows (with the
  seed train() used there) and scored on its held-out rows; then each column of the held-out rows
  is permuted ``n_repeats`` times and the loss in the metric (``metric``, default the result's)
  is recorded: ``importance = mean(score - permuted score)`` (sign flipped for metrics where
  smaller is better), averaged over repeats and resamples. Seeded; resamples run in parallel with
  ``n_jobs`` workers and the numbers are identical for any ``n_jobs``.

``"auto"`` is ``"model"`` when the model has an importance of its own, else ``"permutation"``
(``"filter"`` for a result fitted without resampling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .filters import filter_scores

if TYPE_CHECKING:
    import pandas as pd

    from .problem import Problem
    from .tuning.result import TrainResult

METHODS: tuple[str, ...] = ("auto", "model", "filter", "permutation")
CLASSIFICATION = "classification"


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def var_imp(
    result: TrainResult,
    scale: bool = True,
    method: str = "auto",
    n_repeats: int = 5,
    *,
    resamples: int | Sequence[int] | None = None,
    metric: str | None = None,
    nonpara: bool = False,
    n_jobs: int | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Variable importance of a TrainResult (caret's ``varImp``), see the module docstring.

    ``method``: "auto", "model", "filter" or "permutation". ``n_repeats``, ``resamples`` (how
    many of the first resamples, or their positions), ``metric``, ``n_jobs`` (default the
    result's) and ``seed`` (default the result's) are for "permutation"; ``nonpara`` for
    "filter" on a numeric outcome. ``df.attrs["method"]`` says which kind was computed.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {list(METHODS)}")
    ds = result.dataset
    names = tuple(ds.encoder.feature_names)
    if method in ("auto", "model"):
        imp = _model_values(result)
        if imp is not None:
            return importance_frame(imp, names, ds.levels, scale=scale, method="model")
        if method == "model":
            raise ValueError(
                f"method {result.model.name!r} has no importance of its own; use "
                "method='permutation' (held-out rows) or method='filter' (model-free)"
            )
        method = "filter" if result.resamples is None else "permutation"
    if method == "filter":
        vals = filter_scores(ds.X, ds.y, ds.mode, ds.levels, nonpara=nonpara)
        return importance_frame(
            vals, names, ds.levels, scale=scale, method="filter", columns=_filter_columns(ds)
        )
    if result.resamples is None or len(result.resamples) == 0:
        raise ValueError(
            "permutation importance needs held-out rows, but this result was fitted with "
            "Control(method='none') (no resamples); use method='filter' (model-free) or "
            "method='model' (the model's own importance)"
        )
    vals = permutation_values(
        result, n_repeats=n_repeats, resamples=resamples, metric=metric, n_jobs=n_jobs, seed=seed
    )
    return importance_frame(vals, names, ds.levels, scale=scale, method="permutation")


def filter_var_imp(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    nonpara: bool = False,
    scale: bool = False,
    task: str | None = None,
) -> pd.DataFrame:
    """caret's ``filterVarImp`` on raw inputs (formula + data, DataFrame + target, or X and y):
    per-class ROC AUC for classes, |t| (or a smoother's R² with ``nonpara``) for numbers;
    ``task`` as in ``train``."""
    from .frame import make_dataset

    ds = make_dataset(x, y, data=data, task=task)
    vals = filter_scores(ds.X, ds.y, ds.mode, ds.levels, nonpara=nonpara)
    return importance_frame(
        vals,
        tuple(ds.encoder.feature_names),
        ds.levels,
        scale=scale,
        method="filter",
        columns=_filter_columns(ds),
    )


def importance_frame(
    values: np.ndarray,
    names: Sequence[str],
    levels: Sequence[str] = (),
    *,
    scale: bool = True,
    method: str = "",
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Importance values (p,) or (p, K) as a DataFrame indexed by feature name, optionally scaled
    0-100 over the whole table (caret's varImp(scale=TRUE)); per-class columns named by level."""
    import pandas as pd

    vals = np.asarray(values, dtype=float)
    if vals.ndim == 1:
        vals = vals[:, None]
    if vals.ndim != 2 or vals.shape[0] != len(names):
        raise ValueError(
            f"importance has shape {np.shape(values)}, expected ({len(names)},) or "
            f"({len(names)}, K) for {len(names)} features"
        )
    if columns is None:
        k = vals.shape[1]
        if k == 1:
            columns = ["Overall"]
        elif k == len(levels):
            columns = [str(v) for v in levels]
        else:
            columns = [f"Overall{j + 1}" for j in range(k)]
    if scale:
        vals = scale_values(vals)
    df = pd.DataFrame(vals, index=pd.Index([str(n) for n in names]), columns=list(columns))
    df.attrs["method"] = method
    df.attrs["scaled"] = bool(scale)
    return df


def scale_values(vals: np.ndarray) -> np.ndarray:
    """caret's scaling: subtract the global minimum, divide by the new maximum, times 100."""
    vals = np.asarray(vals, dtype=float)
    finite = np.isfinite(vals)
    if not finite.any():
        return vals.copy()
    lo, hi = vals[finite].min(), vals[finite].max()
    if hi == lo:
        return np.where(finite, 100.0, np.nan)
    return np.where(finite, (vals - lo) / (hi - lo) * 100.0, np.nan)


# ---------------------------------------------------------------------------------------------
# model importance
# ---------------------------------------------------------------------------------------------


def _model_values(result: TrainResult) -> np.ndarray | None:
    """The model's own importance of the final model at the chosen candidate, or None."""
    from .problem import model_importance

    if result.final_model is None:
        raise ValueError("the result has no final model to take importance from")
    row = result.candidates.iloc[[result.best_index]].to_dict("records")[0]
    sub = {p: _py(row[p]) for p in result.model.submodel if p in row}
    imp = model_importance(result.model, result.final_model, [sub], result.final_preprocess)
    if imp is None:
        return None
    p = len(result.dataset.encoder.feature_names)
    if imp.shape[0] != p:
        raise ValueError(
            f"method {result.model.name!r} returned importance for {imp.shape[0]} columns but "
            f"the data has {p}; use method='permutation' or method='filter'"
        )
    return imp


# ---------------------------------------------------------------------------------------------
# filter (model-free) importance
# ---------------------------------------------------------------------------------------------


def _filter_columns(ds: Any) -> list[str] | None:
    """Column names of the filter table: the class levels, or ``Overall`` for numbers."""
    return [str(v) for v in ds.levels] if ds.mode == CLASSIFICATION else ["Overall"]


# ---------------------------------------------------------------------------------------------
# permutation importance on held-out rows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PermJob:
    """One resample's refit and the permutations of its held-out rows."""

    problem: Problem
    train: np.ndarray
    test: np.ndarray
    fit_seed: int
    perm_seed: np.random.SeedSequence
    n_repeats: int


def permutation_values(
    result: TrainResult,
    n_repeats: int = 5,
    resamples: int | Sequence[int] | None = None,
    metric: str | None = None,
    n_jobs: int | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Unscaled permutation importance (p,): mean loss in the metric on held-out rows."""
    from .problem import parallel_map, problem_from_result
    from .tuning.plan import task_seed

    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int | np.integer) or n_repeats < 1:
        raise ValueError(f"n_repeats={n_repeats!r} must be a positive integer")
    problem, group = problem_from_result(result, metric)
    res = result.resamples
    assert res is not None  # var_imp refuses a fit without resamples before calling this
    picked = _pick_resamples(resamples, len(res))
    base_seed = result.seed if seed is None else int(seed)
    jobs = []
    for r in picked:
        jobs.append(
            _PermJob(
                problem=problem,
                train=res.train[r],
                test=res.test[r],
                fit_seed=task_seed(result.seed, r, group),
                perm_seed=np.random.SeedSequence([base_seed, r + 2, 104729]),
                n_repeats=int(n_repeats),
            )
        )
    workers = result.control.workers if n_jobs is None else max(1, int(n_jobs))
    out = parallel_map(_permute_resample, jobs, workers)
    drops = np.stack(out)
    if np.all(np.isnan(drops)):
        raise RuntimeError("permutation importance: no resample could be scored")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(drops, axis=0)


def _pick_resamples(resamples: int | Sequence[int] | None, n: int) -> list[int]:
    if resamples is None:
        return list(range(n))
    if isinstance(resamples, int | np.integer) and not isinstance(resamples, bool):
        if not 1 <= resamples <= n:
            raise ValueError(f"resamples={resamples} must be between 1 and {n} (the resamples)")
        return list(range(int(resamples)))
    if isinstance(resamples, bool):  # iterating it raised a TypeError here before
        raise TypeError(f"resamples={resamples!r} must be a count or a list of positions")
    picked = [int(r) for r in resamples]
    bad = [r for r in picked if not 0 <= r < n]
    if bad or not picked:
        raise ValueError(f"resamples positions {bad or picked} must be in 0..{n - 1}")
    return picked


def _permute_resample(job: _PermJob) -> np.ndarray:
    """Refit on the training rows, then each column's mean metric loss under permutation."""
    prob = job.problem
    cols = np.arange(prob.p)
    fit = prob.fit(job.train, cols, job.fit_seed)
    Xte = prob.X[job.test]
    n, reps = len(job.test), job.n_repeats
    j_metric = prob.metric_index
    pred, pr = prob.predict_matrix(fit, Xte)
    base = prob.score(job.test, pred, pr)[j_metric]
    rng = np.random.default_rng(job.perm_seed)
    out = np.full(prob.p, np.nan)
    stacked = np.tile(Xte, (reps, 1))
    for j in cols:
        col = stacked[:, j].copy()
        for i in range(reps):
            stacked[i * n : (i + 1) * n, j] = Xte[rng.permutation(n), j]
        pred, pr = prob.predict_matrix(fit, stacked)
        pred = pred.reshape(reps, n)
        pr = None if pr is None else pr.reshape(reps, n, -1)
        scores = prob.score(job.test, pred, pr)
        scores = scores[None] if scores.ndim == 1 else scores
        stacked[:, j] = col
        out[j] = prob.sign * float(np.nanmean(base - scores[:, j_metric]))
    return out


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
