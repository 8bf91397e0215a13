"""Bulk scoring of held-out predictions for many tuning candidates: caret's summary functions.

Every built-in summary scores all C candidates of one resample at once with numpy (shapes:
``obs`` (n,), ``pred`` (C, n), ``prob`` (C, n, K)) and returns ``{metric: array of shape (C,)}``
in the order caret prints the metrics. Definitions follow caret 6.0-9x:

* ``"default"`` (``defaultSummary``/``postResample``): Accuracy and Cohen's Kappa for classes;
  RMSE, Rsquared (squared Pearson correlation, NaN for a constant prediction or outcome) and MAE
  for numbers, with missing (NaN) predictions dropped as caret drops NA.
* ``"two_class"`` (``twoClassSummary``): ROC (AUC of the level-0 probability, level 0 being the
  event), Sens (level 0) and Spec (level 1).
* ``"pr"`` (``prSummary``): AUC = area under the precision-recall curve of the level-0
  probability, computed like ``MLmetrics::PRAUC``: the ROCR curve has one point per distinct
  probability (predict the event when prob >= cut-off), the cut-off above every probability (whose
  precision is 0/0) is dropped, and the area is the trapezoid rule over the remaining points, so
  it starts at the first point's recall, not at recall 0. Then Precision, Recall and F (F1) with
  level 0 positive.
* ``"log_loss"`` (``mnLogLoss``): mean of -log(p of the observed class), p clipped to
  [1e-15, 1 - 1e-15].
* ``"multi_class"`` (``multiClassSummary``): logLoss; AUC = mean over classes of the one-vs-rest
  ROC AUC (what caret computes with ``pROC``; this is *not* Hand & Till's pairwise M, which
  differs for K > 2); prAUC = mean over classes of the one-vs-rest PR AUC above (classes absent
  from the held-out set are skipped in both means, as caret's ``na.rm = TRUE``); Accuracy; Kappa;
  then caret's ``confusionMatrix(...)$byClass`` one-vs-rest statistics averaged over classes
  (``Mean_`` prefix) for K > 2, or for level 0 as positive for K == 2. As in caret
  (``colMeans`` without ``na.rm``), a class-level statistic that is undefined for some class (for
  example precision of a class never predicted) makes its mean NaN. Pos/Neg_Pred_Value use caret's
  prevalence formula. Without probabilities logLoss, AUC and prAUC are left out.

Undefined values (0/0, one class only in the held-out set) are NaN, never errors. Weights are not
used by the built-ins (caret's are unweighted too); a custom summary gets them as a ``weights``
column.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

SUMMARIES: tuple[str, ...] = ("default", "two_class", "pr", "log_loss", "multi_class")

CLASSIFICATION = "classification"
REGRESSION = "regression"
_MODES = (CLASSIFICATION, REGRESSION)

_LOWER_IS_BETTER = frozenset({"RMSE", "MAE", "logLoss", "RMSLE"})
_EPS = 1e-15
_RESERVED_COLUMNS = ("obs", "pred", "weights")
# caret's multiClassSummary order of the confusion-matrix statistics.
_BY_CLASS = (
    "F1",
    "Sensitivity",
    "Specificity",
    "Pos_Pred_Value",
    "Neg_Pred_Value",
    "Precision",
    "Recall",
    "Detection_Rate",
    "Balanced_Accuracy",
)
_CARET_NAMES = {
    "default": "defaultSummary",
    "two_class": "twoClassSummary",
    "pr": "prSummary",
    "log_loss": "mnLogLoss",
    "multi_class": "multiClassSummary",
}

# twoClassSummary / prSummary names and multiClassSummary's names of the same statistics.
_TWO_CLASS_LONG = {"Sens": "Sensitivity", "Spec": "Specificity", "F": "F1"}

SummaryFn = Callable[[pd.DataFrame, tuple[str, ...]], Any]
Summary = str | SummaryFn


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def maximize_default(metric: str) -> bool:
    """Whether larger is better for ``metric`` (caret: not for RMSE, MAE, logLoss, RMSLE)."""
    return metric not in _LOWER_IS_BETTER


def check_summary(summary: Summary, mode: str, n_classes: int, class_probs: bool) -> None:
    """Raise a clear ValueError before any fitting when ``summary`` cannot work for this task."""
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {list(_MODES)}, got {mode!r}")
    if callable(summary):
        return
    if not isinstance(summary, str):
        raise ValueError(
            f"summary must be one of {list(SUMMARIES)} or a callable fn(data, levels), "
            f"got {type(summary).__name__}"
        )
    if summary not in SUMMARIES:
        raise ValueError(
            f"unknown summary {summary!r}; valid summaries are {list(SUMMARIES)} "
            "or a callable fn(data, levels)"
        )
    label = f"summary {summary!r} ({_CARET_NAMES[summary]})"
    if mode == REGRESSION:
        if summary != "default":
            raise ValueError(
                f"{label} is for classification; regression supports only 'default' "
                "or a callable fn(data, levels)"
            )
        return
    if n_classes < 2:
        raise ValueError(f"classification needs at least 2 classes, got {n_classes}")
    if summary in ("two_class", "pr") and n_classes != 2:
        raise ValueError(f"{label} needs exactly 2 classes, got {n_classes}")
    if summary in ("two_class", "pr", "log_loss") and not class_probs:
        raise ValueError(f"{label} needs class probabilities: set class_probs=True")


def metric_names(
    summary: Summary,
    mode: str,
    levels: tuple[str, ...],
    class_probs: bool,
    y_sample: Any = None,
) -> list[str]:
    """Names ``summary`` will produce, found without fitting, so ``metric=`` is checked early."""
    check_summary(summary, mode, len(levels), class_probs)
    if callable(summary):
        return _callable_names(summary, mode, tuple(levels), class_probs, y_sample)
    if summary == "default":
        return ["Accuracy", "Kappa"] if mode == CLASSIFICATION else ["RMSE", "Rsquared", "MAE"]
    if summary == "two_class":
        return ["ROC", "Sens", "Spec"]
    if summary == "pr":
        return ["AUC", "Precision", "Recall", "F"]
    if summary == "log_loss":
        return ["logLoss"]
    return _multi_class_names(len(levels), class_probs)


def summary_label(summary: Summary) -> str:
    """How a summary is named in messages: its built-in name, or a custom function's name."""
    return summary if isinstance(summary, str) else getattr(summary, "__name__", "custom")


