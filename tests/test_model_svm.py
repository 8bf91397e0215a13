"""Tests of the radial SVM: kernlab's sigest, the sklearn engine, and the fit-time sigma."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leanfit.models.base import CLASSIFICATION, REGRESSION, TrainingData
from leanfit.models.svm import SVMRadial, sigest, sigest_from_draw, sigest_sigma

SONAR = Path("/work/shared/data/sonar.csv")


def _classes(n: int = 90, p: int = 3, K: int = 3, seed: int = 0) -> TrainingData:
    """Noisy classes around K centres."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    X = rng.normal(size=(n, p)) + y[:, None] * 1.2
    X[:, 0] *= 10.0  # scales differ, so standardisation matters
    return TrainingData(X, y, CLASSIFICATION, tuple(f"c{k}" for k in range(K)))


def _r_scale(X: np.ndarray) -> np.ndarray:
    """R's scale(): centre, divide by the ddof=1 sd."""
    return (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)


def _type7(v: np.ndarray, prob: float) -> float:
    """R's quantile type 7, by hand."""
    v = np.sort(v)
    h = (len(v) - 1) * prob
    lo = int(np.floor(h))
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (h - lo) * (v[hi] - v[lo])


def test_sigest_from_draw_matches_hand_computation():
    X = np.array(
        [[1.0, 2.0, 5.0], [2.0, 0.0, 5.0], [4.0, 1.0, 5.0], [0.0, 3.0, 5.0], [3.0, 7.0, 5.0]]
    )
    Xs = _r_scale(X[:, :2])
    Xs = np.column_stack([Xs, np.zeros(5)])  # the constant column is left at 0
    i1, i2 = np.array([0, 1, 2, 3, 4, 2]), np.array([1, 1, 4, 0, 2, 3])
    dist = [((Xs[a] - Xs[b]) ** 2).sum() for a, b in zip(i1, i2, strict=True)]
    dist = np.array([d for d in dist if d != 0])  # the pair (1, 1) is dropped
    expected = 1.0 / np.array([_type7(dist, q) for q in (0.9, 0.5, 0.1)])
    from leanfit.models.svm import _standardise

    np.testing.assert_allclose(_standardise(X)[0], Xs, atol=1e-12)
    np.testing.assert_allclose(sigest_from_draw(Xs, i1, i2), expected, rtol=1e-12)


def test_sigest_draw_is_seeded_and_half_the_rows():
    X = np.random.default_rng(1).normal(size=(41, 4))
    rng = np.random.default_rng(7)
    i1, i2 = rng.integers(0, 41, size=20), rng.integers(0, 41, size=20)
    np.testing.assert_allclose(sigest(X, 7), sigest_from_draw(_r_scale(X), i1, i2))
    s = sigest(X, 7)
    assert s[0] <= s[1] <= s[2]


@pytest.mark.skipif(not SONAR.exists(), reason="Sonar data not available")
def test_sigest_on_sonar_is_plausible():
    X = pd.read_csv(SONAR).iloc[:, :60].to_numpy(float)
    for seed in range(3):
        assert 0.003 < sigest_sigma(X, seed) < 0.03


def test_classes_equal_direct_sklearn_fit_and_probabilities_sum_to_one():
    from sklearn.svm import SVC

    d = _classes()
    m = SVMRadial()
    params = {"sigma": 0.3, "C": 2.0}
    fit = m.fit(d, params, [{}], seed=5)
    direct = SVC(kernel="rbf", gamma=0.3, C=2.0).fit(_r_scale(d.X), d.y)
    Xnew = d.X + 0.3
    Xnew_s = (Xnew - d.X.mean(axis=0)) / d.X.std(axis=0, ddof=1)
    pred = m.predict(fit, Xnew, [{}])
    assert pred.shape == (1, len(d.y))
    np.testing.assert_array_equal(pred[0], direct.predict(Xnew_s))
    proba = m.predict_proba(fit, Xnew, [{}])
    assert proba.shape == (1, len(d.y), 3)
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)
    assert m.describe_fit(fit) == {"sigma": 0.3}


def test_unscaled_option_is_plain_svc():
    from sklearn.svm import SVC

    d = _classes()
    m = SVMRadial(options={"scaled": False})
    fit = m.fit(d, {"sigma": 0.01, "C": 1.0}, [{}], seed=0)
    direct = SVC(kernel="rbf", gamma=0.01, C=1.0).fit(d.X, d.y)
    np.testing.assert_array_equal(m.predict(fit, d.X, [{}])[0], direct.predict(d.X))


