"""Stacking: a meta-model (any leanfit method, glmnet by default) trained with train() on the
members' held-out predictions, one column per member (per member and class for multi-class)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..control import Control
from ..tuning.result import TrainResult
from ..tuning.train import train


def feature_names(names: tuple[str, ...], levels: tuple[str, ...]) -> list[str]:
    """Member columns: the member's name (regression: its prediction; two classes: its
    probability of the first level), or ``member.level`` per class for more classes."""
    if len(levels) > 2:
        return [f"{m}.{lv}" for m in names for lv in levels]
    return list(names)


def features(P: np.ndarray, names: tuple[str, ...], levels: tuple[str, ...]) -> pd.DataFrame:
    """The meta-model's input: held-out predictions (members, rows[, classes]) as columns."""
    if P.ndim == 2:
        X = P.T
    elif len(levels) == 2:
        X = P[:, :, 0].T
    else:
        X = P.transpose(1, 0, 2).reshape(P.shape[1], -1)
    return pd.DataFrame(X, columns=feature_names(names, levels))


@dataclass(frozen=True)
class Stacked:
    """A meta-model on the member columns."""

    meta: TrainResult
    names: tuple[str, ...]
    levels: tuple[str, ...]

    def apply(self, P: np.ndarray) -> np.ndarray:
        X = features(P, self.names, self.levels)
        if not self.levels:
            return self.meta.predict(X).to_numpy(dtype=float)
        if self.meta.model.probabilities:
            return self.meta.predict_proba(X)[list(self.levels)].to_numpy(dtype=float)
        codes = self.meta.predict(X).cat.codes.to_numpy()
        return np.eye(len(self.levels))[codes]


def default_meta_control(classification: bool, seed: int) -> Control:
    """5-fold CV for tuning the meta-model (class probabilities kept for classification)."""
    return Control(method="cv", number=5, class_probs=classification, seed=seed)


def fit_stack(
    P: np.ndarray,
    y: np.ndarray,
    names: tuple[str, ...],
    levels: tuple[str, ...],
    meta: Any,
    meta_control: Control | None,
    meta_args: dict[str, Any],
    seed: int,
) -> Stacked:
    """Train the meta-model on the member columns; a failure names the columns it saw."""
    X = features(P, names, levels)
    target = (
        pd.Series(pd.Categorical.from_codes(y, categories=list(levels)), name=".outcome")
        if levels
        else pd.Series(y, name=".outcome", dtype=float)
    )
    control = meta_control or default_meta_control(bool(levels), seed)
    args = {"task": "classification" if levels else "regression", "seed": seed, **meta_args}
    try:
        fit = train(X, target, method=meta, control=control, **args)
    except Exception as err:
        raise ValueError(
            f"the meta-model {getattr(meta, 'name', meta)!r} failed on the member columns "
            f"{list(X.columns)}: {err}"
        ) from err
    return Stacked(meta=fit, names=names, levels=levels)


def meta_held_out(meta: TrainResult, n: int, k: int) -> np.ndarray:
    """The meta-model's held-out outputs at its chosen candidate, one per row of its training
    data: (n, k) class probabilities (one-hot classes when it gives none) or (n,) values."""
    assert meta.scores is not None
    c = meta.best_index
    out = np.full((n, k) if k else (n,), np.nan)
    for _, cands, rows, pred, prob in meta.scores.saved:
        if c not in cands:
            continue
        s = cands.index(c)
        if not k:
            out[rows] = pred[s]
        elif prob is not None and meta.model.probabilities:
            out[rows] = prob[s]
        else:
            out[rows] = np.eye(k)[pred[s].astype(np.int64)]
    return out
