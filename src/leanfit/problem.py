"""One candidate's fitting problem, refit on any rows and any subset of the columns.

``Problem`` holds the data, the model, one candidate and how to score it; it is what permutation
importance (``importance.py``) and the feature-selection wrappers (``featsel/``) both refit, so
it sits below both. ``parallel_map`` runs such refits in order, in local worker processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .execute import Context
    from .models.base import Model
    from .preprocess import PreProcess
    from .tuning.plan import FitGroup
    from .tuning.result import TrainResult

CLASSIFICATION = "classification"


class NoImportanceError(ValueError):
    """rank="model" was asked of a model without an importance of its own (never retried)."""


@dataclass(frozen=True)
class SubsetFit:
    """One fit of the model on some rows and a subset of the columns (positions into X)."""

    cols: np.ndarray
    ctx: Context
    pp: PreProcess | None
    fitted: Any


@dataclass(frozen=True, eq=False)
class Problem:
    """What a selection job needs (sent to each worker): data, model, one candidate, scoring."""

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    mode: str
    levels: tuple[str, ...]
    columns: tuple[str, ...]
    strata: np.ndarray  # what resampling stratifies on: class labels or the numeric outcome
    model: Model
    group: FitGroup
    preprocess: PreProcess | None
    summary: Any
    class_probs: bool
    metric: str
    maximize: bool
    names: tuple[str, ...]
    seed: int
    # A formula with stateful terms (poly, center, scale) and the raw predictor columns: a
    # selection job refits the formula on its resample's training rows (``on_rows``).
    formula: Any = None
    raw: Any = None

    def on_rows(self, rows: np.ndarray) -> Problem:
        """This problem with X rebuilt by the formula refitted on ``rows`` only (as train()
        refits it per resample), so held-out rows never shape the terms; itself otherwise."""
        from dataclasses import replace

        if self.formula is None or self.raw is None:
            return self
        spec = self.formula.refit(self.raw.iloc[np.asarray(rows)])
        if spec.feature_names != tuple(self.formula.feature_names):
            raise ValueError(
                f"formula '~ {self.formula.rhs}' gives columns {list(spec.feature_names)} on "
                f"these training rows, not {list(self.formula.feature_names)} as on all rows "
                "(a factor level missing from them?)"
            )
        return replace(self, X=spec.matrix(self.raw), formula=None, raw=None)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def sign(self) -> float:
        """+1 when larger metric values are better, -1 otherwise (fitness is sign * metric)."""
        return 1.0 if self.maximize else -1.0

    def context(self, cols: np.ndarray) -> Context:
        """train()'s Context restricted to the columns ``cols`` (one fit group: the candidate)."""
        from .execute import Context

        return Context(
            X=self.X[:, cols],
            y=self.y,
            weights=self.weights,
            mode=self.mode,
            levels=self.levels,
            columns=tuple(self.columns[c] for c in cols),
            model=self.model,
            preprocess=self.preprocess,
            groups=(self.group,),
            class_probs=self.class_probs,
        )

    def fit(self, rows: np.ndarray, cols: np.ndarray, seed: int) -> SubsetFit:
        """Fit pre-processing and the model on ``rows`` using only the columns ``cols``."""
        from .execute import fit_one

        cols = np.sort(np.asarray(cols, dtype=np.int64))
        ctx = self.context(cols)
        pp, fitted = fit_one(ctx, rows, self.group, seed)
        return SubsetFit(cols=cols, ctx=ctx, pp=pp, fitted=fitted)

    def predict(self, fit: SubsetFit, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions (n,) and, when the summary needs them, probabilities (n, K) for ``rows``."""
        return self.predict_matrix(fit, fit.ctx.X[rows])

    def predict_matrix(self, fit: SubsetFit, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions (n,) and probabilities (n, K) or None for a matrix of ``fit``'s columns."""
        from .execute import predict_group

        pred, prob = predict_group(fit.ctx, fit.pp, fit.fitted, X, [self.group.subs[0]])
        return pred[0], (None if prob is None else prob[0])

    def score(self, rows: np.ndarray, pred: np.ndarray, prob: np.ndarray | None) -> np.ndarray:
        """Every metric of the summary (in ``names`` order) for predictions of ``rows``."""
        from .metrics import summarize

        pred = np.asarray(pred)
        if pred.ndim == 1:
            pred = pred[None]
            prob = None if prob is None else np.asarray(prob)[None]
        w = None if self.weights is None else self.weights[rows]
        m = summarize(self.summary, self.y[rows], pred, prob, self.levels, w)
        out = np.full((pred.shape[0], len(self.names)), np.nan)
        for j, n in enumerate(self.names):
            if n in m:
                out[:, j] = np.asarray(m[n], dtype=float)
        return out[0] if out.shape[0] == 1 else out

    @property
    def metric_index(self) -> int:
        return self.names.index(self.metric)

    def importance(self, fit: SubsetFit, rows: np.ndarray, how: str = "auto") -> np.ndarray:
        """Importance of each column of ``fit`` (its own ``cols`` order) for ranking: the model's
        importance (classes averaged, as caret's rfe), else the filter score on ``rows``."""
        imp = None
        if how in ("auto", "model"):
            imp = model_importance(self.model, fit.fitted, [self.group.subs[0]], fit.pp)
            if imp is not None:
                imp = np.asarray(imp, dtype=float)
                imp = imp.mean(axis=1) if imp.ndim == 2 else imp
                if imp.shape != (len(fit.cols),):
                    imp = None
            if imp is None and how == "model":
                raise NoImportanceError(
                    f"method {self.model.name!r} gives no importance of its own; use rank='auto' "
                    "or rank='filter'"
                )
        if imp is None:
            from .filters import filter_scores

            imp = filter_scores(
                self.X[np.ix_(rows, fit.cols)], self.y[rows], self.mode, self.levels
            )
            imp = imp.mean(axis=1)
        return np.where(np.isnan(imp), -np.inf, imp)


def model_importance(
    model: Model, fitted: Any, subs: list[dict[str, Any]], pp: PreProcess | None
) -> np.ndarray | None:
    """The model's own importance per input column (None when it has none); columns a zero-variance
    filter removed before the fit get NaN."""
    # other / target_encode rebuilt the columns: the model's are not the input's, so there is
    # no own importance per input column (permutation importance, through the steps, is exact)
    stage = getattr(pp, "stage_columns_", None)
    names = getattr(pp, "feature_names_in_", None)
    if stage is not None and (names is None or list(names) != list(stage)):
        return None
    imp = model.importance(fitted, subs)
    if imp is None:
        return None
    imp = np.asarray(imp, dtype=float)
    kept = getattr(pp, "kept_", None)
    n_in = getattr(pp, "n_features_in_", None)
    if kept is not None and n_in is not None and len(kept) != n_in and imp.shape[0] == len(kept):
        full = np.full((n_in, *imp.shape[1:]), np.nan)
        full[kept] = imp
        imp = full
    return imp


def problem_of(
    src: Any, index: int, metric: str, maximize: bool, refit_formula: bool = False
) -> Problem:
    """The Problem of candidate ``index`` of a TrainPlan or TrainResult (same attribute names).
    ``refit_formula``: the caller refits a stateful formula per resample (``Problem.on_rows``);
    without it such a formula is refused."""
    from .models.base import CLASSIFICATION as CLS
    from .tuning.plan import fit_groups

    ds = src.dataset
    formula = ds.encoder.formula
    # poly/center/scale: refit per resample from the raw columns
    stateful = getattr(ds, "frame", None) is not None and bool(getattr(formula, "stateful", False))
    if stateful and not refit_formula:
        raise ValueError(
            f"formula '~ {ds.encoder.formula.rhs}' has stateful terms (poly, center, scale) "
            "that this tool would use as fitted on all rows, leaking held-out rows into them; "
            "use train() with it, or build those columns in the DataFrame first"
        )
    row = src.candidates.iloc[[index]].reset_index(drop=True)
    return Problem(
        X=ds.X,
        y=ds.y,
        weights=ds.weights,
        mode=ds.mode,
        levels=ds.levels,
        columns=tuple(ds.encoder.feature_names),
        strata=ds.y_labels if ds.mode == CLS else ds.y,
        model=src.model,
        group=fit_groups(src.model, row)[0],
        preprocess=src.context.preprocess,
        summary=src.control.summary,
        class_probs=src.control.class_probs,
        metric=metric,
        maximize=maximize,
        names=tuple(src.metric_names),
        seed=src.seed,
        formula=ds.encoder.formula if stateful else None,
        raw=ds.frame if stateful else None,
    )


def problem_from_result(result: TrainResult, metric: str | None = None) -> tuple[Problem, int]:
    """The Problem of a TrainResult's chosen candidate, and the fit group train() fitted it in
    (so a refit on a resample with that group's task seed repeats train()'s fit)."""
    from .metrics import maximize_default, resolve_metric

    metric = resolve_metric(
        metric or result.metric,
        result.metric_names,
        summary=result.control.summary,
        mode=result.dataset.mode,
        n_classes=len(result.dataset.levels),
        unknown=f"metric {metric!r} is not produced by the result's summary; it produces "
        f"{list(result.metric_names)}",
    )
    maximize = result.maximize if metric == result.metric else maximize_default(metric)
    best = result.best_index
    g = next((i for i, fg in enumerate(result.context.groups) if best in fg.candidates), 0)
    problem = problem_of(result, best, metric, maximize)
    return problem, g


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    from .pools import one_thread

    with one_thread():
        return fn(item)


def parallel_map(fn: Callable[[Any], Any], items: list[Any], workers: int) -> list[Any]:
    """``[fn(item) for item in items]`` in order, in local worker processes when workers > 1;
    engines run single-threaded either way, so results do not depend on ``workers``."""
    workers = max(1, min(int(workers), len(items)))
    if workers == 1:
        return [_call(fn, it) for it in items]
    from loky import get_reusable_executor

    one = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    pool = get_reusable_executor(max_workers=workers, timeout=120, env=one)
    futures = [pool.submit(_call, fn, it) for it in items]
    try:
        return [f.result() for f in futures]
    finally:
        for f in futures:
            f.cancel()
