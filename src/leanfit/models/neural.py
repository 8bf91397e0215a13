"""Neural networks: scikit-learn's multi-layer perceptron (one hidden layer, like nnet)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from leanfit.models.base import CLASSIFICATION, REGRESSION, Model, Param, TrainingData, expand_grid


@dataclass
class MLPFit:
    """A fitted MLP with the standardisation it was trained under (picklable)."""

    estimator: Any  # MLPClassifier / MLPRegressor, None for a single class
    center: np.ndarray
    scale: np.ndarray
    mode: str
    n_classes: int = 0
    y_center: float = 0.0
    y_scale: float = 1.0
    constant_class: int | None = None

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float) - self.center) / self.scale


class MLP(Model):
    """One-hidden-layer perceptron (caret's ``nnet`` / ``mlpWeightDecay`` grids) on scikit-learn.

    ``size`` hidden units (logistic activation, as nnet) and ``decay``, scikit-learn's L2
    penalty ``alpha`` (scikit-learn divides it by the number of rows and leaves biases
    unpenalised, so equal values do not mean exactly nnet's decay). Trained with L-BFGS (nnet
    uses BFGS) for at most ``options["max_iter"]`` (300) iterations from a start drawn from the
    fit's seed. Predictors are standardised, and the response too in regression, because
    gradient training needs comparable scales. Epochs are not a sub-model. Softmax / logistic
    outputs give the class probabilities.
    """

    name: ClassVar[str] = "mlp"
    label: ClassVar[str] = "Multi-Layer Perceptron"
    engine: ClassVar[str] = "sklearn"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    tags: ClassVar[tuple[str, ...]] = ("neural network", "L2 regularization")
    params: ClassVar[tuple[Param, ...]] = (
        Param("size", "int", 1, 1000, label="#Hidden Units"),
        Param("decay", "float", 0.0, 1e3, label="Weight Decay"),
    )
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("size", True), ("decay", False))

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's nnet grid: size = 1, 3, 5, ... and decay = 0, 10^seq(-1, -4, length - 1)."""
        decay = np.concatenate([[0.0], 10.0 ** np.linspace(-1.0, -4.0, max(length - 1, 0))])
        return expand_grid(size=2 * np.arange(1, length + 1) - 1, decay=decay)

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's nnet random search: size from 1..20, decay = 10^U(-5, 1)."""
        return pd.DataFrame(
            {"size": rng.integers(1, 21, length), "decay": 10.0 ** rng.uniform(-5.0, 1.0, length)}
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> MLPFit:
        """Standardise and train the network from a seeded start."""
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        X = np.asarray(data.X, dtype=float)
        center = X.mean(axis=0)
        scale = X.std(axis=0, ddof=1) if len(X) > 1 else np.ones(X.shape[1])
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        Xs = (X - center) / scale
        kwargs = {
            "hidden_layer_sizes": (int(params["size"]),),
            "alpha": float(params["decay"]),
            "activation": "logistic",
            "solver": "lbfgs",
            "max_iter": int(self.options.get("max_iter", 300)),
            "random_state": int(seed) % 2**32,
        }
        if data.mode == REGRESSION:
            y = np.asarray(data.y, dtype=float)
            y_center = float(y.mean())
            sd = float(y.std(ddof=1)) if y.size > 1 else 0.0
            y_scale = sd if np.isfinite(sd) and sd > 0 else 1.0
            m = MLPRegressor(**kwargs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
                m.fit(Xs, (y - y_center) / y_scale)
            return MLPFit(m, center, scale, REGRESSION, 0, y_center, y_scale)
        y = np.asarray(data.y).astype(int)
        present = np.unique(y)
        if present.size < 2:
            fit = MLPFit(None, center, scale, CLASSIFICATION, data.n_classes)
            fit.constant_class = int(present[0])
            return fit
        m = MLPClassifier(**kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(Xs, y)
        return MLPFit(m, center, scale, CLASSIFICATION, data.n_classes)

    def predict(self, fitted: MLPFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Network output (regression) or the most probable class."""
        if fitted.mode == REGRESSION:
            pred = fitted.estimator.predict(fitted.transform(X)) * fitted.y_scale
            return np.tile(pred + fitted.y_center, (len(subs), 1))
        return self.predict_proba(fitted, X, subs).argmax(axis=2)

    def predict_proba(
        self, fitted: MLPFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Class probabilities in class-code order (absent classes get 0)."""
        if fitted.mode != CLASSIFICATION:
            raise NotImplementedError("mlp gives no probabilities in regression")
        Xs = fitted.transform(X)
        proba = np.zeros((Xs.shape[0], fitted.n_classes))
        if fitted.estimator is None:
            proba[:, fitted.constant_class] = 1.0
        else:
            proba[:, fitted.estimator.classes_.astype(int)] = fitted.estimator.predict_proba(Xs)
        return np.tile(proba, (len(subs), 1, 1))