def resolve_metric(
    metric: str,
    produced: Sequence[str],
    *,
    summary: Summary,
    mode: str,
    n_classes: int,
    unknown: str | None = None,
) -> str:
    """``metric`` as ``produced`` spells it, matched ignoring case ("roc" -> "ROC"); otherwise a
    ValueError that lists what is produced and says which Control settings would produce it.
    ``unknown`` replaces the message's first part (what was searched and what it holds)."""
    if metric in produced:
        return metric
    folded = [n for n in produced if n.lower() == str(metric).lower()]
    if len(folded) == 1:
        return folded[0]
    if len(folded) > 1:
        raise ValueError(f"metric {metric!r} matches {folded} ignoring case; give its exact name")
    head = unknown or (
        f"metric {metric!r} is not produced by summary {summary_label(summary)!r}; "
        f"it produces {list(produced)}"
    )
    hint = metric_hint(str(metric), mode, n_classes)
    raise ValueError(f"{head}; {hint}" if hint else head)


def metric_hint(metric: str, mode: str, n_classes: int) -> str:
    """How to get ``metric`` from a built-in summary for this task (mode, number of classes), or
    why none gives it: e.g. "'ROC' needs Control(class_probs=True, summary='two_class')"."""
    here = _producers(metric, mode, n_classes)
    if here:
        ways = " or ".join(_control_text(s, probs) for s, probs, _ in here)
        return f"{here[0][2]!r} needs {ways}"
    if mode == CLASSIFICATION:
        if _producers(metric, REGRESSION, 0):
            return (
                f"{metric!r} is a regression metric and this outcome is a class "
                f"({n_classes} levels); classification metrics are e.g. Accuracy, Kappa "
                "(summary='default'), ROC (summary='two_class') and logLoss (summary='log_loss')"
            )
        other = 3 if n_classes == 2 else 2
        there = _producers(metric, CLASSIFICATION, other)
        if there:
            need = "exactly 2 classes" if other == 2 else "more than 2 classes"
            text = f"{there[0][2]!r} needs {need} (this outcome has {n_classes})"
            twin = _class_count_twin(there[0][2], n_classes)
            return f"{text}; here {twin}" if twin else text
    elif any(_producers(metric, CLASSIFICATION, k) for k in (2, 3)):
        return (
            f"{metric!r} is a classification metric and this outcome is numeric (regression); "
            "regression metrics are RMSE, Rsquared and MAE (summary='default')"
        )
    close = difflib.get_close_matches(metric, _all_metric_names(), n=3, cutoff=0.6)
    return f"did you mean {', '.join(map(repr, close))}?" if close else ""


