"""Knowledge distillation: a fitted teacher (or an averaged ensemble) taught to a small student.

``distill()`` trains a student on the teacher's training rows plus synthetic rows (MUNGE or
mixup) labelled by the teacher, and reports teacher vs student vs the hard-label student on
held-out rows; ``train(method="distill_mlp")`` tunes distillation by resampling with the teacher
refitted in every resample (``distillation/model.py``, registered as a model by name).
"""

from .api import Distilled, distill
from .loss import distillation_loss
from .student import Student
from .teacher import Teacher
from .transfer import mixup, munge

__all__ = ["Distilled", "Student", "Teacher", "distill", "distillation_loss", "mixup", "munge"]
