"""Distillation as a model: inside each resample, fit the teacher on the training rows, build the
transfer set from them, and train a small network on the teacher's soft outputs.

Because the teacher is refitted inside every resample, the resampled performance of a student is
honest: no held-out row was ever seen by the teacher that labelled its transfer set. T, alpha,
the student's size, optimiser, learning rate, batch size and the augmentation multiple are
tunable parameters like any other; epochs is a sub-model axis (one fit per resample scores every
count: snapshots of one training, or one training per count under a schedule that depends on
the count, such as the default cosine).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from leanfit.nn import OPTIMIZERS

from ..models.base import (
    CLASSIFICATION,
    REGRESSION,
    Model,
    Param,
    TrainingData,
    expand_grid,
    get_model,
)

if TYPE_CHECKING:
    from .student import Student
from ..models.neural import EPOCH_SCHEDULES


class DistilledMLP(Model):
    """A network distilled from a teacher refitted on each resample's training rows.

    Options: ``teacher`` (a method name, required), ``teacher_params`` (its parameters, one value
    each; default: the first row of its default grid), ``teacher_options``, ``augment``
    ("munge", "mixup" or "none"), ``munge_p`` (0.5), ``munge_s`` (10), ``mixup_alpha`` (0.4),
    ``activation`` ("relu"), ``dropout`` (0), ``l2`` (0), ``schedule`` ("cosine"), ``device``
    ("auto"), ``num_threads`` (1). Synthetic rows are labelled by the teacher only.
    """

    name: ClassVar[str] = "distill_mlp"
    label: ClassVar[str] = "Distilled Multi-Layer Perceptron"
    engine: ClassVar[str] = "torch"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    tags: ClassVar[tuple[str, ...]] = ("neural network", "distillation", "model compression")
    params: ClassVar[tuple[Param, ...]] = (
        Param("T", "float", 1e-3, 100.0, log=True, label="Temperature", default=4.0),
        Param("alpha", "float", 0.0, 1.0, label="Hard-Label Weight", default=0.1),
        Param("units", "int", 1, 4096, label="#Hidden Units", default=128),
        Param("layers", "int", 1, 8, label="#Hidden Layers", default=2),
        Param("optimizer", "cat", choices=OPTIMIZERS, label="Optimizer", default="adam"),
        Param("lr", "float", 1e-6, 10.0, log=True, label="Learning Rate", default=2e-3),
        Param("batch_size", "int", 1, 1_000_000, label="Batch Size", default=256),
        Param("multiple", "float", 0.0, 1000.0, label="Augmentation Multiple", default=4.0),
        Param("epochs", "int", 1, 100_000, label="#Epochs", default=30),
    )
    option_names = (
        "teacher",
        "teacher_params",
        "teacher_options",
        "augment",
        "munge_p",
        "munge_s",
        "mixup_alpha",
        "activation",
        "dropout",
        "l2",
        "schedule",
        "device",
        "num_threads",
    )
    submodel: ClassVar[tuple[str, ...]] = ("epochs",)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("units", True),
        ("layers", True),
        ("epochs", True),
        ("multiple", True),
    )

    def check_task(self, mode: str, n_classes: int) -> None:
        """The teacher option must name a model that can teach this task."""
        from leanfit.distillation.teacher import qualifying_models
        from leanfit.distillation.transfer import AUGMENTATIONS

        if "teacher" not in self.options:
            raise ValueError(
                "distill_mlp needs options={'teacher': METHOD, 'teacher_params': {...}}: the "
                "model refitted on each resample's training rows to teach the student"
            )
        teacher = self._teacher()
        teacher.check_options()  # teacher_options
        if mode not in teacher.modes or (mode == CLASSIFICATION and not teacher.probabilities):
            raise ValueError(
                f"teacher {teacher.name!r} cannot teach {mode}: it needs "
                f"{'class probabilities or scores' if mode == CLASSIFICATION else 'predictions'}"
                + (
                    f"; models that qualify: {', '.join(qualifying_models())}"
                    if mode == CLASSIFICATION
                    else ""
                )
            )
        if self.options.get("augment", "munge") not in AUGMENTATIONS:
            raise ValueError(
                f"augment must be one of {list(AUGMENTATIONS)}, got {self.options['augment']!r}"
            )

    def _teacher(self) -> Model:
        t = get_model(self.options["teacher"])
        if "teacher_options" in self.options:
            t = type(t)(options=dict(self.options["teacher_options"]))
        return t

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """Temperatures 1, 2, 4, 8, ... with the other parameters at their defaults."""
        defaults = {p.name: p.default for p in self.params}
        defaults["T"] = [2.0**i for i in range(length)]
        return expand_grid(**defaults)

    def _teacher_params(self, teacher: Model, data: TrainingData) -> dict[str, Any]:
        from leanfit.tuning.plan import normalize_grid

        given = self.options.get("teacher_params")
        if given is None:
            grid = teacher.default_grid(data, 1)
        else:
            grid = normalize_grid(teacher, {k: [v] for k, v in dict(given).items()})
        return grid.iloc[0].to_dict()

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> list[Any]:
        """Teacher on these rows → transfer set → student; one Student per epoch count."""
        from leanfit.distillation.student import fit_mlp_students
        from leanfit.distillation.teacher import model_outputs
        from leanfit.distillation.transfer import augment, check_transfer_size, transfer_labels
        from leanfit.nn.training import TrainOptions

        teacher = self._teacher()
        tparams = self._teacher_params(teacher, data)
        tsub = {k: tparams[k] for k in teacher.submodel}
        tfit = teacher.fit(data, tparams, [tsub], seed)
        o = self.options
        X = np.asarray(data.X, dtype=float)
        k = data.n_classes if data.mode == CLASSIFICATION else 1
        multiple = float(params["multiple"])
        check_transfer_size(len(X), X.shape[1], k, multiple)
        synthetic = augment(
            X,
            o.get("augment", "munge"),
            multiple,
            seed,
            nominal=_binary_columns(X),
            munge_p=float(o.get("munge_p", 0.5)),
            munge_s=float(o.get("munge_s", 10.0)),
            mixup_alpha=float(o.get("mixup_alpha", 0.4)),
        )
        Xa = np.vstack([X, synthetic])
        teacher_out = model_outputs(teacher, tfit, Xa, tsub, data.mode)
        labels = transfer_labels(data.y, len(synthetic), data.mode == CLASSIFICATION)
        epochs = tuple(int(s["epochs"]) for s in subs)
        counts = sorted(set(epochs))
        options = TrainOptions(
            optimizer=str(params["optimizer"]),
            lr=float(params["lr"]),
            batch_size=int(params["batch_size"]),
            epochs=counts[-1],
            l2=float(o.get("l2", 0.0)),
            schedule=str(o.get("schedule", "cosine")),
            device=str(o.get("device", "auto")),
            num_threads=int(o.get("num_threads", 1)),
        )
        # Snapshots of one run score every epoch count, unless the schedule depends on the
        # count (cosine, step): then one training per count, as the mlp model does.
        runs = [[c] for c in counts] if options.schedule in EPOCH_SCHEDULES else [counts]
        by_epoch: dict[int, Student] = {}
        for run in runs:
            students = fit_mlp_students(
                Xa,
                labels,
                teacher_out,
                data.mode,
                data.n_classes,
                n_real=len(X),
                hidden=(int(params["units"]),) * int(params["layers"]),
                activation=str(o.get("activation", "relu")),
                dropout=float(o.get("dropout", 0.0)),
                T=float(params["T"]),
                alpha=float(params["alpha"]),
                options=replace(options, epochs=run[-1]),
                seed=seed,
                snapshot_epochs=tuple(run),
            )
            by_epoch.update(zip(run, students, strict=True))
        return [by_epoch[e] for e in epochs]

    # fit returns one Student per entry of subs, in order; predict receives the same subs.
    def predict(self, fitted: list[Any], X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        return np.stack([s.predict(X) for s in fitted])

    def predict_proba(
        self, fitted: list[Any], X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        return np.stack([s.predict_proba(X) for s in fitted])

    def describe_fit(self, fitted: list[Any]) -> dict[str, Any]:
        return {"best_epoch": fitted[-1].info.get("best_epoch")}


def _binary_columns(X: np.ndarray) -> list[tuple[int, int]]:
    """Columns holding only 0/1 (dummy-coded factors) are swapped, not perturbed, by MUNGE."""
    out = []
    for j in range(X.shape[1]):
        col = X[:, j]
        col = col[np.isfinite(col)]
        if col.size and np.all((col == 0) | (col == 1)):
            out.append((j, j + 1))
    return out