def test_absent_class_gets_zero_column_and_fit_is_deterministic():
    d = _classes()
    keep = d.y != 2
    part = TrainingData(d.X[keep], d.y[keep], CLASSIFICATION, d.levels)
    m = SVMRadial()
    fit = m.fit(part, {"sigma": 0.5, "C": 1.0}, [{}], seed=3)
    again = pickle.loads(pickle.dumps(m.fit(part, {"sigma": 0.5, "C": 1.0}, [{}], seed=3)))
    proba = m.predict_proba(fit, d.X, [{}])
    assert proba.shape == (1, len(d.y), 3)
    assert (proba[0, :, 2] == 0).all()
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)
    np.testing.assert_array_equal(proba, m.predict_proba(again, d.X, [{}]))


def test_sigest_is_resolved_at_fit_time_from_the_fitting_rows():
    d = _classes(n=120)
    m = SVMRadial()
    params = {"sigma": "sigest", "C": 1.0}
    a_rows, b_rows = np.arange(0, 60), np.arange(60, 120)
    fa = m.fit(TrainingData(d.X[a_rows], d.y[a_rows], CLASSIFICATION, d.levels), params, [{}], 9)
    fb = m.fit(TrainingData(d.X[b_rows], d.y[b_rows], CLASSIFICATION, d.levels), params, [{}], 9)
    assert fa.sigma == pytest.approx(sigest_sigma(d.X[a_rows], 9))
    assert fb.sigma == pytest.approx(sigest_sigma(d.X[b_rows], 9))
    assert fa.sigma != fb.sigma
    assert m.params[0].check("sigest") is None and m.params[0].check("other") is not None


def test_regression_fits_in_sample():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(150, 2))
    y = 50 + 20 * np.sin(X[:, 0]) + 10 * X[:, 1] ** 2 + rng.normal(scale=1.0, size=150)
    d = TrainingData(X, y, REGRESSION)
    m = SVMRadial()
    fit = m.fit(d, {"sigma": "sigest", "C": 4.0}, [{}], seed=0)
    pred = m.predict(fit, X, [{}])
    assert pred.shape == (1, 150)
    r2 = 1 - ((y - pred[0]) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert r2 > 0.8
    with pytest.raises(NotImplementedError):
        m.predict_proba(fit, X, [{}])


def test_weights_are_used():
    d = _classes()
    m = SVMRadial()
    params = {"sigma": 1.0, "C": 1.0}
    w = np.where(d.y == 0, 20.0, 0.05)
    weighted = TrainingData(d.X, d.y, CLASSIFICATION, d.levels, weights=w)
    plain = m.predict(m.fit(d, params, [{}], 0), d.X, [{}])
    heavy = m.predict(m.fit(weighted, params, [{}], 0), d.X, [{}])
    assert (heavy == 0).sum() > (plain == 0).sum()


def test_grids_and_simplest_first():
    d = _classes()
    m = SVMRadial()
    grid = m.default_grid(d, 8)
    assert (grid["sigma"] == "sigest").all()
    np.testing.assert_allclose(grid["C"], 2.0 ** np.arange(-2, 6))
    assert grid["C"].iloc[0] == 0.25 and grid["C"].iloc[-1] == 32
    shuffled = grid.sample(frac=1, random_state=0)
    np.testing.assert_allclose(m.sort_simplest_first(shuffled)["C"], grid["C"])
    rnd = m.random_grid(d, 20, np.random.default_rng(0))
    assert len(rnd) == 20 and (rnd["sigma"] > 0).all()
    assert rnd["C"].between(2.0**-5, 2.0**10).all()
    numeric = pd.DataFrame({"sigma": [0.1, 0.5, 0.1], "C": [1.0, 1.0, 0.5]})
    ordered = m.sort_simplest_first(numeric)
    assert ordered.values.tolist() == [[0.1, 0.5], [0.5, 1.0], [0.1, 1.0]]


def test_calibrated_fallback_when_libsvm_platt_is_gone(monkeypatch):
    import leanfit.models.svm as svm_module

    monkeypatch.setattr(svm_module, "_libsvm_platt_available", lambda: False)
    d = _classes()
    m = SVMRadial()
    fit = m.fit(d, {"sigma": 0.3, "C": 2.0}, [{}], seed=5)
    assert fit.calibrator is not None
    ref = m.fit(d, {"sigma": 0.3, "C": 2.0}, [{}], seed=5)
    proba = m.predict_proba(fit, d.X, [{}])
    assert proba.shape == (1, len(d.y), 3)
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)
    np.testing.assert_array_equal(proba, m.predict_proba(ref, d.X, [{}]))
    monkeypatch.undo()
    libsvm = m.fit(d, {"sigma": 0.3, "C": 2.0}, [{}], seed=5)
    np.testing.assert_array_equal(m.predict(fit, d.X, [{}]), m.predict(libsvm, d.X, [{}]))
