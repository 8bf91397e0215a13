"""The model contract (caret's model-info, typed) and the registry of models by name.

A model is one small declarative class: its parameters, how to build default and random grids,
which parameters are sub-model axes (scored for many values from one fit), a complexity order for
one_se/tolerance selection, and fit/predict functions. Engines are imported inside ``fit`` so that
``import leanfit`` stays light.
"""

from __future__ import annotations

import difflib
import importlib
import itertools
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

CLASSIFICATION = "classification"
REGRESSION = "regression"

# Data-dependent upper bounds a Param can declare (``at_most``): the predictor columns the model
# sees (after dummies and pre-processing), its training rows, or one fewer than those rows.
LIMITS: tuple[str, ...] = ("predictors", "rows", "rows - 1")


class ParamLimitWarning(UserWarning):
    """A parameter value was more than one fit's data allows and was fitted as a smaller one
    (e.g. ``mtry=5`` on the 2 columns one resample's pre-processing left)."""


def fitted_as(name: str, asked: Any, fitted: Any, why: str) -> None:
    """Warn (ParamLimitWarning) that ``name=asked`` was fitted as ``fitted`` because of ``why``:
    a fit never changes a parameter silently; train() records the warning against the fit."""
    warnings.warn(f"{name}={asked} fitted as {fitted}: {why}", ParamLimitWarning, stacklevel=3)


class FitWarning(UserWarning):
    """A fit that finished but is not to be trusted (e.g. boosting that diverged); recorded per
    fit in ``TrainResult.fit_warnings`` and ``TrainResult.final_warnings``."""


@dataclass(frozen=True)
class Param:
    """One tunable parameter: its type, range and scale (for random and Bayesian search)."""

    name: str
    kind: str  # "int" | "float" | "cat"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    label: str = ""
    aliases: tuple[str, ...] = ()
    special: tuple[str, ...] = ()  # symbolic values resolved at fit time (e.g. "sigest")
    default: Any = None  # value a grid without this column gets (None: the column is required)
    # data-dependent upper bounds, from LIMITS: e.g. mtry at most "predictors", k at most "rows"
    at_most: str | tuple[str, ...] = ()

    def __post_init__(self) -> None:
        limits = (self.at_most,) if isinstance(self.at_most, str) else tuple(self.at_most)
        bad = [lim for lim in limits if lim not in LIMITS]
        if bad:
            raise ValueError(f"Param {self.name!r}: at_most {bad} must be among {list(LIMITS)}")
        object.__setattr__(self, "at_most", limits)

    def bound(self, rows: int, predictors: int) -> tuple[int, str] | None:
        """The largest value data of ``rows`` x ``predictors`` allows, with the limit that sets
        it ("predictors", "rows" or "rows - 1"); None when the parameter has no such limit."""
        sizes = {"predictors": predictors, "rows": rows, "rows - 1": rows - 1}
        found = [(sizes[lim], lim) for lim in self.at_most]  # a tuple since __post_init__
        return min(found) if found else None

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not valid for this parameter, or None when it is."""
        if value in self.special:
            return None
        if self.kind == "cat":
            if self.choices and value not in self.choices:
                return f"must be one of {list(self.choices)}"
            return None
        if isinstance(value, str):
            return f"must be a number, got {value!r}"
        try:
            v = float(value)
        except (TypeError, ValueError):
            return f"must be a number, got {value!r}"
        if np.isnan(v):
            return "must not be missing"
        if self.kind == "int" and v != int(v):
            return f"must be a whole number, got {value!r}"
        if self.low is not None and v < self.low:
            return f"must be >= {self.low}, got {value!r}"
        if self.high is not None and v > self.high:
            return f"must be <= {self.high}, got {value!r}"
        return None

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` random values over the parameter's range and scale."""
        if self.kind == "cat":
            return rng.choice(np.array(self.choices, dtype=object), size=size)
        if self.low is None or self.high is None:  # float(None) raised a TypeError here before
            raise TypeError(f"parameter {self.name!r} needs low and high to be drawn at random")
        lo, hi = float(self.low), float(self.high)
        if self.log:
            v = np.exp(rng.uniform(np.log(lo), np.log(hi), size))
        else:
            v = rng.uniform(lo, hi, size)
        if self.kind == "int":
            v = np.clip(np.round(v), lo, hi).astype(int)
        return v


