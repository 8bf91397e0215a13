"""Teachers: one fitted leanfit model, several averaged with weights, or an ensemble
(``lf.ensemble``'s result, taken duck-typed: its members' outputs mixed by its own combiner).

A teacher answers ``outputs(X)`` on the model matrix: logits for classification (the engine's raw
margins where it has them — LightGBM / gbm — else the log of its probabilities clipped at 1e-7),
predictions for regression. Several members are mixed in probability space (the log of the
weighted mean of their probabilities) or averaged (regression).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import softmax

from leanfit.execute import predict_group
from leanfit.models.base import CLASSIFICATION, registry

if TYPE_CHECKING:
    from leanfit.frame import Dataset
    from leanfit.tuning.result import TrainResult

PROBA_FLOOR = 1e-7


def qualifying_models() -> list[str]:
    """Registered classification models that give class probabilities (usable as teachers)."""
    return [
        name
        for name, cls in registry().items()
        if cls.probabilities and CLASSIFICATION in cls.modes
    ]


def _log_proba(proba: np.ndarray) -> np.ndarray:
    return np.log(np.clip(proba, PROBA_FLOOR, 1.0))


def model_outputs(
    model: Any, fitted: Any, X: np.ndarray, sub: dict[str, Any], mode: str
) -> np.ndarray:
    """A fitted engine's logits (n, K) or predictions (n,) on (pre-processed) matrix rows."""
    if mode != CLASSIFICATION:
        return np.asarray(model.predict(fitted, X, [sub])[0], dtype=float)
    raw = model.predict_raw(fitted, X, [sub])
    if raw is not None:
        raw = np.asarray(raw[0], dtype=float)
        return np.column_stack([np.zeros(len(raw)), raw]) if raw.ndim == 1 else raw
    return _log_proba(np.asarray(model.predict_proba(fitted, X, [sub])[0], dtype=float))


def member_outputs(res: TrainResult, X: np.ndarray) -> np.ndarray:
    """One fitted TrainResult's logits or predictions on model-matrix rows (its pre-processing
    applied first)."""
    pp = res.final_preprocess
    Xp = pp.transform(X) if pp is not None else X
    return model_outputs(res.model, res.final_model, Xp, res._sub(), res.dataset.mode)


@dataclass
class Teacher:
    """The model(s) a student learns from, with the data recipe they share."""

    members: list[TrainResult]
    weights: np.ndarray
    #: an ensemble (``lf.ensemble``'s result) whose combiner mixes the members, or None
    ensemble: Any = None

    @classmethod
    def of(cls, teacher: Any, weights: Sequence[float] | str | None = None) -> Teacher:
        """Wrap a TrainResult, a list of them, or a Teacher; check they can teach together.

        ``weights``: None (equal), a list (one per member) or "metric" (each member's resampled
        metric of its chosen candidate; the inverse for metrics to minimise, such as RMSE).
        """
        if isinstance(teacher, Teacher):
            return teacher
        if _is_ensemble(teacher):
            if weights is not None:
                raise ValueError(
                    "teacher_weights does not apply to an ensemble teacher: its own combiner "
                    f"({teacher.method}) weighs its members"
                )
            members = list(teacher.members.values())
            for i, m in enumerate(members):
                if m.final_model is None:
                    raise ValueError(
                        f"teacher member {i} ({m.method}) has no final model to teach with"
                    )
            return cls(members, np.full(len(members), 1.0 / len(members)), ensemble=teacher)
        members = list(teacher) if isinstance(teacher, (list, tuple)) else [teacher]
        if not members:
            raise ValueError("teacher: give at least one fitted model")
        for i, m in enumerate(members):
            _check_member(m, i)
        first = members[0]
        for i, m in enumerate(members[1:], start=1):
            if m.dataset.mode != first.dataset.mode:
                raise ValueError(
                    f"teacher members disagree on the task: member 0 is {first.dataset.mode}, "
                    f"member {i} ({m.method}) is {m.dataset.mode}"
                )
            _same_recipe(
                first.dataset,
                m.dataset,
                f"teacher member 0 ({first.method})",
                f"teacher member {i} ({m.method})",
            )
        return cls(members, _weights(members, weights))

    # -- what the members share ----------------------------------------------------------
    @property
    def dataset(self) -> Dataset:
        return self.members[0].dataset

    @property
    def mode(self) -> str:
        return self.dataset.mode

    @property
    def n_classes(self) -> int:
        return len(self.dataset.levels)

    @property
    def name(self) -> str:
        if self.ensemble is not None:
            return f"ensemble ({self.ensemble.method}) of {', '.join(self.ensemble.names)}"
        if len(self.members) == 1:
            return self.members[0].method
        parts = [f"{w:.2f}·{m.method}" for m, w in zip(self.members, self.weights, strict=True)]
        return " + ".join(parts)

    # -- predictions ----------------------------------------------------------------------
    def outputs(self, X: np.ndarray, chunk: int = 50_000) -> np.ndarray:
        """Logits (n, K) or predictions (n,) on model-matrix rows, computed in chunks."""
        parts = [self._outputs(X[i : i + chunk]) for i in range(0, len(X), chunk)]
        return np.concatenate(parts) if parts else self._outputs(X)

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        if self.ensemble is not None:
            Q = ensemble_outputs(self.ensemble, X)
            return _log_proba(Q) if self.mode == CLASSIFICATION else Q
        if len(self.members) == 1:
            return member_outputs(self.members[0], X)
        outs = [member_outputs(m, X) for m in self.members]
        if self.mode != CLASSIFICATION:
            return sum(w * o for w, o in zip(self.weights, outs, strict=True))
        mixed = sum(w * softmax(o, axis=1) for w, o in zip(self.weights, outs, strict=True))
        return _log_proba(mixed)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.outputs(X), axis=1)


