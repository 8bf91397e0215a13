"""Between-model plots of resampled performance (caret's bwplot / dotplot / densityplot / splom /
xyplot(what="BlandAltman") of ``resamples`` and dotplot of ``diff``).

Written against two duck-typed interfaces: a comparison ``comp`` with ``models``, ``metrics`` and
``long()`` (columns Resample, model, metric, value) and a difference object ``d`` with
``to_frame()`` (columns metric, model1, model2, estimate, lower, upper, p_value, p_adjusted,
test, adjustment, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._style import (
    INK,
    MUTED,
    choose_metric,
    choose_metrics,
    color,
    fmt,
    kde,
    model_boxes,
    models_axis,
    new_figure,
    padded_range,
    panels,
    subtitle,
    suptitle,
    themed,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Metrics = str | list[str] | tuple[str, ...] | None


def _long(comp: Any) -> pd.DataFrame:
    """The comparison's per-resample values with missing ones dropped."""
    df = comp.long()
    missing = {"Resample", "model", "metric", "value"} - set(df.columns)
    if missing:
        raise ValueError(f"comp.long() lacks the columns {sorted(missing)}")
    df = df.copy()
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    return df[np.isfinite(df["value"].to_numpy(dtype=float))]


def _values(df: pd.DataFrame, metric: str, model: str) -> np.ndarray:
    return df.loc[(df["metric"] == metric) & (df["model"] == model), "value"].to_numpy(float)


def _wide(comp: Any, metric: str) -> pd.DataFrame:
    """Resample x model table of one metric (models in comp.models order)."""
    df = _long(comp)
    df = df[df["metric"] == metric]
    wide = df.pivot_table(index="Resample", columns="model", values="value", aggfunc="mean")
    return wide.reindex(columns=[m for m in comp.models if m in wide.columns])


def _n_resamples(comp: Any) -> int:
    return int(comp.long()["Resample"].nunique())


@themed
def plot_box(comp: Any, metric: Metrics = None) -> Figure:
    """Box-and-whisker plot of each model's per-resample values, one panel per metric (caret's
    ``bwplot(resamples)``): spread and overlap of the models at a glance (diamond: mean)."""
    metrics = choose_metrics(metric, tuple(comp.metrics))
    models = list(comp.models)
    df = _long(comp)
    fig, axes = panels(
        len(metrics), size=(3.6, 0.45 * len(models) + 1.4), sharey=True, extra=(0.9, 0.7)
    )
    for ax, m in zip(axes, metrics, strict=True):
        data = [_values(df, m, mod) for mod in models]
        pos = models_axis(ax, models)
        model_boxes(ax, data, pos, fliers=True, alpha=0.35)
        means = [v.mean() if len(v) else np.nan for v in data]
        ax.scatter(means, pos, marker="D", s=22, color=INK, zorder=4)
        ax.set_title(m, loc="center", fontweight="bold")
        ax.set_xlabel(f"Resampled {m}")
    fig.supxlabel(
        "box: median and quartiles; whiskers: 1.5 IQR; diamond: mean", fontsize=8.5, color=MUTED
    )
    suptitle(
        fig,
        f"Resampled performance of {len(models)} models ({_n_resamples(comp)} resamples)",
    )
    return fig


