"""Tests of Friedman's RDA against its definition and against LDA/QDA special cases."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from leanfit.models.base import CLASSIFICATION, TrainingData
from leanfit.models.discriminant import RDA

SONAR = Path("/work/shared/data/sonar.csv")


def _data(n_per: int = 30, p: int = 4, K: int = 3, seed: int = 0) -> TrainingData:
    """Gaussian classes with different means and covariances: a well-conditioned problem."""
    rng = np.random.default_rng(seed)
    Xs, ys = [], []
    for k in range(K):
        A = rng.normal(size=(p, p)) * 0.5 + np.eye(p) * (1 + k)
        Xs.append(rng.normal(size=(n_per + 5 * k, p)) @ A + 1.5 * k)
        ys.append(np.full(n_per + 5 * k, k))
    X, y = np.vstack(Xs), np.concatenate(ys)
    return TrainingData(X, y, CLASSIFICATION, tuple(f"c{k}" for k in range(K)))


def _posterior(X, y, K, covs):
    """Gaussian posteriors with given per-class covariances, ML means and priors N_k/N."""
    logp = np.column_stack(
        [
            multivariate_normal(X[y == k].mean(axis=0), covs[k]).logpdf(X) + np.log((y == k).mean())
            for k in range(K)
        ]
    )
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=1, keepdims=True)


def _scatter(X, y, k):
    c = X[y == k] - X[y == k].mean(axis=0)
    return c.T @ c


def _proba(data, gamma, lam):
    m = RDA()
    sub = [{"gamma": gamma, "lambda": lam}]
    fit = m.fit(data, sub[0], sub, seed=1)
    return m.predict_proba(fit, data.X, sub)[0], m.predict(fit, data.X, sub)[0]


def test_lambda_one_gamma_zero_is_lda():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    d = _data()
    K = d.n_classes
    S = sum(_scatter(d.X, d.y, k) for k in range(K)) / len(d.y)
    proba, cls = _proba(d, 0.0, 1.0)
    np.testing.assert_allclose(proba, _posterior(d.X, d.y, K, [S] * K), atol=1e-10)
    # sklearn's lsqr LDA uses the same ML pooled covariance (sum_k pi_k S_k/N_k = S/N)
    lda = LinearDiscriminantAnalysis(solver="lsqr").fit(d.X, d.y)
    np.testing.assert_allclose(proba, lda.predict_proba(d.X), atol=1e-8)
    np.testing.assert_array_equal(cls, lda.predict(d.X))


def test_lambda_zero_gamma_zero_is_qda_with_ml_covariances():
    d = _data()
    K = d.n_classes
    covs = [_scatter(d.X, d.y, k) / (d.y == k).sum() for k in range(K)]
    proba, cls = _proba(d, 0.0, 0.0)
    ref = _posterior(d.X, d.y, K, covs)
    np.testing.assert_allclose(proba, ref, atol=1e-10)
    np.testing.assert_array_equal(cls, ref.argmax(axis=1))


def test_gamma_one_is_spherical_per_class():
    d = _data()
    K, p, lam = d.n_classes, d.X.shape[1], 0.3
    S = sum(_scatter(d.X, d.y, k) for k in range(K))
    covs = []
    for k in range(K):
        nk = (d.y == k).sum()
        sig = ((1 - lam) * _scatter(d.X, d.y, k) + lam * S) / ((1 - lam) * nk + lam * len(d.y))
        covs.append(np.trace(sig) / p * np.eye(p))
    proba, _ = _proba(d, 1.0, lam)
    np.testing.assert_allclose(proba, _posterior(d.X, d.y, K, covs), atol=1e-10)


def test_one_fit_scores_grid_like_separate_fits():
    d = _data()
    m = RDA()
    vals = np.linspace(0, 1, 4)
    subs = [{"gamma": g, "lambda": lam} for g in vals for lam in vals]
    fit = m.fit(d, subs[0], subs, seed=1)
    joint = m.predict_proba(fit, d.X, subs)
    joint_cls = m.predict(fit, d.X, subs)
    assert joint.shape == (16, len(d.y), d.n_classes)
    for i, s in enumerate(subs):
        proba, cls = _proba(d, s["gamma"], s["lambda"])
        np.testing.assert_allclose(joint[i], proba, atol=1e-12)
        np.testing.assert_array_equal(joint_cls[i], cls)


def test_integer_weights_equal_duplicated_rows():
    d = _data(n_per=12)
    w = np.random.default_rng(3).integers(1, 4, size=len(d.y))
    weighted = TrainingData(d.X, d.y, CLASSIFICATION, d.levels, weights=w.astype(float))
    dup = TrainingData(np.repeat(d.X, w, axis=0), np.repeat(d.y, w), CLASSIFICATION, d.levels)
    m = RDA()
    subs = [{"gamma": 0.2, "lambda": 0.4}, {"gamma": 0.0, "lambda": 0.0}]
    a = m.predict_proba(m.fit(weighted, subs[0], subs, 0), d.X, subs)
    b = m.predict_proba(m.fit(dup, subs[0], subs, 0), d.X, subs)
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_singular_covariance_gives_finite_probabilities():
    d = _data(n_per=5, p=20, K=2)
    m = RDA()
    subs = [{"gamma": 0.0, "lambda": 0.0}, {"gamma": 0.0, "lambda": 0.5}]
    fit = m.fit(d, subs[0], subs, 0)
    proba = m.predict_proba(fit, d.X, subs)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)


def test_absent_class_gets_zero_probability_and_fit_pickles():
    d = _data()
    keep = d.y != 1
    part = TrainingData(d.X[keep], d.y[keep], CLASSIFICATION, d.levels)
    m = RDA()
    subs = [{"gamma": 0.1, "lambda": 0.5}]
    fit = pickle.loads(pickle.dumps(m.fit(part, subs[0], subs, 0)))
    proba = m.predict_proba(fit, d.X, subs)
    assert proba.shape == (1, len(d.y), 3)
    assert (proba[0, :, 1] == 0).all()
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)
    assert (m.predict(fit, d.X, subs) != 1).all()


def test_grids_and_simplest_first():
    m = RDA()
    d = _data()
    grid = m.default_grid(d, 3)
    assert list(grid.columns) == ["gamma", "lambda"] and len(grid) == 9
    assert grid["gamma"].tolist()[:3] == [0.0, 0.5, 1.0]  # first column varies fastest
    ordered = m.sort_simplest_first(grid)
    assert ordered.iloc[0].tolist() == [0.0, 1.0]  # most pooling, least shrinkage first
    rnd = m.random_grid(d, 5, np.random.default_rng(0))
    assert len(rnd) == 5 and rnd.min().min() >= 0 and rnd.max().max() <= 1


@pytest.mark.skipif(not SONAR.exists(), reason="Sonar data not available")
def test_sonar_resubstitution_accuracy():
    df = pd.read_csv(SONAR)
    X = df[[f"V{i}" for i in range(1, 61)]].to_numpy(float)
    levels = tuple(sorted(df["Class"].unique()))
    y = df["Class"].map({c: i for i, c in enumerate(levels)}).to_numpy()
    d = TrainingData(X, y, CLASSIFICATION, levels)
    m = RDA()
    subs = [{"gamma": 0.5, "lambda": 0.5}]
    pred = m.predict(m.fit(d, subs[0], subs, 0), X, subs)[0]
    assert (pred == y).mean() > 0.8
