"""Knowledge distillation: a fitted teacher (or an averaged ensemble) taught to a small student.

``distill()`` trains a student on the teacher's training rows plus synthetic rows (MUNGE or
mixup) labelled by the teacher, and reports teacher vs student vs the hard-label student on
held-out rows; ``train(method="distill_mlp")`` tunes distillation by resampling with the teacher
refitted in every resample (``distillation/model.py``, registered as a model by name).

The names below load on first use: the model registry imports ``distillation.model`` on every
first ``train()``, which must not pay for SciPy and the report (0.4 s) before any work starts.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Distilled, distill
    from .loss import distillation_loss
    from .student import Student
    from .teacher import Teacher
    from .transfer import mixup, munge

_EXPORTS = {
    "Distilled": ".api",
    "distill": ".api",
    "distillation_loss": ".loss",
    "Student": ".student",
    "Teacher": ".teacher",
    "mixup": ".transfer",
    "munge": ".transfer",
}

__all__ = ["Distilled", "Student", "Teacher", "distill", "distillation_loss", "mixup", "munge"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'leanfit.distillation' has no attribute {name!r}")
