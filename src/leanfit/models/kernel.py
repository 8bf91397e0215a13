"""Kernel methods other than SVMs: Gaussian processes (caret's ``gaussprRadial``) and kernel
ridge regression (every penalty from one eigendecomposition)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from leanfit.models.base import CLASSIFICATION, REGRESSION, Model, Param, TrainingData, expand_grid
from leanfit.models.svm import SIGEST, _standardise, resolve_sigma, sigest


def _scale_response(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Centre and scale a response (ddof=1), as kernlab's ``scaled=TRUE`` does."""
    y = np.asarray(y, dtype=float)
    center = float(y.mean())
    sd = float(y.std(ddof=1)) if y.size > 1 else 0.0
    scale = sd if np.isfinite(sd) and sd > 0 else 1.0
    return (y - center) / scale, center, scale


def _sigma_range_draw(data: TrainingData, rng: np.random.Generator) -> np.ndarray:
    """kernlab's sigest range with a seed drawn from ``rng`` (for random grids)."""
    return sigest(data.X, int(rng.integers(2**31)))


def _extend_log_uniform(srange: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """exp(U) over R's ``extendrange(log(range), f = 0.75)``: caret's random sigma draws."""
    lo, hi = np.log(srange.min()), np.log(srange.max())
    widen = 0.75 * (hi - lo)
    return np.exp(rng.uniform(lo - widen, hi + widen, length))


def _rbf(A: np.ndarray, B: np.ndarray, sigma: float) -> np.ndarray:
    """kernlab's rbfdot: exp(-sigma ||a - b||^2)."""
    d2 = (A**2).sum(axis=1)[:, None] + (B**2).sum(axis=1)[None, :] - 2.0 * A @ B.T
    return np.exp(-sigma * np.clip(d2, 0.0, None))


def laplace_mode(
    K: np.ndarray, t: np.ndarray, tol: float = 1e-10, max_iter: int = 100
) -> np.ndarray:
    """Mode of the Laplace approximation of binary GP classification with a logistic link
    (Rasmussen & Williams, algorithm 3.1); ``t`` is 1 for the positive class, else 0.

    Returns the dual weights t - pi(f_hat), so the latent mean at new rows is k(x, X) @ them:
    what kernlab's gausspr stores as alpha (it stops at a looser gradient tolerance, 5e-4).
    """
    f = np.zeros(len(t))
    for _ in range(max_iter):
        pi = 1.0 / (1.0 + np.exp(-f))
        sw = np.sqrt(pi * (1.0 - pi))
        L = np.linalg.cholesky(np.eye(len(t)) + sw[:, None] * K * sw[None, :])
        b = pi * (1.0 - pi) * f + (t - pi)
        v = np.linalg.solve(L.T, np.linalg.solve(L, sw * (K @ b)))
        f_new = K @ (b - sw * v)
        done = np.max(np.abs(f_new - f)) < tol
        f = f_new
        if done:
            break
    return t - 1.0 / (1.0 + np.exp(-f))


def couple_minpair(r: np.ndarray) -> np.ndarray:
    """Pairwise coupling (Wu, Lin & Weng's second method; kernlab's ``couple(coupler="minpair")``).

    ``r`` (n, K, K) holds r[i, j] = P(class i | class i or j). kernlab fills its matrices in an
    order that only matches the pairs for up to three classes; this is the method as published.
    """
    n, K, _ = r.shape
    if K == 2:
        return np.stack([r[:, 0, 1], r[:, 1, 0]], axis=1)
    rij = np.where(~np.eye(K, dtype=bool), r, 0.0)
    Q = -np.transpose(rij, (0, 2, 1)) * rij
    idx = np.arange(K)
    Q[:, idx, idx] = (rij**2).sum(axis=1)
    S = np.zeros((n, K + 1, K + 1))
    S[:, :K, :K], S[:, K, :K], S[:, :K, K] = Q, 1.0, 1.0
    rhs = np.zeros((n, K + 1, 1))
    rhs[:, K] = 1.0
    p = np.linalg.solve(S, rhs)[:, :K, 0]
    return p / p.sum(axis=1, keepdims=True)


@dataclass
class GPFit:
    """A fitted Gaussian process on standardised predictors (picklable)."""

    X: np.ndarray  # standardised fitting rows
    sigma: float
    center: np.ndarray
    scale: np.ndarray
    mode: str
    n_classes: int = 0
    alpha: np.ndarray | None = None  # regression dual weights (K + var I)^-1 y
    y_center: float = 0.0
    y_scale: float = 1.0
    # (i, j, rows, dual weights) per class pair
    pairs: list[tuple[int, int, np.ndarray, np.ndarray]] = field(default_factory=list)
    constant_class: int | None = None

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float) - self.center) / self.scale


