"""What an executor runs: a fit group (candidates scored from one fit) on one resample.

Planned by ``tuning/plan.py``; defined here, below tuning, so the executors need nothing above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FitGroup", "Task"]


@dataclass(frozen=True)
class FitGroup:
    """Candidates scored from one fit: the shared parameters and one ``sub`` dict per candidate."""

    params: dict[str, Any]
    subs: list[dict[str, Any]]
    candidates: tuple[int, ...]


@dataclass(frozen=True)
class Task:
    """One fit group fitted on one resample's training rows and scored on its evaluation rows."""

    resample: int  # position in the Resamples; -1 for the apparent (all rows) fit
    group: int
    seed: int
    train: np.ndarray
    evals: dict[str, np.ndarray] = field(default_factory=dict)  # name -> rows to predict
