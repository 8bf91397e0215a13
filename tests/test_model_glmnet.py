"""Tests of the glmnet model against R's glmnet and caret (fixtures/glmnet_reference.json).

The fixture comes from ``Rscript tests/fixtures/make_glmnet_reference.R`` (glmnet 4.1.6, caret
6.0.93): binomial and gaussian fits on Sonar at three alphas and five lambdas each, the first
lambda of glmnet's default paths, caret's default grid and a multinomial fit on R's iris.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leanfit import datasets, partition
from leanfit.models.base import CLASSIFICATION, REGRESSION, TrainingData
from leanfit.models.linear import GLMNet, lambda_max

REF = json.loads((Path(__file__).parent / "fixtures" / "glmnet_reference.json").read_text())
N_ROWS = REF["n_rows"]


def _sonar() -> tuple[np.ndarray, np.ndarray]:
    df = datasets.load("sonar")
    X = df[[f"V{i}" for i in range(1, 61)]].to_numpy(dtype=float)
    y = df["Class"].cat.codes.to_numpy()  # M = 0, R = 1
    return X, y


def _binomial(weights: np.ndarray | None = None) -> TrainingData:
    X, y = _sonar()
    return TrainingData(X, y, CLASSIFICATION, ("M", "R"), weights=weights)


def _gaussian() -> TrainingData:
    """Sonar V1 from V2..V60, as in the R script."""
    X, _ = _sonar()
    return TrainingData(X[:, 1:], X[:, 0].copy(), REGRESSION)


def _iris(weights: np.ndarray | None = None) -> TrainingData:
    """R's iris, exactly as the R script used it (stored in the fixture)."""
    m = REF["multinomial"]
    X, y = np.array(m["X"], dtype=float), np.array(m["y"])
    return TrainingData(X, y, CLASSIFICATION, tuple(m["levels"]), weights=weights)


def _fit(data: TrainingData, alpha: float, lambdas, X: np.ndarray | None = None, **options):
    """One fit over the lambda path; predictions (probabilities or values) for every lambda."""
    m = GLMNet(options=options)
    subs = [{"lambda": float(lam)} for lam in lambdas]
    fitted = m.fit(data, {"alpha": alpha, "lambda": max(lambdas)}, subs, seed=0)
    X = data.X if X is None else X
    if data.mode == REGRESSION:
        return m.predict(fitted, X, subs)
    return m.predict_proba(fitted, X, subs)


def _ids(fits):
    return [f"alpha={f['alpha']}" for f in fits]


# -- 1. against R's glmnet -----------------------------------------------------------------


@pytest.mark.parametrize("ref", REF["binomial"], ids=_ids(REF["binomial"]))
def test_binomial_probabilities_match_r(ref):
    """P(R) for the first 20 rows at five lambdas from lambda_max*0.9 to lambda_max/100.

    Measured: at most 1.4e-5 (alpha=1, smallest lambda); 1.2e-6 at alpha=0.1, 3.4e-6 at 0.55.
    """
    d = _binomial()
    p = _fit(d, ref["alpha"], ref["lambda"], d.X[:N_ROWS])[..., 1]
    np.testing.assert_allclose(p, np.array(ref["pred"]), rtol=0, atol=1e-4)


@pytest.mark.parametrize("ref", REF["gaussian"], ids=lambda r: f"alpha={r['alpha']}")
def test_gaussian_predictions_match_r(ref):
    """Predictions in units of sd(y) (y = Sonar V1 is small); measured 1e-5 sd at alpha=1."""
    d = _gaussian()
    pred = _fit(d, ref["alpha"], ref["lambda"], d.X[:N_ROWS])
    err = np.abs(pred - np.array(ref["pred"])).max() / d.y.std()
    assert err < 1e-4, f"max |pred - R| = {err:.3g} sd(y)"


@pytest.mark.parametrize("make", [_binomial, _gaussian], ids=["binomial", "gaussian"])
def test_thresh_reaches_the_glum_families(make):
    """thresh is glum's convergence tolerance there: a tight one lands closer to R's fit."""
    d, ref = make(), (REF["binomial"] if make is _binomial else REF["gaussian"])[-1]
    r = np.array(ref["pred"])
    far = {}
    for thresh in (1e-2, 1e-10):
        pred = _fit(d, ref["alpha"], ref["lambda"], d.X[:N_ROWS], thresh=thresh)
        far[thresh] = np.abs((pred[..., 1] if make is _binomial else pred) - r).max()
    assert far[1e-10] < far[1e-2] / 10, far


