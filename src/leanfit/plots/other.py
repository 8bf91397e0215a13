"""Variable importance (caret's ``plot(varImp(fit))``) and learning curves (resampled and
apparent performance against training-set size)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._style import choose_metrics, color, panels, suptitle, themed

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def scale_importance(imp: pd.DataFrame) -> pd.DataFrame:
    """Rescale all columns together to 0-100 (caret's varImp(scale=TRUE): global min to 0,
    global max to 100), so an already-scaled table is unchanged."""
    vals = imp.to_numpy(dtype=float)
    lo, hi = np.nanmin(vals), np.nanmax(vals)
    if hi == lo:
        return imp.astype(float) * 0 + 100.0
    return (imp.astype(float) - lo) / (hi - lo) * 100.0


@themed
def plot_importance(importance: pd.Series | pd.DataFrame, top: int | None = 20) -> Figure:
    """Dot chart of variable importance scaled 0-100, most important first, keeping the ``top``
    variables (by their largest value across columns); one panel per column (e.g. per class)."""
    if isinstance(importance, pd.Series):
        imp = importance.to_frame(importance.name if importance.name is not None else "Overall")
    elif isinstance(importance, pd.DataFrame):
        imp = importance
    else:
        raise TypeError(
            f"importance must be a pandas Series or DataFrame, got {type(importance).__name__}"
        )
    imp = imp.select_dtypes("number")
    imp = imp[np.isfinite(imp.to_numpy(dtype=float)).any(axis=1)]
    if imp.empty:
        raise ValueError("importance holds no numeric values to plot")
    if top is not None and top < 1:
        raise ValueError(f"top={top} must be a positive number of variables (or None for all)")
    scaled = scale_importance(imp)
    order = scaled.max(axis=1).sort_values(ascending=False, kind="mergesort").index
    shown = scaled.loc[order[:top] if top is not None else order]
    n = len(shown)
    fig, axes = panels(
        shown.shape[1],
        ncols=min(shown.shape[1], 3),
        size=(3.8, 0.24 * n + 1.1),
        sharey=True,
        extra=(1.0, 0.5),
    )
    pos = np.arange(n)[::-1].astype(float)
    for i, (ax, col) in enumerate(zip(axes, shown.columns, strict=True)):
        v = shown[col].to_numpy(dtype=float)
        ax.hlines(pos, 0, v, color=color(i), alpha=0.45, linewidth=2.0)
        ax.plot(v, pos, linestyle="none", marker="o", color=color(i), markersize=6)
        ax.set_yticks(pos, [str(x) for x in shown.index])
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlim(-3, 105)
        ax.grid(False, axis="y")
        ax.set_xlabel("Importance (scaled 0-100)")
        if shown.shape[1] > 1:
            ax.set_title(str(col), loc="center", fontweight="bold")
    what = f"top {n} of {len(scaled)}" if n < len(scaled) else f"all {n}"
    suptitle(fig, f"Variable importance ({what} variables)")
    return fig


_CURVE_COLUMNS = (
    "size",
    "metric",
    "resampled_mean",
    "resampled_sd",
    "apparent_mean",
    "apparent_sd",
)


@themed
def plot_learning_curve(
    curve: pd.DataFrame, metric: str | list[str] | tuple[str, ...] | None = None
) -> Figure:
    """Resampled (held-out) and apparent (training-rows) performance against training-set size
    with ±1 SD bands, one panel per metric: does more data still help, how big is the gap?"""
    missing = [c for c in _CURVE_COLUMNS if c not in curve.columns]
    if missing:
        raise ValueError(f"the learning curve lacks the columns {missing}")
    metrics = choose_metrics(metric, tuple(dict.fromkeys(curve["metric"])))
    fig, axes = panels(len(metrics), ncols=min(len(metrics), 2), size=(4.6, 3.4), extra=(1.8, 0.6))
    series = (("resampled", "Resampled (held-out)", 0), ("apparent", "Apparent (training rows)", 1))
    for ax, m in zip(axes, metrics, strict=True):
        sub = curve[curve["metric"] == m].sort_values("size")
        x = sub["size"].to_numpy(dtype=float)
        for key, label, c in series:
            mean = sub[f"{key}_mean"].to_numpy(dtype=float)
            sd = sub[f"{key}_sd"].to_numpy(dtype=float)
            if not np.isfinite(mean).any():
                continue
            ax.plot(x, mean, marker="o", color=color(c), label=label, markersize=4.5)
            ok = np.isfinite(sd) & np.isfinite(mean)
            if ok.any():
                ax.fill_between(
                    x[ok], (mean - sd)[ok], (mean + sd)[ok], color=color(c), alpha=0.15, linewidth=0
                )
        ax.set_title(m, loc="center", fontweight="bold")
        ax.set_xlabel("Training set size (rows)")
        ax.set_ylabel(m)
    axes[-1].legend(
        loc="upper left", bbox_to_anchor=(1.02, 1.0), title="±1 SD bands", alignment="left"
    )
    suptitle(fig, "Learning curve: performance vs training set size")
    return fig
