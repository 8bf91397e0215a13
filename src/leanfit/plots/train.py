"""Plots of one trained model's resampling: the tuning profile (caret's ``plot.train`` /
``ggplot.train``, line or level plot) and the chosen candidate's per-resample metric
distribution (caret's ``densityplot`` / ``histogram`` / ``stripplot`` of a train object)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..tuning.display import _dotted
from ._style import (
    CHOSEN,
    INK,
    MUTED,
    choose_metric,
    color,
    fmt,
    kde,
    new_figure,
    padded_range,
    panels,
    subtitle,
    suptitle,
    themed,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..splits import Resamples
    from ..tuning.result import Scores, TrainResult

_NO_RESAMPLING = (
    "no resampling was done (method='none'): there are no {what} to plot; "
    "train with a resampling Control (e.g. Control(method='cv')) to see them"
)


# -- shared helpers (also used by the held-out prediction plots) ---------------------------------
def require_resampled(res: TrainResult, what: str = "tuning results") -> tuple[Resamples, Scores]:
    """A resampled fit's resamples and scores; a model fitted without resampling is refused
    (caret: 'no tuning results to plot')."""
    if res.scores is None or res.resamples is None:
        raise ValueError(_NO_RESAMPLING.format(what=what))
    return res.resamples, res.scores


def model_title(res: TrainResult) -> str:
    """The model's label and method name, e.g. 'Stochastic Gradient Boosting (gbm)'."""
    label = res.model.label or res.method
    return f"{label} ({res.method})" if label != res.method else label


def param_label(res: TrainResult, name: str) -> str:
    """A parameter's label with caret's dotted name, e.g. 'Max Tree Depth (interaction.depth)'."""
    dotted = _dotted(res.model, name)
    label = next((p.label for p in res.model.params if p.name == name and p.label), "")
    if not label or label.lower() == dotted.lower():
        return label or dotted
    return f"{label} ({dotted})"


def describe_params(res: TrainResult, params: dict[str, Any]) -> str:
    """'n.trees = 30, interaction.depth = 2' with caret's dotted names."""
    return ", ".join(f"{_dotted(res.model, k)} = {fmt(v)}" for k, v in params.items())


def estimate_label(res: TrainResult, metric: str) -> str:
    """What the tuning profile's y values are: 'Resampled ROC (mean over 3 resamples)'."""
    resamples, scores = require_resampled(res)
    n = len(resamples)
    method = res.control.method
    if scores.pooled is not None:
        return f"Resampled {metric} (pooled over {n} held-out rows)"
    if method == "boot632":
        return f"Resampled {metric} (632 estimate over {n} resamples)"
    if method == "optimism_boot":
        return f"Resampled {metric} (optimism-corrected, {n} resamples)"
    return f"Resampled {metric} (mean over {n} resamples)"


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


# -- tuning profile ------------------------------------------------------------------------------
@themed
def plot_tuning(res: TrainResult, metric: str | None = None, kind: str = "line") -> Figure:
    """The resampled metric over the tuning grid (caret's ``plot(fit)``), chosen candidate
    circled: ``kind="line"`` puts the first varying numeric parameter on x with one line per
    combination of the other varying parameters; ``kind="level"`` is a heat map over two."""
    if kind not in ("line", "level"):
        raise ValueError(f"kind={kind!r} must be 'line' or 'level'")
    require_resampled(res, "tuning results")
    metric = choose_metric(metric, res.metric_names, res.metric)
    cands = res.candidates
    varying = [c for c in cands.columns if cands[c].nunique(dropna=False) > 1]
    numeric = [c for c in varying if _is_numeric(cands[c])]
    if not numeric:
        tuned = ", ".join(f"{_dotted(res.model, c)} ({cands[c].nunique()} values)" for c in varying)
        raise ValueError(
            f"plot_tuning needs a tuning parameter with more than one numeric value; "
            f"{res.method!r} was tuned over {len(cands)} candidate(s)"
            + (f" varying only non-numeric {tuned}" if tuned else " with no varying parameter")
            + "; see res.results for the numbers"
        )
    x = numeric[0]
    others = [c for c in varying if c != x]
    table = res.results
    if kind == "line":
        return _tuning_lines(res, table, metric, x, others)
    if not others:
        raise ValueError(
            f"a level plot needs two varying tuning parameters; {res.method!r} varied only "
            f"{_dotted(res.model, x)}: use kind='line'"
        )
    return _tuning_levels(res, table, metric, x, others[0], others[1:])