def _producers(metric: str, mode: str, n_classes: int) -> list[tuple[str, bool, str]]:
    """(summary, needs class probabilities, exact spelling) of each built-in summary that
    produces ``metric`` (ignoring case) for this task; without probabilities when it can."""
    levels = tuple(str(i) for i in range(n_classes)) if mode == CLASSIFICATION else ()
    out = []
    for s in SUMMARIES:
        for probs in (False, True):
            try:
                names = metric_names(s, mode, levels, probs)
            except ValueError:  # this summary cannot serve this task (mode, classes, probs)
                continue
            hit = [n for n in names if n.lower() == metric.lower()]
            if hit:
                out.append((s, probs, hit[0]))
                break
    return out


def _control_text(summary: str, probs: bool) -> str:
    return f"Control({'class_probs=True, ' if probs else ''}summary={summary!r})"


def _class_count_twin(name: str, n_classes: int) -> str:
    """The metric that takes ``name``'s place with this many classes (F1 <-> Mean_F1, ROC ->
    multi_class's mean one-vs-rest AUC), phrased for a hint, or ''."""
    if name == "ROC" and n_classes > 2:
        return "summary='multi_class' gives 'AUC', the mean of the one-vs-rest ROC AUCs"
    name = _TWO_CLASS_LONG.get(name, name)  # twoClassSummary's Sens is multi_class's Sensitivity
    twin = name.removeprefix("Mean_") if n_classes == 2 else f"Mean_{name}"
    if twin != name and _producers(twin, CLASSIFICATION, n_classes):
        return f"summary='multi_class' gives {twin!r}"
    return ""


def _all_metric_names() -> list[str]:
    """Every metric name a built-in summary can produce, for "did you mean" suggestions."""
    names: dict[str, None] = {}
    for mode, k in ((REGRESSION, 0), (CLASSIFICATION, 2), (CLASSIFICATION, 3)):
        levels = tuple(str(i) for i in range(k)) if mode == CLASSIFICATION else ()
        for s in SUMMARIES:
            try:
                names.update(dict.fromkeys(metric_names(s, mode, levels, True)))
            except ValueError:
                continue
    return list(names)


