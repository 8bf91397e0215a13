"""Linear models: glmnet, unpenalised GLMs, ridge / lasso / elastic net / LARS paths, PLS and
PCR, robust (Huber), quantile and Bayesian ridge regression.

Path models fit once and score every value of their sub-model parameter from that fit: glmnet's
lambda path, the LARS(-EN) path over ``fraction``, ridge's lambdas from one SVD, and the
coefficients of every number of components from one PLS / PCR decomposition.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .base import (
    CLASSIFICATION,
    REGRESSION,
    Model,
    Param,
    TrainingData,
    expand_grid,
    fitted_as,
)
from .space import loguniform, uniform


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
    starts; the multinomial family by glmnet's own Fortran (python-glmnet, the ``glmnet`` extra:
    ``pip install 'leanfit[glmnet]'``, GPL-2 like R's glmnet). Options: ``thresh``, the
    convergence tolerance (default 1e-7 as in glmnet and caret; glum's gradient tolerance for
    binomial and Gaussian), and ``maxit``, the iteration cap (glmnet's 1e5 passes; glum's 1000
    IRLS iterations). Tighter: ``GLMNet(options={"thresh": 1e-12, "maxit": 10**6})``. A fit
    that does not converge raises. Predictors are standardized inside the fit as glmnet does.
    Sub-model: every lambda of one alpha from one path.
    """

    name = "glmnet"
    option_names = ("thresh", "maxit")
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
    space = MappingProxyType({"alpha": uniform(0.0, 1.0), "lambda": loguniform(1e-4, 10.0)})
    complexity_order = (("lambda", False), ("alpha", True))
    takes_weights = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: lambdas of a ``length + 2``-long glmnet path at alpha 0.5, ends dropped."""
        n, p = data.X.shape
        lmax = lambda_max(data, 0.5)
        ratio = 1e-2 if n < p else 1e-4  # glmnet's lambda.min.ratio
        path = np.geomspace(lmax, lmax * ratio, length + 2)[1:-1][:length]
        return expand_grid({"alpha": np.linspace(0.1, 1.0, length), "lambda": path})

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
        thresh = float(self.options.get("thresh", 1e-7))
        maxit = self.options.get("maxit")
        if data.mode == CLASSIFICATION and data.n_classes > 2:
            maxit = 100_000 if maxit is None else int(maxit)
            coefs, intercepts = self._multinomial_path(Z, data, alpha, path, thresh, maxit)
        else:
            maxit = 1000 if maxit is None else int(maxit)
            coefs, intercepts = self._glum_path(Z, data, alpha, path, thresh, maxit)
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
    def _glum_path(
        Z: np.ndarray,
        data: TrainingData,
        alpha: float,
        path: np.ndarray,
        thresh: float,
        maxit: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        from glum import GeneralizedLinearRegressor
        from sklearn.exceptions import ConvergenceWarning

        y = data.y.astype(float)
        family, name, y_scale = "binomial", "binomial", 1.0
        if data.mode != CLASSIFICATION:
            # glmnet solves the Gaussian problem for y / sd(y) at lambda / sd(y); only then does
            # its ridge term (alpha < 1) mean what it means in R.
            family, name = "normal", "gaussian"
            w = np.ones(len(y)) if data.weights is None else data.weights
            y_scale = float(np.sqrt(np.average((y - np.average(y, weights=w)) ** 2, weights=w)))
            y_scale = y_scale if y_scale > 0 else 1.0
        m = GeneralizedLinearRegressor(
            family=family,
            l1_ratio=alpha,
            alpha=list(path / y_scale),
            alpha_search=True,
            scale_predictors=False,
            gradient_tol=thresh,
            max_iter=maxit,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            m.fit(Z, y / y_scale, sample_weight=data.weights)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            raise RuntimeError(
                f"glmnet's {name} fit (glum) did not converge within maxit={maxit} IRLS "
                f"iterations (alpha={alpha}, lambdas {path[0]:.6g} to {path[-1]:.6g}); use a "
                "larger options['maxit'], a looser options['thresh'] or larger lambdas"
            )
        coefs = np.asarray(m.coef_path_)[:, :, None] * y_scale
        return coefs, np.asarray(m.intercept_path_)[:, None] * y_scale

    def check_task(self, mode: str, n_classes: int) -> None:
        """The multinomial family needs python-glmnet (an optional extra): say so before fitting."""
        if mode == CLASSIFICATION and n_classes > 2:
            _glmnet_fortran()

    @staticmethod
    def _multinomial_path(
        Z: np.ndarray,
        data: TrainingData,
        alpha: float,
        path: np.ndarray,
        thresh: float,
        maxit: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """glmnet's multinomial fit at every lambda of ``path``.

        glmnet's multinomial solver diverges or stops when started cold at a small lambda or
        asked for a large step down (a tenfold one on Letter), so the lambdas asked for are
        reached along R's own default path grid from lambda_max (steps of 1e-4 ** (1/99)), as
        caret's fits are: halving steps cost half as much but, at thresh 1e-7, moved Glass's
        resampled accuracy 0.004 away from caret's.
        Lambdas past where glmnet ends its path early (its fit no longer changing) take its last
        coefficients, as R's predict(s = ...) clamps to the path; one it cannot converge at
        raises.
        """
        logit_net = _glmnet_fortran()
        lmax = lambda_max(data, alpha)
        n_grid = (
            int(np.ceil(np.log(lmax / path[-1]) / np.log(1 / _GLMNET_STEP)))
            if path[-1] < lmax
            else 0
        )
        grid = lmax * _GLMNET_STEP ** np.arange(n_grid)
        full = np.unique(np.concatenate([grid[grid > path[-1]], path]))[::-1]
        at = np.searchsorted(-full, -path)  # position of each lambda asked for in ``full``
        m = logit_net(
            alpha=alpha, lambda_path=full, standardize=False, n_splits=0, tol=thresh, max_iter=maxit
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its notices about where it ended the path
            m.fit(Z, data.y, sample_weight=data.weights)
        if m.jerr_ < 0 and m.n_lambda_ < len(full):
            missed = path[np.searchsorted(at, m.n_lambda_)]
            raise RuntimeError(
                f"glmnet's multinomial fit did not converge down to lambda={missed:.6g} (it "
                f"stopped at {full[m.n_lambda_]:.6g}; alpha={alpha}, thresh={thresh:g}); use "
                "larger lambdas, a smaller alpha (more ridge), a looser options['thresh'] or a "
                "larger options['maxit']"
            )
        take = np.minimum(at, m.coef_path_.shape[2] - 1)
        # Classes absent from these rows get probability 0 (coefficients 0, intercept -inf).
        K = data.n_classes
        coefs = np.zeros((len(path), Z.shape[1], K))
        intercepts = np.full((len(path), K), -np.inf)
        present = np.asarray(m.classes_, dtype=int)
        if len(present) == 2:  # glmnet fitted the binomial family: class 1's log-odds vs class 0
            intercepts[:, present[0]] = 0.0
            present = present[1:]
        coefs[:, :, present] = np.transpose(m.coef_path_, (2, 1, 0))[take]
        intercepts[:, present] = m.intercept_path_.T[take]
        return coefs, intercepts

    def _eta(self, fitted: dict[str, Any], X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
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


_GLMNET_STEP = 1e-4 ** (1 / 99)  # R glmnet's default path: 100 lambdas over a ratio 1e-4


def _glmnet_fortran() -> Any:
    """python-glmnet's LogitNet, or an error saying how to install it."""
    try:
        from glmnet import LogitNet
    except ImportError as err:
        raise ImportError(
            "glmnet's multinomial family (more than 2 classes) runs glmnet's own Fortran from "
            "python-glmnet: pip install 'leanfit[glmnet]'"
        ) from err
    return LogitNet


