"""``distill(teacher, ...)``: a fitted teacher's knowledge in a small student, with a report.

Honest evaluation: the student learns from the teacher's own training rows (plus synthetic rows
near them, labelled by the teacher), and the report scores teacher and students on ``test`` rows,
which must be rows the teacher never trained on (a warning counts test rows identical to training
rows). To tune T, alpha, the student's size and the rest by resampling, use
``train(method=DistilledMLP(options={"teacher": ...}))``, which refits the teacher inside every
resample instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leanfit.models.base import CLASSIFICATION

from .loss import check_temperature_alpha
from .report import compare_models, relative_figures
from .student import STUDENTS, Student, fit_mimic_student, fit_mlp_students
from .teacher import Teacher
from .transfer import (
    AUGMENTATIONS,
    augment,
    check_transfer_size,
    nominal_spans,
    transfer_labels,
)


@dataclass
class Distilled:
    """A distilled student with its teacher, the hard-label baseline and the comparison."""

    teacher: Teacher
    student: Student
    hard: Student | None
    settings: dict[str, Any]
    report: pd.DataFrame | None = None
    figures: dict[str, float] = field(default_factory=dict)
    n_transfer: int = 0

    def _X(self, newdata: Any) -> np.ndarray:
        from leanfit.frame import check_missing_rows

        encoder = self.teacher.dataset.encoder
        X = encoder.transform(newdata)
        # the student reads the raw model matrix: no imputation step of the teacher's applies
        check_missing_rows(
            encoder,
            X,
            takes_missing=False,
            who=f"the {self.student.kind} student",
            advice="impute those values before predicting (the student has no imputation "
            "step, whatever the teacher's pre-processing), or drop those rows",
        )
        return X

    def predict(self, newdata: Any) -> pd.Series:
        """The student's predicted classes (or values) for new rows."""
        index = newdata.index if isinstance(newdata, pd.DataFrame) else None
        pred = self.student.predict(self._X(newdata))
        ds = self.teacher.dataset
        if ds.mode == CLASSIFICATION:
            pred = pd.Categorical.from_codes(pred, categories=list(ds.levels))
        return pd.Series(pred, index=index, name=ds.target)

    def predict_proba(self, newdata: Any) -> pd.DataFrame:
        """The student's class probabilities, one column per class level."""
        index = newdata.index if isinstance(newdata, pd.DataFrame) else None
        prob = self.student.predict_proba(self._X(newdata))
        return pd.DataFrame(prob, columns=list(self.teacher.dataset.levels), index=index)

    def to_onnx(self) -> bytes:
        """The student as an ONNX graph (input "X": the numeric model matrix)."""
        return self.student.to_onnx()

    def __repr__(self) -> str:
        s = self.settings
        lines = [
            f"Distilled {s['student']} student from {self.teacher.name} "
            f"(T={s['T']:g}, alpha={s['alpha']:g}, {s['augment']} × {s['multiple']:g}: "
            f"{self.n_transfer:,} transfer rows)",
        ]
        if self.report is not None:
            lines += ["", self.report.to_string(float_format=lambda v: f"{v:.4g}")]
            for note in self.report.attrs.get("notes", []):
                lines.append(f"note: {note}")
        if self.figures:
            lines += ["", "  ".join(f"{k}={v:.4g}" for k, v in self.figures.items())]
        return "\n".join(lines)


