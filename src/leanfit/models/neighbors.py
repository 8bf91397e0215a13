"""Nearest-neighbour models: caret's ``knn`` (knn3 / knnreg) with every k from one search.

The neighbours of each row are found once for the largest k asked for; every smaller k is
scored from the same ordered neighbour lists (sub-model: k).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from leanfit.models.base import (
    CLASSIFICATION,
    REGRESSION,
    Model,
    Param,
    TrainingData,
    fitted_as,
)
from leanfit.models.space import integer


@dataclass
class KNNFit:
    """The training rows (knn is lazy) and what scoring needs."""

    X: np.ndarray
    y: np.ndarray
    mode: str
    n_classes: int
    seed: int


@dataclass
class Neighbours:
    """Each row's nearest training rows, nearest first, with exact squared distances."""

    idx: np.ndarray  # (n, m) training-row indices
    d2: np.ndarray  # (n, m) squared Euclidean distances, ascending along each row

    def counts(self, k: int) -> np.ndarray:
        """How many neighbours vote for k: the k nearest plus every row tied with the k-th."""
        kth = self.d2[:, k - 1 : k]
        return (self.d2 <= kth).sum(axis=1)


def _candidate_d2(X_train: np.ndarray, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Squared distances from each row to its candidate training rows, computed directly."""
    out = np.empty(idx.shape)
    chunk = max(1, 4_000_000 // max(idx.shape[1] * X.shape[1], 1))  # bounded temporaries
    for a in range(0, len(X), chunk):
        diff = X[a : a + chunk, None, :] - X_train[idx[a : a + chunk]]
        out[a : a + chunk] = np.einsum("nmp,nmp->nm", diff, diff)
    return out


def find_neighbours(X_train: np.ndarray, X: np.ndarray, k_max: int) -> Neighbours:
    """The k_max nearest training rows of every row of X, plus all rows tied with the k_max-th.

    scikit-learn's ``NearestNeighbors`` (brute force) proposes candidates; their squared
    distances are then recomputed directly, so identical rows tie exactly as in knn3's C code,
    and the candidate list is widened until it reaches past every tie.
    """
    from sklearn.neighbors import NearestNeighbors

    n_train = X_train.shape[0]
    k_max = min(k_max, n_train)
    nn = NearestNeighbors(algorithm="brute").fit(X_train)
    m = min(n_train, k_max + 8)
    while True:
        dist, idx = nn.kneighbors(X, n_neighbors=m)
        d2 = _candidate_d2(X_train, X, idx)
        order = np.argsort(d2, axis=1, kind="stable")
        idx = np.take_along_axis(idx, order, axis=1)
        d2 = np.take_along_axis(d2, order, axis=1)
        if m == n_train:
            break
        # Candidates past position m have (approximate) distances >= dist[:, -1].
        margin = d2[:, k_max - 1] * (1.0 + 1e-7) + 1e-12
        if np.all(dist[:, -1] ** 2 > margin):
            break
        m = min(n_train, 2 * m)
    return Neighbours(idx, d2)


class KNN(Model):
    """k-nearest neighbours, caret's ``knn`` (knn3 for classes, knnreg for values).

    Euclidean distance on the predictors as given (caret does not scale them: use
    ``preprocess=["center", "scale"]``). As knn3 and class::knn, every training row whose
    distance equals the k-th smallest (distance ties) votes too. Probabilities are the vote
    fractions; regression averages the voters' values. Vote ties for the top class, which knn3
    breaks at random, are broken here by uniform draws from a generator seeded by the fit's
    seed and k: reproducible for the same seed and the same rows to predict (the draws follow
    row order within one predict call). train() refuses k above the training rows; a k only one
    fit's rows are too few for (class sampling) uses them all, with a ParamLimitWarning.
    Sub-model: k, every value scored from one neighbour search.
    """

    name: ClassVar[str] = "knn"
    option_names = ()
    label: ClassVar[str] = "k-Nearest Neighbors"
    engine: ClassVar[str] = "sklearn"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    tags: ClassVar[tuple[str, ...]] = ("prototype models",)
    params: ClassVar[tuple[Param, ...]] = (
        Param("k", "int", 1, 100000, label="#Neighbors", at_most="rows"),
    )
    submodel: ClassVar[tuple[str, ...]] = ("k",)
    space = MappingProxyType({"k": integer(1, 50)})  # capped at the smallest training rows
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("k", False),)
    classes_from_proba: ClassVar[bool] = False  # vote ties are broken at random, not by order

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: the first ``length`` odd numbers from 5 (5, 7, 9, ...)."""
        return pd.DataFrame({"k": 5 + 2 * np.arange(length)})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: k from seq(1, n/3, by = number of classes (1 in regression))."""
        step = data.n_classes if data.mode == CLASSIFICATION else 1
        values = np.arange(1, max(len(data.y) // 3, 1) + 1, max(step, 1))
        return pd.DataFrame({"k": rng.choice(values, size=length, replace=True)})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> KNNFit:
        """Store the training rows; the neighbour search happens when scoring."""
        y = np.asarray(data.y)
        y = y.astype(int) if data.mode == CLASSIFICATION else y.astype(float)
        for k in sorted({int(s["k"]) for s in subs if int(s["k"]) > len(y)}):
            fitted_as("k", k, len(y), f"{len(y)} training rows")
        return KNNFit(np.asarray(data.X, dtype=float), y, data.mode, data.n_classes, int(seed))

    @staticmethod
    def _ks(fitted: KNNFit, subs: list[dict[str, Any]]) -> list[int]:
        return [max(1, min(int(s["k"]), len(fitted.y))) for s in subs]

    def _votes(
        self, fitted: KNNFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Vote counts (S, n, K) and voter counts (S, n) for every k, from one search."""
        ks = self._ks(fitted, subs)
        nb = find_neighbours(fitted.X, np.asarray(X, dtype=float), max(ks))
        onehot = np.eye(fitted.n_classes)[fitted.y[nb.idx]]  # (n, m, K)
        cum = np.cumsum(onehot, axis=1)
        rows = np.arange(len(nb.idx))
        votes, voters = [], []
        for k in ks:
            c = nb.counts(k)
            votes.append(cum[rows, c - 1])
            voters.append(c)
        return np.stack(votes), np.stack(voters), ks

    def predict(self, fitted: KNNFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Majority class (vote ties broken by seeded draws) or the voters' mean value."""
        X = np.asarray(X, dtype=float)
        if fitted.mode == REGRESSION:
            ks = self._ks(fitted, subs)
            nb = find_neighbours(fitted.X, X, max(ks))
            cum = np.cumsum(fitted.y[nb.idx], axis=1)
            rows = np.arange(len(X))
            out = []
            for k in ks:
                c = nb.counts(k)
                out.append(cum[rows, c - 1] / c)
            return np.stack(out)
        votes, _, ks = self._votes(fitted, X, subs)
        out = []
        for v, k in zip(votes, ks, strict=True):
            rng = np.random.default_rng([fitted.seed % 2**32, k])
            top = v == v.max(axis=1, keepdims=True)
            out.append(np.where(top, rng.random(v.shape), -1.0).argmax(axis=1))
        return np.stack(out)

    def predict_proba(
        self, fitted: KNNFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Vote fractions (knn3's probabilities), shape (len(subs), n, K)."""
        if fitted.mode != CLASSIFICATION:
            raise NotImplementedError("knn gives no probabilities in regression")
        votes, voters, _ = self._votes(fitted, X, subs)
        return votes / voters[:, :, None]
