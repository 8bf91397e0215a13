"""Linear models. ``glmnet``: elastic net with the whole lambda path from one fit."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .base import CLASSIFICATION, Model, Param, TrainingData, expand_grid


def _standardize(X: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and 1/N standard deviation per column, glmnet's ``standardize=TRUE``."""
    w = np.ones(len(X)) if w is None else w
    mu = np.average(X, axis=0, weights=w)
    sd = np.sqrt(np.average((X - mu) ** 2, axis=0, weights=w))
    sd[sd == 0] = 1.0
    return mu, sd


def lambda_max(data: TrainingData, alpha: float) -> float:
    """The smallest lambda at which every coefficient is zero (glmnet's path start)."""
    mu, sd = _standardize(data.X, data.weights)
    Z = (data.X - mu) / sd
    w = np.ones(len(Z)) if data.weights is None else data.weights / data.weights.mean()
    if data.mode == CLASSIFICATION:
        Y = np.eye(data.n_classes)[data.y]
        Y = Y[:, 1:] if data.n_classes == 2 else Y
    else:
        Y = data.y[:, None]
    R = (Y - np.average(Y, axis=0, weights=w)) * w[:, None]
    return float(np.abs(Z.T @ R).max() / (len(Z) * max(alpha, 1e-3)))


class GLMNet(Model):
    """Elastic net (glmnet's penalty ``lambda * ((1 - alpha)/2 ||b||^2 + alpha ||b||_1)``).

    Binomial and Gaussian families are fitted by glum along the requested lambda path with warm
    starts; the multinomial family by scikit-learn's saga solver along the same path. Predictors
    are standardized inside the fit as glmnet does. Sub-model: every lambda of one alpha from one
    path.
    """

    name = "glmnet"
    label = "glmnet"
    engine = "glum"
    tags = (
        "generalized linear model",
        "implicit feature selection",
        "L1 regularization",
        "L2 regularization",
        "linear classifier",
        "linear regression",
    )
    params = (
        Param("alpha", "float", 0.0, 1.0, label="Mixing Percentage"),
        Param("lambda", "float", 0.0, 1e4, log=True, label="Regularization Parameter"),
    )
    submodel = ("lambda",)
    complexity_order = (("lambda", False), ("alpha", True))
    takes_weights = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: lambdas of a ``length + 2``-long glmnet path at alpha 0.5, ends dropped."""
        n, p = data.X.shape
        lmax = lambda_max(data, 0.5)
        ratio = 1e-2 if n < p else 1e-4  # glmnet's lambda.min.ratio
        path = np.geomspace(lmax, lmax * ratio, length + 2)[1:-1][:length]
        return expand_grid(alpha=np.linspace(0.1, 1.0, length), **{"lambda": path})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret: alpha U(0, 1), lambda 2^U(-10, 3)."""
        return pd.DataFrame(
            {"alpha": rng.uniform(0, 1, length), "lambda": 2.0 ** rng.uniform(-10, 3, length)}
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> Any:
        alpha = float(params["alpha"])
        path = np.array(sorted({float(s["lambda"]) for s in subs}, reverse=True))
        mu, sd = _standardize(data.X, data.weights)
        Z = (data.X - mu) / sd
        if data.mode == CLASSIFICATION and data.n_classes > 2:
            coefs, intercepts = self._multinomial_path(Z, data, alpha, path, seed)
        else:
            coefs, intercepts = self._glum_path(Z, data, alpha, path)
        return {
            "mu": mu,
            "sd": sd,
            "lambdas": path,
            "coef": coefs,
            "intercept": intercepts,
            "mode": data.mode,
            "k": data.n_classes,
        }

    @staticmethod
    def _glum_path(Z: np.ndarray, data: TrainingData, alpha: float, path: np.ndarray):
        from glum import GeneralizedLinearRegressor

        y = data.y.astype(float)
        family, y_scale = "binomial", 1.0
        if data.mode != CLASSIFICATION:
            # glmnet solves the Gaussian problem for y / sd(y) at lambda / sd(y); only then does
            # its ridge term (alpha < 1) mean what it means in R.
            family = "normal"
            w = np.ones(len(y)) if data.weights is None else data.weights
            y_scale = float(np.sqrt(np.average((y - np.average(y, weights=w)) ** 2, weights=w)))
            y_scale = y_scale if y_scale > 0 else 1.0
        m = GeneralizedLinearRegressor(
            family=family,
            l1_ratio=alpha,
            alpha=list(path / y_scale),
            alpha_search=True,
            scale_predictors=False,
            gradient_tol=1e-7,
            max_iter=1000,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(Z, y / y_scale, sample_weight=data.weights)
        coefs = np.asarray(m.coef_path_)[:, :, None] * y_scale
        return coefs, np.asarray(m.intercept_path_)[:, None] * y_scale

    @staticmethod
    def _multinomial_path(
        Z: np.ndarray, data: TrainingData, alpha: float, path: np.ndarray, seed: int
    ):
        from sklearn.linear_model import LogisticRegression

        n = len(Z)
        # glmnet scales weights to mean 1, so lambda means the same whatever their total.
        w = None if data.weights is None else data.weights / data.weights.mean()
        coefs, intercepts = [], []
        m = LogisticRegression(
            solver="saga",
            l1_ratio=alpha,
            warm_start=True,
            max_iter=5000,
            tol=1e-6,
            random_state=seed % (2**31 - 1),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for lam in path:
                m.set_params(C=1.0 / (n * lam))
                m.fit(Z, data.y, sample_weight=w)
                coefs.append(m.coef_.T.copy())
                intercepts.append(m.intercept_.copy())
        return np.stack(coefs), np.stack(intercepts)

    def _eta(self, fitted: dict, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        Z = (X - fitted["mu"]) / fitted["sd"]
        idx = [int(np.argmin(np.abs(fitted["lambdas"] - float(s["lambda"])))) for s in subs]
        return np.stack([Z @ fitted["coef"][i] + fitted["intercept"][i] for i in idx])

    def predict(self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        if fitted["mode"] != CLASSIFICATION:
            return self._eta(fitted, X, subs)[:, :, 0]
        return self.predict_proba(fitted, X, subs).argmax(axis=2)

    def predict_proba(self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        eta = self._eta(fitted, X, subs)
        if fitted["k"] == 2:
            p1 = 1.0 / (1.0 + np.exp(-eta[:, :, 0]))
            return np.stack([1.0 - p1, p1], axis=2)
        z = eta - eta.max(axis=2, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=2, keepdims=True)