def test_binomial_out_of_iterations_fails_the_fit():
    """maxit caps glum's IRLS iterations; running out raises instead of returning a fit that
    has not converged."""
    with pytest.raises(
        RuntimeError, match=r"binomial fit \(glum\) did not converge within maxit=2"
    ):
        _fit(_binomial(), 0.5, [0.01, 0.0001], maxit=2)
    assert np.isfinite(_fit(_binomial(), 0.5, [0.01, 0.0001], maxit=50)).all()


# -- 2. lambda_max -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "make"),
    [("binomial", _binomial), ("gaussian", _gaussian)],
)
def test_lambda_max_matches_r_first_lambda(family, make):
    d = make()
    for ref in REF[family]:
        assert lambda_max(d, ref["alpha"]) == pytest.approx(ref["lambda_max"], rel=1e-6)


def test_lambda_max_multinomial_matches_r():
    ref = REF["multinomial"]
    assert lambda_max(_iris(), ref["alpha"]) == pytest.approx(ref["lambda_max"], rel=1e-6)


def test_lambda_max_zeroes_every_coefficient():
    """At lambda_max the fit is intercept-only; just below it a coefficient enters (alpha=1)."""
    d = _binomial()
    lmax = lambda_max(d, 1.0)
    m = GLMNet()
    subs = [{"lambda": lmax}, {"lambda": lmax * 0.98}]
    fitted = m.fit(d, {"alpha": 1.0, "lambda": lmax}, subs, seed=0)
    coef = fitted["coef"][:, :, 0]
    assert np.abs(coef[0]).max() < 1e-8
    assert np.abs(coef[1]).max() > 1e-6


# -- 3. caret's default grid ---------------------------------------------------------------


