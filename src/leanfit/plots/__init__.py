"""Plots of leanfit results as standalone matplotlib Figures (caret's plot.train, bwplot, dotplot,
splom, ... in one consistent theme).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global figure
registry, works headless); show it in a notebook or save it with ``fig.savefig(path)``.
matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

from ._style import PALETTE, THEME
from .compare import (
    plot_bland_altman,
    plot_box,
    plot_density,
    plot_diff,
    plot_dot,
    plot_splom,
)
from .heldout import plot_calibration, plot_confusion, plot_pr, plot_roc
from .leaderboard import plot_leaderboard
from .other import plot_importance, plot_learning_curve
from .train import plot_front, plot_resample_distribution, plot_tuning

__all__ = [
    "PALETTE",
    "THEME",
    "plot_bland_altman",
    "plot_box",
    "plot_calibration",
    "plot_confusion",
    "plot_density",
    "plot_diff",
    "plot_dot",
    "plot_front",
    "plot_importance",
    "plot_leaderboard",
    "plot_learning_curve",
    "plot_pr",
    "plot_resample_distribution",
    "plot_roc",
    "plot_splom",
    "plot_tuning",
]
