"""Any scikit-learn estimator instance as a leanfit method, tuned over its ``get_params()`` names.

``train(X, y, method=LogisticRegression(), grid={"C": [0.1, 1]})`` wraps the instance here: the
grid's columns become the model's parameters (Pipelines' ``step__param`` names too), every fit
clones the instance (so it travels to worker processes unchanged) and sets one candidate on the
clone. The estimator sees leanfit's numeric matrix (factors already dummy-coded) as a numpy array.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from leanfit.models.base import CLASSIFICATION, REGRESSION, Model, Param, TrainingData


def is_estimator(obj: Any) -> bool:
    """True for a scikit-learn-compatible estimator instance (get_params, set_params and fit)."""
    return not isinstance(obj, type) and all(
        callable(getattr(obj, a, None)) for a in ("get_params", "set_params", "fit")
    )


def _one_line(estimator: Any) -> str:
    """The estimator's repr (changed parameters only), untruncated, on one line."""
    try:
        text = estimator.__repr__(N_CHAR_MAX=10**9)
    except TypeError:  # not a BaseEstimator: its own repr
        text = repr(estimator)
    return " ".join(text.split())


def _final_step(estimator: Any) -> tuple[str, Any]:
    """(routing prefix, estimator) of what fits last: a Pipeline's last step, else itself."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps and hasattr(estimator, "named_steps"):
        name, last = steps[-1]
        return f"{name}__", last
    return "", estimator


class SklearnModel(Model):
    """A scikit-learn estimator instance as a model (``get_model(estimator)`` builds one).

    Its mode is the estimator's (``is_classifier``/``is_regressor``); class probabilities when it
    has ``predict_proba``; observation weights when it (a Pipeline: its last step) takes
    ``sample_weight``; missing values when its tags allow NaN. Without a grid the instance is
    fitted as it is (one candidate). ``random_state`` parameters left at None get each fit's
    seed, so one seed reproduces the run as for built-in models. The final model is
    ``{"estimator": fitted clone, "n_classes": K}``.
    """

    engine = "sklearn"
    option_names = ()

    def __init__(self, estimator: Any, tuned: tuple[str, ...] = ()) -> None:
        from sklearn.base import is_classifier, is_regressor

        super().__init__()
        if not is_estimator(estimator):
            raise TypeError(
                f"method must be a model name, a leanfit Model or a scikit-learn estimator "
                f"instance (with get_params, set_params and fit), got {type(estimator).__name__}"
            )
        self.estimator = estimator
        names = self.estimator_params()
        unknown = [c for c in tuned if c not in names]
        if unknown:
            first = str(unknown[0])
            close = [n for n in names if n.endswith(f"__{first}")][:3]
            close = close or difflib.get_close_matches(first, names, n=1, cutoff=0.5)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ValueError(
                f"grid column(s) {unknown} are not parameters of "
                f"{type(estimator).__name__}{hint}; its get_params() names are {names}"
            )
        if is_classifier(estimator):
            modes: tuple[str, ...] = (CLASSIFICATION,)
        elif is_regressor(estimator):
            modes = (REGRESSION,)
        else:
            raise ValueError(
                f"{type(estimator).__name__} is neither a classifier nor a regressor "
                "(scikit-learn's is_classifier/is_regressor); give it ClassifierMixin or "
                "RegressorMixin"
            )
        prefix, last = _final_step(estimator)
        self.weight_key = f"{prefix}sample_weight"
        # Declared per instance: they depend on the estimator and the grid, not on the class.
        declared: dict[str, Any] = {
            "name": _one_line(estimator),
            "label": type(estimator).__name__,
            "modes": modes,
            "params": tuple(Param(str(c), "cat") for c in tuned),
            "probabilities": hasattr(estimator, "predict_proba"),
            "classes_from_proba": False,  # predict() need not be the argmax (e.g. SVC)
            "takes_weights": _takes_weights(last),
            "takes_missing": _allows_nan(estimator),
        }
        for key, value in declared.items():
            object.__setattr__(self, key, value)

    def __repr__(self) -> str:
        return f"SklearnModel({self.name})"

    def estimator_params(self) -> list[str]:
        """The estimator's ``get_params(deep=True)`` names: what a grid may tune."""
        return sorted(self.estimator.get_params(deep=True))

    def tuned_over(self, grid: Any) -> Model:
        """This estimator with the grid's columns (a dict's keys) as its parameters; a column
        that is not one of its get_params() names fails here, before anything is fitted."""
        if isinstance(grid, pd.DataFrame):
            columns = tuple(map(str, grid.columns))
        elif isinstance(grid, Mapping):
            columns = tuple(map(str, grid))
        else:
            return self  # normalize_grid says what a grid must be
        return SklearnModel(self.estimator, columns)

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> dict[str, Any]:
        """Clone the estimator, set the candidate (and the seed on unset random_states), fit."""
        from sklearn.base import clone

        est = clone(self.estimator)
        # a grid value may be an estimator (a Pipeline step): each fit gets its own copy
        est.set_params(**{k: v if _plain(v) else clone(v, safe=False) for k, v in params.items()})
        seeds = {
            k: int(seed)
            for k, v in est.get_params(deep=True).items()
            if (k == "random_state" or k.endswith("__random_state")) and v is None
        }
        if seeds:
            est.set_params(**seeds)
        y = data.y.astype(int) if data.mode == CLASSIFICATION else data.y.astype(float)
        kwargs = {} if data.weights is None else {self.weight_key: data.weights}
        est.fit(data.X, y, **kwargs)
        return {"estimator": est, "n_classes": int(data.n_classes)}

    def predict(
        self, fitted: dict[str, Any], X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """The estimator's predict (class codes or values), once per sub-model entry."""
        pred = np.asarray(fitted["estimator"].predict(X))
        pred = pred.astype(int) if self.modes == (CLASSIFICATION,) else pred.astype(float)
        return np.repeat(pred.reshape(1, -1), len(subs), axis=0)

    def predict_proba(
        self, fitted: dict[str, Any], X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """predict_proba's columns placed at their classes' codes (a class the fit never saw
        gets 0), shape (len(subs), n, K)."""
        est = fitted["estimator"]
        if not hasattr(est, "predict_proba"):
            raise NotImplementedError(f"{self.label} gives no class probabilities")
        p = np.asarray(est.predict_proba(X), dtype=float)
        out = np.zeros((len(X), fitted["n_classes"]))
        out[:, np.asarray(est.classes_, dtype=int)] = p
        return np.repeat(out[None], len(subs), axis=0)

    def importance(self, fitted: dict[str, Any], subs: list[dict[str, Any]]) -> np.ndarray | None:
        """``feature_importances_``, else mean absolute ``coef_``, when one value per input
        column (not for a Pipeline whose steps change the columns); None otherwise."""
        est = fitted["estimator"]
        n = getattr(est, "n_features_in_", None)
        for attr in ("feature_importances_", "coef_"):
            value = getattr(est, attr, None)
            if value is None:
                continue
            v = np.abs(np.asarray(value, dtype=float))
            v = v.reshape(-1, v.shape[-1]).mean(axis=0) if v.ndim > 1 else v
            if n is not None and len(v) == n:
                return v
        return None


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | np.generic)


def _takes_weights(estimator: Any) -> bool:
    from sklearn.utils.validation import has_fit_parameter

    try:
        return bool(has_fit_parameter(estimator, "sample_weight"))
    except (TypeError, ValueError):
        return False


def _allows_nan(estimator: Any) -> bool:
    try:
        from sklearn.utils import get_tags

        return bool(get_tags(estimator).input_tags.allow_nan)
    except Exception:  # an estimator without (valid) tags: assume it needs complete rows
        return False
