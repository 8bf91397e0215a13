"""Feature selection validated by outer resampling: caret's ``rfe``, ``sbf``, ``gafs``, ``safs``.

Every wrapper repeats the whole selection inside each outer resample, on its training rows only,
and scores the chosen subset on the held-out rows, so the reported performance includes the
selection (a selection made once on all rows and then resampled is optimistically biased).
Engines and pandas load on first use; importing this package costs only numpy.
"""

from __future__ import annotations

from .rfe import RFEResult, pick_size_best, pick_size_tolerance, rfe
from .sbf import SBFResult, anova_scores, cor_scores, sbf
from .search import SearchResult, gafs, safs

__all__ = [
    "RFEResult",
    "SBFResult",
    "SearchResult",
    "anova_scores",
    "cor_scores",
    "gafs",
    "pick_size_best",
    "pick_size_tolerance",
    "rfe",
    "safs",
    "sbf",
]
