"""Support vector machines: caret's ``svmRadial``, ``svmLinear`` and ``svmPoly`` on scikit-learn's
libsvm (kernlab's formulation).

Like kernlab's ``ksvm`` (which caret calls with its default ``scaled=TRUE``), the predictors are
standardised on the fitting rows before the kernel (radial exp(-sigma ||x - x'||^2), linear
<x, x'> or polynomial (scale <x, x'> + 1)^degree) is applied, and for regression the response is
standardised too, so sigma, scale, C and epsilon mean what they mean in caret.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from leanfit.models.base import CLASSIFICATION, REGRESSION, Model, Param, TrainingData, expand_grid
from leanfit.models.space import loguniform

SIGEST = "sigest"  # the sigma value meaning "estimate from the fitting rows"
EPSILON = 0.1  # kernlab's default epsilon for eps-regression (in standardised-response units)


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R's ``scale()``: centre and divide by the sd (ddof=1); constant columns are only centred."""
    X = np.asarray(X, dtype=float)
    center = X.mean(axis=0)
    scale = X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return (X - center) / scale, center, scale


def sigest_from_draw(X_scaled: np.ndarray, index1: np.ndarray, index2: np.ndarray) -> np.ndarray:
    """kernlab's sigest core for given row pairs: 1/quantile(dist, (.9, .5, .1)) of nonzero dists.

    Falls back to 1/p for all three values when every sampled pair is identical (kernlab would
    fail there), so a resample of duplicated rows still fits.
    """
    diff = X_scaled[index1] - X_scaled[index2]
    dist = (diff**2).sum(axis=1)
    dist = dist[dist != 0]
    if dist.size == 0:
        return np.full(3, 1.0 / max(X_scaled.shape[1], 1))
    return 1.0 / np.quantile(dist, [0.9, 0.5, 0.1])


def sigest(X: np.ndarray, seed: int, frac: float = 0.5) -> np.ndarray:
    """kernlab's ``sigest(scaled=TRUE)``: the (low, middle, high) sigma range for an RBF kernel."""
    X_scaled, _, _ = _standardise(X)
    m = X_scaled.shape[0]
    k = max(int(np.floor(frac * m)), 1)
    rng = np.random.default_rng(seed)
    index1 = rng.integers(0, m, size=k)
    index2 = rng.integers(0, m, size=k)
    return sigest_from_draw(X_scaled, index1, index2)


def resolve_sigma(raw: Any, X: np.ndarray, seed: int) -> float:
    """A numeric sigma as given, or "sigest": estimated from the rows being fitted."""
    if isinstance(raw, str):
        if raw != SIGEST:
            raise ValueError(f"sigma must be a positive number or {SIGEST!r}, got {raw!r}")
        return sigest_sigma(X, seed)
    return float(raw)


def sigest_sigma(X: np.ndarray, seed: int) -> float:
    """caret's single sigma from sigest: the mean of the 0.9 and 0.1 quantile values."""
    srange = sigest(X, seed)
    return float((srange[0] + srange[2]) / 2.0)


def _libsvm_platt_available() -> bool:
    """Whether this scikit-learn still has SVC(probability=True) (deprecated 1.9, gone in 1.11)."""
    from sklearn.svm import SVC

    return "probability" in SVC().get_params()


def _fit_kernel_svc(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    kernel: dict[str, Any],
    C: float,
    seed: int,
) -> tuple[Any, Any]:
    """Fit the classifier and its Platt probabilities: (SVC, None) or (SVC, calibrator).

    ``kernel`` holds SVC's kernel arguments. libsvm's own Platt scaling (internal 5-fold CV,
    pairwise coupling) is kernlab's prob.model and is used while scikit-learn has it;
    afterwards an equivalent-in-spirit CalibratedClassifierCV(method="sigmoid", ensemble=False)
    replaces it.
    """
    import warnings

    from sklearn.svm import SVC

    if _libsvm_platt_available():
        svc = SVC(**kernel, C=C, probability=True, random_state=seed, cache_size=200)
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*`probability` parameter", category=FutureWarning
            )
            svc.fit(X, y, sample_weight=weights)
        return svc, None

    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold

    base = SVC(**kernel, C=C, cache_size=200)
    smallest = int(np.bincount(y)[np.unique(y)].min())
    cv = StratifiedKFold(max(2, min(5, smallest)), shuffle=True, random_state=seed)
    cal = CalibratedClassifierCV(base, method="sigmoid", ensemble=False, cv=cv)
    cal.fit(X, y, sample_weight=weights)
    return cal.calibrated_classifiers_[0].estimator, cal


