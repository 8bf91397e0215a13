"""Plots of the chosen candidate's saved held-out predictions: ROC and precision-recall curves,
calibration and the resampled confusion matrix (caret's ``confusionMatrix.train``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..models.base import CLASSIFICATION
from ._style import INK, MUTED, color, new_figure, subtitle, suptitle, themed
from .train import describe_params, model_title, require_resampled

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..tuning.result import TrainResult

_SAVE = "train with Control(save_predictions='final')"


def held_out(res: TrainResult, what: str, probs: bool = True) -> pd.DataFrame:
    """The chosen candidate's saved held-out predictions, refusing models that cannot give them."""
    require_resampled(res, "held-out predictions")
    if res.dataset.mode != CLASSIFICATION:
        raise ValueError(
            f"{what} needs a classification model"
            + (" with class probabilities" if probs else "")
            + f"; {res.method!r} was fitted for {res.dataset.mode}"
        )
    pred = res.predictions
    if pred is None:
        raise ValueError(f"{what} needs the held-out predictions, which were not saved; {_SAVE}")
    for k, v in res.best_params.items():  # save_predictions='all' keeps every candidate
        if k in pred.columns:
            pred = pred[pred[k] == v]
    levels = list(res.dataset.levels)
    if probs and not all(lv in pred.columns for lv in levels):
        raise ValueError(
            f"{what} needs class probabilities, which were not computed; train with "
            "Control(class_probs=True, save_predictions='final')"
        )
    if probs:
        pred = pred[np.isfinite(pred[levels].to_numpy(dtype=float)).all(axis=1)]
    return pred.reset_index(drop=True)


def _counts(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True/false positives when calling the event at each distinct score, high to low."""
    order = np.argsort(-score, kind="mergesort")
    s, p = score[order], positive[order]
    tp, fp = np.cumsum(p), np.cumsum(~p)
    ends = np.r_[s[1:] != s[:-1], True]  # one point per distinct score (ties together)
    return tp[ends].astype(float), fp[ends].astype(float)


def roc_points(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """ROC curve (FPR, TPR from (0, 0)) and its trapezoidal AUC (= the Mann-Whitney AUC)."""
    tp, fp = _counts(score, positive)
    fpr = np.r_[0.0, fp / fp[-1]]
    tpr = np.r_[0.0, tp / tp[-1]]
    return fpr, tpr, float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def pr_points(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Precision-recall points of the distinct cut-offs and their trapezoidal area (the PR AUC
    of leanfit's ``pr`` summary, after MLmetrics::PRAUC)."""
    tp, fp = _counts(score, positive)
    recall, precision = tp / tp[-1], tp / (tp + fp)
    return recall, precision, float(np.sum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2))


def _one_vs_rest(res: TrainResult, pred: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, event probability, event mask): the first level for two classes (caret's event),
    every class against the rest otherwise; classes absent or alone in the data are skipped."""
    levels = list(res.dataset.levels)
    obs = pred["obs"].astype(str).to_numpy()
    chosen = levels[:1] if len(levels) == 2 else levels
    out = []
    for lv in chosen:
        positive = obs == str(lv)
        if positive.all() or not positive.any():
            continue
        rest = levels[1] if len(levels) == 2 else "rest"
        out.append((f"{lv} vs {rest}", pred[lv].to_numpy(dtype=float), positive))
    if not out:
        raise ValueError("the held-out observations hold a single class: no curve can be drawn")
    return out


def _pool_note(res: TrainResult, pred: pd.DataFrame) -> str:
    n_res = (
        pred["Resample"].nunique()
        if "Resample" in pred.columns
        else len(require_resampled(res, "held-out predictions")[0])
    )
    return (
        f"{len(pred)} held-out predictions pooled over {n_res} resamples\n"
        f"chosen candidate: {describe_params(res, res.best_params)}"
    )


@themed
def plot_roc(res: TrainResult) -> Figure:
    """ROC curve of the pooled held-out probabilities of the chosen candidate, AUC in the legend
    (first level = the event, as in caret; one-vs-rest curves for more than two classes)."""
    pred = held_out(res, "a ROC curve")
    fig = new_figure(6.4, 5.6)
    ax = fig.add_subplot()
    for i, (label, score, positive) in enumerate(_one_vs_rest(res, pred)):
        fpr, tpr, auc = roc_points(score, positive)
        ax.plot(fpr, tpr, color=color(i), drawstyle="default", label=f"{label} (AUC = {auc:.4f})")
    ax.plot([0, 1], [0, 1], color=MUTED, linestyle=":", linewidth=1.0, label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("False positive rate (1 - specificity)")
    ax.set_ylabel("True positive rate (sensitivity)")
    ax.legend(loc="lower right", title="event", alignment="left")
    suptitle(fig, f"{model_title(res)}: held-out ROC curve")
    subtitle(ax, _pool_note(res, pred))
    return fig


@themed
def plot_pr(res: TrainResult) -> Figure:
    """Precision-recall curve of the pooled held-out probabilities (PR AUC in the legend), with
    the event prevalence as the no-skill baseline."""
    pred = held_out(res, "a precision-recall curve")
    fig = new_figure(6.4, 5.6)
    ax = fig.add_subplot()
    for i, (label, score, positive) in enumerate(_one_vs_rest(res, pred)):
        recall, precision, auc = pr_points(score, positive)
        ax.plot(recall, precision, color=color(i), label=f"{label} (PR AUC = {auc:.4f})")
        ax.axhline(positive.mean(), color=color(i), linestyle=":", linewidth=1.0)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("Recall (sensitivity)")
    ax.set_ylabel("Precision (positive predictive value)")
    ax.legend(loc="lower left", title="event (dotted: prevalence)", alignment="left")
    suptitle(fig, f"{model_title(res)}: held-out precision-recall curve")
    subtitle(ax, _pool_note(res, pred))
    return fig


def calibration_table(score: np.ndarray, positive: np.ndarray, bins: int) -> pd.DataFrame:
    """Per equal-width probability bin on [0, 1]: rows, mean predicted probability and the
    observed event rate (empty bins dropped)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, bins - 1)
    df = pd.DataFrame({"bin": idx, "p": score, "event": positive.astype(float)})
    out = df.groupby("bin").agg(
        n=("p", "size"), predicted=("p", "mean"), observed=("event", "mean")
    )
    return out.reset_index()