# -- shared helpers of the unpenalised and path models -----------------------------------------
def _r_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R's ``scale()`` (ddof=1 sd); constant columns are only centred, so they stay finite."""
    X = np.asarray(X, dtype=float)
    center = X.mean(axis=0)
    scale = X.std(axis=0, ddof=1) if len(X) > 1 else np.ones(X.shape[1])
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return (X - center) / scale, center, scale


def _column_sd(X: np.ndarray) -> np.ndarray:
    """Column sds (ddof=1; 0 for one row): the scale of standardized coefficients."""
    return X.std(axis=0, ddof=1) if len(X) > 1 else np.zeros(X.shape[1])


def _wls(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, intercept: bool = True
) -> tuple[np.ndarray, float, np.ndarray]:
    """(Weighted) least squares like R's ``lm``: coefficients, intercept and |t| statistics.

    Rank-deficient designs (p >= n, collinear columns) get the minimum-norm solution; R's ``lm``
    would report the aliased coefficients as NA instead, so predictions can differ there.
    """
    n, p = X.shape
    A = np.column_stack([np.ones(n), X]) if intercept else X
    sw = np.ones(n) if w is None else np.sqrt(np.asarray(w, dtype=float))
    Aw, yw = A * sw[:, None], y * sw
    beta, _, rank, _ = np.linalg.lstsq(Aw, yw, rcond=None)
    resid = yw - Aw @ beta
    n_eff = int(np.count_nonzero(sw)) if w is not None else n
    sigma2 = float(resid @ resid) / max(n_eff - int(rank), 1)
    se = np.sqrt(np.clip(np.diag(np.linalg.pinv(Aw.T @ Aw)) * sigma2, 0.0, None))
    tvals = np.divide(np.abs(beta), se, out=np.zeros_like(beta), where=se > 0)
    if intercept:
        return beta[1:], float(beta[0]), tvals[1:]
    return beta, 0.0, tvals


def _least_squares_fit(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, intercept: bool = True
) -> dict[str, Any]:
    """The (weighted) least-squares fit of ``lm`` and of ``glm``'s Gaussian family, with its |t|
    statistics as importance (caret's)."""
    coef, b0, tvals = _wls(X, np.asarray(y, dtype=float), w, intercept)
    return {"coef": coef, "intercept": b0, "importance": tvals}


def _least_squares_predict(
    fitted: dict[str, Any], X: np.ndarray, subs: list[dict[str, Any]]
) -> np.ndarray:
    """Predictions of a ``_least_squares_fit``, one row per sub."""
    return _repeat(np.asarray(X, dtype=float) @ fitted["coef"] + fitted["intercept"], subs)


def _softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted for stability."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _repeat(pred: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
    """One prediction per sub for models without sub-model parameters."""
    return np.repeat(pred[None], len(subs), axis=0)


def _constant_classifier(y: np.ndarray, K: int) -> dict[str, Any] | None:
    """For fitting rows holding one class only: a fit that predicts it with certainty."""
    present = np.unique(y)
    if present.size > 1:
        return None
    proba = np.zeros(K)
    proba[int(present[0])] = 1.0
    return {"constant": proba}