def _constant_note(res: TrainResult, varying: list[str]) -> str:
    fixed = {c: res.candidates[c].iloc[0] for c in res.candidates.columns if c not in varying}
    return f"\nheld constant: {describe_params(res, fixed)}" if fixed else ""


def _chosen(res: TrainResult, varying: list[str]) -> str:
    return describe_params(res, {k: v for k, v in res.best_params.items() if k in varying})


def _tuning_lines(
    res: TrainResult, table: pd.DataFrame, metric: str, x: str, others: list[str]
) -> Figure:
    fig = new_figure(7.6, 4.6)
    ax = fig.add_subplot()
    groups = table.groupby(others, sort=True, dropna=False) if others else [((), table)]
    for i, (key, g) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        g = g.sort_values(x)
        label = " / ".join(fmt(v) for v in key) if others else metric
        ax.plot(
            g[x].to_numpy(dtype=float),
            g[metric].to_numpy(dtype=float),
            marker="o",
            color=color(i),
            label=label,
        )
    stopped = _stopped_rows(res, table)
    if len(stopped):  # racing: the candidates stopped before the last resample
        ax.scatter(
            stopped[x].to_numpy(dtype=float),
            stopped[metric].to_numpy(dtype=float),
            marker="X",
            s=60,
            color="white",
            edgecolors=INK,
            linewidths=0.9,
            zorder=4,
            label=f"stopped by racing ({len(stopped)})",
        )
    best = table.iloc[res.best_index]
    ax.scatter(
        [float(best[x])],
        [float(best[metric])],
        s=190,
        facecolors="none",
        edgecolors=CHOSEN,
        linewidths=1.4,
        zorder=5,
        clip_on=False,
    )
    xs = np.sort(table[x].unique().astype(float))
    _x_scale(res, ax, x, xs)
    ax.set_xlabel(param_label(res, x))
    ax.set_ylabel(estimate_label(res, metric))
    if others:
        title = (
            param_label(res, others[0])
            if len(others) == 1
            else " / ".join(_dotted(res.model, c) for c in others)
        )
        ax.legend(title=title, loc="center left", bbox_to_anchor=(1.01, 0.5), alignment="left")
    elif len(stopped):
        ax.legend(loc="best")
    suptitle(fig, f"{model_title(res)}: resampled {metric} across the tuning grid")
    subtitle(
        ax,
        f"circled: chosen candidate ({_chosen(res, [x, *others])})"
        + (f"; X: stopped by racing ({len(stopped)})" if len(stopped) else "")
        + _constant_note(res, [x, *others]),
    )
    return fig