def _encode_rows(teacher: Teacher, data: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Model-matrix rows and target codes of a DataFrame holding the teacher's columns."""
    from leanfit.frame import to_pandas

    ds = teacher.dataset
    data = to_pandas(data)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{what} must be a DataFrame with the predictors and {ds.target!r}")
    if ds.target not in data.columns:
        raise ValueError(f"{what} lacks the target column {ds.target!r}")
    missing = [c for c in ds.encoder.columns if c not in data.columns]
    if missing:
        raise ValueError(
            f"{what} lacks the teacher's predictor column(s) {missing}: teacher and student "
            "must use the same feature set"
        )
    X = ds.encoder.transform(data)
    y = data[ds.target]
    if ds.mode != CLASSIFICATION:
        return X, y.to_numpy(dtype=float)
    values = y.astype("string")
    unknown = sorted(set(values.dropna().unique()) - set(ds.levels))
    if unknown:
        raise ValueError(
            f"{what} has class(es) {unknown} the teacher was not trained on "
            f"(its classes: {list(ds.levels)})"
        )
    codes = {lev: i for i, lev in enumerate(ds.levels)}
    return X, np.array([codes[v] for v in values], dtype=np.int64)


def _overlap(a: np.ndarray, b: np.ndarray) -> int:
    """How many rows of ``b`` are identical to some row of ``a``."""

    def rows(m: np.ndarray) -> np.ndarray:
        m = np.ascontiguousarray(np.asarray(m, dtype=float))
        return m.view(np.dtype((np.void, m.dtype.itemsize * m.shape[1]))).ravel()

    return int(np.isin(rows(b), rows(a)).sum()) if len(a) and len(b) else 0


def check_settings(
    *, student: str, augment_with: str, T: float, alpha: float, options: Any
) -> None:
    """The distillation settings, checked before anything is fitted; errors name the value."""
    if student not in STUDENTS:
        raise ValueError(f"student must be one of {list(STUDENTS)}, got {student!r}")
    if augment_with not in AUGMENTATIONS:
        raise ValueError(f"augment_with must be one of {list(AUGMENTATIONS)}, got {augment_with!r}")
    check_temperature_alpha(T, alpha)
    options.check()


def distill(
    teacher: Any,
    data: Any = None,
    *,
    test: Any = None,
    student: str = "mlp",
    hidden: Sequence[int] = (128, 128),
    activation: str = "relu",
    dropout: float = 0.0,
    T: float = 4.0,
    alpha: float = 0.1,
    augment_with: str = "munge",
    multiple: float = 4.0,
    munge_p: float = 0.5,
    munge_s: float = 10.0,
    mixup_alpha: float = 0.4,
    optimizer: str = "adam",
    lr: float = 2e-3,
    batch_size: int = 256,
    epochs: int = 30,
    schedule: str = "cosine",
    l2: float = 0.0,
    early_stopping: bool = False,
    tree_depth: int = 8,
    teacher_weights: Sequence[float] | str | None = None,
    hard_baseline: bool = True,
    latency: bool = True,
    n_single: int = 10_000,
    seed: int = 0,
    num_threads: int = 1,
    device: str = "auto",
    progress: bool = False,
) -> Distilled:
    """Distil ``teacher`` (a fitted model, or a list averaged with ``teacher_weights``) into a
    student: "mlp" (trained with the T / alpha loss), "tree" or "linear" (regressing logits).

    ``data``: the rows the transfer set grows from (default: the teacher's training rows; a
    DataFrame with the teacher's columns and target otherwise). ``augment_with``: "munge",
    "mixup" or "none", adding ``multiple`` × len(data) synthetic rows. ``test``: held-out rows
    (with the target) for the report — teacher vs student vs the same student trained on hard
    labels only: accuracy / RMSE, fidelity, log-loss, parameters, and with ``latency`` the ONNX
    size and one-thread single-row / batch latency in ONNX Runtime.
    """
    from leanfit.nn.network import build_mlp
    from leanfit.nn.training import TrainOptions

    teach = Teacher.of(teacher, teacher_weights)
    ds = teach.dataset
    # -- every setting checked before anything is fitted --------------------------------------
    hidden = tuple(int(h) for h in hidden)
    options = TrainOptions(
        optimizer=optimizer,
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        schedule=schedule,
        l2=l2,
        early_stopping=early_stopping,
        device=device,
        num_threads=int(num_threads),
    )
    spec = _StudentSpec(
        student=student,
        hidden=hidden,
        activation=activation,
        dropout=dropout,
        options=options,
        seed=seed,
        progress=progress,
        tree_depth=tree_depth,
        l2=l2,
    )
    check_settings(student=student, augment_with=augment_with, T=T, alpha=alpha, options=options)
    k = _n_outputs(teach)
    build_mlp(ds.X.shape[1], k, hidden, activation, dropout)  # validates the architecture
    X, y = _source_rows(teach, data)
    check_transfer_size(len(X), X.shape[1], k, multiple)
    X_test, y_test = _test_rows(teach, test)
    # -- transfer set, labelled by the teacher; the student, and its hard-label baseline -------
    Xa, t_out, labels = _transfer_set(
        teach, X, y, augment_with, multiple, seed, munge_p=munge_p, munge_s=munge_s,
        mixup_alpha=mixup_alpha,
    )  # fmt: skip
    st = _fit_student(spec, teach, Xa, labels, t_out, len(X), T, alpha)
    hard = _fit_hard_baseline(spec, teach, X, y, labels, t_out) if hard_baseline else None
    settings = {
        "student": student,
        "hidden": hidden,
        "T": float(T),
        "alpha": float(alpha),
        "augment": augment_with,
        "multiple": float(multiple),
        "epochs": int(epochs),
        "optimizer": optimizer,
        "lr": float(lr),
        "batch_size": int(batch_size),
        "seed": seed,
    }
    out = Distilled(teach, st, hard, settings, n_transfer=len(Xa))
    if X_test is not None:
        _add_report(out, X_test, y_test, latency=latency, n_single=n_single)
    return out


@dataclass(frozen=True)
class _StudentSpec:
    """How a student is fitted: its kind and, for "mlp", architecture and training; for "tree"
    and "linear", depth and ridge penalty."""

    student: str
    hidden: tuple[int, ...]
    activation: str
    dropout: float
    options: Any  # leanfit.nn.training.TrainOptions
    seed: int
    progress: bool
    tree_depth: int
    l2: float


def _n_outputs(teach: Teacher) -> int:
    """The student's outputs: one per class, or one for regression."""
    return teach.n_classes if teach.dataset.mode == CLASSIFICATION else 1


def _source_rows(teach: Teacher, data: Any) -> tuple[np.ndarray, np.ndarray]:
    """The rows the transfer set grows from: ``data``, or the teacher's own training rows."""
    ds = teach.dataset
    if data is None:
        return np.asarray(ds.X, dtype=float), np.asarray(ds.y)
    return _encode_rows(teach, data, "data")


def _test_rows(teach: Teacher, test: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The encoded test rows (None without ``test``); warns when some were training rows."""
    if test is None:
        return None, None
    X_test, y_test = _encode_rows(teach, test, "test")
    shared = _overlap(teach.dataset.X, X_test)
    if shared:
        warnings.warn(
            f"{shared} of {len(X_test)} test rows are identical to rows the teacher was "
            "trained on; the report scores them too",
            stacklevel=3,  # distill()'s caller
        )
    return X_test, y_test


def _transfer_set(
    teach: Teacher,
    X: np.ndarray,
    y: np.ndarray,
    augment_with: str,
    multiple: float,
    seed: int,
    **augment_options: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The real rows plus ``multiple`` × as many synthetic ones near them: (rows, the
    teacher's outputs on them, the real rows' labels with the synthetic rows' marked missing)."""
    ds = teach.dataset
    synthetic = augment(
        X, augment_with, multiple, seed, nominal=nominal_spans(ds.encoder), **augment_options
    )
    Xa = np.vstack([X, synthetic])
    labels = transfer_labels(y, len(synthetic), ds.mode == CLASSIFICATION)
    return Xa, teach.outputs(Xa), labels


def _fit_student(
    spec: _StudentSpec,
    teach: Teacher,
    rows: np.ndarray,
    row_labels: np.ndarray,
    targets: np.ndarray,
    n_real: int,
    T: float,
    alpha: float,
) -> Student:
    """Fit one student: an MLP on the T / alpha loss, or a tree / linear model on the logits."""
    mode = teach.dataset.mode
    if spec.student == "mlp":
        return fit_mlp_students(
            rows,
            row_labels,
            targets,
            mode,
            _n_outputs(teach) if mode == CLASSIFICATION else 0,
            n_real=n_real,
            T=T,
            alpha=alpha,
            hidden=spec.hidden,
            activation=spec.activation,
            dropout=spec.dropout,
            options=spec.options,
            seed=spec.seed,
            progress=spec.progress,
        )[0]
    return fit_mimic_student(
        spec.student,
        rows,
        targets,
        mode,
        teach.n_classes,
        max_depth=spec.tree_depth,
        l2=max(spec.l2, 1e-6),
        seed=spec.seed,
    )


def _fit_hard_baseline(
    spec: _StudentSpec,
    teach: Teacher,
    X: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    t_out: np.ndarray,
) -> Student:
    """The same student on the real rows and their labels only (no teacher, no synthetic rows)."""
    classif = teach.dataset.mode == CLASSIFICATION
    if spec.student == "mlp":
        hard_targets = t_out[: len(X)]  # unused at alpha = 1
    else:
        hard_targets = _one_hot_logits(y, _n_outputs(teach)) if classif else y
    return _fit_student(spec, teach, X, labels[: len(X)], hard_targets, len(X), 1.0, 1.0)


def _add_report(
    out: Distilled, X_test: np.ndarray, y_test: Any, *, latency: bool, n_single: int
) -> None:
    """Score teacher, distilled student and hard-label baseline on the test rows."""
    kind = out.settings["student"]
    students = {f"student ({kind}, distilled)": out.student}
    if out.hard is not None:
        students[f"student ({kind}, hard labels)"] = out.hard
    out.report = compare_models(
        out.teacher, students, X_test, y_test, latency=latency, n_single=n_single
    )
    names = list(students)
    out.figures = relative_figures(out.report, names[0], names[1] if out.hard else None)


def _one_hot_logits(y: np.ndarray, k: int, scale: float = 5.0) -> np.ndarray:
    """Hard labels as logits for a regression student: +scale for the class, 0 elsewhere."""
    out = np.zeros((len(y), k))
    out[np.arange(len(y)), np.asarray(y, dtype=int)] = scale
    return out