# -- unpenalised GLMs ---------------------------------------------------------------------
class GLM(Model):
    """Unpenalised GLM (caret's ``glm``): logistic regression, or Gaussian least squares.

    Two classes: binomial logistic regression (scikit-learn ``LogisticRegression`` without
    penalty, Newton-Cholesky, like R's IRLS). More than two classes (R's ``glm`` refuses them):
    the multinomial model of the same estimator (lbfgs). Regression: weighted least squares,
    which is the Gaussian GLM. Separable classes (common with many predictors) have no finite
    maximum likelihood; like R, the fit then stops with very large coefficients and 0/1
    probabilities.
    Importance: caret's, the |z| (|t|) statistics; for more than two classes the largest
    absolute standardized coefficient over classes.
    """

    name: ClassVar[str] = "glm"
    option_names = ()
    label: ClassVar[str] = "Generalized Linear Model"
    engine: ClassVar[str] = "sklearn"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    tags: ClassVar[tuple[str, ...]] = (
        "generalized linear model",
        "linear classifier",
        "linear regression",
        "accepts case weights",
    )
    takes_weights: ClassVar[bool] = True

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> dict[str, Any]:
        """Fit the logistic (multinomial) model or weighted least squares once."""
        X = np.asarray(data.X, dtype=float)
        if data.mode != CLASSIFICATION:
            return _least_squares_fit(X, data.y, data.weights)
        y = np.asarray(data.y).astype(int)
        const = _constant_classifier(y, data.n_classes)
        if const is not None:
            return const
        from sklearn.linear_model import LogisticRegression

        # No penalty (C = inf). Newton-Cholesky is R's IRLS for two classes; lbfgs is the
        # multinomial solver on every supported scikit-learn (older ones' Newton was one-vs-rest).
        binary = np.unique(y).size == 2
        m = LogisticRegression(
            C=np.inf,
            solver="newton-cholesky" if binary else "lbfgs",
            max_iter=100 if binary else 1000,
            tol=1e-8 if binary else 1e-6,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(X, y, sample_weight=data.weights)
        fit = {"model": m, "k": data.n_classes, "classes": m.classes_.astype(int)}
        if len(m.classes_) == 2:
            fit["importance"] = self._z_values(m, X, data.weights)
        else:
            fit["importance"] = np.abs(m.coef_ * _column_sd(X)).max(axis=0)
        return fit

    @staticmethod
    def _z_values(m: Any, X: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        """|coefficient / standard error| from the inverse Fisher information (caret's varImp)."""
        A = np.column_stack([np.ones(len(X)), X])
        p1 = m.predict_proba(X)[:, 1]
        W = p1 * (1.0 - p1) * (1.0 if w is None else w)
        cov = np.linalg.pinv((A * W[:, None]).T @ A)
        se = np.sqrt(np.clip(np.diag(cov)[1:], 0.0, None))
        return np.divide(np.abs(m.coef_[0]), se, out=np.zeros(X.shape[1]), where=se > 0)

    def predict(
        self, fitted: dict[str, Any], X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Fitted values (regression) or the most probable class."""
        if "coef" in fitted:
            return _least_squares_predict(fitted, X, subs)
        return self.predict_proba(fitted, X, subs).argmax(axis=2)

    def predict_proba(
        self, fitted: dict[str, Any], X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Class probabilities in class-code order (classes absent from the fit get 0)."""
        X = np.asarray(X, dtype=float)
        if "constant" in fitted:
            return _repeat(np.tile(fitted["constant"], (len(X), 1)), subs)
        proba = np.zeros((len(X), fitted["k"]))
        proba[:, fitted["classes"]] = fitted["model"].predict_proba(X)
        return _repeat(proba, subs)

    def importance(self, fitted: dict[str, Any], subs: list[dict[str, Any]]) -> np.ndarray | None:
        return fitted.get("importance")


class LM(Model):
    """Ordinary (weighted) least squares, caret's ``lm``; ``intercept=False`` fits through 0.

    Importance is caret's: the |t| statistic of each coefficient.
    """

    name: ClassVar[str] = "lm"
    option_names = ()
    label: ClassVar[str] = "Linear Regression"
    engine: ClassVar[str] = "leanfit"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)
    tags: ClassVar[tuple[str, ...]] = ("linear regression", "accepts case weights")
    params: ClassVar[tuple[Param, ...]] = (
        Param("intercept", "cat", choices=(True, False), label="intercept"),
    )
    takes_weights: ClassVar[bool] = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: one candidate, with an intercept."""
        return pd.DataFrame({"intercept": [True]})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search is its grid: with an intercept."""
        return self.default_grid(data, length)

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> dict[str, Any]:
        """Solve the least-squares problem once."""
        if data.mode != REGRESSION:
            raise ValueError("lm is a regression model")
        intercept = bool(params.get("intercept", True))
        return _least_squares_fit(np.asarray(data.X, dtype=float), data.y, data.weights, intercept)

    def predict(
        self, fitted: dict[str, Any], X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        return _least_squares_predict(fitted, X, subs)

    def importance(self, fitted: dict[str, Any], subs: list[dict[str, Any]]) -> np.ndarray | None:
        return fitted["importance"]


# -- the elasticnet package's models: ridge, lasso, enet (and lars) ------------------------------
@dataclass
class PathFit:
    """A LARS(-EN) path on elasticnet's normalised scale, with what undoes the normalisation.

    ``coefs`` (p, steps) are elasticnet's ``beta.pure`` times ``normx``: the (non-naive) elastic
    net coefficients of centred predictors scaled to unit L2 norm, first step all zero.
    """

    coefs: np.ndarray
    meanx: np.ndarray
    normx: np.ndarray
    mu: float
    sd: np.ndarray

    def original(self, coefs_n: np.ndarray) -> np.ndarray:
        """Coefficients of the raw predictors, columns as given."""
        return coefs_n / self.normx[:, None]

    def predict(self, X: np.ndarray, coefs_n: np.ndarray) -> np.ndarray:
        """Predictions (S, n) for coefficient columns (p, S) on the normalised scale."""
        Xc = np.asarray(X, dtype=float) - self.meanx
        return (Xc @ self.original(coefs_n)).T + self.mu

    def at_fraction(self, fractions: list[float]) -> np.ndarray:
        """elasticnet's ``predict.enet(mode="fraction")``: coefficients (p, S) at fractions of
        the path's final L1 norm, interpolated linearly between the path's steps."""
        norms = np.abs(self.coefs).sum(axis=0)
        out = np.zeros((self.coefs.shape[0], len(fractions)))
        if norms[-1] <= 0:
            return out
        frac = np.maximum.accumulate(norms / norms[-1])
        frac, first = np.unique(frac, return_index=True)
        B = self.coefs[:, first]
        for i, f in enumerate(fractions):
            f = min(max(float(f), 0.0), 1.0)
            j = int(np.searchsorted(frac, f, side="left"))
            if j < len(frac) and frac[j] == f:
                out[:, i] = B[:, j]
            else:
                t = (f - frac[j - 1]) / (frac[j] - frac[j - 1])
                out[:, i] = (1.0 - t) * B[:, j - 1] + t * B[:, j]
        return out

    def at_step(self, steps: list[int]) -> np.ndarray:
        """lars' ``mode="step"``: the coefficients after ``step - 1`` LARS moves (1 = none);
        steps past the end of the path give its end."""
        last = self.coefs.shape[1]
        idx = [min(max(int(s), 1), last) - 1 for s in steps]
        return self.coefs[:, idx]


def _normalise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """elasticnet/lars' normalisation: centre, then divide each column by its L2 norm.

    Constant columns (which elasticnet refuses) keep norm 1, so they stay zero and never enter.
    """
    X = np.asarray(X, dtype=float)
    meanx = X.mean(axis=0)
    Xc = X - meanx
    normx = np.sqrt((Xc**2).sum(axis=0))
    normx = np.where(normx > np.finfo(float).eps * np.sqrt(len(X)), normx, 1.0)
    return Xc / normx, meanx, normx


def enet_path(X: np.ndarray, y: np.ndarray, lam: float, method: str = "lasso") -> PathFit:
    """Zou & Hastie's LARS-EN path (elasticnet's ``enet``) for one ridge penalty ``lam``.

    The naive elastic net is a lasso on the augmented data (X; sqrt(lam) I) / sqrt(1 + lam);
    scikit-learn's ``lars_path_gram`` solves it from the augmented Gram matrix
    (X'X + lam I) / (1 + lam), and the path is rescaled by sqrt(1 + lam) as elasticnet does.
    ``lam = 0`` is the plain LARS-lasso path (caret's ``lasso`` and ``lars``).
    """
    from sklearn.linear_model import lars_path_gram

    Xn, meanx, normx = _normalise(X)
    y = np.asarray(y, dtype=float)
    mu = float(y.mean())
    yc = y - mu
    n, p = Xn.shape
    d2 = 1.0 / np.sqrt(1.0 + lam)
    gram = (Xn.T @ Xn + lam * np.eye(p)) * d2**2
    xy = (Xn.T @ yc) * d2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, coefs = lars_path_gram(xy, gram, n_samples=n, method=method, max_iter=max(500, 8 * p))
    return PathFit(coefs / d2, meanx, normx, mu, _column_sd(np.asarray(X, dtype=float)))


def _std_importance(fit: PathFit, coefs_n: np.ndarray) -> np.ndarray:
    """|coefficient| x sd(column): absolute standardized coefficients (first sub)."""
    return np.abs(fit.original(coefs_n)[:, 0]) * fit.sd


class Ridge(Model):
    """Ridge regression as caret's ``ridge`` (elasticnet's ``enet`` at fraction 1).

    Predictors are centred and scaled to unit L2 norm; the coefficients are elasticnet's
    rescaled ones, (1 + lambda) (X'X + lambda I)^-1 X'y on that scale (Zou & Hastie's correction
    of the double shrinkage). Sub-model: every lambda from one SVD of the predictors (caret fits
    each lambda). At lambda = 0 it is the minimum-norm least-squares fit (elasticnet would stop
    its LARS path at n - 1 variables when p >= n). Importance: absolute standardized
    coefficients.
    """

    name: ClassVar[str] = "ridge"
    option_names = ()
    label: ClassVar[str] = "Ridge Regression"
    engine: ClassVar[str] = "leanfit"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)
    tags: ClassVar[tuple[str, ...]] = ("linear regression", "L2 regularization")
    params: ClassVar[tuple[Param, ...]] = (
        Param("lambda", "float", 0.0, 1e4, label="Weight Decay"),
    )
    submodel: ClassVar[tuple[str, ...]] = ("lambda",)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("lambda", False),)

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: lambda = 0 and 10^seq(-1, -4, length = length - 1)."""
        return pd.DataFrame({"lambda": _decay_values(length)})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: lambda = 10^U(-5, 1)."""
        return pd.DataFrame({"lambda": 10.0 ** rng.uniform(-5.0, 1.0, length)})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> dict[str, Any]:
        """Normalise and take one SVD; each lambda is a diagonal rescaling of it."""
        if data.mode != REGRESSION:
            raise ValueError("ridge is a regression model")
        X = np.asarray(data.X, dtype=float)
        Xn, meanx, normx = _normalise(X)
        y = np.asarray(data.y, dtype=float)
        mu = float(y.mean())
        U, d, Vt = np.linalg.svd(Xn, full_matrices=False)
        keep = d > d.max(initial=0.0) * max(Xn.shape) * np.finfo(float).eps
        return {
            "V": Vt[keep].T,
            "d": d[keep],
            "uty": U[:, keep].T @ (y - mu),
            "path": PathFit(np.zeros((X.shape[1], 1)), meanx, normx, mu, _column_sd(X)),
        }

    @staticmethod
    def _coefs(fitted: dict[str, Any], subs: list[dict[str, Any]]) -> np.ndarray:
        """Normalised-scale coefficients (p, S), one column per lambda."""
        d, V, uty = fitted["d"], fitted["V"], fitted["uty"]
        cols = []
        for s in subs:
            lam = float(s["lambda"])
            cols.append((1.0 + lam) * (V @ (d / (d**2 + lam) * uty)))
        return np.stack(cols, axis=1)

    def predict(
        self, fitted: dict[str, Any], X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        return fitted["path"].predict(X, self._coefs(fitted, subs))

    def importance(self, fitted: dict[str, Any], subs: list[dict[str, Any]]) -> np.ndarray | None:
        return _std_importance(fitted["path"], self._coefs(fitted, subs[:1]))


def _decay_values(length: int) -> np.ndarray:
    """caret's weight-decay values: c(0, 10^seq(-1, -4, length = length - 1))."""
    return np.concatenate([[0.0], 10.0 ** np.linspace(-1.0, -4.0, max(length - 1, 0))])


class Lasso(Model):
    """The lasso as caret's ``lasso`` (elasticnet's ``enet`` with lambda = 0).

    ``fraction`` is the L1 norm of the (normalised-scale) coefficients as a fraction of the
    norm at the end of the LARS-lasso path (the least-squares fit when p < n). Sub-model: one
    LARS path (scikit-learn ``lars_path_gram``) gives every fraction. Importance: absolute
    standardized coefficients.
    """

    name: ClassVar[str] = "lasso"
    option_names = ("type",)
    label: ClassVar[str] = "The lasso"
    engine: ClassVar[str] = "sklearn"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)
    tags: ClassVar[tuple[str, ...]] = (
        "linear regression",
        "implicit feature selection",
        "L1 regularization",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("fraction", "float", 0.0, 1.0, label="Fraction of Full Solution"),
    )
    submodel: ClassVar[tuple[str, ...]] = ("fraction",)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("fraction", True),)
    path_method: ClassVar[str] = "lasso"

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: fraction = seq(0.1, 0.9, length = length)."""
        return pd.DataFrame({"fraction": np.linspace(0.1, 0.9, length)})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: fraction U(0, 1)."""
        return pd.DataFrame({"fraction": rng.uniform(0.0, 1.0, length)})

    def _lambda(self, params: dict[str, Any]) -> float:
        return 0.0

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> PathFit:
        """One LARS(-EN) path; every fraction is read off it at predict time."""
        if data.mode != REGRESSION:
            raise ValueError(f"{self.name} is a regression model")
        method = self.options.get("type", self.path_method)
        return enet_path(data.X, data.y, self._lambda(params), method)

    def _coefs(self, fitted: PathFit, subs: list[dict[str, Any]]) -> np.ndarray:
        return fitted.at_fraction([float(s["fraction"]) for s in subs])

    def predict(self, fitted: PathFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        return fitted.predict(X, self._coefs(fitted, subs))

    def importance(self, fitted: PathFit, subs: list[dict[str, Any]]) -> np.ndarray | None:
        return _std_importance(fitted, self._coefs(fitted, subs[:1]))


class ENet(Lasso):
    """The elastic net as caret's ``enet`` (elasticnet package: Zou & Hastie's LARS-EN).

    For each ridge penalty ``lambda`` one LARS-EN path is fitted; ``fraction`` is the fraction of
    the path's final L1 norm (sub-model: every fraction from that path). Coefficients are
    elasticnet's rescaled (non-naive) ones. Importance: absolute standardized coefficients.
    """

    name: ClassVar[str] = "enet"
    label: ClassVar[str] = "Elasticnet"
    params: ClassVar[tuple[Param, ...]] = (
        Param("fraction", "float", 0.0, 1.0, label="Fraction of Full Solution"),
        Param("lambda", "float", 0.0, 1e4, label="Weight Decay"),
    )
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("fraction", True),
        ("lambda", False),
    )

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: lambda in c(0, 10^seq(-1, -4, length = length - 1)) crossed with
        fraction = seq(0.05, 1, length = length)."""
        return expand_grid(
            {"lambda": _decay_values(length), "fraction": np.linspace(0.05, 1.0, length)}
        )[["fraction", "lambda"]]

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: lambda = 10^U(-5, 1), fraction U(0, 1)."""
        lam = 10.0 ** rng.uniform(-5.0, 1.0, length)
        return pd.DataFrame({"fraction": rng.uniform(0.0, 1.0, length), "lambda": lam})

    def _lambda(self, params: dict[str, Any]) -> float:
        return float(params["lambda"])