class GaussProcess(Model):
    """Gaussian process with a radial kernel (caret's ``gaussprRadial``, kernlab's gausspr).

    As kernlab: predictors (and a numeric response) are standardised (``scaled=TRUE``), the
    kernel is exp(-sigma ||x - x'||^2) (scikit-learn's ``RBF(length_scale=1/sqrt(2 sigma))``),
    sigma is tuned rather than fitted. Regression: the posterior mean k(x, X)(K + var I)^-1 y
    with kernlab's default noise variance ``var = 1``. Classification: one binary Laplace-
    approximation GP (logistic link) per pair of classes, probability sigmoid(latent mean) as
    kernlab's ``predict(type="probabilities")``, pairs coupled by Wu-Lin-Weng (kernlab's
    "minpair"). Written in numpy: scikit-learn's ``GaussianProcessClassifier`` averages over the
    latent variance and is one-vs-rest, so its probabilities differ from kernlab's.
    ``sigma="sigest"`` (the default grid) estimates sigma with kernlab's sigest on the rows being
    fitted, as ``svm_radial`` does.
    """

    name: ClassVar[str] = "gaussprocess"
    option_names = ()
    label: ClassVar[str] = "Gaussian Process with Radial Basis Function Kernel"
    engine: ClassVar[str] = "leanfit"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    tags: ClassVar[tuple[str, ...]] = (
        "kernel method",
        "gaussian process",
        "radial basis function",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("sigma", "float", 1e-8, 1e3, log=True, label="Sigma", special=(SIGEST,)),
    )
    noise: ClassVar[float] = 1.0  # kernlab gausspr's default ``var``

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: one sigma, sigest's estimate (made per fit here)."""
        return pd.DataFrame({"sigma": [SIGEST]})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: log sigma uniform over sigest's range widened 75%."""
        srange = _sigma_range_draw(data, rng)
        return pd.DataFrame({"sigma": _extend_log_uniform(srange, length, rng)})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> GPFit:
        """Standardise, resolve sigma, and condition the process on the fitting rows."""
        X = np.asarray(data.X, dtype=float)
        sigma = resolve_sigma(params["sigma"], X, seed)
        Xs, center, scale = _standardise(X)
        fit = GPFit(Xs, sigma, center, scale, data.mode, data.n_classes)
        if data.mode == REGRESSION:
            ys, fit.y_center, fit.y_scale = _scale_response(data.y)
            K = _rbf(Xs, Xs, sigma)
            fit.alpha = np.linalg.solve(K + self.noise * np.eye(len(ys)), ys)
            return fit
        y = np.asarray(data.y).astype(int)
        present = np.unique(y)
        if present.size < 2:
            fit.constant_class = int(present[0])
            return fit
        for a, i in enumerate(present):
            for j in present[a + 1 :]:
                rows = np.flatnonzero((y == i) | (y == j))
                K = _rbf(Xs[rows], Xs[rows], sigma)
                fit.pairs.append((int(i), int(j), rows, laplace_mode(K, (y[rows] == i) * 1.0)))
        return fit

    def predict(self, fitted: GPFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Posterior mean (regression) or the most probable class."""
        if fitted.mode == REGRESSION:
            pred = _rbf(fitted.transform(X), fitted.X, fitted.sigma) @ fitted.alpha
            return np.tile(pred * fitted.y_scale + fitted.y_center, (len(subs), 1))
        return self.predict_proba(fitted, X, subs).argmax(axis=2)

    def predict_proba(self, fitted: GPFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Coupled pairwise probabilities in class-code order (absent classes get 0)."""
        if fitted.mode != CLASSIFICATION:
            raise NotImplementedError("gaussprocess gives no probabilities in regression")
        Xs = fitted.transform(X)
        proba = np.zeros((Xs.shape[0], fitted.n_classes))
        if fitted.constant_class is not None:
            proba[:, fitted.constant_class] = 1.0
            return np.tile(proba, (len(subs), 1, 1))
        classes = sorted({c for i, j, _, _ in fitted.pairs for c in (i, j)})
        pos = {c: k for k, c in enumerate(classes)}
        r = np.full((Xs.shape[0], len(classes), len(classes)), 0.5)
        for i, j, rows, dual in fitted.pairs:
            p = 1.0 / (1.0 + np.exp(-_rbf(Xs, fitted.X[rows], fitted.sigma) @ dual))
            r[:, pos[i], pos[j]], r[:, pos[j], pos[i]] = p, 1.0 - p
        proba[:, classes] = couple_minpair(r)
        return np.tile(proba, (len(subs), 1, 1))

    def describe_fit(self, fitted: GPFit) -> dict[str, Any]:
        """The sigma the fit used (estimated when the grid said "sigest")."""
        return {"sigma": fitted.sigma}


def sigma_range_all_pairs(X: np.ndarray, max_rows: int = 1000) -> np.ndarray:
    """kernlab's sigest range (1 / quantiles 0.9, 0.5, 0.1 of squared distances between
    standardised rows) from every pair of rows instead of a random draw, so a default grid needs
    no seed; above ``max_rows`` rows an evenly spaced subset of rows is used."""
    Xs, _, _ = _standardise(X)
    if len(Xs) > max_rows:
        Xs = Xs[np.linspace(0, len(Xs) - 1, max_rows).astype(int)]
    sq = (Xs**2).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * Xs @ Xs.T
    d2 = d2[np.triu_indices(len(Xs), k=1)]
    d2 = d2[d2 > 1e-12]
    if d2.size == 0:
        return np.full(3, 1.0 / max(Xs.shape[1], 1))
    return 1.0 / np.quantile(d2, [0.9, 0.5, 0.1])


@dataclass
class KRRFit:
    """An eigendecomposition of the (weighted) kernel matrix: any alpha is a rescaling of it."""

    X: np.ndarray  # standardised fitting rows
    gamma: float
    vecs: np.ndarray  # eigenvectors of S K S (S = diag(sqrt(weights)))
    vals: np.ndarray
    vty: np.ndarray  # vecs' S y
    sw: np.ndarray  # sqrt(weights)
    center: np.ndarray
    scale: np.ndarray
    y_center: float
    y_scale: float

    def dual(self, alpha: float) -> np.ndarray:
        """Dual coefficients for one alpha: S V (Lambda + alpha I)^-1 V' S y."""
        denom = self.vals + alpha
        tiny = max(float(self.vals.max(initial=0.0)), 1.0) * 1e-12
        inv = np.divide(1.0, denom, out=np.zeros_like(denom), where=denom > tiny)
        return self.sw * (self.vecs @ (inv * self.vty))


class KernelRidge(Model):
    """Kernel ridge regression with a radial kernel (scikit-learn ``KernelRidge``'s model).

    Predictors are standardised and the response centred and scaled (like caret's
    ``krlsRadial``, KRLS); the kernel is exp(-gamma ||x - x'||^2). One eigendecomposition of the
    kernel matrix gives the solution for every ``alpha`` (sub-model: alpha). Grids: gamma over
    kernlab's sigest range (computed from all row pairs) and alpha = 10^seq(0, -3, length)
    (caret's krlsRadial leaves lambda to KRLS's leave-one-out choice instead); random search as
    caret's krlsRadial: alpha 10^U(-5, 0), gamma log-uniform over sigest's range widened 75%.
    Simplest first: the largest alpha, then the smallest gamma.
    """

    name: ClassVar[str] = "kernel_ridge"
    option_names = ()
    label: ClassVar[str] = "Kernel Ridge Regression with Radial Basis Function Kernel"
    engine: ClassVar[str] = "leanfit"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)
    tags: ClassVar[tuple[str, ...]] = (
        "kernel method",
        "L2 regularization",
        "radial basis function",
        "accepts case weights",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("alpha", "float", 0.0, 1e6, label="Regularization Parameter", aliases=("lambda",)),
        Param("gamma", "float", 1e-8, 1e3, log=True, label="Gamma"),
    )
    submodel: ClassVar[tuple[str, ...]] = ("alpha",)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("alpha", False), ("gamma", True))
    takes_weights: ClassVar[bool] = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """alpha = 10^seq(0, -3, length) crossed with gamma over sigest's range."""
        srange = sigma_range_all_pairs(data.X)
        gammas = np.linspace(srange[0], srange[2], length) if length > 1 else srange[1:2]
        return expand_grid(alpha=10.0 ** np.linspace(0.0, -3.0, length), gamma=gammas)

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's krlsRadial random search, in alpha/gamma terms."""
        srange = _sigma_range_draw(data, rng)
        gamma = _extend_log_uniform(srange, length, rng)
        return pd.DataFrame({"alpha": 10.0 ** rng.uniform(-5.0, 0.0, length), "gamma": gamma})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> KRRFit:
        """Standardise and decompose the weighted kernel matrix once."""
        from sklearn.metrics.pairwise import rbf_kernel

        if data.mode != REGRESSION:
            raise ValueError("kernel_ridge is a regression model")
        Xs, center, scale = _standardise(data.X)
        ys, y_center, y_scale = _scale_response(data.y)
        gamma = float(params["gamma"])
        w = np.ones(len(ys)) if data.weights is None else np.asarray(data.weights, dtype=float)
        sw = np.sqrt(w)
        K = rbf_kernel(Xs, gamma=gamma) * np.outer(sw, sw)
        vals, vecs = np.linalg.eigh(K)
        vals = np.clip(vals, 0.0, None)
        vty = vecs.T @ (sw * ys)
        return KRRFit(Xs, gamma, vecs, vals, vty, sw, center, scale, y_center, y_scale)

    def predict(self, fitted: KRRFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """k(x, X) dual(alpha) for every alpha, back on the response's scale."""
        from sklearn.metrics.pairwise import rbf_kernel

        Xs = (np.asarray(X, dtype=float) - fitted.center) / fitted.scale
        Kx = rbf_kernel(Xs, fitted.X, gamma=fitted.gamma)
        duals = np.stack([fitted.dual(float(s["alpha"])) for s in subs], axis=1)
        return (Kx @ duals).T * fitted.y_scale + fitted.y_center