@dataclass
class SVMFit:
    """A fitted radial SVM with the scaling and the sigma it used (picklable)."""

    estimator: Any  # sklearn SVC / SVR, or None when only one class was present
    sigma: float
    center: np.ndarray
    scale: np.ndarray
    y_center: float = 0.0
    y_scale: float = 1.0
    mode: str = CLASSIFICATION
    n_classes: int = 0
    constant_class: int | None = None
    calibrator: Any = None  # CalibratedClassifierCV where libsvm's Platt scaling is gone

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the fitting rows' standardisation to new rows."""
        return (np.asarray(X, dtype=float) - self.center) / self.scale


def fit_ksvm(
    options: dict[str, Any],
    data: TrainingData,
    kernel: dict[str, Any],
    C: float,
    seed: int,
    sigma: float = float("nan"),
) -> SVMFit:
    """ksvm's fit on libsvm: standardise (``scaled=TRUE``), then SVC with Platt probabilities,
    or eps-SVR on the standardised response. ``kernel`` holds SVC/SVR's kernel arguments."""
    from sklearn.svm import SVR

    X = np.asarray(data.X, dtype=float)
    if options.get("scaled", True):
        Xs, center, scale = _standardise(X)
    else:
        Xs, center, scale = X, np.zeros(X.shape[1]), np.ones(X.shape[1])
    weights = None if data.weights is None else np.asarray(data.weights, dtype=float)
    rs = int(seed) % 2**32

    if data.mode == REGRESSION:
        y = np.asarray(data.y, dtype=float)
        y_center, y_scale = 0.0, 1.0
        if options.get("scaled", True):
            y_center = float(y.mean())
            sd = float(y.std(ddof=1)) if y.size > 1 else 0.0
            y_scale = sd if np.isfinite(sd) and sd > 0 else 1.0
        svr = SVR(**kernel, C=C, epsilon=EPSILON, cache_size=200)
        svr.fit(Xs, (y - y_center) / y_scale, sample_weight=weights)
        return SVMFit(svr, sigma, center, scale, y_center, y_scale, REGRESSION)

    y = np.asarray(data.y).astype(int)
    present = np.unique(y)
    if present.size < 2:  # libsvm cannot fit one class: predict it with certainty
        return SVMFit(
            None,
            sigma,
            center,
            scale,
            mode=CLASSIFICATION,
            n_classes=data.n_classes,
            constant_class=int(present[0]),
        )
    svc, calibrator = _fit_kernel_svc(Xs, y, weights, kernel, C, rs)
    return SVMFit(
        svc,
        sigma,
        center,
        scale,
        mode=CLASSIFICATION,
        n_classes=data.n_classes,
        calibrator=calibrator,
    )


def _random_cost(rng: np.random.Generator, length: int) -> np.ndarray:
    """caret's random-search costs for every kernlab SVM: C = 2^U(-5, 10)."""
    return 2.0 ** rng.uniform(-5.0, 10.0, length)


