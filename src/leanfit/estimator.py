"""leanfit's train() as scikit-learn estimators: ``LeanfitClassifier`` and ``LeanfitRegressor``.

``fit(X, y)`` runs ``train()`` (resampling, tuning, the final refit) and keeps its TrainResult as
``result_``; predict/predict_proba use the final model. They follow scikit-learn's conventions
(get_params/set_params, clone, n_features_in_, feature_names_in_), so they drop into a Pipeline,
cross_val_score or GridSearchCV.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .control import Control
from .tuning.result import TrainResult
from .tuning.train import train

__all__ = ["LeanfitClassifier", "LeanfitRegressor"]


class _LeanfitEstimator(BaseEstimator):
    """What both estimators share: the train() options as constructor parameters."""

    def __init__(
        self,
        method: Any = "glm",
        grid: Any = None,
        control: Control | None = None,
        tune_length: int = 3,
        preprocess: Any = None,
        metric: str | None = None,
        maximize: bool | None = None,
        seed: int | None = None,
        allow_large: bool = False,
    ) -> None:
        self.method = method
        self.grid = grid
        self.control = control
        self.tune_length = tune_length
        self.preprocess = preprocess
        self.metric = metric
        self.maximize = maximize
        self.seed = seed
        self.allow_large = allow_large

    def _frame(self, X: np.ndarray) -> pd.DataFrame:
        """Validated X as the DataFrame train() sees: the fitted feature names, else x0, x1..."""
        names = getattr(self, "feature_names_in_", None)
        cols = [str(c) for c in names] if names is not None else _positional(X.shape[1])
        return pd.DataFrame(X, columns=cols)

    def _train(self, X: Any, y: Any, sample_weight: Any, task: str) -> pd.DataFrame:
        """Validate X (setting n_features_in_, feature_names_in_), then the weights; the frame."""
        frame = self._frame(X)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.result_: TrainResult = train(
            frame,
            y,
            method=self.method,
            grid=self.grid,
            control=self.control,
            tune_length=self.tune_length,
            preprocess=self.preprocess,
            metric=self.metric,
            maximize=self.maximize,
            weights=w,
            seed=self.seed,
            allow_large=self.allow_large,
            task=task,
        )
        return frame

    def _checked_frame(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "result_")
        X = validate_data(self, X, reset=False, ensure_all_finite=self._finite())
        return self._frame(X)

    def _finite(self) -> bool | str:
        """NaN passes validation only when the method or an imputation step can take it;
        infinite values are always refused."""
        return "allow-nan" if self._takes_missing() else True

    def _takes_missing(self) -> bool:
        """Whether missing predictor values can be fitted: the method takes them, or an
        imputation step fills them (train() says which, naming the columns, when not)."""
        from .models.base import get_model
        from .preprocess import PreProcess

        steps = self.preprocess
        names = steps.steps if isinstance(steps, PreProcess) else steps or ()
        names = [names] if isinstance(names, str) else list(names)
        if {
            "median_impute",
            "knn_impute",
            "bag_impute",
            "medianImpute",
            "knnImpute",
            "bagImpute",
        } & set(names):
            return True
        try:
            return bool(get_model(self.method).takes_missing)
        except (TypeError, ValueError):  # an unknown method: fit() says so
            return False

    @property
    def best_params_(self) -> dict[str, Any]:
        """The chosen candidate's parameters (caret's bestTune)."""
        check_is_fitted(self, "result_")
        return self.result_.best_params

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self._takes_missing()
        tags.non_deterministic = self.seed is None and (
            self.control is None or self.control.seed is None
        )
        return tags


def _positional(n: int) -> list[str]:
    return [f"x{i}" for i in range(n)]


class LeanfitClassifier(ClassifierMixin, _LeanfitEstimator):
    """train() as a scikit-learn classifier: ``LeanfitClassifier("glmnet", control=...)``.

    ``classes_`` are the sorted labels of y; train() sees them as class levels in that order (the
    first is the event level of two-class metrics). predict returns labels of y's type.
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LeanfitClassifier:
        """Tune and fit by train() on (X, y); ``result_`` keeps the TrainResult."""
        X, y = validate_data(self, X, y, ensure_all_finite=self._finite(), ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has one class only ({self.classes_[0]!r}): a classifier needs at least 2 "
                "classes"
            )
        levels = [str(c) for c in self.classes_]
        if len(set(levels)) < len(levels):  # labels that print alike: use their positions
            levels = [f"class{i}" for i in range(len(levels))]
        target = pd.Series(pd.Categorical.from_codes(codes, categories=levels), name=".outcome")
        self._train(X, target, sample_weight, "classification")
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (of y's type)."""
        frame = self._checked_frame(X)
        pred = self.result_.predict(frame)
        return np.asarray(self.classes_)[np.asarray(pred.cat.codes, dtype=int)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        frame = self._checked_frame(X)
        return self.result_.predict_proba(frame).to_numpy(dtype=float)


class LeanfitRegressor(RegressorMixin, _LeanfitEstimator):
    """train() as a scikit-learn regressor: ``LeanfitRegressor("lm")``; score() is R²."""

    def __init__(
        self,
        method: Any = "lm",
        grid: Any = None,
        control: Control | None = None,
        tune_length: int = 3,
        preprocess: Any = None,
        metric: str | None = None,
        maximize: bool | None = None,
        seed: int | None = None,
        allow_large: bool = False,
    ) -> None:
        super().__init__(
            method=method,
            grid=grid,
            control=control,
            tune_length=tune_length,
            preprocess=preprocess,
            metric=metric,
            maximize=maximize,
            seed=seed,
            allow_large=allow_large,
        )

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LeanfitRegressor:
        """Tune and fit by train() on (X, y); ``result_`` keeps the TrainResult."""
        X, y = validate_data(
            self, X, y, ensure_all_finite=self._finite(), ensure_min_samples=2, y_numeric=True
        )
        y = pd.Series(np.asarray(y, dtype=float), name=".outcome")
        self._train(X, y, sample_weight, "regression")
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values."""
        frame = self._checked_frame(X)
        return self.result_.predict(frame).to_numpy(dtype=float)
