"""The compression front: every candidate's metric against its size, the Pareto front joined
and the chosen candidate ringed, so the price of each byte saved is seen at a glance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._style import CHOSEN, INK, MUTED, color, new_figure, suptitle, themed

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@themed
def plot_front(table: pd.DataFrame, metric: str, maximize: bool = True) -> Figure:
    """``metric`` against size in bytes (log scale) for a compression table (``Compressed.table``:
    name, technique, size_bytes, p50_us, on_front, chosen); marker area grows with single-row
    latency, one colour per technique."""
    if metric not in table or table.empty:
        raise ValueError(f"plot_front needs a table with a {metric!r} column and rows")
    fig = new_figure(6.8, 4.4)
    ax = fig.add_subplot()
    p50 = table["p50_us"].to_numpy(dtype=float)
    finite = p50[np.isfinite(p50)]
    scale = float(np.max(finite)) if len(finite) else 1.0
    areas = 24 + 160 * np.sqrt(np.where(np.isfinite(p50), p50, 0.0) / scale)
    for i, tech in enumerate(dict.fromkeys(table["technique"])):
        rows = (table["technique"] == tech).to_numpy()
        ax.scatter(
            table.loc[rows, "size_bytes"],
            table.loc[rows, metric],
            s=areas[rows],
            color=color(i),
            alpha=0.8,
            label=tech,
            zorder=3,
            linewidths=0,
        )
    front = table[table["on_front"]].sort_values("size_bytes")
    ax.plot(front["size_bytes"], front[metric], color=INK, lw=0.9, ls="--", zorder=2,
            label="front")  # fmt: skip
    chosen = table[table["chosen"]]
    if len(chosen):
        ax.scatter(chosen["size_bytes"], chosen[metric], s=260, facecolors="none",
                   edgecolors=CHOSEN, linewidths=1.6, zorder=4, label="chosen")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("size (bytes, log scale)")
    ax.set_ylabel(f"test {metric} ({'higher' if maximize else 'lower'} is better)")
    ax.legend(fontsize=8, frameon=False, loc="best")
    fig.supxlabel("marker area: single-row p50 latency on one thread", fontsize=8.5, color=MUTED)
    suptitle(fig, f"Compression: {len(table)} candidates on the test rows")
    return fig
