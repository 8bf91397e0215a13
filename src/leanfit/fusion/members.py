"""The members of an ensemble and their stored held-out predictions, checked and lined up.

Nothing is refitted: each member's chosen candidate contributes the held-out predictions that
train() kept (``Control(save_predictions="final"|"all")``), averaged per row when a row was held
out more than once (bootstrap, repeated CV), as caretEnsemble does.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..compare import named_results
from ..models.base import CLASSIFICATION
from ..tuning.result import TrainResult


@dataclass(frozen=True, eq=False)
class HeldOut:
    """Every member's held-out predictions on the same rows.

    ``P`` is (members, rows, classes) class probabilities for classification (a member without
    saved probabilities contributes its predicted class as a 0/1 row: ``has_prob`` False) and
    (members, rows) predictions for regression. ``rows`` are the training rows they belong to.
    """

    names: tuple[str, ...]
    mode: str
    levels: tuple[str, ...]
    y: np.ndarray
    rows: np.ndarray
    P: np.ndarray
    has_prob: tuple[bool, ...]
    resample_hash: str

    @property
    def classification(self) -> bool:
        return self.mode == CLASSIFICATION


def named_fits(fits: Mapping[str, Any] | Sequence[Any]) -> tuple[list[str], list[TrainResult]]:
    """Names and fits: a mapping names them; a list takes method names made unique (gbm, gbm.1)."""
    return named_results(fits, "an ensemble")


def check_members(names: list[str], fits: list[TrainResult]) -> None:
    """Refuse members an ensemble cannot be built from, naming the member and the fix."""
    for name, fit in zip(names, fits, strict=True):
        if fit.scores is None or fit.resamples is None:
            raise ValueError(
                f"model {name!r} was fitted with Control(method='none'): it has no held-out "
                "predictions to build an ensemble from"
            )
        if fit.best_index < 0:
            raise ValueError(f"model {name!r} has no chosen candidate (best_index is unset)")
        if fit.control.save_predictions in (False, "none") or not fit.scores.saved:
            raise ValueError(
                f"model {name!r} kept no held-out predictions: train it with "
                "Control(save_predictions='final') (or 'all') to build an ensemble from it"
            )
    first, ref = names[0], fits[0]
    for name, fit in zip(names[1:], fits[1:], strict=True):
        if fit.dataset.mode != ref.dataset.mode:
            raise ValueError(
                f"models {first!r} ({ref.dataset.mode}) and {name!r} ({fit.dataset.mode}) have "
                "different tasks: an ensemble combines models of one task"
            )
        if tuple(fit.dataset.levels) != tuple(ref.dataset.levels):
            raise ValueError(
                f"models {first!r} and {name!r} have different class levels: "
                f"{list(ref.dataset.levels)} and {list(fit.dataset.levels)}"
            )
        a, b = ref.resamples, fit.resamples
        assert a is not None and b is not None  # checked above
        if a.hash != b.hash:
            raise ValueError(
                f"models {first!r} and {name!r} were resampled on different rows (resample "
                f"hashes {a.hash[:16]}... and {b.hash[:16]}...): train them with the same seed "
                "and Control (or Control(index=...)) so their held-out predictions line up"
            )
        if len(fit.dataset.y) != len(ref.dataset.y) or not np.array_equal(
            fit.dataset.y, ref.dataset.y
        ):
            raise ValueError(
                f"models {first!r} and {name!r} were trained on different targets "
                f"({ref.dataset.target!r}, {fit.dataset.target!r}): train them on the same rows"
            )


def _member(fit: TrainResult, n: int, k: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """One member's held-out predictions averaged per row: (sum / count, count, has_prob)."""
    assert fit.scores is not None
    c = fit.best_index
    width = max(k, 1)
    total = np.zeros((n, width))
    count = np.zeros(n)
    has_prob = True
    for _, cands, rows, pred, prob in fit.scores.saved:
        if c not in cands:
            continue
        s = cands.index(c)
        if k == 0:
            total[rows, 0] += pred[s]
        elif prob is not None:
            total[rows] += prob[s]
        else:
            has_prob = False
            total[rows, pred[s].astype(np.int64)] += 1.0
        count[rows] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count[:, None]
    return (mean[:, 0] if k == 0 else mean), count, has_prob


def held_out(names: list[str], fits: list[TrainResult]) -> HeldOut:
    """Line up the members' held-out predictions on the rows every member predicted."""
    ref = fits[0]
    ds = ref.dataset
    n = len(ds.y)
    k = len(ds.levels) if ds.mode == CLASSIFICATION else 0
    parts = [_member(f, n, k) for f in fits]
    held_any = np.any([p[1] > 0 for p in parts], axis=0)
    covered = held_any.copy()
    for (_, count, _), name in zip(parts, names, strict=True):
        lost = int((held_any & (count == 0)).sum())
        if lost:
            warnings.warn(
                f"model {name!r} has no held-out prediction for {lost} rows the other members "
                "predicted (failed fits): the ensemble is built on the rows every member has",
                stacklevel=3,
            )
        covered &= count > 0
    rows = np.flatnonzero(covered)
    if len(rows) < 2:
        raise ValueError("the members share fewer than two held-out rows: nothing to combine")
    P = np.stack([p[0][rows] for p in parts])
    assert ref.resamples is not None
    return HeldOut(
        names=tuple(names),
        mode=ds.mode,
        levels=tuple(ds.levels) if k else (),
        y=np.asarray(ds.y[rows]),
        rows=rows,
        P=P,
        has_prob=tuple(p[2] for p in parts) if k else tuple(False for _ in parts),
        resample_hash=ref.resamples.hash,
    )
