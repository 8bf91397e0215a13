"""The one theme every leanfit plot uses, and small figure helpers shared by the plot modules.

matplotlib is imported inside the helpers only, so importing this module costs nothing; the
theme is applied per call with ``matplotlib.rc_context`` and figures are plain ``Figure``
objects (no pyplot, no global figure registry).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

# Okabe-Ito colour-blind-safe qualitative palette (yellow moved last: weak on white) + greys.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # green
    "#CC79A7",  # purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#999999",  # grey
    "#F0E442",  # yellow
)
INK = "#262626"  # text and reference lines
MUTED = "#6E6E6E"  # subtitles and secondary annotations
CHOSEN = "#000000"  # ring around the chosen candidate

THEME: MappingProxyType[RcKeyType, Any] = MappingProxyType(
    {
        "figure.facecolor": "white",
        "figure.dpi": 100,
        "figure.titlesize": 12,
        "figure.titleweight": "bold",
        "figure.constrained_layout.use": True,
        "savefig.facecolor": "white",
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "sans-serif"],
        "font.size": 10,
        "text.color": INK,
        "axes.facecolor": "white",
        "axes.edgecolor": "#8C8C8C",
        "axes.linewidth": 0.8,
        "axes.labelcolor": INK,
        "axes.labelsize": 10,
        "axes.titlesize": 10,
        "axes.titleweight": "normal",
        "axes.titlelocation": "left",
        "axes.titlepad": 6,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.axisbelow": True,
        "axes.prop_cycle": "cycler('color', " + repr(list(PALETTE)) + ")",
        "grid.color": "#E3E3E3",
        "grid.linewidth": 0.8,
        "grid.linestyle": "-",
        "xtick.color": "#4D4D4D",
        "ytick.color": "#4D4D4D",
        "xtick.labelcolor": INK,
        "ytick.labelcolor": INK,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.frameon": False,
        "legend.fontsize": 9,
        "legend.title_fontsize": 9,
        "lines.linewidth": 1.8,
        "lines.markersize": 6,
        "patch.linewidth": 0.8,
        "image.cmap": "viridis",
    }
)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def themed(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a plot function inside ``rc_context(THEME)`` so every figure shares one look."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        import matplotlib

        with matplotlib.rc_context(dict(THEME)):
            return fn(*args, **kwargs)

    return wrapper


def color(i: int) -> str:
    """The i-th palette colour (cycling), so a model or group keeps one colour everywhere."""
    return PALETTE[i % len(PALETTE)]


def new_figure(width: float, height: float) -> Figure:
    """A standalone Figure (not registered with pyplot) of the given size in inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def panels(
    n: int,
    *,
    ncols: int | None = None,
    size: tuple[float, float] = (3.6, 3.0),
    sharex: bool = False,
    sharey: bool = False,
    extra: tuple[float, float] = (0.0, 0.6),
) -> tuple[Figure, list[Axes]]:
    """A figure with ``n`` panels on a grid (unused grid cells removed), in reading order."""
    ncols = ncols or min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = new_figure(size[0] * ncols + extra[0], size[1] * nrows + extra[1])
    grid = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False)
    axes = list(grid.ravel())
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def models_axis(ax: Axes, models: list[str]) -> np.ndarray:
    """Models on the y axis, the first at the top (caret's horizontal box / dot plots); their
    positions."""
    pos = np.arange(len(models))[::-1].astype(float)
    ax.set_yticks(pos, models)
    ax.set_ylim(-0.6, len(models) - 0.4)
    ax.grid(False, axis="y")
    return pos


def model_boxes(
    ax: Axes, data: list[np.ndarray], pos: np.ndarray, *, fliers: bool, alpha: float
) -> Any:
    """Horizontal box-and-whisker plots of each model's values at ``pos``, in model colours."""
    flierprops = {"marker": "o", "markersize": 4, "markerfacecolor": MUTED, "alpha": 0.7}
    box = ax.boxplot(
        data,
        positions=pos,
        manage_ticks=False,
        orientation="horizontal",
        widths=0.55,
        patch_artist=True,
        showfliers=fliers,
        medianprops={"color": INK, "linewidth": 1.6},
        whiskerprops={"color": MUTED},
        capprops={"color": MUTED},
        flierprops=flierprops,
    )
    for i, patch in enumerate(box["boxes"]):
        patch.set_facecolor(color(i))
        patch.set_alpha(alpha)
        patch.set_edgecolor(color(i))
    return box


def suptitle(fig: Figure, text: str) -> None:
    """The figure's bold title, left-aligned and wrapped to the figure width (never clipped)."""
    import textwrap

    width = max(30, int(fig.get_figwidth() * 9.8))
    fig.suptitle(textwrap.fill(text, width, break_on_hyphens=False), x=0.02, ha="left")


def subtitle(ax: Axes, text: str) -> None:
    """A small grey explanatory line above a panel (what is circled, what was held fixed),
    wrapped to the panel's width."""
    import textwrap

    width = max(
        30, int(ax.get_position().width * ax.figure.get_figure(root=True).get_figwidth() * 17)
    )
    lines = [textwrap.fill(line, width, break_on_hyphens=False) for line in text.splitlines()]
    ax.set_title("\n".join(lines), fontsize=8.5, color=MUTED, loc="left")


def fmt(v: Any) -> str:
    """A compact label for a parameter or metric value (ints stay ints, floats 4 digits)."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return f"{float(v):.4g}"
    return str(v)


def kde(values: np.ndarray, grid: np.ndarray) -> np.ndarray | None:
    """Gaussian kernel density of ``values`` on ``grid``; None when it is undefined (n < 2 or
    all values equal)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2 or np.ptp(values) == 0:
        return None
    from scipy.stats import gaussian_kde

    return gaussian_kde(values)(grid)


def padded_range(values: np.ndarray, pad: float = 0.1) -> tuple[float, float]:
    """The range of the finite ``values`` widened by ``pad`` of its width (or ±0.5 if flat)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    lo, hi = float(v.min()), float(v.max())
    width = hi - lo if hi > lo else max(abs(hi), 1.0)
    return lo - pad * width, hi + pad * width


def choose_metric(metric: str | None, available: list[str] | tuple[str, ...], default: str) -> str:
    """Validate one metric name against what was computed (listing the choices if it is not)."""
    metric = default if metric is None else metric
    if metric not in available:
        raise ValueError(
            f"metric {metric!r} was not computed; available metrics: {list(available)}"
        )
    return metric


def choose_metrics(
    metric: str | list[str] | tuple[str, ...] | None, available: tuple[str, ...] | list[str]
) -> list[str]:
    """One, several or (None) all metrics, each validated against the available ones."""
    if metric is None:
        return list(available)
    wanted = [metric] if isinstance(metric, str) else list(metric)
    for m in wanted:
        choose_metric(m, available, m)
    return wanted