def summarize(
    summary: Summary,
    obs: Any,
    pred: Any,
    prob: Any,
    levels: tuple[str, ...],
    weights: Any = None,
) -> dict[str, np.ndarray]:
    """Score the held-out predictions of C candidates at once: metric name -> array (C,)."""
    levels = tuple(levels)
    mode = CLASSIFICATION if levels else REGRESSION
    obs_a, pred_a, prob_a = _prepare(obs, pred, prob, levels)
    if callable(summary):
        return _custom(summary, obs_a, pred_a, prob_a, levels, weights)
    check_summary(summary, mode, len(levels), prob_a is not None)
    if mode == REGRESSION:
        return _regression_default(obs_a, pred_a)
    k = len(levels)
    if summary == "default":
        acc, kappa = _accuracy_kappa(_confusion(obs_a, pred_a, k))
        return {"Accuracy": acc, "Kappa": kappa}
    if summary in ("two_class", "pr", "log_loss"):
        assert prob_a is not None  # check_summary refused these without class probabilities
        if summary == "two_class":
            return _two_class(obs_a, pred_a, prob_a)
        if summary == "pr":
            return _pr_summary(obs_a, pred_a, prob_a)
        return {"logLoss": _log_loss(obs_a, prob_a)}
    return _multi_class(obs_a, pred_a, prob_a, k)


# ---------------------------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------------------------