def t_interval(values: np.ndarray, conf_level: float) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of the mean (caret's dotplot of resamples)."""
    from scipy.stats import t

    n = len(values)
    mean = float(np.mean(values)) if n else np.nan
    if n < 2:
        return mean, np.nan, np.nan
    half = float(t.ppf(0.5 + conf_level / 2, n - 1) * np.std(values, ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


@themed
def plot_dot(comp: Any, metric: Metrics = None, conf_level: float = 0.95) -> Figure:
    """Each model's mean resampled metric with its t-based confidence interval, one panel per
    metric (caret's ``dotplot(resamples)``)."""
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level={conf_level} must be strictly between 0 and 1")
    metrics = choose_metrics(metric, tuple(comp.metrics))
    models = list(comp.models)
    df = _long(comp)
    fig, axes = panels(
        len(metrics), size=(3.6, 0.4 * len(models) + 1.4), sharey=True, extra=(0.9, 0.7)
    )
    for ax, m in zip(axes, metrics, strict=True):
        pos = models_axis(ax, models)
        stats = np.array([t_interval(_values(df, m, mod), conf_level) for mod in models])
        ax.hlines(pos, stats[:, 1], stats[:, 2], color=[color(i) for i in range(len(models))])
        ax.plot(stats[:, 0], pos, linestyle="none", marker="o", color=INK, markersize=6)
        ax.set_title(m, loc="center", fontweight="bold")
        ax.set_xlabel(f"{m}: mean and {conf_level:.0%} CI")
    suptitle(
        fig,
        f"Mean resampled performance ({_n_resamples(comp)} resamples, "
        f"{conf_level:.0%} t confidence intervals)",
    )
    return fig


@themed
def plot_density(comp: Any, metric: Metrics = None) -> Figure:
    """Kernel density of each model's per-resample values, one panel per metric (caret's
    ``densityplot(resamples)``)."""
    metrics = choose_metrics(metric, tuple(comp.metrics))
    models = list(comp.models)
    df = _long(comp)
    fig, axes = panels(len(metrics), size=(4.0, 3.0), extra=(1.6, 0.6))
    for ax, m in zip(axes, metrics, strict=True):
        vals = df.loc[df["metric"] == m, "value"].to_numpy(float)
        lo, hi = padded_range(vals, 0.3) if len(vals) else (0.0, 1.0)
        grid = np.linspace(lo, hi, 256)
        for i, mod in enumerate(models):
            dens = kde(_values(df, m, mod), grid)
            if dens is None:
                dens = np.full_like(grid, np.nan)  # keep one line per model (undefined density)
            ax.plot(grid, dens, color=color(i), label=mod)
        ax.set_xlim(lo, hi)
        ax.set_ylim(bottom=0)
        ax.set_title(m, loc="center", fontweight="bold")
        ax.set_xlabel(m)
        ax.set_ylabel("Density")
    axes[-1].legend(title="model", loc="upper left", bbox_to_anchor=(1.02, 1.0), alignment="left")
    suptitle(
        fig,
        f"Distribution of resampled performance ({_n_resamples(comp)} resamples)",
    )
    return fig


@themed
def plot_splom(comp: Any, metric: str) -> Figure:
    """Scatter-plot matrix of the models' per-resample values with the identity line (caret's
    ``splom(resamples)``): points off the line show where one model beats another."""
    metric = choose_metric(metric, tuple(comp.metrics), metric)
    wide = _wide(comp, metric)
    models = list(wide.columns)
    if len(models) < 2:
        raise ValueError(f"a scatter-plot matrix needs at least two models with {metric!r} values")
    k = len(models)
    lo, hi = padded_range(wide.to_numpy(), 0.08)
    cell = max(1.6, min(2.6, 9.0 / k))
    fig = new_figure(cell * k + 0.6, cell * k + 0.8)
    grid = fig.subplots(k, k, sharex=True, sharey=True, squeeze=False)
    for r in range(k):
        for c in range(k):
            ax = grid[r, c]
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            if r == c:
                ax.grid(False)
                ax.text(
                    0.5,
                    0.5,
                    models[r],
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    fontsize=10,
                    fontweight="bold",
                    wrap=True,
                )
                continue
            pair = wide[[models[c], models[r]]].dropna()
            ax.plot([lo, hi], [lo, hi], color=MUTED, linestyle="--", linewidth=1.0)
            ax.scatter(
                pair[models[c]],
                pair[models[r]],
                s=16,
                color=color(0),
                alpha=0.75,
                edgecolors="white",
                linewidths=0.4,
            )
        grid[r, 0].set_ylabel(models[r])
        grid[k - 1, r].set_xlabel(models[r])
    for ax in grid.ravel():
        ax.label_outer()
    suptitle(
        fig,
        f"Resampled {metric}: model against model ({len(wide)} resamples; dashed: identity)",
    )
    return fig


@themed
def plot_bland_altman(comp: Any, metric: str, models: list[str] | None = None) -> Figure:
    """Bland-Altman plot of two models' resampled values: the pair's mean against their
    difference, with the mean difference and its ±1.96 SD limits of agreement."""
    metric = choose_metric(metric, tuple(comp.metrics), metric)
    pair = list(models) if models is not None else list(comp.models)[:2]
    if len(pair) != 2 or len(set(pair)) != 2:
        raise ValueError(f"models={models!r}: a Bland-Altman plot compares exactly two models")
    unknown = [m for m in pair if m not in comp.models]
    if unknown:
        raise ValueError(f"models {unknown} are not in the comparison: {list(comp.models)}")
    wide = _wide(comp, metric)[pair].dropna()
    if len(wide) < 2:
        raise ValueError(f"{pair} share fewer than two resamples with {metric!r} values")
    a, b = wide[pair[0]].to_numpy(float), wide[pair[1]].to_numpy(float)
    mean, diff = (a + b) / 2, a - b
    md, sd = float(diff.mean()), float(diff.std(ddof=1))
    fig = new_figure(7.2, 4.6)
    ax = fig.add_subplot()
    ax.axhline(0.0, color=MUTED, linewidth=0.8, linestyle=":")
    ax.axhline(md, color=color(1), linewidth=1.5, label=f"mean difference = {md:.4g}")
    ax.axhline(
        md + 1.96 * sd,
        color=color(1),
        linestyle="--",
        linewidth=1.2,
        label=f"mean ± 1.96 SD = [{md - 1.96 * sd:.4g}, {md + 1.96 * sd:.4g}]",
    )
    ax.axhline(md - 1.96 * sd, color=color(1), linestyle="--", linewidth=1.2)
    ax.scatter(mean, diff, s=30, color=color(0), alpha=0.85, edgecolors="white", linewidths=0.5)
    ax.set_xlabel(f"Mean of {pair[0]} and {pair[1]} ({metric})")
    ax.set_ylabel(f"{pair[0]} - {pair[1]} ({metric})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    suptitle(fig, f"Bland-Altman: {pair[0]} vs {pair[1]} resampled {metric}")
    subtitle(ax, f"{len(wide)} resamples; dotted: no difference")
    return fig


@themed
def plot_diff(d: Any, metric: Metrics = None) -> Figure:
    """Each pair's estimated difference with its confidence interval and a zero line, one panel
    per metric (caret's ``dotplot(diff(resamples))``): which differences exclude zero."""
    frame = d.to_frame()
    available = list(dict.fromkeys(frame["metric"]))
    metrics = choose_metrics(metric, available)
    pairs = list(dict.fromkeys(zip(frame["model1"], frame["model2"], strict=True)))
    labels = [f"{a} - {b}" for a, b in pairs]
    fig, axes = panels(
        len(metrics),
        ncols=min(len(metrics), 2),
        size=(4.6, 0.42 * len(pairs) + 1.5),
        sharey=True,
        extra=(0.8, 0.7),
    )
    for ax, m in zip(axes, metrics, strict=True):
        sub = frame[frame["metric"] == m].set_index(["model1", "model2"]).reindex(pairs)
        pos = models_axis(ax, labels)
        est = sub["estimate"].to_numpy(float)
        lower, upper = sub["lower"].to_numpy(float), sub["upper"].to_numpy(float)
        finite = np.concatenate([v[np.isfinite(v)] for v in (est, lower, upper)] + [[0.0]])
        lo, hi = padded_range(finite, 0.08)
        ax.set_xlim(lo, hi)
        ax.hlines(pos, np.clip(lower, lo, hi), np.clip(upper, lo, hi), color=color(0), lw=2.0)
        ax.plot(est, pos, linestyle="none", marker="o", color=INK, markersize=6)
        ax.axvline(0.0, color=color(1), linestyle="--", linewidth=1.2)
        p = sub["p_adjusted"] if "p_adjusted" in sub.columns else sub["p_value"]
        sec = ax.secondary_yaxis("right")
        sec.set_yticks(pos, [f"p = {fmt(float(v))}" if np.isfinite(v) else "" for v in p])
        sec.tick_params(length=0, labelsize=8, labelcolor=MUTED)
        sec.spines["right"].set_visible(False)
        ax.set_title(m, loc="center", fontweight="bold")
        ax.set_xlabel(f"Difference in {m} (model1 - model2)")
    tests = ", ".join(dict.fromkeys(frame["test"].astype(str))) if "test" in frame else ""
    adj = ", ".join(dict.fromkeys(frame["adjustment"].astype(str))) if "adjustment" in frame else ""
    suptitle(fig, "Differences in resampled performance (model1 - model2)")
    note = "; ".join(
        s for s in (f"test: {tests}" if tests else "", f"p adjusted: {adj}" if adj else "") if s
    )
    fig.supxlabel(
        (f"{note}; " if note else "") + "bars: confidence intervals; dashed: no difference",
        fontsize=8.5,
        color=MUTED,
    )
    return fig
