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
    option_names = ()
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
        return expand_grid({"gamma": values, "lambda": values})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: gamma and lambda uniform on [0, 1]."""
        return pd.DataFrame(
            {"gamma": rng.uniform(0.0, 1.0, length), "lambda": rng.uniform(0.0, 1.0, length)}
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
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


# -- linear and quadratic discriminant analysis (MASS::lda / MASS::qda) ------------------------
@dataclass
class GaussianFit:
    """Class means, priors and the (inverse-)covariance factors of a Gaussian classifier."""

    means: np.ndarray  # (K, p)
    log_prior: np.ndarray  # (K,), -inf for classes absent from the fitting rows
    vecs: np.ndarray  # (K, p, p) eigenvectors of each class's covariance (shared for LDA)
    vals: np.ndarray  # (K, p) eigenvalues, floored as in RDA

    def log_scores(self, X: np.ndarray) -> np.ndarray:
        """log prior + log Gaussian density (up to a shared constant), shape (n, K)."""
        X = np.asarray(X, dtype=float)
        out = np.full((X.shape[0], self.means.shape[0]), -np.inf)
        for k in np.flatnonzero(np.isfinite(self.log_prior)):
            z2 = ((X - self.means[k]) @ self.vecs[k]) ** 2
            maha = z2 @ (1.0 / self.vals[k])
            out[:, k] = self.log_prior[k] - 0.5 * (maha + np.log(self.vals[k]).sum())
        return out


def _posterior(log_scores: np.ndarray) -> np.ndarray:
    """Posterior probabilities from log scores (n, K), shifted for stability."""
    return np.exp(log_scores - np.logaddexp.reduce(log_scores, axis=1, keepdims=True))


def _eig(cov: np.ndarray, fallback: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition with eigenvalues floored (see ``_floor_eigenvalues``)."""
    vals, vecs = np.linalg.eigh(cov)
    return _floor_eigenvalues(np.clip(vals, 0.0, None), fallback), vecs