def _prepare(
    obs: Any, pred: Any, prob: Any, levels: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate shapes and codes; a 1-D ``pred`` (and 2-D ``prob``) means one candidate."""
    obs_a = np.asarray(obs)
    if obs_a.ndim != 1:
        raise ValueError(f"obs must be 1-D (n,), got shape {obs_a.shape}")
    n = obs_a.shape[0]
    pred_a = np.asarray(pred)
    if pred_a.ndim == 1:
        pred_a = pred_a[None, :]
    if pred_a.ndim != 2 or pred_a.shape[1] != n:
        raise ValueError(f"pred must have shape (C, {n}), got {np.shape(pred)}")
    prob_a = None
    if prob is not None:
        if not levels:
            raise ValueError("prob is only meaningful for classification (levels given)")
        prob_a = np.asarray(prob, dtype=float)
        if prob_a.ndim == 2:
            prob_a = prob_a[None]
        expected = (pred_a.shape[0], n, len(levels))
        if prob_a.shape != expected:
            raise ValueError(f"prob must have shape {expected}, got {np.shape(prob)}")
    if not levels:
        return obs_a.astype(float), pred_a.astype(float), None
    k = len(levels)
    return _codes(obs_a, k, "obs"), _codes(pred_a, k, "pred"), prob_a


def _codes(a: np.ndarray, k: int, what: str) -> np.ndarray:
    """Check that ``a`` holds whole class codes in 0..k-1 and return them as intp."""
    if a.size == 0:
        return a.astype(np.intp)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{what} must hold integer class codes 0..{k - 1}, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a) & (a == np.round(a))):
        raise ValueError(f"{what} must hold integer class codes 0..{k - 1}")
    if a.min() < 0 or a.max() >= k:
        raise ValueError(f"{what} class codes must be in 0..{k - 1}, got {a.min()}..{a.max()}")
    return a.astype(np.intp)


# ---------------------------------------------------------------------------------------------
# vectorised building blocks
# ---------------------------------------------------------------------------------------------


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise num/den where 0/0 (and x/0) gives NaN instead of a warning."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den == 0, np.nan, out)


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    """Mean ignoring NaN (R's ``na.rm = TRUE``), NaN when nothing is left, without warnings."""
    ok = ~np.isnan(a)
    return _div(np.where(ok, a, 0.0).sum(axis=axis), ok.sum(axis=axis))


def _confusion(obs: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Confusion counts (C, K, K) with rows = observed class and columns = predicted class."""
    c, n = pred.shape
    flat = (np.arange(c)[:, None] * (k * k) + obs[None, :] * k + pred).ravel()
    return np.bincount(flat, minlength=c * k * k).reshape(c, k, k).astype(float)


def _accuracy_kappa(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and Cohen's Kappa per candidate (e1071::classAgreement, as caret)."""
    n = cm.sum(axis=(1, 2))
    p0 = _div(np.trace(cm, axis1=1, axis2=2), n)
    pc = _div((cm.sum(axis=2) * cm.sum(axis=1)).sum(axis=1), n * n)
    return p0, _div(p0 - pc, 1.0 - pc)


def _by_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """caret's confusionMatrix byClass statistics, one-vs-rest: name -> (C, K)."""
    n = cm.sum(axis=(1, 2))[:, None]
    tp = np.diagonal(cm, axis1=1, axis2=2)
    obs_k = cm.sum(axis=2)  # row sums: observed count of each class
    pred_k = cm.sum(axis=1)  # column sums: predicted count of each class
    fn = obs_k - tp
    fp = pred_k - tp
    tn = n - tp - fn - fp
    sens = _div(tp, tp + fn)
    spec = _div(tn, tn + fp)
    prev = _div(obs_k, n)
    # posPredValue/negPredValue.table use the prevalence (Bayes) form, as caret does.
    ppv = _div(sens * prev, sens * prev + (1 - spec) * (1 - prev))
    npv = _div(spec * (1 - prev), (1 - sens) * prev + spec * (1 - prev))
    precision = _div(tp, tp + fp)
    recall = sens
    return {
        "F1": _div(2 * precision * recall, precision + recall),
        "Sensitivity": sens,
        "Specificity": spec,
        "Pos_Pred_Value": ppv,
        "Neg_Pred_Value": npv,
        "Precision": precision,
        "Recall": recall,
        "Detection_Rate": _div(tp, n),
        "Balanced_Accuracy": (sens + spec) / 2,
    }


def _ranked_counts(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True/false positive counts (C, n) when calling the event at each score, high to low.

    Every position gets the counts at the end of its run of tied scores, so a cut-off shared by
    tied rows appears as one repeated point (zero-width trapezoids), i.e. one point per distinct
    score as in ROCR and pROC. One sort serves both the ROC and the precision-recall curve.
    """
    c, n = scores.shape
    order = np.argsort(-scores, axis=1)
    s = np.take_along_axis(scores, order, axis=1)
    tp = np.cumsum(positive[order], axis=1)
    idx = np.arange(n)
    is_end = np.ones((c, n), dtype=bool)
    is_end[:, :-1] = s[:, :-1] != s[:, 1:]
    end = np.minimum.accumulate(np.where(is_end, idx, n)[:, ::-1], axis=1)[:, ::-1]
    tp_end = np.take_along_axis(tp, end, axis=1).astype(float)
    return tp_end, (end + 1) - tp_end


def _trapezoid(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Trapezoid-rule area along the last axis of points (x, y) already in curve order."""
    return (np.diff(x, axis=1) * (y[:, 1:] + y[:, :-1]) / 2.0).sum(axis=1)


def _auc_pair(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUC and PR AUC (C,) of ``scores`` (C, n) for the event mask ``positive`` (n,).

    ROC AUC is the trapezoidal area from (0, 0) through every distinct cut-off, which equals the
    Mann-Whitney rank formula with average ranks (ties count one half). PR AUC follows
    MLmetrics::PRAUC: the ROCR precision-recall points of the distinct cut-offs, without the
    undefined (0/0 precision) point above every score, joined by trapezoids. Either is NaN when
    the held-out set has one class only or a candidate has missing scores.
    """
    c, n = scores.shape
    n_pos = int(positive.sum())
    n_neg = n - n_pos
    if n_pos == 0 or n_neg == 0:  # pROC and ROCR refuse one-class labels -> NA
        nan = np.full(c, np.nan)
        return nan, nan.copy()
    tp, fp = _ranked_counts(scores, positive)
    zero = np.zeros((c, 1))
    roc = _trapezoid(np.hstack([zero, fp / n_neg]), np.hstack([zero, tp / n_pos]))
    pr = _trapezoid(tp / n_pos, tp / (tp + fp))
    missing = np.isnan(scores).any(axis=1)
    return np.where(missing, np.nan, roc), np.where(missing, np.nan, pr)


def _log_loss(obs: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """caret's mnLogLoss per candidate: mean -log(clipped p of the observed class)."""
    p = np.take_along_axis(prob, obs[None, :, None], axis=2)[..., 0]
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return -_nanmean(np.log(p), axis=1)


# ---------------------------------------------------------------------------------------------
# built-in summaries
# ---------------------------------------------------------------------------------------------


def _regression_default(obs: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """postResample for numbers: RMSE, Rsquared (squared Pearson r) and MAE, NaN preds dropped."""
    ok = ~np.isnan(pred)
    nv = ok.sum(axis=1)
    o = np.broadcast_to(obs, pred.shape)
    err = np.where(ok, pred - o, 0.0)
    rmse = np.sqrt(_div((err * err).sum(axis=1), nv))
    mae = _div(np.abs(err).sum(axis=1), nv)
    mo = _div(np.where(ok, o, 0.0).sum(axis=1), nv)[:, None]
    mp = _div(np.where(ok, pred, 0.0).sum(axis=1), nv)[:, None]
    do = np.where(ok, o - mo, 0.0)
    dp = np.where(ok, pred - mp, 0.0)
    r = _div((do * dp).sum(axis=1), np.sqrt((do * do).sum(axis=1) * (dp * dp).sum(axis=1)))
    # caret: NA when fewer than 2 distinct predictions or outcomes (no round-off "correlation").
    constant = np.zeros(pred.shape[0], dtype=bool)
    for a in (pred, o):
        hi = np.where(ok, a, -np.inf).max(axis=1, initial=-np.inf)
        lo = np.where(ok, a, np.inf).min(axis=1, initial=np.inf)
        constant |= ~(hi > lo)
    rsq = np.where(constant, np.nan, r * r)
    return {"RMSE": rmse, "Rsquared": rsq, "MAE": mae}


def _two_class(obs: np.ndarray, pred: np.ndarray, prob: np.ndarray) -> dict[str, np.ndarray]:
    """twoClassSummary: ROC of the level-0 probability, Sens (level 0) and Spec (level 1)."""
    stats = _by_class(_confusion(obs, pred, 2))
    return {
        "ROC": _auc_pair(prob[..., 0], obs == 0)[0],
        "Sens": stats["Sensitivity"][:, 0],
        "Spec": stats["Specificity"][:, 0],
    }


def _pr_summary(obs: np.ndarray, pred: np.ndarray, prob: np.ndarray) -> dict[str, np.ndarray]:
    """prSummary: PR AUC of the level-0 probability, then Precision, Recall, F for level 0."""
    stats = _by_class(_confusion(obs, pred, 2))
    return {
        "AUC": _auc_pair(prob[..., 0], obs == 0)[1],
        "Precision": stats["Precision"][:, 0],
        "Recall": stats["Recall"][:, 0],
        "F": stats["F1"][:, 0],
    }


def _multi_class_names(k: int, class_probs: bool) -> list[str]:
    """multiClassSummary's metric names for k classes, with or without probabilities."""
    prefix = "Mean_" if k > 2 else ""
    head = ["logLoss", "AUC", "prAUC"] if class_probs else []
    return head + ["Accuracy", "Kappa"] + [prefix + name for name in _BY_CLASS]


def _multi_class(
    obs: np.ndarray, pred: np.ndarray, prob: np.ndarray | None, k: int
) -> dict[str, np.ndarray]:
    """multiClassSummary: probability metrics, Accuracy, Kappa and (averaged) by-class stats."""
    out: dict[str, np.ndarray] = {}
    if prob is not None:
        out["logLoss"] = _log_loss(obs, prob)
        pairs = [_auc_pair(prob[..., j], obs == j) for j in range(k)]  # one-vs-rest per class
        out["AUC"] = _nanmean(np.stack([roc for roc, _ in pairs], axis=1), axis=1)
        out["prAUC"] = _nanmean(np.stack([pr for _, pr in pairs], axis=1), axis=1)
    cm = _confusion(obs, pred, k)
    out["Accuracy"], out["Kappa"] = _accuracy_kappa(cm)
    stats = _by_class(cm)
    for name in _BY_CLASS:
        if k > 2:
            out["Mean_" + name] = stats[name].mean(axis=1)  # colMeans: NaN if any class is NaN
        else:
            out[name] = stats[name][:, 0]
    return out


# ---------------------------------------------------------------------------------------------
# custom summaries
# ---------------------------------------------------------------------------------------------


def _summary_label(fn: Callable[..., Any]) -> str:
    """A readable name for a custom summary in error messages."""
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _frame(
    obs: np.ndarray,
    pred_c: np.ndarray,
    prob_c: np.ndarray | None,
    names: tuple[str, ...],
    weights: np.ndarray | None,
) -> pd.DataFrame:
    """caret's ``data`` for one candidate: pred, obs, one probability column per level, weights."""
    if names:
        cols: dict[str, Any] = {
            "pred": pd.Categorical.from_codes(pred_c, categories=list(names)),
            "obs": pd.Categorical.from_codes(obs, categories=list(names)),
        }
        if prob_c is not None:
            for j, name in enumerate(names):
                cols[name] = prob_c[:, j]
    else:
        cols = {"pred": pred_c, "obs": obs}
    if weights is not None:
        cols["weights"] = weights
    return pd.DataFrame(cols)


def _as_metric_dict(result: Any, label: str) -> dict[str, float]:
    """Turn a custom summary's dict/Series into name -> float, or say what is wrong."""
    if isinstance(result, pd.Series):
        result = result.to_dict()
    if not isinstance(result, Mapping):
        raise ValueError(
            f"summary function {label} must return a dict or pandas Series of name -> float, "
            f"got {type(result).__name__}"
        )
    out: dict[str, float] = {}
    for key, value in result.items():
        try:
            out[str(key)] = np.nan if value is None else float(value)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"summary function {label} returned a non-numeric value for {key!r}: {value!r}"
            ) from err
    return out


def _custom(
    fn: SummaryFn,
    obs: np.ndarray,
    pred: np.ndarray,
    prob: np.ndarray | None,
    levels: tuple[str, ...],
    weights: Any,
) -> dict[str, np.ndarray]:
    """Call a custom summary once per candidate with caret's data frame; collect its metrics."""
    label = _summary_label(fn)
    names = tuple(str(level) for level in levels)
    clash = sorted(set(names) & set(_RESERVED_COLUMNS))
    if clash:
        raise ValueError(f"class level names {clash} clash with the summary data's own columns")
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != obs.shape:
            raise ValueError(f"weights must have shape {obs.shape}, got {w.shape}")
    rows: list[dict[str, float]] = []
    for c in range(pred.shape[0]):
        data = _frame(obs, pred[c], None if prob is None else prob[c], names, w)
        try:
            result = fn(data, names)
        except Exception as err:  # any failure of user code is reported the same way
            raise ValueError(
                f"summary function {label} failed on candidate {c}: {type(err).__name__}: {err}"
            ) from err
        rows.append(_as_metric_dict(result, label))
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return {key: np.array([row.get(key, np.nan) for row in rows], dtype=float) for key in keys}


def _callable_names(
    fn: SummaryFn,
    mode: str,
    levels: tuple[str, ...],
    class_probs: bool,
    y_sample: Any,
) -> list[str]:
    """Run a custom summary on a small fake frame (obs = pred) and return its metric names."""
    n = 10 if y_sample is None else min(10, len(y_sample))
    if mode == CLASSIFICATION:
        # caret's evalSummaryFunction: cycle through the levels so every class appears.
        k = len(levels)
        obs = np.arange(max(n, k)) % k
        prob = np.eye(k)[obs][None] if class_probs else None
        result = summarize(fn, obs, obs[None], prob, levels)
    else:
        y = np.arange(10.0) if y_sample is None else np.asarray(y_sample, dtype=float)[:n]
        if y.size == 0:
            y = np.arange(10.0)
        result = summarize(fn, y, y[None], None, ())
    return list(result)
