"""Explanation plots in leanfit's theme: a summary over rows (beeswarm or bar of mean
|attribution| per column) and one row's waterfall from the base value to its raw output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..plots._style import INK, MUTED, PALETTE, new_figure, subtitle, suptitle, themed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_summary", "plot_waterfall"]

_POS, _NEG = PALETTE[1], PALETTE[0]  # vermillion pushes the output up, blue down


def _single(expl: Any) -> Any:
    """One output: the explanation itself, or its first class (with a note in the title)."""
    return expl if len(expl.outputs) == 1 else expl.for_output(expl.outputs[0])


def _colour_values(data: pd.DataFrame, column: str) -> np.ndarray:
    """A column's values scaled to [0, 1] for colouring (factors by level code; NaN stays)."""
    if column not in data.columns:
        return np.full(len(data), np.nan)
    s = data[column]
    if not pd.api.types.is_numeric_dtype(s):
        s = pd.Series(pd.Categorical(s).codes, dtype=float).where(s.notna().to_numpy())
    v = s.to_numpy(dtype=float)
    lo, hi = (
        np.nanmin(v) if np.isfinite(v).any() else 0.0,
        np.nanmax(v) if np.isfinite(v).any() else 1.0,
    )
    return (v - lo) / (hi - lo) if hi > lo else np.full(len(v), 0.5)


@themed
def plot_summary(expl: Any, kind: str = "beeswarm", top: int = 20) -> Figure:
    """Beeswarm (each row's attribution per column, coloured from low to high value) or bar
    (mean |attribution| per column) of the ``top`` columns, largest mean |attribution| first."""
    if kind not in ("beeswarm", "bar"):
        raise ValueError(f"kind={kind!r} is not 'beeswarm' or 'bar'")
    if top < 1:
        raise ValueError(f"top={top} must be a positive number of columns")
    e = _single(expl)
    vals = e.column_values()[:, :, 0]
    explained = ~np.isnan(vals).any(axis=1)  # classes="predicted": rows of other classes
    if not explained.any():
        raise ValueError(f"no row is explained for {e.outputs[0]!r}: nothing to plot")
    vals, data = vals[explained], e.data[explained]
    names = e.column_names
    mean_abs = np.abs(vals).mean(axis=0)
    order = np.argsort(-mean_abs, kind="mergesort")[:top]
    n = len(order)
    fig = new_figure(6.4, 0.3 * n + 1.4)
    ax = fig.add_subplot()
    pos = np.arange(n)[::-1].astype(float)
    if kind == "bar":
        ax.barh(pos, mean_abs[order], color=PALETTE[0], height=0.6)
        ax.set_xlabel(f"mean |attribution| ({e.output})")
    else:
        import matplotlib as mpl

        cmap = mpl.colormaps["coolwarm"]
        rng = np.random.default_rng(0)
        for y, j in zip(pos, order, strict=True):
            x = vals[:, j]
            jitter = rng.uniform(-0.25, 0.25, len(x))
            c = _colour_values(data, names[j])
            colours = [cmap(ci) if np.isfinite(ci) else "#BBBBBB" for ci in c]
            ax.scatter(x, y + jitter, s=9, c=colours, linewidths=0, alpha=0.8)
        ax.axvline(0.0, color=INK, linewidth=0.8)
        ax.set_xlabel(f"attribution ({e.output})")
        sm = mpl.cm.ScalarMappable(cmap=cmap, norm=mpl.colors.Normalize(0, 1))
        bar = fig.colorbar(sm, ax=ax, ticks=[0, 1], aspect=30, pad=0.01)
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("column value", color=MUTED)
    ax.set_yticks(pos)
    ax.set_yticklabels([names[j] for j in order])
    ax.grid(axis="y", visible=False)
    suptitle(fig, "Attributions per column" if kind == "beeswarm" else "Mean |attribution|")
    subtitle(ax, f"{len(vals)} row(s); {e.method}")
    return fig


@themed
def plot_waterfall(expl: Any, row: int = 0, top: int = 12) -> Figure:
    """One row's waterfall: the base value, the ``top`` largest column attributions (the rest
    summed into one bar), ending at the row's raw output."""
    e = _single(expl)
    n = len(e.raw)
    if not -n <= row < n:
        raise ValueError(f"row={row} is out of range: the explanation has {n} row(s)")
    vals = e.column_values()[row, :, 0]
    if np.isnan(vals).any():
        raise ValueError(
            f"row {row} is not explained for {e.outputs[0]!r} (classes='predicted' explains "
            "each row for its predicted class only): plot ex.for_output(that class)"
        )
    names = e.column_names
    order = list(np.argsort(-np.abs(vals), kind="mergesort"))
    shown, rest = order[:top], order[top:]
    labels = []
    for j in shown:
        v = e.data.iloc[row][names[j]] if names[j] in e.data.columns else None
        shown_v = (
            f" = {v:.4g}"
            if isinstance(v, float | int | np.number)
            else (f" = {v}" if v is not None else "")
        )
        labels.append(f"{names[j]}{shown_v}")
    steps = [float(vals[j]) for j in shown]
    if rest:
        labels.append(f"{len(rest)} other column(s)")
        steps.append(float(vals[rest].sum()))
    base = float(e.base[0])
    fig = new_figure(6.4, 0.32 * (len(steps) + 2) + 1.3)
    ax = fig.add_subplot()
    pos = np.arange(len(steps))[::-1].astype(float) + 1
    start = base
    for y, d in zip(pos, steps, strict=True):
        ax.barh(y, d, left=start, color=_POS if d >= 0 else _NEG, height=0.6)
        ax.text(
            start + d, y, f" {d:+.3g}", va="center", ha="left" if d >= 0 else "right", fontsize=8
        )
        start += d
    ax.axvline(base, color=MUTED, linewidth=0.8, linestyle="--")
    ax.axvline(float(e.raw[row, 0]), color=INK, linewidth=0.8)
    ax.set_yticks(pos)
    ax.set_yticklabels(labels)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(e.output)
    suptitle(fig, f"Row {e.index[row]!s}: from the base value to the output")
    subtitle(ax, f"base {base:.4g} -> output {float(e.raw[row, 0]):.4g}; {e.method}")
    return fig