@dataclass(frozen=True)
class TrainingData:
    """What a model sees: a numeric matrix, an encoded target and what it means."""

    X: np.ndarray
    y: np.ndarray  # class codes 0..K-1 for classification, floats for regression
    mode: str
    levels: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    weights: np.ndarray | None = None
    oob: bool = False  # out-of-bag predictions will be asked for (Control(method="oob"))

    @property
    def n_classes(self) -> int:
        return len(self.levels)


@dataclass
class Model:
    """Base class of every model. Subclasses declare class attributes and override fit/predict.

    Contract for the sub-model trick: ``fit`` receives ``subs`` (a list of dicts over the
    ``submodel`` parameters, possibly ``[{}]``) and must produce a fit able to score each of them;
    ``predict``/``predict_proba`` return one prediction per entry of ``subs``: arrays of shape
    (len(subs), n) and (len(subs), n, n_classes).
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    engine: ClassVar[str] = ""
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    tags: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[tuple[Param, ...]] = ()
    submodel: ClassVar[tuple[str, ...]] = ()
    # True when a fit for fewer subs scores each of them exactly as a fit for more does (a
    # boosting fit's first trees do not depend on how many follow): a race then fits a group
    # only as far as its candidates still racing need.
    prefix_submodels: ClassVar[bool] = False
    # The default search space of Bayesian and genetic search (``models.space``: parameter ->
    # Range, Choice or one value); empty: the user's ``space=`` must cover the parameters.
    space: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    # Sort keys for "simplest first": (param name, ascending?) pairs, first key most important.
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = ()
    takes_weights: ClassVar[bool] = False
    takes_missing: ClassVar[bool] = False
    probabilities: ClassVar[bool] = True
    # True when predicted classes are the argmax of the probabilities (one pass gives both).
    classes_from_proba: ClassVar[bool] = True
    # Engine settings outside the tuning grid (e.g. rf's n_trees), given as ``options={...}``.
    # The names a model reads; None leaves them unchecked (a user-defined model's default).
    option_names: ClassVar[tuple[str, ...] | None] = None
    options: dict[str, Any] = field(default_factory=dict)

    # -- grids -----------------------------------------------------------------------------
    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's ``grid(search="grid")``: about ``length`` values per parameter."""
        raise NotImplementedError(f"model {self.name!r} has no default grid; pass grid=")

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's ``grid(search="random")``: ``length`` random candidates."""
        cols = {p.name: p.sample(rng, length) for p in self.params}
        return pd.DataFrame(cols)

    def check_options(self) -> None:
        """Raise, before anything is fitted, on an option name this model does not read."""
        if self.option_names is None:
            return
        unknown = sorted(set(self.options) - set(self.option_names))
        if unknown:
            close = difflib.get_close_matches(unknown[0], self.option_names, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(self.option_names) or "none"
            raise ValueError(
                f"{self.name}: unknown option(s) {unknown}{hint}; its options: {known}"
            )

    def tuned_over(self, grid: Any) -> Model:
        """The model to tune over the user's ``grid``: itself, unless its parameters come from the
        grid (a wrapped scikit-learn estimator declares the grid's columns, checked here)."""
        return self

    def check_task(self, mode: str, n_classes: int) -> None:
        """Raise, before anything is fitted, when this model cannot work for a ``mode`` task
        with ``n_classes`` classes (0 in regression): e.g. a required option or engine missing.
        Nothing to check by default."""

    # -- fitting ---------------------------------------------------------------------------
    def check_fit(self, fitted: Any, data: TrainingData, subs: list[dict[str, Any]]) -> None:
        """Warn (``FitWarning``) about a fit that went wrong without its engine saying so, e.g.
        boosting whose scores diverged; called on every fit train() makes. Nothing by default."""

    def fit(
        self,
        data: TrainingData,
        params: dict[str, Any],
        subs: list[dict[str, Any]],
        seed: int,
    ) -> Any:
        raise NotImplementedError

    def predict(self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Class codes (classification) or values (regression), shape (len(subs), n)."""
        if self.probabilities:
            return self.predict_proba(fitted, X, subs).argmax(axis=2)
        raise NotImplementedError

    def predict_proba(self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Class probabilities, shape (len(subs), n, n_classes)."""
        raise NotImplementedError(f"model {self.name!r} gives no class probabilities")

    def predict_raw(
        self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray | None:
        """Raw margins before the link, (S, n) binary or (S, n, K), for engines that have them
        (boosting); None otherwise. Distillation prefers them to clipped log-probabilities."""
        return None

    def describe_fit(self, fitted: Any) -> dict[str, Any]:
        """Values chosen at fit time that the grid does not show (e.g. an estimated sigma)."""
        return {}

    def importance(self, fitted: Any, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """Model-specific variable importance per input column (unscaled), or None when the
        engine has none (a model-free importance is used then)."""
        return None

    # Out-of-bag scoring (Control(method="oob")): bagged models predict each training row from
    # the members that did not see it, so one fit on all rows is scored without resampling.
    supports_oob: ClassVar[bool] = False

    def oob_predict(
        self, fitted: Any, subs: list[dict[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Out-of-bag predictions (S, n) and probabilities (S, n, K) or None, per training row."""
        raise NotImplementedError(f"model {self.name!r} has no out-of-bag predictions")

    # -- derived helpers -------------------------------------------------------------------
    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def alias_map(self) -> dict[str, str]:
        """Map every accepted column name (caret's dotted names too) to the parameter name."""
        out = {}
        for p in self.params:
            out[p.name] = p.name
            out[p.name.replace("_", ".")] = p.name
            for a in p.aliases:
                out[a] = p.name
        return out

    def sort_simplest_first(self, grid: pd.DataFrame) -> pd.DataFrame:
        """Order candidates simplest first by the declared complexity order."""
        keys = [k for k, _ in self.complexity_order if k in grid.columns]
        asc = [a for k, a in self.complexity_order if k in grid.columns]
        if not keys:
            return grid
        return grid.sort_values(keys, ascending=asc, kind="mergesort")


def param_bounds(model: Model, rows: int, predictors: int) -> dict[str, tuple[int, str]]:
    """Every parameter of ``model`` with a data-dependent limit: name -> (largest value allowed
    on ``rows`` training rows of ``predictors`` columns, the limit that sets it)."""
    out = {}
    for p in model.params:
        b = p.bound(rows, predictors)
        if b is not None:
            out[p.name] = b
    return out


# Rows expand_grid builds unless told otherwise: about 100 MB of Python tuples; a bigger grid is
# almost always a typo (a range to 1e12), and train() has its own, lower, candidate limit.
GRID_ROWS_LIMIT = 1_000_000


def _axis(v: Any) -> Sequence[Any]:
    """One grid column's values: a sequence (a range is sized without being listed), an
    array-like, or one scalar."""
    if isinstance(v, str | bytes):
        return [v]
    if isinstance(v, Sequence):
        return v
    return list(v) if np.ndim(v) else [v]


def _merged(grid: Mapping[str, Any] | None, params: dict[str, Any]) -> dict[str, Any]:
    """The columns of a grid given as a mapping, keywords, or both (mapping first); a name given
    both ways is refused rather than one value silently winning."""
    if grid is None:
        return params
    if not isinstance(grid, Mapping):
        raise TypeError(
            f"expand_grid's positional argument must be a mapping of column name to values "
            f"(a dict), not {type(grid).__name__}"
        )
    both = sorted(set(grid) & set(params))
    if both:
        raise ValueError(
            f"expand_grid got {', '.join(map(repr, both))} both in the mapping and as a keyword; "
            "give each column once"
        )
    return {**grid, **params}


def grid_size(grid: Mapping[str, Any] | None = None, /, **params: Any) -> int:
    """How many rows ``expand_grid(grid, **params)`` would build, computed without building them."""
    return math.prod(len(_axis(v)) for v in _merged(grid, params).values())


def expand_grid(
    grid: Mapping[str, Any] | None = None,
    /,
    *,
    max_rows: int | None = GRID_ROWS_LIMIT,
    **params: Any,
) -> pd.DataFrame:
    """caret's/R's ``expand.grid``: every combination of the given values, first varying fastest.
    Columns come from an optional mapping (for names that are not identifiers, or Python keywords
    such as ``lambda``) and then the keywords. More than ``max_rows`` combinations (None: no
    limit) are refused before any is built."""
    params = _merged(grid, params)
    names = list(params)
    values = [_axis(v) for v in params.values()]
    n = math.prod(map(len, values))
    if max_rows is not None and n > max_rows:
        sizes = " x ".join(f"{k} {len(v):,}" for k, v in zip(names, values, strict=True))
        raise ValueError(
            f"expand_grid would build {n:,} rows ({sizes}), more than {max_rows:,}; "
            "use fewer values, or pass max_rows=None to build it anyway"
        )
    rows = [tuple(reversed(r)) for r in itertools.product(*reversed(values))]
    return pd.DataFrame(rows, columns=names)


# -- the registry ---------------------------------------------------------------------------
# Model families, one module each. A new model in an existing family is one class; a new family
# is one more entry here.
_FAMILIES = (
    "leanfit.models.boosting",
    "leanfit.models.trees",
    "leanfit.models.linear",
    "leanfit.models.discriminant",
    "leanfit.models.neighbors",
    "leanfit.models.svm",
    "leanfit.models.kernel",
    "leanfit.models.neural",
    "leanfit.distillation.model",
)


def _subclasses(cls: type[Model]) -> list[type[Model]]:
    out: list[type[Model]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


@cache
def registry() -> dict[str, type[Model]]:
    """All built-in models by name (computed once: the set of classes does not change)."""
    for mod in _FAMILIES:
        importlib.import_module(mod)
    found: dict[str, type[Model]] = {}
    for cls in _subclasses(Model):
        if cls.name and cls.__module__ in _FAMILIES:
            found[cls.name] = cls
    return dict(sorted(found.items()))


# caret's method names where leanfit spells them differently.
_CARET_NAMES = {
    "svmRadial": "svm_radial",
    "svmLinear": "svm_linear",
    "svmPoly": "svm_poly",
    "xgbTree": "xgb_tree",
    "xgbLinear": "xgb_linear",
    "extraTrees": "extra_trees",
    "AdaBoost.M1": "adaboost",
    "ada": "adaboost",
    "gaussprRadial": "gaussprocess",
    "nnet": "mlp_sklearn",
    "krlsRadial": "kernel_ridge",
    "svmRadialCost": "svm_radial_cost",
    "nsc": "pam",
}


def get_model(method: str | Model | type[Model] | Any) -> Model:
    """Resolve a method name (or a user-defined model class/instance, or a scikit-learn
    estimator instance) into a model instance."""
    if isinstance(method, Model):
        return method
    if isinstance(method, type) and issubclass(method, Model):
        return method()
    if not isinstance(method, str):
        # imported by name, as the registry imports the families: the wrapper builds on Model
        wrap = importlib.import_module("leanfit.models.sklearn_wrap")
        if wrap.is_estimator(method):
            return wrap.SklearnModel(method)
        raise TypeError(
            "method must be a model name, a leanfit Model or a scikit-learn estimator instance, "
            f"got {type(method).__name__}"
        )
    reg = registry()
    key = _CARET_NAMES.get(method, method.replace(".", "_"))
    if key in reg:
        return reg[key]()
    close = _similar_methods(method, reg)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown method {method!r}.{hint} Known methods: {', '.join(reg)}.")


def _similar_methods(method: str, reg: dict[str, type[Model]]) -> list[str]:
    """Methods run by the engine ``method`` names, then those whose name, caret name or label
    is close to it ("random_forest": rf)."""

    def norm(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")

    spellings: dict[str, str] = {}
    for name, cls in reg.items():
        spellings.setdefault(norm(cls.label), name)
    spellings.update({norm(caret): name for caret, name in _CARET_NAMES.items()})
    spellings.update({norm(name): name for name in reg})
    close = difflib.get_close_matches(norm(method), list(spellings), n=6, cutoff=0.6)
    same_engine = [name for name, cls in reg.items() if norm(cls.engine) == norm(method)]
    return list(dict.fromkeys(same_engine + [spellings[c] for c in close]))[:3]