class KSVM(Model):
    """Shared scoring of the kernlab-style SVMs (the fit is ``fit_ksvm`` with a kernel)."""

    option_names = ("scaled",)
    engine: ClassVar[str] = "sklearn"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    takes_weights: ClassVar[bool] = True
    probabilities: ClassVar[bool] = True
    classes_from_proba: ClassVar[bool] = False  # classes from the decision function, as kernlab

    def predict(self, fitted: SVMFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Class codes from the decision function (kernlab's type="response"), or values."""
        Xs = fitted.transform(X)
        if fitted.mode == REGRESSION:
            pred = fitted.estimator.predict(Xs) * fitted.y_scale + fitted.y_center
        elif fitted.estimator is None:
            pred = np.full(Xs.shape[0], fitted.constant_class, dtype=int)
        else:
            pred = fitted.estimator.predict(Xs).astype(int)
        return np.tile(pred, (len(subs), 1))

    def predict_proba(
        self, fitted: SVMFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """libsvm's Platt probabilities in class-code order, K columns (absent classes get 0)."""
        if fitted.mode == REGRESSION:
            raise NotImplementedError(f"{self.name} gives no probabilities in regression")
        Xs = fitted.transform(X)
        proba = np.zeros((Xs.shape[0], fitted.n_classes))
        if fitted.estimator is None:
            proba[:, fitted.constant_class] = 1.0
        else:
            probs = fitted.estimator if fitted.calibrator is None else fitted.calibrator
            proba[:, probs.classes_.astype(int)] = probs.predict_proba(Xs)
        return np.tile(proba, (len(subs), 1, 1))


class SVMRadial(KSVM):
    """Support vector machine with a radial basis kernel (caret's ``svmRadial``, kernlab's ksvm).

    ``sigma="sigest"`` estimates sigma with kernlab's sigest on the rows being fitted (caret does it
    once on the whole training set, which leaks the held-out rows into the grid). Set
    ``options={"scaled": False}`` to skip the standardisation ksvm does by default.
    """

    name: ClassVar[str] = "svm_radial"
    label: ClassVar[str] = "Support Vector Machines with Radial Basis Function Kernel"
    tags: ClassVar[tuple[str, ...]] = (
        "kernel method",
        "support vector machines",
        "radial basis function",
        "robust methods",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("sigma", "float", 1e-8, 1e3, log=True, label="Sigma", special=(SIGEST,)),
        Param("C", "float", 1e-6, 1e6, log=True, label="Cost"),
    )
    submodel: ClassVar[tuple[str, ...]] = ()
    space = MappingProxyType({"sigma": loguniform(1e-4, 10.0), "C": loguniform(0.01, 1000.0)})
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("C", True), ("sigma", False))

    # -- grids -----------------------------------------------------------------------------
    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid, with sigma estimated per fit: C = 2^((1:length) - 3), sigma "sigest"."""
        return expand_grid(sigma=SIGEST, C=2.0 ** (np.arange(1, length + 1) - 3))

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: log sigma over sigest's range widened 75%, C = 2^U(-5, 10)."""
        srange = sigest(data.X, int(rng.integers(2**31)))
        lo, hi = np.log(srange.min()), np.log(srange.max())
        widen = 0.75 * (hi - lo)  # R's extendrange(f = .75)
        sigma = np.exp(rng.uniform(lo - widen, hi + widen, length))
        return pd.DataFrame({"sigma": sigma, "C": _random_cost(rng, length)})

    def sort_simplest_first(self, grid: pd.DataFrame) -> pd.DataFrame:
        """Sort by C then descending sigma, leaving sigma out when it holds "sigest"."""
        keys = [(k, a) for k, a in self.complexity_order if k in grid.columns]
        if "sigma" in grid.columns and not pd.api.types.is_numeric_dtype(grid["sigma"]):
            keys = [(k, a) for k, a in keys if k != "sigma"]
        if not keys:
            return grid
        return grid.sort_values(
            [k for k, _ in keys], ascending=[a for _, a in keys], kind="mergesort"
        )

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> SVMFit:
        """Standardise, resolve sigma (estimating it if "sigest"), and fit libsvm's SVC or SVR."""
        X = np.asarray(data.X, dtype=float)
        sigma = resolve_sigma(params["sigma"], X, seed)
        kernel = {"kernel": "rbf", "gamma": sigma}
        return fit_ksvm(self.options, data, kernel, float(params["C"]), seed, sigma)

    def describe_fit(self, fitted: SVMFit) -> dict[str, Any]:
        """The sigma the fit used (estimated when the grid said "sigest")."""
        return {"sigma": fitted.sigma}


class SVMLinear(KSVM):
    """Support vector machine with a linear kernel (caret's ``svmLinear``, kernlab's vanilladot).

    libsvm's ``SVC(kernel="linear")`` (not liblinear's ``LinearSVC``, whose loss and intercept
    penalty differ from kernlab's) on predictors standardised as ksvm's ``scaled=TRUE``; eps-SVR
    on the standardised response for regression; Platt probabilities as ``svm_radial``.
    Importance: the absolute weights of the standardised predictors, summed over the pairwise
    classifiers (classification only; None in regression).
    """

    name: ClassVar[str] = "svm_linear"
    label: ClassVar[str] = "Support Vector Machines with Linear Kernel"
    tags: ClassVar[tuple[str, ...]] = (
        "kernel method",
        "support vector machines",
        "linear regression",
        "linear classifier",
        "robust methods",
    )
    params: ClassVar[tuple[Param, ...]] = (Param("C", "float", 1e-6, 1e6, log=True, label="Cost"),)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("C", True),)

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid whatever the length: C = 1."""
        return pd.DataFrame({"C": [1.0]})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: C = 2^U(-5, 10)."""
        return pd.DataFrame({"C": _random_cost(rng, length)})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> SVMFit:
        """Standardise and fit libsvm with the linear kernel <x, x'>."""
        return fit_ksvm(self.options, data, {"kernel": "linear"}, float(params["C"]), seed)

    def importance(self, fitted: SVMFit, subs: list[dict[str, Any]]) -> np.ndarray | None:
        if fitted.mode != CLASSIFICATION or fitted.estimator is None:
            return None
        return np.abs(np.asarray(fitted.estimator.coef_)).sum(axis=0)


class SVMPoly(KSVM):
    """Support vector machine with a polynomial kernel (caret's ``svmPoly``, kernlab's polydot).

    kernlab's kernel (scale <x, x'> + 1)^degree is libsvm's ``poly`` with gamma = scale and
    coef0 = 1, on predictors standardised as ksvm's ``scaled=TRUE``; regression and Platt
    probabilities as ``svm_radial``.
    """

    name: ClassVar[str] = "svm_poly"
    label: ClassVar[str] = "Support Vector Machines with Polynomial Kernel"
    tags: ClassVar[tuple[str, ...]] = (
        "kernel method",
        "support vector machines",
        "polynomial model",
        "robust methods",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("degree", "int", 1, 10, label="Polynomial Degree"),
        Param("scale", "float", 1e-8, 1e3, log=True, label="Scale"),
        Param("C", "float", 1e-6, 1e6, log=True, label="Cost"),
    )
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("degree", True),
        ("C", True),
        ("scale", True),
    )

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: degree 1..min(length, 3), scale 10^((1:length) - 4),
        C 2^((1:length) - 3)."""
        steps = np.arange(1, length + 1)
        return expand_grid(
            degree=np.arange(1, min(length, 3) + 1), scale=10.0 ** (steps - 4), C=2.0 ** (steps - 3)
        )

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: degree 1..3, scale 10^U(-5, log10 2), C 2^U(-5, 10)."""
        return pd.DataFrame(
            {
                "degree": rng.integers(1, 4, length),
                "scale": 10.0 ** rng.uniform(-5.0, np.log10(2.0), length),
                "C": _random_cost(rng, length),
            }
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> SVMFit:
        """Standardise and fit libsvm with the kernel (scale <x, x'> + 1)^degree."""
        kernel = {
            "kernel": "poly",
            "degree": int(params["degree"]),
            "gamma": float(params["scale"]),
            "coef0": 1.0,
        }
        return fit_ksvm(self.options, data, kernel, float(params["C"]), seed)


class SVMRadialCost(SVMRadial):
    """Radial SVM tuned over C only, sigma always estimated by sigest (caret's svmRadialCost)."""

    name: ClassVar[str] = "svm_radial_cost"
    label: ClassVar[str] = "Support Vector Machines with Radial Basis Function Kernel (cost only)"
    params: ClassVar[tuple[Param, ...]] = (Param("C", "float", 1e-6, 1e6, log=True, label="Cost"),)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("C", True),)

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: C = 2^((1:length) - 3)."""
        return expand_grid(C=2.0 ** (np.arange(1, length + 1) - 3))

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret: C = 2^U(-5, 10)."""
        return pd.DataFrame({"C": _random_cost(rng, length)})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> SVMFit:
        """The radial fit with sigma from sigest on the rows being fitted."""
        return super().fit(data, {**params, "sigma": SIGEST}, subs, seed)