def _is_ensemble(obj: Any) -> bool:
    """An EnsembleResult (fusion sits above distillation, so it is recognised by its parts)."""
    return all(hasattr(obj, a) for a in ("members", "combiner", "heldout", "names"))


def ensemble_outputs(ens: Any, X: np.ndarray) -> np.ndarray:
    """An ensemble's probabilities (n, K) or predictions (n,) on model-matrix rows: each member
    laid out as the ensemble's held-out predictions (probabilities, or its class as a 0/1 row),
    then its combiner, as ``EnsembleResult.predict_proba`` computes them on a frame."""
    parts = []
    for name, has_prob in zip(ens.names, ens.heldout.has_prob, strict=True):
        res = ens.members[name]
        classification = res.dataset.mode == CLASSIFICATION
        ctx = res.context
        if classification and has_prob:
            ctx = dataclasses.replace(ctx, class_probs=True)
        pred, prob = predict_group(ctx, res.final_preprocess, res.final_model, X, [res._sub()])
        if not classification:
            parts.append(np.asarray(pred[0], dtype=float))
        elif has_prob and prob is not None:
            parts.append(np.asarray(prob[0], dtype=float))
        else:
            k = len(res.dataset.levels)
            parts.append(np.eye(k)[np.asarray(pred[0], dtype=np.int64)])
    return np.asarray(ens.combiner.apply(np.stack(parts)), dtype=float)


def _check_member(m: Any, i: int) -> None:
    from leanfit.tuning.result import TrainResult

    if not isinstance(m, TrainResult):
        raise TypeError(
            f"teacher member {i} is a {type(m).__name__}; give a fitted leanfit model "
            "(the result of lf.train) or a list of them"
        )
    if m.final_model is None:
        raise ValueError(f"teacher member {i} ({m.method}) has no final model to teach with")
    if m.dataset.mode == CLASSIFICATION and not m.model.probabilities:
        raise ValueError(
            f"teacher member {i} ({m.method}) gives no class probabilities or scores, so it "
            f"cannot teach; models that qualify: {', '.join(qualifying_models())}"
        )


def _same_recipe(a: Dataset, b: Dataset, name_a: str, name_b: str) -> None:
    """Two datasets must have the same predictor columns and classes to share a student."""
    if tuple(a.encoder.feature_names) != tuple(b.encoder.feature_names):
        only_a = sorted(set(a.encoder.feature_names) - set(b.encoder.feature_names))
        only_b = sorted(set(b.encoder.feature_names) - set(a.encoder.feature_names))
        raise ValueError(
            f"{name_a} and {name_b} use different features (only in the first: {only_a}; only "
            f"in the second: {only_b}; or a different order); they must share one feature set"
        )
    if tuple(a.levels) != tuple(b.levels):
        raise ValueError(
            f"{name_a} and {name_b} have different classes: {list(a.levels)} vs {list(b.levels)}"
        )


def _weights(members: list[TrainResult], weights: Sequence[float] | str | None) -> np.ndarray:
    n = len(members)
    if weights is None:
        w = np.ones(n)
    elif isinstance(weights, str):
        if weights != "metric":
            raise ValueError(f"teacher weights must be a list or 'metric', got {weights!r}")
        w = np.array([_metric_weight(m) for m in members])
    else:
        w = np.asarray(list(weights), dtype=float)
        if w.shape != (n,):
            raise ValueError(f"teacher weights: {n} members need {n} weights, got {len(w)}")
    if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
        raise ValueError(f"teacher weights must be >= 0 with a positive sum, got {w.tolist()}")
    return w / w.sum()


def _metric_weight(m: TrainResult) -> float:
    row = m.results.iloc[m.best_index] if m.best_index >= 0 else None
    value = float(row[m.metric]) if row is not None and m.metric in row else np.nan
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"teacher {m.method}: no positive resampled {m.metric} to weight by; pass weights="
        )
    return value if m.maximize else 1.0 / value
