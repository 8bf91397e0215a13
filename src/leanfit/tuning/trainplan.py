"""TrainPlan: everything train() will do, validated, with nothing fitted yet.

Built by ``train.plan_train`` and run by ``train.run_plan``; its own module so that what reads
a plan (``persist.py``: what identifies a stored run) needs nothing from train() itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..control import Control
from ..execute import Context, TaskResult
from ..frame import Dataset
from ..models.base import Model
from ..splits import Resamples
from .plan import Task
from .result import Scores, TrainResult

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["TrainPlan"]


@dataclass(frozen=True)
class TrainPlan:
    """Everything train() will do, validated, with nothing fitted yet."""

    model: Model
    control: Control
    dataset: Dataset
    context: Context
    candidates: pd.DataFrame
    metric: str
    maximize: bool
    seed: int
    metric_names: list[str]
    resamples: Resamples | None
    tasks: tuple[Task, ...]
    # Bayesian or genetic search: parameter -> Range, Choice or fixed value (tuning/space.py);
    # the candidates and tasks are then empty until the search asks for them.
    space: Mapping[str, Any] | None = None

    @property
    def fits_per_resample(self) -> int:
        """Model fits per resample: the number of fit groups (sub-model trick applied)."""
        return len(self.context.groups)

    def stored_results(self, store: Store, run_id: int) -> list[TaskResult]:
        """The results of this plan's tasks already in the store's run ``run_id``."""
        keys = {(t.resample, t.group) for t in self.tasks}
        return [r for r in store.done_tasks(run_id) if (r.resample, r.group) in keys]

    def scores_of(self, results: Iterable[TaskResult]) -> Scores:
        """Score task results of this plan into a fresh Scores (pooled under LOOCV)."""
        assert self.resamples is not None, "a plan without resamples has no tasks to score"
        scores = Scores.empty(
            len(self.resamples), len(self.candidates), self.metric_names, self.control.method
        )
        by_key = {(t.resample, t.group): t for t in self.tasks}
        for r in results:
            scores.add(r, self.context, by_key[(r.resample, r.group)], self.control)
        if self.control.method == "loocv":
            scores.pool(self.context, self.control)
        return scores

    def empty_result(self) -> TrainResult:
        """A TrainResult of this plan with no scores and no final model yet."""
        return TrainResult(
            model=self.model,
            control=self.control,
            dataset=self.dataset,
            context=self.context,
            candidates=self.candidates,
            metric=self.metric,
            maximize=self.maximize,
            seed=self.seed,
            resamples=self.resamples,
            scores=None,
            metric_names=self.metric_names,
        )