class Lars(Lasso):
    """Least angle regression as caret's ``lars`` (lars package, its default ``type="lasso"``).

    Same path and ``fraction`` as ``lasso`` (caret differs only in the default grid);
    ``options={"type": "lar"}`` follows the pure LAR path instead. Sub-model: every fraction.
    """

    name: ClassVar[str] = "lars"
    label: ClassVar[str] = "Least Angle Regression"
    params: ClassVar[tuple[Param, ...]] = (Param("fraction", "float", 0.0, 1.0, label="Fraction"),)

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: fraction = seq(0.05, 1, length = length)."""
        return pd.DataFrame({"fraction": np.linspace(0.05, 1.0, length)})


def var_seq(p: int, classification: bool = False, length: int = 3) -> np.ndarray:
    """caret's ``var_seq``: ``length`` model sizes between 2 and p (powers of 2 past 500)."""
    seq: list[int] | np.ndarray
    if length == 1:
        seq = [max(p // 3, 1)] if not classification else [int(np.floor(np.sqrt(p)))]
    elif p <= length:
        seq = np.floor(np.linspace(2, p, p))
    elif p < 500:
        seq = np.floor(np.linspace(2, p, length))
    else:
        seq = np.floor(2.0 ** np.linspace(1, np.log2(p), length))
    return np.unique(np.asarray(seq, dtype=int))


class Lars2(Lasso):
    """Least angle regression by number of steps, caret's ``lars2`` (lars' ``mode="step"``).

    ``step`` 1 is the empty model and each further step one LARS-lasso move (a variable added
    or dropped); steps past the end of the path give its end, with a ParamLimitWarning (the
    path's length is known only once fitted). Sub-model: every step.
    """

    name: ClassVar[str] = "lars2"
    label: ClassVar[str] = "Least Angle Regression"
    params: ClassVar[tuple[Param, ...]] = (Param("step", "int", 1, 100000, label="#Steps"),)
    submodel: ClassVar[tuple[str, ...]] = ("step",)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("step", True),)

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: ``var_seq(p, len)`` steps."""
        return pd.DataFrame({"step": var_seq(data.X.shape[1], False, length)})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: steps sampled from 1..p."""
        return pd.DataFrame({"step": rng.integers(1, data.X.shape[1] + 1, length)})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> PathFit:
        """One LARS path; a step asked for past its end is fitted as its end, and said so."""
        fitted = super().fit(data, params, subs, seed)
        last = fitted.coefs.shape[1]
        asked = {int(s["step"]) for s in subs if "step" in s} | {int(params["step"])}
        for step in sorted(a for a in asked if a > last):
            fitted_as("step", step, last, f"the LARS path has {last} steps")
        return fitted

    def _coefs(self, fitted: PathFit, subs: list[dict[str, Any]]) -> np.ndarray:
        return fitted.at_step([int(s["step"]) for s in subs])


# -- projection methods: PLS and PCR, every number of components from one fit -------------------
def _asked_ncomp(params: dict[str, Any], subs: list[dict[str, Any]]) -> list[int]:
    """Every number of components a fit is asked for (its subs' and its own), ascending."""
    return sorted({int(s["ncomp"]) for s in subs if "ncomp" in s} | {int(params["ncomp"])})


def _ncomp_cap(n: int, p: int) -> tuple[int, str]:
    """The most components ``n`` rows of ``p`` columns have, min(p, n - 1) as pls, and why."""
    if p <= n - 1:
        return max(p, 1), f"{p} columns after pre-processing"
    return max(n - 1, 1), f"{n} training rows give at most {max(n - 1, 1)} components"


def _max_ncomp(params: dict[str, Any], subs: list[dict[str, Any]], n: int, p: int) -> int:
    """The largest number of components asked for, capped at min(p, n - 1) as pls does."""
    return max(1, min(_asked_ncomp(params, subs)[-1], _ncomp_cap(n, p)[0]))


def _warn_ncomp(params: dict[str, Any], subs: list[dict[str, Any]], fitted: int, why: str) -> None:
    """A ParamLimitWarning for every ncomp asked for above the ``fitted`` components."""
    for a in _asked_ncomp(params, subs):
        if a > fitted:
            fitted_as("ncomp", a, fitted, why)


@dataclass
class ComponentsFit:
    """Coefficients for 1..A components of a PLS or PCR fit, on centred predictors."""

    coefs: np.ndarray  # (A, p, q): coefficients when the first a + 1 components are used
    x_mean: np.ndarray
    y_mean: np.ndarray  # (q,)
    mode: str
    sse: np.ndarray  # (A + 1,) training residual sum of squares for 0..A components
    sd: np.ndarray

    def eta(self, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Raw predictions (S, n, q); a sub asking for more components than fitted gets all."""
        Xc = np.asarray(X, dtype=float) - self.x_mean
        top = self.coefs.shape[0]
        return np.stack(
            [Xc @ self.coefs[min(int(s["ncomp"]), top) - 1] + self.y_mean for s in subs]
        )

    def importance(self, subs: list[dict[str, Any]]) -> np.ndarray:
        """Mean |coefficient| over components 1..ncomp, weighted by each component's drop in
        training SSE (the idea of caret's varImp for pls), summed over response columns."""
        top = min(int(subs[0]["ncomp"]), self.coefs.shape[0])
        drop = np.clip(-np.diff(self.sse[: top + 1]), 0.0, None)
        w = drop / drop.sum() if drop.sum() > 0 else np.full(top, 1.0 / top)
        return np.einsum("a,apq->p", w, np.abs(self.coefs[:top]))


def _components_fit(
    X: np.ndarray, Y: np.ndarray, coefs: np.ndarray, x_mean: np.ndarray, mode: str
) -> ComponentsFit:
    """Bundle per-component coefficients with the training SSE each number of them leaves."""
    y_mean = Y.mean(axis=0)
    Xc, Yc = X - x_mean, Y - y_mean
    sse = [float((Yc**2).sum())]
    sse += [float(((Yc - Xc @ coefs[a]) ** 2).sum()) for a in range(coefs.shape[0])]
    return ComponentsFit(coefs, x_mean, y_mean, mode, np.array(sse), _column_sd(X))


class _ComponentsModel(Model):
    """What PLS and PCR share: the ``ncomp`` parameter (a sub-model: every number of components
    comes from one decomposition), caret's grids for it and the SSE-weighted importance.
    ``ncomp`` is at most min(predictors, rows - 1); a fit whose data have fewer components
    (rank-deficient predictors) uses all it has, with a ParamLimitWarning."""

    option_names = ()
    params: ClassVar[tuple[Param, ...]] = (
        Param("ncomp", "int", 1, 10000, label="#Components", at_most=("predictors", "rows - 1")),
    )
    submodel: ClassVar[tuple[str, ...]] = ("ncomp",)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("ncomp", True),)
    random_below_p: ClassVar[int] = 0  # random ncomp draws go up to p minus this

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's grid: ncomp = 1, ..., min(p - 1, length) (at least 1)."""
        top = max(1, min(data.X.shape[1] - 1, length))
        return pd.DataFrame({"ncomp": np.arange(1, top + 1)})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's random search: distinct ncomp values drawn from 1..p (pls) or 1..p - 1 (pcr)."""
        top = data.X.shape[1] - self.random_below_p
        return pd.DataFrame({"ncomp": np.unique(rng.integers(1, max(top, 1) + 1, length))})

    def importance(self, fitted: ComponentsFit, subs: list[dict[str, Any]]) -> np.ndarray:
        return fitted.importance(subs)


class PLS(_ComponentsModel):
    """Partial least squares (caret's ``pls``: pls::plsr / caret::plsda, NIPALS "oscorespls").

    One scikit-learn ``PLSRegression`` fit (unscaled predictors, as pls) with the largest
    ``ncomp`` gives the coefficients of every smaller number of components:
    B_a = W_a (P_a' W_a)^-1 Q_a' from its weights, X loadings and Y loadings (sub-model: ncomp).
    Classification is caret's plsda: the one-hot class matrix is regressed and probabilities
    are the softmax of the predictions (plsda's default ``probMethod="softmax"``). Importance:
    mean |coefficient| over components weighted by each one's drop in training SSE.
    """

    name: ClassVar[str] = "pls"
    label: ClassVar[str] = "Partial Least Squares"
    engine: ClassVar[str] = "sklearn"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    tags: ClassVar[tuple[str, ...]] = (
        "partial least squares",
        "feature extraction",
        "linear classifier",
        "linear regression",
    )
    # NIPALS convergence for several responses (one response converges in one step).
    tol: ClassVar[float] = 1e-13
    max_iter: ClassVar[int] = 1000

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> ComponentsFit:
        """Fit NIPALS once with the largest ncomp; derive every smaller model's coefficients."""
        from sklearn.cross_decomposition import PLSRegression

        X = np.asarray(data.X, dtype=float)
        if data.mode == CLASSIFICATION:
            Y = np.eye(data.n_classes)[np.asarray(data.y).astype(int)]
        else:
            Y = np.asarray(data.y, dtype=float)[:, None]
        cap, why = _ncomp_cap(*X.shape)
        A = _max_ncomp(params, subs, *X.shape)
        m = PLSRegression(n_components=A, scale=False, tol=self.tol, max_iter=self.max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Y residual is constant": fewer components exist
            m.fit(X, Y)
        W, P, Q = m.x_weights_, m.x_loadings_, m.y_loadings_
        found = max(1, int(np.count_nonzero(np.abs(W).sum(axis=0) > 0)))
        if found < A:
            why = f"the predictors explain the response with {found} components"
        A = min(A, found)
        _warn_ncomp(params, subs, A, why)
        coefs = np.stack(
            [W[:, :a] @ np.linalg.solve(P[:, :a].T @ W[:, :a], Q[:, :a].T) for a in range(1, A + 1)]
        )
        return _components_fit(X, Y, coefs, X.mean(axis=0), data.mode)

    def predict(
        self, fitted: ComponentsFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Values (regression) or the class with the largest prediction (plsda's rule)."""
        eta = fitted.eta(X, subs)
        return eta[:, :, 0] if fitted.mode != CLASSIFICATION else eta.argmax(axis=2)

    def predict_proba(
        self, fitted: ComponentsFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """plsda's softmax of the predicted class indicators."""
        if fitted.mode != CLASSIFICATION:
            raise NotImplementedError("pls gives no probabilities in regression")
        return _softmax(fitted.eta(X, subs))


class PCR(_ComponentsModel):
    """Principal component regression (caret's ``pcr``, pls::pcr): least squares on the first
    ``ncomp`` principal components of the centred (unscaled) predictors.

    One SVD gives every number of components (sub-model: ncomp). Importance: mean |coefficient|
    over components weighted by each one's drop in training SSE, as for ``pls``.
    """

    name: ClassVar[str] = "pcr"
    label: ClassVar[str] = "Principal Component Analysis"
    engine: ClassVar[str] = "leanfit"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)
    tags: ClassVar[tuple[str, ...]] = ("linear regression", "feature extraction")
    random_below_p: ClassVar[int] = 1

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> ComponentsFit:
        """One SVD of the centred predictors; component a adds V_a u_a'y / d_a."""
        if data.mode != REGRESSION:
            raise ValueError("pcr is a regression model")
        X = np.asarray(data.X, dtype=float)
        y = np.asarray(data.y, dtype=float)
        x_mean = X.mean(axis=0)
        U, d, Vt = np.linalg.svd(X - x_mean, full_matrices=False)
        rank = int(np.count_nonzero(d > d.max(initial=0.0) * max(X.shape) * np.finfo(float).eps))
        A, why = _max_ncomp(params, subs, *X.shape), _ncomp_cap(*X.shape)[1]
        if rank < A:
            A, why = max(1, rank), f"the centred predictors have rank {rank}"
        _warn_ncomp(params, subs, A, why)
        gamma = (U[:, :A].T @ (y - y.mean())) / np.where(d[:A] > 0, d[:A], 1.0)
        steps = Vt[:A].T * gamma  # (p, A): each component's contribution
        coefs = np.cumsum(steps, axis=1).T[:, :, None]
        return _components_fit(X, y[:, None], coefs, x_mean, REGRESSION)

    def predict(
        self, fitted: ComponentsFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        return fitted.eta(X, subs)[:, :, 0]


# -- robust, quantile and Bayesian linear regression ---------------------------------------------
@dataclass
class ScaledFit:
    """A scikit-learn linear regressor fitted on standardized predictors."""

    estimator: Any
    center: np.ndarray
    scale: np.ndarray

    def predict(self, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        Xs = (np.asarray(X, dtype=float) - self.center) / self.scale
        return _repeat(self.estimator.predict(Xs), subs)

    def importance(self) -> np.ndarray:
        """Absolute coefficients on the standardized predictors."""
        return np.abs(np.asarray(self.estimator.coef_, dtype=float))


def _fit_scaled(estimator: Any, data: TrainingData) -> ScaledFit:
    """Standardize (so penalties treat columns alike) and fit with the observation weights."""
    if data.mode != REGRESSION:
        raise ValueError("this is a regression model")
    Xs, center, scale = _r_scale(data.X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of lbfgs / highs
        estimator.fit(Xs, np.asarray(data.y, dtype=float), sample_weight=data.weights)
    return ScaledFit(estimator, center, scale)


class _ScaledModel(Model):
    """What Huber, QuantileReg and BayesRidge share: a weighted scikit-learn regressor on
    standardized predictors (``_fit_scaled``), scored and ranked through its ``ScaledFit``."""

    option_names = ()
    engine: ClassVar[str] = "sklearn"
    modes: ClassVar[tuple[str, ...]] = (REGRESSION,)
    takes_weights: ClassVar[bool] = True

    def predict(self, fitted: ScaledFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        return fitted.predict(X, subs)

    def importance(self, fitted: ScaledFit, subs: list[dict[str, Any]]) -> np.ndarray:
        return fitted.importance()


class Huber(_ScaledModel):
    """Huber's robust regression (scikit-learn ``HuberRegressor``), on standardized predictors.

    Residuals beyond ``epsilon`` (in units of the jointly estimated scale) get linear rather
    than squared loss; ``alpha`` is an L2 penalty on the standardized coefficients. Not a caret
    model (caret's robust linear model is ``rlm``); the grid follows caret's conventions: epsilon
    from 1.1 to 2 (1.35, scikit-learn's default, for one value) and caret's weight-decay values
    for alpha. Simplest first: the largest alpha, then the largest epsilon (closest to least
    squares). Importance: absolute standardized coefficients.
    """

    name: ClassVar[str] = "huber"
    label: ClassVar[str] = "Huber Robust Regression"
    tags: ClassVar[tuple[str, ...]] = (
        "linear regression",
        "robust model",
        "L2 regularization",
        "accepts case weights",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("epsilon", "float", 1.0, 10.0, label="Huber Threshold"),
        Param("alpha", "float", 0.0, 1e4, label="L2 Penalty"),
    )
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("alpha", False),
        ("epsilon", False),
    )

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """epsilon on [1.1, 2] (1.35 alone for length 1) crossed with caret's decay values."""
        eps = np.array([1.35]) if length == 1 else np.linspace(1.1, 2.0, length)
        return expand_grid(epsilon=eps, alpha=_decay_values(length))

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """epsilon U(1.05, 3), alpha 10^U(-5, 1) (caret's decay range)."""
        return pd.DataFrame(
            {
                "epsilon": rng.uniform(1.05, 3.0, length),
                "alpha": 10.0 ** rng.uniform(-5.0, 1.0, length),
            }
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> ScaledFit:
        from sklearn.linear_model import HuberRegressor

        m = HuberRegressor(
            epsilon=float(params["epsilon"]), alpha=float(params["alpha"]), max_iter=1000
        )
        return _fit_scaled(m, data)


class QuantileReg(_ScaledModel):
    """Linear quantile regression with an L1 penalty (scikit-learn ``QuantileRegressor``, HiGHS).

    Fits the ``quantile`` (0.5: median regression) of the response given the standardized
    predictors; ``alpha`` is the L1 penalty (caret's ``rqlasso`` lambda). The default and random
    grids keep quantile = 0.5 (tuning a quantile by RMSE would always choose the median): pass a
    grid to fit another. Importance: absolute standardized coefficients.
    """

    name: ClassVar[str] = "quantile_reg"
    label: ClassVar[str] = "Quantile Regression with L1 Penalty"
    tags: ClassVar[tuple[str, ...]] = (
        "linear regression",
        "quantile regression",
        "implicit feature selection",
        "L1 regularization",
        "accepts case weights",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("quantile", "float", 0.001, 0.999, label="Quantile", aliases=("tau",)),
        Param("alpha", "float", 0.0, 1e4, label="L1 Penalty", aliases=("lambda",)),
    )
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("alpha", False),)

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's rqlasso grid: alpha = 10^seq(-1, -4, length = length), quantile 0.5."""
        return expand_grid(quantile=0.5, alpha=10.0 ** np.linspace(-1.0, -4.0, length))

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's rqlasso random search: alpha = 10^U(-5, 1), quantile 0.5."""
        return pd.DataFrame(
            {"quantile": np.full(length, 0.5), "alpha": 10.0 ** rng.uniform(-5.0, 1.0, length)}
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> ScaledFit:
        from sklearn.linear_model import QuantileRegressor

        m = QuantileRegressor(
            quantile=float(params["quantile"]), alpha=float(params["alpha"]), solver="highs"
        )
        return _fit_scaled(m, data)


class BayesRidge(_ScaledModel):
    """Bayesian ridge regression (scikit-learn ``BayesianRidge``): the ridge penalty and the
    noise level are estimated by evidence maximisation, so nothing is tuned.

    Predictors are standardized first so the shared Gaussian prior treats columns alike.
    Importance: absolute standardized coefficients.
    """

    name: ClassVar[str] = "bayes_ridge"
    label: ClassVar[str] = "Bayesian Ridge Regression"
    tags: ClassVar[tuple[str, ...]] = (
        "linear regression",
        "bayesian model",
        "L2 regularization",
        "accepts case weights",
    )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> ScaledFit:
        from sklearn.linear_model import BayesianRidge

        return _fit_scaled(BayesianRidge(), data)


class Multinom(Model):
    """Penalised multinomial logistic regression (caret's ``multinom``, nnet's weight decay).

    nnet's ``decay`` adds ``decay * sum(w^2)`` to the summed deviance/2, so scikit-learn's
    ``C = 1 / (2 * decay)`` on summed log loss gives the same objective (intercepts are not
    penalised by scikit-learn; nnet penalises them too — a small documented difference).
    """

    name: ClassVar[str] = "multinom"
    option_names = ()
    label: ClassVar[str] = "Penalized Multinomial Regression"
    engine: ClassVar[str] = "sklearn"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION,)
    tags: ClassVar[tuple[str, ...]] = ("neural network", "linear classifier", "L2 regularization")
    params: ClassVar[tuple[Param, ...]] = (Param("decay", "float", 0.0, 1e4, label="Weight Decay"),)
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("decay", False),)
    takes_weights: ClassVar[bool] = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: decay 0, then 10^seq(-1, -4, length = length - 1)."""
        decay = [0.0] + (list(10.0 ** np.linspace(-1, -4, length - 1)) if length > 1 else [])
        return expand_grid(decay=decay)

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret: decay 10^U(-5, 1)."""
        return pd.DataFrame({"decay": 10.0 ** rng.uniform(-5.0, 1.0, length)})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> Any:
        """Standardize, then one lbfgs multinomial fit at C = 1 / (2 decay)."""
        from sklearn.linear_model import LogisticRegression

        mu, sd = _standardize(data.X, data.weights)
        decay = float(params["decay"])
        model = LogisticRegression(
            C=np.inf if decay == 0 else 1.0 / (2.0 * decay), max_iter=1000, tol=1e-8
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit((data.X - mu) / sd, data.y, sample_weight=data.weights)
        return {"mu": mu, "sd": sd, "model": model, "k": data.n_classes}

    def predict_proba(self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        m = fitted["model"]
        proba = np.zeros((len(X), fitted["k"]))
        proba[:, m.classes_.astype(int)] = m.predict_proba((X - fitted["mu"]) / fitted["sd"])
        return np.stack([proba] * len(subs))
