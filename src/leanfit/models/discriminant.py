"""Discriminant-analysis models: Friedman's regularised discriminant analysis (caret's ``rda``).

No maintained Python library implements Friedman's (1989) RDA, so it is written here in numpy.
The class means and scatter matrices are computed once per fit; every (gamma, lambda) candidate
is then scored from them, which makes both parameters sub-model axes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from leanfit.models.base import CLASSIFICATION, Model, Param, TrainingData, expand_grid

# Eigenvalues below this fraction of the largest are raised to it (see RDA's docstring).
EIG_FLOOR = 1e-10


@dataclass
class RDAFit:
    """Sufficient statistics of one RDA fit: everything any (gamma, lambda) needs to score."""

    means: np.ndarray  # (K, p) weighted class means; rows of absent classes are 0
    scatter: np.ndarray  # (K, p, p) weighted within-class scatter matrices S_k
    pooled: np.ndarray  # (p, p) pooled scatter S = sum_k S_k
    class_n: np.ndarray  # (K,) class sizes N_k (sums of weights)
    total_n: float  # N = sum_k N_k
    present: np.ndarray  # (K,) bool: class has positive weight in the fitting rows


def rda_statistics(
    X: np.ndarray, y: np.ndarray, n_classes: int, weights: np.ndarray | None = None
) -> RDAFit:
    """Compute class means, scatter matrices and sizes once, so every candidate reuses them."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).astype(int)
    n, p = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    means = np.zeros((n_classes, p))
    scatter = np.zeros((n_classes, p, p))
    class_n = np.zeros(n_classes)
    for k in range(n_classes):
        rows = y == k
        wk = w[rows]
        nk = float(wk.sum())
        class_n[k] = nk
        if nk <= 0:
            continue
        mu = wk @ X[rows] / nk
        centred = X[rows] - mu
        means[k] = mu
        scatter[k] = (centred * wk[:, None]).T @ centred
    total_n = float(class_n.sum())
    if total_n <= 0:
        raise ValueError("rda needs at least one row with positive weight")
    return RDAFit(
        means=means,
        scatter=scatter,
        pooled=scatter.sum(axis=0),
        class_n=class_n,
        total_n=total_n,
        present=class_n > 0,
    )


def _floor_eigenvalues(vals: np.ndarray, fallback_scale: float) -> np.ndarray:
    """Raise eigenvalues to ``max_eig * EIG_FLOOR`` so singular covariances stay invertible."""
    top = float(vals.max())
    if top <= 0:  # a zero covariance (one row, no pooling): borrow the pooled scale
        top = fallback_scale
    return np.maximum(vals, top * EIG_FLOOR)


def rda_discriminants(fit: RDAFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
    """Friedman's discriminant scores d_k(x) for every sub, shape (len(subs), n, K); inf if absent.

    For a fixed lambda, Sigma_k(lambda, gamma) = (1-gamma) A + gamma (tr A / p) I shares A's
    eigenvectors, so one ``eigh`` per (class, lambda) serves every gamma.
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    K = fit.means.shape[0]
    out = np.full((len(subs), n, K), np.inf)
    log_prior = np.log(np.where(fit.present, fit.class_n, 1.0) / fit.total_n)
    pooled_eigs = np.linalg.eigvalsh(fit.pooled / fit.total_n)
    fallback = float(pooled_eigs.max()) if pooled_eigs.max() > 0 else 1.0
    by_lambda: dict[float, list[int]] = {}
    for i, s in enumerate(subs):
        by_lambda.setdefault(float(s["lambda"]), []).append(i)
    for lam, idx in by_lambda.items():
        for k in np.flatnonzero(fit.present):
            denom = (1.0 - lam) * fit.class_n[k] + lam * fit.total_n
            A = ((1.0 - lam) * fit.scatter[k] + lam * fit.pooled) / denom
            vals, vecs = np.linalg.eigh(A)
            vals = np.clip(vals, 0.0, None)  # round-off can make PSD eigenvalues slightly < 0
            mean_eig = float(np.trace(A)) / p
            z2 = ((X - fit.means[k]) @ vecs) ** 2
            for i in idx:
                gamma = float(subs[i]["gamma"])
                ev = _floor_eigenvalues((1.0 - gamma) * vals + gamma * mean_eig, fallback)
                maha = z2 @ (1.0 / ev)
                out[i, :, k] = maha + np.log(ev).sum() - 2.0 * log_prior[k]
    return out


def _softmax_neg_half(d: np.ndarray) -> np.ndarray:
    """Posterior probabilities softmax(-d/2) over the last axis, shifted for stability."""
    s = -0.5 * d
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


class RDA(Model):
    """Friedman's regularised discriminant analysis (caret's ``rda``, after klaR::rda).

    Sigma_k(lambda) = ((1-lambda) S_k + lambda S) / ((1-lambda) N_k + lambda N) shrinks each class
    covariance toward the pooled one (lambda=1 is LDA, lambda=0 is QDA), and
    Sigma_k(lambda, gamma) = (1-gamma) Sigma_k(lambda) + gamma tr(Sigma_k(lambda))/p I shrinks it
    toward a sphere. Where a covariance is singular (e.g. gamma=0, lambda=0 with fewer rows than
    columns) the definition is undefined; this implementation then floors the eigenvalues at
    ``max_eig * 1e-10``, which keeps the fit usable (finite scores) but is a choice, not Friedman's.
    Classes absent from the fitting rows get probability 0.
    """

    name: ClassVar[str] = "rda"
    label: ClassVar[str] = "Regularized Discriminant Analysis"
    engine: ClassVar[str] = "leanfit"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION,)
    tags: ClassVar[tuple[str, ...]] = ("discriminant analysis", "regularization")
    params: ClassVar[tuple[Param, ...]] = (
        Param("gamma", "float", 0.0, 1.0, label="Gamma"),
        Param("lambda", "float", 0.0, 1.0, label="Lambda"),
    )
    submodel: ClassVar[tuple[str, ...]] = ("gamma", "lambda")
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("lambda", False), ("gamma", True))
    takes_weights: ClassVar[bool] = True
    probabilities: ClassVar[bool] = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: ``length`` evenly spaced values of gamma and of lambda on [0, 1]."""
        values = np.linspace(0.0, 1.0, length)
        return expand_grid(**{"gamma": values, "lambda": values})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: gamma and lambda uniform on [0, 1]."""
        return pd.DataFrame(
            {"gamma": rng.uniform(0.0, 1.0, length), "lambda": rng.uniform(0.0, 1.0, length)}
        )

    def fit(
        self,
        data: TrainingData,
        params: dict[str, Any],
        subs: list[dict[str, Any]],
        seed: int,
    ) -> RDAFit:
        """Compute the class statistics once; (gamma, lambda) are applied at scoring time."""
        if data.mode != CLASSIFICATION:
            raise ValueError("rda is a classification model")
        return rda_statistics(data.X, data.y, data.n_classes, data.weights)

    def predict(self, fitted: RDAFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Class codes argmin_k d_k(x) for every sub, shape (len(subs), n)."""
        return rda_discriminants(fitted, X, subs).argmin(axis=2)

    def predict_proba(
        self, fitted: RDAFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Posterior probabilities softmax(-d/2) for every sub, shape (len(subs), n, K)."""
        return _softmax_neg_half(rda_discriminants(fitted, X, subs))