class LDA(Model):
    """Linear discriminant analysis as MASS::lda (caret's ``lda``; no tuning parameters).

    Gaussian classes sharing one covariance, estimated by the pooled within-class covariance
    with denominator N - K; priors are the class proportions of the fitting rows. Posteriors
    equal MASS's ``predict.lda`` (which works in the discriminant space, an equivalent
    parametrisation). Where MASS stops ("variables appear to be constant within groups", a
    singular covariance) the eigenvalues are floored as in ``rda``, so the fit stays usable.
    Classes absent from the fitting rows get probability 0. Written in numpy: scikit-learn's
    ``LinearDiscriminantAnalysis`` divides by N, not N - K, so its posteriors differ from MASS's.
    """

    name: ClassVar[str] = "lda"
    option_names = ()
    label: ClassVar[str] = "Linear Discriminant Analysis"
    engine: ClassVar[str] = "leanfit"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION,)
    tags: ClassVar[tuple[str, ...]] = ("discriminant analysis", "linear classifier")

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> GaussianFit:
        """Class means and the pooled covariance (N - K denominator), decomposed once."""
        if data.mode != CLASSIFICATION:
            raise ValueError("lda is a classification model")
        st = rda_statistics(data.X, data.y, data.n_classes)
        K, p = st.means.shape
        dof = max(st.total_n - int(st.present.sum()), 1.0)
        vals, vecs = _eig(st.pooled / dof, 1.0)
        return GaussianFit(
            means=st.means,
            log_prior=self._log_prior(st),
            vecs=np.broadcast_to(vecs, (K, p, p)),
            vals=np.broadcast_to(vals, (K, p)),
        )

    @staticmethod
    def _log_prior(st: RDAFit) -> np.ndarray:
        """log class proportions of the fitting rows, -inf for classes absent from them."""
        log_prior = np.where(st.present, np.log(np.where(st.present, st.class_n, 1.0)), -np.inf)
        return log_prior - np.log(st.total_n)

    def predict_proba(
        self, fitted: GaussianFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Posterior probabilities, shape (len(subs), n, K)."""
        return np.repeat(_posterior(fitted.log_scores(X))[None], len(subs), axis=0)


class QDA(LDA):
    """Quadratic discriminant analysis as MASS::qda (caret's ``qda``; no tuning parameters).

    One Gaussian per class with its own covariance (denominator N_k - 1), priors the class
    proportions. MASS stops on a singular class covariance ("rank deficiency in group"), as
    happens when a class has no more rows than there are predictors; here the eigenvalues are
    floored as in ``rda`` instead, which keeps the fit usable but is not a good model: prefer
    ``rda`` then.
    """

    name: ClassVar[str] = "qda"
    label: ClassVar[str] = "Quadratic Discriminant Analysis"
    tags: ClassVar[tuple[str, ...]] = ("discriminant analysis", "polynomial model")

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> GaussianFit:
        """Class means and covariances (N_k - 1 denominators), each decomposed once."""
        if data.mode != CLASSIFICATION:
            raise ValueError("qda is a classification model")
        st = rda_statistics(data.X, data.y, data.n_classes)
        K, p = st.means.shape
        pooled_eigs = np.linalg.eigvalsh(st.pooled / max(st.total_n, 1.0))
        fallback = float(pooled_eigs.max()) if pooled_eigs.max() > 0 else 1.0
        vecs, vals = np.zeros((K, p, p)), np.ones((K, p))
        for k in np.flatnonzero(st.present):
            vals[k], vecs[k] = _eig(st.scatter[k] / max(st.class_n[k] - 1.0, 1.0), fallback)
        return GaussianFit(st.means, self._log_prior(st), vecs, vals)


# -- naive Bayes (klaR::NaiveBayes / naivebayes::naive_bayes) -----------------------------------
THRESHOLD = 0.001  # klaR's and e1071's density that replaces zero densities


def bw_nrd0(x: np.ndarray) -> float:
    """R's ``bw.nrd0``: Silverman's rule of thumb 0.9 min(sd, IQR / 1.34) n^-1/5."""
    x = np.asarray(x, dtype=float)
    hi = float(x.std(ddof=1)) if x.size > 1 else 0.0
    q75, q25 = np.quantile(x, [0.75, 0.25])
    lo = min(hi, float(q75 - q25) / 1.34)
    if not lo > 0:
        lo = hi or abs(float(x[0])) or 1.0
    return 0.9 * lo * x.size ** (-0.2)


@dataclass
class NaiveBayesFit:
    """Per-class, per-column density parameters of a naive Bayes classifier."""

    log_prior: np.ndarray  # (K,), -inf for absent classes
    usekernel: bool
    means: np.ndarray  # (K, p) (Gaussian)
    sds: np.ndarray  # (K, p) (Gaussian)
    points: list[np.ndarray]  # per class (n_k, p) training rows (kernel)
    bandwidths: np.ndarray  # (K, p) (kernel)


class NaiveBayes(Model):
    """Naive Bayes (caret's ``naive_bayes`` / ``nb``: naivebayes and klaR packages).

    Each class is a product of one-dimensional densities: Gaussian (mean, sd with n - 1) when
    ``usekernel`` is False, else a Gaussian kernel density with R's ``density()`` bandwidth
    ``bw.nrd0`` times ``adjust``; priors are the class proportions. Densities that underflow to
    zero are replaced by 0.001, as klaR and e1071 do (in log space only exact zeros, so very
    unlikely rows keep their ordering). ``laplace`` (klaR's ``fL``) smooths the counts of
    categorical predictors; leanfit's predictors are numeric (factors arrive dummy-encoded), so
    it is accepted for caret's grids and has no effect. A zero within-class sd is raised to
    1e-9 times the largest sd (scikit-learn's ``var_smoothing`` idea) so the density exists.
    """

    name: ClassVar[str] = "naive_bayes"
    option_names = ()
    label: ClassVar[str] = "Naive Bayes"
    engine: ClassVar[str] = "scipy"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION,)
    tags: ClassVar[tuple[str, ...]] = ("bayesian model",)
    params: ClassVar[tuple[Param, ...]] = (
        Param("laplace", "float", 0.0, 1e3, label="Laplace Correction", aliases=("fL",)),
        Param("usekernel", "cat", choices=(False, True), label="Distribution Type"),
        Param("adjust", "float", 1e-3, 1e3, label="Bandwidth Adjustment"),
    )
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("usekernel", True),)
    laplace_name: ClassVar[str] = "laplace"

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid whatever the length: usekernel TRUE and FALSE, laplace 0, adjust 1."""
        grid = expand_grid({"usekernel": [True, False], self.laplace_name: 0.0, "adjust": 1.0})
        return grid[[p.name for p in self.params]]

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search is its grid."""
        return self.default_grid(data, length)

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> NaiveBayesFit:
        """Class priors and, per class and column, a Gaussian or a kernel bandwidth."""
        if data.mode != CLASSIFICATION:
            raise ValueError(f"{self.name} is a classification model")
        X = np.asarray(data.X, dtype=float)
        y = np.asarray(data.y).astype(int)
        K, p = data.n_classes, X.shape[1]
        usekernel = bool(params.get("usekernel", False))
        adjust = float(params.get("adjust", 1.0))
        counts = np.bincount(y, minlength=K).astype(float)
        log_prior = np.where(counts > 0, np.log(np.maximum(counts, 1.0) / counts.sum()), -np.inf)
        means, sds = np.zeros((K, p)), np.ones((K, p))
        bws, points = np.ones((K, p)), []
        for k in range(K):
            rows = X[y == k]
            points.append(rows)
            if len(rows) == 0:
                continue
            means[k] = rows.mean(axis=0)
            sds[k] = rows.std(axis=0, ddof=1) if len(rows) > 1 else 0.0
            if usekernel:
                bws[k] = [adjust * bw_nrd0(rows[:, j]) for j in range(p)]
        floor = 1e-9 * max(float(np.nanmax(sds)), 1e-12)
        sds = np.where(np.isfinite(sds) & (sds > floor), sds, floor)
        return NaiveBayesFit(log_prior, usekernel, means, sds, points, bws)

    @staticmethod
    def _log_density(fit: NaiveBayesFit, X: np.ndarray, k: int) -> np.ndarray:
        """Sum over columns of the log class-k densities, zero densities set to 0.001."""
        from scipy.special import logsumexp
        from scipy.stats import norm

        if not fit.usekernel:
            logd = norm.logpdf(X, fit.means[k], fit.sds[k])
        else:
            pts, bw = fit.points[k], fit.bandwidths[k]
            z = (X[:, None, :] - pts[None, :, :]) / bw  # (n, n_k, p)
            logd = logsumexp(norm.logpdf(z), axis=1) - np.log(len(pts) * bw)
        logd = np.where(np.isneginf(logd), np.log(THRESHOLD), logd)
        return logd.sum(axis=1)

    def predict_proba(
        self, fitted: NaiveBayesFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Posterior probabilities, shape (len(subs), n, K)."""
        X = np.asarray(X, dtype=float)
        scores = np.full((X.shape[0], len(fitted.log_prior)), -np.inf)
        for k in np.flatnonzero(np.isfinite(fitted.log_prior)):
            scores[:, k] = fitted.log_prior[k] + self._log_density(fitted, X, int(k))
        return np.repeat(_posterior(scores)[None], len(subs), axis=0)


class NB(NaiveBayes):
    """Naive Bayes under caret's ``nb`` name (klaR), whose Laplace parameter is called ``fL``."""

    name: ClassVar[str] = "nb"
    params: ClassVar[tuple[Param, ...]] = (
        Param("fL", "float", 0.0, 1e3, label="Laplace Correction", aliases=("laplace",)),
        Param("usekernel", "cat", choices=(False, True), label="Distribution Type"),
        Param("adjust", "float", 1e-3, 1e3, label="Bandwidth Adjustment"),
    )
    laplace_name: ClassVar[str] = "fL"


# -- nearest shrunken centroids (pamr) ------------------------------------------------------
@dataclass
class PAMFit:
    """pamr's standardized centroid differences, from which any threshold shrinks."""

    delta: np.ndarray  # (p, K) (centroid_k - overall) / (sd + s0) / se_scale_k
    se_scale: np.ndarray  # (K,) sqrt(1/n_k - 1/n)
    overall: np.ndarray  # (p,)
    sd: np.ndarray  # (p,) within-class sd + s0
    log_prior: np.ndarray  # (K,)

    def shrunk(self, threshold: float) -> np.ndarray:
        """Soft-thresholded standardized centroids (p, K), times se_scale as pamr scores them."""
        d = np.sign(self.delta) * np.clip(np.abs(self.delta) - threshold, 0.0, None)
        return d * self.se_scale


def pam_statistics(X: np.ndarray, y: np.ndarray, n_classes: int) -> PAMFit:
    """pamr.train's statistics: centroids, the pooled within-class sd plus its median s0."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).astype(int)
    n, p = X.shape
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = counts > 0
    overall = X.mean(axis=0)
    cents = np.zeros((p, n_classes))
    resid = np.zeros(p)
    for k in np.flatnonzero(present):
        rows = X[y == k]
        cents[:, k] = rows.mean(axis=0)
        resid += ((rows - cents[:, k]) ** 2).sum(axis=0)
    sd = np.sqrt(resid / max(n - int(present.sum()), 1))
    sd = sd + np.median(sd)
    sd = np.where(sd > 0, sd, 1.0)
    se_scale = np.sqrt(np.where(present, 1.0 / np.maximum(counts, 1.0) - 1.0 / n, 1.0))
    se_scale = np.where(se_scale > 0, se_scale, 1.0)
    delta = ((cents - overall[:, None]) / sd[:, None]) / se_scale
    delta[:, ~present] = 0.0
    log_prior = np.where(present, np.log(np.maximum(counts, 1.0) / n), -np.inf)
    return PAMFit(delta, se_scale, overall, sd, log_prior)


class PAM(Model):
    """Nearest shrunken centroids (Tibshirani et al. 2002), caret's ``pam`` (pamr), in numpy.

    Class centroids, standardized by the pooled within-class sd plus its median (pamr's s0), are
    soft-thresholded toward the overall centroid by ``threshold``; rows are scored by pamr's
    diagonal discriminant x'c_k - ||c_k||^2 / 2 + log prior_k, posteriors its softmax. The
    statistics are computed once and every threshold shrinks them (sub-model: threshold, as in
    caret). The grid spans pamr's 30-step threshold path without its ends, as caret's; its
    simplest-first order is caret's too (increasing threshold), although a larger threshold
    keeps fewer predictors. Importance: the largest absolute shrunken standardized centroid.
    """

    name: ClassVar[str] = "pam"
    option_names = ()
    label: ClassVar[str] = "Nearest Shrunken Centroids"
    engine: ClassVar[str] = "leanfit"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION,)
    tags: ClassVar[tuple[str, ...]] = (
        "prototype models",
        "implicit feature selection",
        "linear classifier",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("threshold", "float", 0.0, 1e4, label="Shrinkage Threshold"),
    )
    submodel: ClassVar[tuple[str, ...]] = ("threshold",)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("threshold", True),)

    @staticmethod
    def _range(data: TrainingData) -> tuple[float, float]:
        """pamr's thresholds seq(0, max|delta|, length = 30) without the first and last."""
        top = float(np.abs(pam_statistics(data.X, data.y, data.n_classes).delta).max())
        return top / 29.0, top * 28.0 / 29.0

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: ``length`` thresholds evenly over pamr's inner threshold range."""
        lo, hi = self._range(data)
        return pd.DataFrame({"threshold": np.linspace(lo, hi, length)})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: thresholds uniform over the same range."""
        lo, hi = self._range(data)
        return pd.DataFrame({"threshold": rng.uniform(lo, hi, length)})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> PAMFit:
        """The standardized centroid differences, once; thresholds apply at scoring time."""
        if data.mode != CLASSIFICATION:
            raise ValueError("pam is a classification model")
        return pam_statistics(data.X, data.y, data.n_classes)

    def predict_proba(
        self, fitted: PAMFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """pamr's posteriors softmax(x'c_k - ||c_k||^2/2 + log prior_k) for every threshold."""
        Z = (np.asarray(X, dtype=float) - fitted.overall) / fitted.sd
        out = []
        for s in subs:
            c = fitted.shrunk(float(s["threshold"]))
            scores = Z @ c - 0.5 * (c**2).sum(axis=0) + fitted.log_prior
            out.append(_posterior(scores))
        return np.stack(out)

    def importance(self, fitted: PAMFit, subs: list[dict[str, Any]]) -> np.ndarray:
        """max_k |shrunken standardized centroid difference| at the first sub's threshold."""
        return np.abs(fitted.shrunk(float(subs[0]["threshold"]))).max(axis=1)