def _stopped_rows(res: TrainResult, table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the candidates racing stopped (adaptive resampling; none otherwise)."""
    stopped = sorted(getattr(res, "stopped", None) or {})
    return table.iloc[stopped]


def _x_scale(res: TrainResult, ax: Axes, x: str, xs: np.ndarray) -> None:
    """Log x for parameters tuned over orders of magnitude; tick every value when there are few."""
    log = any(p.name == x and p.log for p in res.model.params)
    if log and xs.min() > 0 and xs.max() / xs.min() >= 20:
        ax.set_xscale("log")
    if len(xs) <= 12:
        ax.set_xticks(xs, [fmt(v) for v in xs])
        ax.minorticks_off()


def _tuning_levels(
    res: TrainResult, table: pd.DataFrame, metric: str, x: str, y: str, rest: list[str]
) -> Figure:
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    xs = np.sort(table[x].unique())
    ys = sorted(table[y].unique(), key=lambda v: (isinstance(v, str), v))
    groups = list(table.groupby(rest, sort=True, dropna=False)) if rest else [((), table)]
    fig, axes = panels(
        len(groups),
        ncols=min(len(groups), 2),
        size=(max(3.8, 0.75 * len(xs) + 2.2), max(3.0, 0.5 * len(ys) + 1.8)),
        sharex=True,
        sharey=True,
        extra=(1.2, 0.7),
    )
    vals = table[metric].to_numpy(dtype=float)
    finite = vals[np.isfinite(vals)]
    norm = Normalize(float(finite.min()), float(finite.max())) if len(finite) else Normalize(0, 1)
    best = table.iloc[res.best_index]
    for ax, (key, g) in zip(axes, groups, strict=True):
        grid = np.full((len(ys), len(xs)), np.nan)
        xi = {v: i for i, v in enumerate(xs)}
        yi = {v: i for i, v in enumerate(ys)}
        for _, row in g.iterrows():
            grid[yi[row[y]], xi[row[x]]] = row[metric]
        image = ax.imshow(
            np.ma.masked_invalid(grid), origin="lower", aspect="auto", norm=norm, cmap="viridis"
        )
        ax.grid(False)
        if grid.size <= 100:
            for (r, c), v in np.ndenumerate(grid):
                if np.isfinite(v):
                    rgb = image.cmap(norm(v))[:3]
                    light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 0.5
                    ax.text(
                        c,
                        r,
                        f"{v:.3g}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color=INK if light else "white",
                    )
        gone = g.loc[g.index.isin(sorted(getattr(res, "stopped", None) or {}))]
        if len(gone):  # racing: stopped candidates get an X in their cell
            ax.scatter(
                [xi[v] for v in gone[x]],
                [yi[v] for v in gone[y]],
                marker="X",
                s=40,
                color="white",
                edgecolors=INK,
                linewidths=0.8,
                zorder=4,
            )
        keys = key if isinstance(key, tuple) else (key,)
        if all(best[c] == k for c, k in zip(rest, keys, strict=True)):
            bx, by = xi[best[x]], yi[best[y]]
            ax.add_patch(
                Rectangle((bx - 0.5, by - 0.5), 1, 1, fill=False, edgecolor=CHOSEN, linewidth=2.2)
            )
        ax.set_xticks(range(len(xs)), [fmt(v) for v in xs])
        ax.set_yticks(range(len(ys)), [fmt(v) for v in ys])
        ax.set_xlabel(param_label(res, x))
        ax.set_ylabel(param_label(res, y))
        if rest:
            ax.set_title(describe_params(res, dict(zip(rest, keys, strict=True))), fontsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
    fig.colorbar(image, ax=axes, label=estimate_label(res, metric), shrink=0.9)
    suptitle(
        fig,
        f"{model_title(res)}: resampled {metric} over {_dotted(res.model, x)} and "
        f"{_dotted(res.model, y)}",
    )
    if not rest:
        subtitle(
            axes[0],
            f"boxed: chosen candidate ({_chosen(res, [x, y])})"
            + ("; X: stopped by racing" if getattr(res, "stopped", None) else "")
            + _constant_note(res, [x, y]),
        )
    return fig


# -- per-resample distribution -------------------------------------------------------------------
def resample_values(res: TrainResult, metric: str) -> tuple[np.ndarray, list[str]]:
    """The chosen candidate's held-out metric on each resample (finite values) and their names."""
    resamples, scores = require_resampled(res, "resampling results")
    j = res.metric_names.index(metric)
    values = np.asarray(scores.values[:, res.best_index, j], dtype=float)
    names = list(resamples.names)
    keep = np.isfinite(values)
    if not keep.any():
        raise ValueError(
            f"no resample has a value of {metric!r} for the chosen candidate"
            + (
                " (leave-one-out resamples are scored only when pooled)"
                if res.control.method == "loocv"
                else ""
            )
        )
    return values[keep], [n for n, k in zip(names, keep, strict=True) if k]


@themed
def plot_resample_distribution(
    res: TrainResult, metric: str | None = None, kind: str = "density"
) -> Figure:
    """The chosen candidate's per-resample metric values as a density, histogram or strip plot
    (caret's densityplot / histogram / stripplot of a train object): how stable the estimate is."""
    if kind not in ("density", "hist", "strip"):
        raise ValueError(f"kind={kind!r} must be 'density', 'hist' or 'strip'")
    require_resampled(res, "resampling results")
    metric = choose_metric(metric, res.metric_names, res.metric)
    values, _ = resample_values(res, metric)
    n = len(values)
    fig = new_figure(6.8, 4.0)
    ax = fig.add_subplot()
    c = color(0)
    lo, hi = padded_range(values, 0.25)
    if kind == "density":
        grid = np.linspace(lo, hi, 256)
        dens = kde(values, grid)
        if dens is not None:
            ax.plot(grid, dens, color=c)
            ax.fill_between(grid, dens, color=c, alpha=0.15, linewidth=0)
        ax.scatter(values, np.zeros(n), marker="|", s=250, color=INK, linewidths=1.2, zorder=3)
        ax.set_ylabel("Density")
        ax.set_ylim(bottom=0)
    elif kind == "hist":
        bins = int(np.clip(np.ceil(np.log2(n) + 1), 3, 20))
        ax.hist(values, bins=bins, color=c, alpha=0.75, edgecolor="white")
        ax.set_ylabel("Number of resamples")
    else:
        jitter = np.random.default_rng(0).uniform(-0.25, 0.25, n)
        ax.scatter(values, jitter, s=36, color=c, alpha=0.8, edgecolors="white", linewidths=0.5)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.grid(False, axis="y")
    mean = float(values.mean())
    ax.axvline(mean, color=MUTED, linestyle="--", linewidth=1.2, label=f"mean = {mean:.4g}")
    ax.set_xlim(lo, hi)
    ax.set_xlabel(f"Held-out {metric} per resample ({n} resamples)")
    ax.legend(loc="upper right")
    suptitle(fig, f"{model_title(res)}: {metric} across resamples")
    subtitle(ax, f"chosen candidate: {describe_params(res, res.best_params)}")
    return fig


_OBJECTIVE_LABELS = {
    "fit_time": "Fit time per resample (s)",
    "predict_time": "Prediction latency (s per row)",
    "size": "Model size (bytes, serialised)",
}


@themed
def plot_front(res: TrainResult, x: str | None = None, y: str | None = None) -> Figure:
    """A multi-objective search's candidates, metric (``y``, default the first objective)
    against a cost (``x``, default the second), the Pareto front joined as a step line and
    the chosen candidate circled."""
    table = res.objectives
    info = res.search_info
    if table is None or info is None or not info.objectives:
        raise ValueError(
            "plot_front needs a multi-objective search: train with Control(search='bayes' or "
            "'genetic', objectives=[metric, 'fit_time', ...])"
        )
    names = list(info.objectives)
    y = y or names[0]
    x = x or names[1]
    for name in (x, y):
        if name not in names:
            raise ValueError(f"{name!r} is not an objective of this search; objectives: {names}")
    fig = new_figure(6.8, 4.4)
    ax = fig.add_subplot()
    on = table["on_front"].to_numpy(dtype=bool)
    ax.scatter(
        table.loc[~on, x], table.loc[~on, y], s=28, color=MUTED, alpha=0.6, label="dominated"
    )
    front = table[on].sort_values(x)
    ax.plot(
        front[x],
        front[y],
        color=color(0),
        marker="o",
        drawstyle="steps-post",
        label=f"Pareto front ({len(front)})",
    )
    best = table.iloc[res.best_index]
    ax.scatter(
        [best[x]],
        [best[y]],
        s=160,
        facecolors="none",
        edgecolors=CHOSEN,
        linewidths=1.6,
        zorder=4,
        label="chosen",
    )
    if x in _OBJECTIVE_LABELS and (table[x] > 0).all():
        ax.set_xscale("log")
    ax.set_xlabel(_OBJECTIVE_LABELS.get(x, x))
    ax.set_ylabel(_OBJECTIVE_LABELS.get(y, f"Resampled {y}"))
    ax.legend(loc="best")
    suptitle(fig, f"{model_title(res)}: {y} against {x}")
    subtitle(ax, f"{len(table)} candidates; chosen: {describe_params(res, res.best_params)}")
    return fig