def test_default_grid_matches_caret():
    """caret: lambdas of a 6-long glmnet path at alpha 0.5 (ends dropped) x 4 alphas."""
    grid = GLMNet().default_grid(_binomial(), 4)
    ref = REF["caret_grid"]
    assert list(grid.columns) == ["alpha", "lambda"]
    assert len(grid) == len(ref["alpha"]) == 16
    np.testing.assert_allclose(grid["alpha"], ref["alpha"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(grid["lambda"], ref["lambda"], rtol=1e-6)


@pytest.mark.parametrize("ref", REF["caret_grid_small"], ids=lambda g: f"n={len(g['rows'])}")
def test_default_grid_matches_caret_on_small_n(ref):
    """glmnet's path ratio is 0.01 when n < p (here: subsets of Sonar's rows, p = 60)."""
    X, y = _sonar()
    rows = np.array(ref["rows"])
    d = TrainingData(X[rows], y[rows], CLASSIFICATION, ("M", "R"))
    grid = GLMNet().default_grid(d, 4)
    np.testing.assert_allclose(grid["alpha"], ref["alpha"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(grid["lambda"], ref["lambda"], rtol=1e-6)


# -- 4. sub-models ---------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.1, 0.55, 1.0])
def test_one_path_equals_separate_fits(alpha):
    """One fit over 5 lambdas = 5 single-lambda fits (measured: at most 5.2e-7)."""
    d = _binomial()
    lambdas = lambda_max(d, alpha) * np.array([0.9, 0.3, 0.1, 0.03, 0.01])
    path = _fit(d, alpha, lambdas)[..., 1]
    for i, lam in enumerate(lambdas):
        alone = _fit(d, alpha, [lam])[0, :, 1]
        np.testing.assert_allclose(path[i], alone, rtol=0, atol=1e-6)


def test_subs_order_is_kept():
    """Predictions come back in the order of ``subs``, whatever order the path is fitted in."""
    d = _binomial()
    lam = lambda_max(d, 0.5) * np.array([0.01, 0.5, 0.1])
    m = GLMNet()
    subs = [{"lambda": float(v)} for v in lam]
    p = m.predict_proba(m.fit(d, {"alpha": 0.5, "lambda": lam.max()}, subs, 0), d.X, subs)
    for i, v in enumerate(lam):
        np.testing.assert_allclose(p[i], _fit(d, 0.5, [v])[0], rtol=0, atol=1e-6)


# -- 5. multinomial ------------------------------------------------------------------------


def test_multinomial_matches_r():
    """R's iris, alpha 0.5, lambdas lambda_max * (0.5, 0.05, 0.005), both converged to thresh
    1e-12 (glmnet's Fortran on both sides, through python-glmnet here); measured 2e-7."""
    ref = REF["multinomial"]
    p = _fit(_iris(), ref["alpha"], ref["lambda"], thresh=1e-12)
    np.testing.assert_allclose(p, np.array(ref["prob"]), rtol=0, atol=1e-6)
    # caret's (and glmnet's) default thresh 1e-7 stops earlier; measured 2.4e-4 from converged
    loose = _fit(_iris(), ref["alpha"], ref["lambda"])
    assert 1e-6 < np.abs(loose - np.array(ref["prob"])).max() < 1e-3


def _glass(drop_class: str | None = None) -> TrainingData:
    df = datasets.load("glass")
    if drop_class is not None:
        df = df[df["Type"] != drop_class]
    X = df.drop(columns="Type").to_numpy(dtype=float)
    levels = tuple(datasets.load("glass")["Type"].cat.categories)
    y = pd.Categorical(df["Type"], categories=levels).codes
    return TrainingData(X, y, CLASSIFICATION, levels)


def test_multinomial_small_lambda_alone_equals_its_value_on_a_path():
    """Started cold at a small lambda, glmnet's multinomial solver gives up (python-glmnet then
    fails); the path down from lambda_max makes a lone small lambda equal the same lambda on a
    path. Measured 1.5e-14 (both pass through R's default path grid from lambda_max)."""
    d = _glass()
    lams = [0.047258, 0.004726, 0.000473]
    on_path = _fit(d, 0.55, lams, thresh=1e-12, maxit=10**6)[2]
    alone = _fit(d, 0.55, lams[2:], thresh=1e-12, maxit=10**6)[0]
    np.testing.assert_allclose(alone, on_path, rtol=0, atol=1e-4)
    assert (alone.argmax(axis=1) == d.y).mean() > 0.7


def test_multinomial_tenfold_lambda_steps_on_letter_reach_their_solutions():
    """Asked straight for a tenfold step down (caret's Letter grid), glmnet's multinomial solver
    gave up (1 000 rows) or diverged to coefficients of 1e5 (5 000 rows, accuracy 0.04); along
    R's default path grid it reaches every lambda. Measured training accuracy 0.53, 0.80, 0.84."""
    letter = datasets.load("letter")
    sub = letter.iloc[partition(letter["lettr"], p=0.05, seed=1)]
    d = TrainingData(
        sub.drop(columns="lettr").to_numpy(dtype=float),
        sub["lettr"].cat.codes.to_numpy(),
        CLASSIFICATION,
        tuple(sub["lettr"].cat.categories),
    )
    acc = (_fit(d, 1.0, [0.0175, 0.0017, 0.0002]).argmax(axis=2) == d.y).mean(axis=1)
    assert 0.45 < acc[0] < acc[1] < acc[2] < 0.95


def test_multinomial_lambda_glmnet_cannot_converge_at_fails_the_fit_by_name():
    msg = r"did not converge down to lambda=0\.000473 \(it stopped"
    with pytest.raises(RuntimeError, match=msg):
        _fit(_glass(), 1.0, [0.000473], maxit=2_000)


def test_multinomial_class_absent_from_the_rows_gets_probability_zero():
    d = _glass(drop_class="6")
    assert d.n_classes == 6 and 4 not in set(d.y)  # '6' is the fifth level
    p = _fit(d, 0.5, [0.01, 0.001])
    assert p.shape == (2, len(d.y), 6)
    np.testing.assert_array_equal(p[:, :, 4], 0.0)
    np.testing.assert_allclose(p.sum(axis=2), 1.0, atol=1e-12)


def test_three_classes_with_two_present_equal_the_binomial_fit():
    """glmnet fits the binomial family when only two classes remain: the same probabilities as
    the binomial fit (glum's); measured 1.1e-7."""
    d = _iris()
    rows = d.y != 0
    two_of_three = TrainingData(d.X[rows], d.y[rows], CLASSIFICATION, d.levels)
    p3 = _fit(two_of_three, 0.5, [0.05, 0.005], thresh=1e-12)
    assert p3.shape == (2, rows.sum(), 3)
    np.testing.assert_array_equal(p3[:, :, 0], 0.0)
    binomial = TrainingData(d.X[rows], d.y[rows] - 1, CLASSIFICATION, d.levels[1:])
    p2 = _fit(binomial, 0.5, [0.05, 0.005])
    np.testing.assert_allclose(p3[:, :, 1:], p2, rtol=0, atol=1e-6)


def test_multinomial_without_python_glmnet_fails_before_fitting(monkeypatch, fits):
    import leanfit as lf

    monkeypatch.setitem(sys.modules, "glmnet", None)  # as if python-glmnet were not installed
    with pytest.raises(ImportError, match=r"pip install 'leanfit\[glmnet\]'"):
        lf.train(
            "Type ~ .",
            data=datasets.load("glass"),
            method="glmnet",
            control=lf.Control(method="cv", number=3),
        )
    assert fits == []
    # two classes need no extra engine
    sonar = datasets.load("sonar")
    res = lf.train(
        "Class ~ .",
        data=sonar,
        method="glmnet",
        grid={"alpha": [1.0], "lambda": [0.01]},
        control=lf.Control(method="cv", number=3),
    )
    assert res.results["Accuracy"].notna().all()


def test_multinomial_probabilities_are_sensible():
    d = _iris()
    lmax = lambda_max(d, 0.5)
    p = _fit(d, 0.5, [lmax * 0.9, lmax * 0.1, lmax * 0.001])
    assert p.shape == (3, len(d.y), 3)
    np.testing.assert_allclose(p.sum(axis=2), 1.0, atol=1e-12)
    assert (p.argmax(axis=2)[-1] == d.y).mean() > 0.9
    # Larger lambda: probabilities closer to uniform (higher mean entropy).
    entropy = -(p * np.log(p)).sum(axis=2).mean(axis=1)
    assert entropy[0] > entropy[1] > entropy[2]


# -- 6. weights ------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.1, 0.55, 1.0])
def test_binomial_integer_weights_equal_duplicated_rows(alpha):
    """Measured: 2e-15."""
    w = np.random.default_rng(0).integers(1, 4, 208).astype(float)
    dw = _binomial(weights=w)
    d2 = _binomial(weights=2 * w)  # glmnet normalizes weights: only their ratios matter
    X, y = _sonar()
    idx = np.repeat(np.arange(len(y)), w.astype(int))
    dd = TrainingData(X[idx], y[idx], CLASSIFICATION, ("M", "R"))
    assert lambda_max(dw, alpha) == pytest.approx(lambda_max(dd, alpha), rel=1e-12)
    lambdas = lambda_max(dd, alpha) * np.array([0.5, 0.1, 0.02])
    pw = _fit(dw, alpha, lambdas, X)
    np.testing.assert_allclose(pw, _fit(dd, alpha, lambdas, X), rtol=0, atol=1e-5)
    np.testing.assert_allclose(pw, _fit(d2, alpha, lambdas, X), rtol=0, atol=1e-5)
    assert np.abs(pw - _fit(_binomial(), alpha, lambdas, X)).max() > 1e-3


def test_multinomial_integer_weights_equal_duplicated_rows():
    w = np.tile([1.0, 2.0, 3.0], 50)
    d = _iris()
    idx = np.repeat(np.arange(len(d.y)), w.astype(int))
    dd = TrainingData(d.X[idx], d.y[idx], CLASSIFICATION, d.levels)
    lambdas = [0.1, 0.01]
    pw = _fit(_iris(weights=w), 0.5, lambdas, d.X, thresh=1e-12)
    np.testing.assert_allclose(pw, _fit(dd, 0.5, lambdas, d.X, thresh=1e-12), rtol=0, atol=1e-5)