@themed
def plot_calibration(res: TrainResult, bins: int = 10) -> Figure:
    """Observed event rate against mean predicted probability per probability bin (counts
    annotated), with the diagonal of perfect calibration — are the probabilities honest?"""
    if not isinstance(bins, int | np.integer) or bins < 2:
        raise ValueError(f"bins={bins!r} must be an integer >= 2")
    pred = held_out(res, "a calibration plot")
    fig = new_figure(6.4, 5.8)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=MUTED, linestyle=":", linewidth=1.0, label="perfect")
    for i, (label, score, positive) in enumerate(_one_vs_rest(res, pred)):
        tab = calibration_table(score, positive, int(bins))
        ax.plot(tab["predicted"], tab["observed"], marker="o", color=color(i), label=label)
        for _, row in tab.iterrows():
            ax.annotate(
                f"n={int(row['n'])}",
                (row["predicted"], row["observed"]),
                xytext=(4, -11),
                textcoords="offset points",
                fontsize=7,
                color=color(i),
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75},
            )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.04, 1.04)
    ax.set_aspect("equal")
    ax.set_xlabel(f"Mean predicted probability of the event ({bins} equal-width bins)")
    ax.set_ylabel("Observed event rate")
    ax.legend(loc="upper left", title="event", alignment="left")
    suptitle(fig, f"{model_title(res)}: calibration of held-out probabilities")
    subtitle(ax, _pool_note(res, pred))
    return fig


def confusion_percent(res: TrainResult, pred: pd.DataFrame) -> pd.DataFrame:
    """Pooled held-out confusion matrix as % of all predictions (rows: Prediction, columns:
    Reference) — caret's ``confusionMatrix.train`` with norm='overall'."""
    levels = [str(v) for v in res.dataset.levels]
    p = pd.Categorical(pred["pred"].astype(str), categories=levels)
    o = pd.Categorical(pred["obs"].astype(str), categories=levels)
    tab = pd.crosstab(p, o, dropna=False).reindex(index=levels, columns=levels, fill_value=0)
    tab.index.name, tab.columns.name = "Prediction", "Reference"
    return tab / tab.to_numpy().sum() * 100.0


@themed
def plot_confusion(res: TrainResult) -> Figure:
    """The held-out confusion matrix of the chosen candidate as percentages of all held-out
    predictions, annotated (caret's ``confusionMatrix(fit)``)."""
    pred = held_out(res, "a confusion matrix", probs=False)
    pct = confusion_percent(res, pred)
    k = len(pct)
    side = max(4.2, 0.9 * k + 2.6)
    fig = new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    image = ax.imshow(pct.to_numpy(), cmap="Blues", vmin=0, vmax=max(float(pct.max().max()), 1e-9))
    for (r, c), v in np.ndenumerate(pct.to_numpy()):
        dark = v > 0.6 * float(pct.max().max())
        ax.text(
            c,
            r,
            f"{v:.1f}%",
            ha="center",
            va="center",
            fontsize=10 if k <= 6 else 8,
            color="white" if dark else INK,
            fontweight="bold" if r == c else "normal",
        )
    ax.grid(False)
    for side_name in ("top", "right"):
        ax.spines[side_name].set_visible(True)
    ax.set_xticks(range(k), list(pct.columns))
    ax.set_yticks(range(k), list(pct.index))
    ax.set_xlabel("Reference (observed class)")
    ax.set_ylabel("Prediction")
    fig.colorbar(image, ax=ax, label="% of all held-out predictions", shrink=0.8)
    accuracy = float(np.trace(pct.to_numpy()))
    suptitle(fig, f"{model_title(res)}: held-out confusion matrix")
    subtitle(
        ax,
        f"{res.control.describe()}; cells are % of all {len(pred)} held-out predictions\n"
        f"accuracy (average): {accuracy / 100:.4f}",
    )
    return fig
