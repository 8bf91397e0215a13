"""Model fusion from stored held-out predictions: Caruana selection, weighted averaging, vote,
stacking and blending, with no base model refitted and an honestly resampled estimate."""

from __future__ import annotations

from .build import METHODS, EnsembleResult, ensemble

__all__ = ["METHODS", "EnsembleResult", "ensemble"]
