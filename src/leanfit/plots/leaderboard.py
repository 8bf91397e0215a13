"""The leaderboard plot: each method's per-resample metric as a box with every resample a dot,
best method at the top, so the spread behind a ranking is seen beside its means."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._style import INK, MUTED, color, model_boxes, models_axis, new_figure, suptitle, themed

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@themed
def plot_leaderboard(wide: pd.DataFrame, metric: str, maximize: bool = True) -> Figure:
    """Box-and-dot plot of a Resample x method table of ``metric`` (columns in rank order, the
    first drawn at the top); the diamond is each method's mean, missing resamples are left out."""
    models = [str(c) for c in wide.columns]
    if not models:
        raise ValueError("plot_leaderboard needs at least one method column")
    data = [pd.to_numeric(wide[c], errors="coerce").to_numpy(float) for c in wide.columns]
    data = [v[np.isfinite(v)] for v in data]
    fig = new_figure(6.4, 0.42 * len(models) + 1.6)
    ax = fig.add_subplot()
    labels = [f"{k + 1}. {m}" for k, m in enumerate(models)]
    pos = models_axis(ax, labels)
    model_boxes(ax, data, pos, fliers=False, alpha=0.3)
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    for i, v in enumerate(data):
        jitter = rng.uniform(-0.17, 0.17, size=len(v))
        ax.scatter(v, pos[i] + jitter, s=12, color=color(i), alpha=0.75, zorder=3, linewidths=0)
    means = [v.mean() if len(v) else np.nan for v in data]
    ax.scatter(means, pos, marker="D", s=26, color=INK, zorder=4)
    ax.set_xlabel(f"Resampled {metric} ({'higher' if maximize else 'lower'} is better)")
    n = int(wide.shape[0])
    fig.supxlabel(
        "dots: resamples; box: median and quartiles; whiskers: 1.5 IQR; diamond: mean",
        fontsize=8.5,
        color=MUTED,
    )
    suptitle(fig, f"Leaderboard: {len(models)} methods on the same {n} resamples")
    return fig
