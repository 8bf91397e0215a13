"""The model library beyond gbm/glmnet/rda/svm_radial: contract checks for every model, sub-model
equivalence (one fit scored at many values equals separate fits, and the scikit-learn engine fitted
at each value), caret's default grids, end-to-end train(), and agreement with R on Sonar.

The R reference numbers below were computed on all 208 rows of leanfit's Sonar
(src/leanfit/datasets/sonar.csv) with R 4 and the packages named in each comment, printed with
``options(digits = 15)``; ``s <- read.csv("src/leanfit/datasets/sonar.csv",
stringsAsFactors = TRUE); x <- as.matrix(s[, 1:60]); y <- s$Class;
rows <- c(1, 2, 50, 100, 150, 208)``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.models.base import CLASSIFICATION, REGRESSION, TrainingData, get_model, registry

CLASSIFIERS = [
    "glm",
    "pls",
    "lda",
    "qda",
    "naive_bayes",
    "nb",
    "pam",
    "knn",
    "svm_linear",
    "svm_poly",
    "gaussprocess",
    "mlp",
    "mlp_sklearn",
]
REGRESSORS = [
    "glm",
    "lm",
    "ridge",
    "lasso",
    "enet",
    "lars",
    "lars2",
    "pls",
    "pcr",
    "huber",
    "quantile_reg",
    "bayes_ridge",
    "knn",
    "svm_linear",
    "svm_poly",
    "gaussprocess",
    "kernel_ridge",
    "mlp",
    "mlp_sklearn",
]
ALL = sorted(set(CLASSIFIERS) | set(REGRESSORS))
# Regressors whose best of two candidates comes within 10 % of least squares' CV RMSE on the
# synthetic linear problem below (the others: pls, pcr, knn, svm_poly, gaussprocess,
# kernel_ridge, mlp).
NEAR_OLS = (
    "ridge",
    "lasso",
    "enet",
    "lars",
    "lars2",
    "huber",
    "quantile_reg",
    "bayes_ridge",
    "svm_linear",
    "mlp_sklearn",
)

R_ROWS = np.array([1, 2, 50, 100, 150, 208]) - 1  # R's 1-based rows

# MASS::lda(x, y); predict(., x[rows, ])$posterior[, "M"]
R_LDA_M = [
    0.007247574403205355,
    0.000961933258840802,
    0.033095069012195645,
    0.375533582644980102,
    0.991203730321359000,
    0.834335226021345355,
]
# MASS::qda(x, y); predict(., x[rows, ])$posterior[, "M"]
R_QDA_M = [
    1.85533281074316e-57,
    7.10478362836699e-67,
    9.99917398802054e-46,
    1.0,
    1.0,
    1.0,
]
# e1071::naiveBayes(x, y); predict(., x[rows, ], type = "raw")[, "M"]
R_NB_M = [
    0.002728208412678899,
    0.961905557377756404,
    0.001959173704513001,
    0.992304098927092260,
    0.873931721986265009,
    0.000128318247546513,
]
# caret::plsda(x, y, ncomp = 3, method = "oscorespls");
# predict(., x[rows, ], ncomp = a, type = "prob")[, "M", 1] for a = 1, 2, 3
R_PLSDA_M = [
    [0.403307042658416, 0.590397132134029, 0.486845417990541]
    + [0.444595871191807, 0.573710030522049, 0.548238690576349],
    [0.410130202589477, 0.478754240996799, 0.494092317690997]
    + [0.409151069616440, 0.563433548511328, 0.551658919806620],
    [0.450889978964993, 0.516762624063076, 0.490653274255263]
    + [0.423359544772778, 0.594981500292178, 0.514073269523246],
]
# d <- data.frame(x); pls::pcr(V1 ~ ., data = d, ncomp = 3); predict(., d[rows, ], ncomp = 1:3)
R_PCR = [
    [0.0287805107904986, 0.0298099746288821, 0.0290241671425368]
    + [0.0290306011529845, 0.0294140250742461, 0.0291979745472601],
    [0.0334525893629792, 0.0446900367524052, 0.0253806757617708]
    + [0.0334039998837354, 0.0279073899539647, 0.0158572795328934],
    [0.0311245872229038, 0.0497069482592699, 0.0218196241278710]
    + [0.0386599955981539, 0.0279238485344117, 0.0159101420831342],
]
# dd <- data.frame(x[, 1:10], Class = y); glm(Class ~ ., data = dd, family = binomial);
# predict(., dd[rows, ], type = "response")  (P(R))
R_GLM_R = [
    0.396821320352725,
    0.526500449698829,
    0.797906347263226,
    0.850257443037342,
    0.295433795183284,
    0.394370548096997,
]
# caret::knn3Train(x[-rows, ], x[rows, ], y[-rows], k = 5): attr(, "prob")[, "M"]
R_KNN3_M = [0.8, 0.8, 0.2, 0.4, 0.0, 0.4]
# kernlab::gausspr(x[, 2:10], x[, 1], kernel = "rbfdot", kpar = list(sigma = 0.05));
# predict(., x[rows, 2:10])
R_GAUSSPR = [
    0.0290740322763672,
    0.0356210893615079,
    0.0384926882491919,
    0.0338742826300516,
    0.0303018176746938,
    0.0252666632531564,
]
# kernlab::gausspr(x, y, kernel = "rbfdot", kpar = list(sigma = 0.01));
# predict(., x[rows, ], type = "probabilities")[, "M"]  (kernlab stops at gradient norm 5e-4)
R_GAUSSPR_M = [
    0.412910817146933,
    0.470474404278062,
    0.468802413254397,
    0.480205447660078,
    0.621192371297878,
    0.584839309150457,
]
# kernlab::ksvm(x, y, kernel = "vanilladot", C = 1); predict(., x[rows, ], type = "decision")
R_KSVM_LINEAR = [
    1.979315799278221,
    4.248116848195280,
    1.511389652849965,
    -1.000173986180970,
    -3.025875831561282,
    -0.999731165145905,
]


# -- data -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sonar_all() -> TrainingData:
    df = lf.datasets.load("sonar")
    y = (df["Class"] == "R").to_numpy(int)
    return TrainingData(df.iloc[:, :60].to_numpy(float), y, CLASSIFICATION, ("M", "R"))


@pytest.fixture(scope="module")
def regression() -> TrainingData:
    """A small synthetic linear problem with two pure-noise columns."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(120, 6)) * [1.0, 2.0, 0.5, 1.0, 3.0, 1.0]
    y = 2.0 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + rng.normal(scale=0.5, size=120) + 10.0
    return TrainingData(X, y, REGRESSION, columns=tuple(f"x{j}" for j in range(6)))


@pytest.fixture(scope="module")
def three_classes() -> TrainingData:
    rng = np.random.default_rng(4)
    y = np.arange(90) % 3
    X = rng.normal(size=(90, 4)) + y[:, None] * 1.5
    return TrainingData(X, y, CLASSIFICATION, ("a", "b", "c"))


@pytest.fixture(scope="module")
def regression_frame(regression) -> pd.DataFrame:
    df = pd.DataFrame(regression.X, columns=list(regression.columns))
    df["y"] = regression.y
    return df


def _groups(name: str, data: TrainingData, length: int = 2) -> list[tuple[dict, list[dict]]]:
    """The fit groups of the default grid: (params, subs) as train() would fit them."""
    from leanfit.tuning.plan import candidates, fit_groups

    m = get_model(name)
    cands = candidates(m, data, None, length, "grid", np.random.default_rng(0))
    return [(g.params, g.subs) for g in fit_groups(m, cands)]


def _ends(name: str, data: TrainingData) -> list[tuple[dict, list[dict]]]:
    """The simplest and the most complex fit group of the default grid (length 2)."""
    groups = _groups(name, data)
    return groups[:1] + groups[1:][-1:]


# -- the contract, for every model ----------------------------------------------------------


def test_the_registry_loads_no_engine_and_not_the_distillation_api():
    """registry() runs before a first train() starts its workers: importing every model family
    must not import SciPy, scikit-learn or the distillation report (0.4 s before any work)."""
    import subprocess
    import sys

    code = (
        "import sys; from leanfit.models.base import registry; assert 'distill_mlp' in registry(); "
        "print(sorted(m for m in ('scipy', 'sklearn', 'lightgbm', 'torch', "
        "'leanfit.distillation.api') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_model_is_registered_with_its_contract():
    reg = registry()
    for name in ALL:
        cls = reg[name]
        assert cls.name == name and cls.label and cls.engine and cls.tags
        assert set(cls.submodel) <= {p.name for p in cls.params}
        assert {k for k, _ in cls.complexity_order} <= {p.name for p in cls.params}
    assert {n for n in CLASSIFIERS} == {n for n in ALL if CLASSIFICATION in reg[n].modes}
    assert {n for n in REGRESSORS} == {n for n in ALL if REGRESSION in reg[n].modes}


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifiers_fit_predict_probabilities_and_determinism(name, sonar_all, three_classes):
    m = get_model(name)
    for data in (sonar_all, three_classes):
        K = data.n_classes
        for params, subs in _ends(name, data):
            fit = m.fit(data, params, subs, seed=7)
            again = pickle.loads(pickle.dumps(m.fit(data, params, subs, seed=7)))
            X = data.X[::3]
            pred = m.predict(fit, X, subs)
            proba = m.predict_proba(fit, X, subs)
            assert pred.shape == (len(subs), len(X))
            assert proba.shape == (len(subs), len(X), K)
            assert set(np.unique(pred)) <= set(range(K))
            assert (proba >= 0).all()
            np.testing.assert_allclose(proba.sum(axis=2), 1.0, atol=1e-10)
            np.testing.assert_array_equal(pred, m.predict(again, X, subs))
            np.testing.assert_array_equal(proba, m.predict_proba(again, X, subs))
            imp = m.importance(fit, subs)
            assert imp is None or (imp.shape == (data.X.shape[1],) and np.isfinite(imp).all())
        # in-sample accuracy well above chance on the separable three-class problem
        params, subs = _groups(name, three_classes)[-1]
        fit = m.fit(three_classes, params, subs, seed=1)
        assert (m.predict(fit, three_classes.X, subs) == three_classes.y).mean() > 0.6


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_a_class_absent_from_the_fitting_rows(name, three_classes):
    m = get_model(name)
    keep = three_classes.y != 2
    part = TrainingData(
        three_classes.X[keep], three_classes.y[keep], CLASSIFICATION, ("a", "b", "c")
    )
    params, subs = _groups(name, part)[0]
    fit = m.fit(part, params, subs, seed=2)
    proba = m.predict_proba(fit, three_classes.X, subs)
    assert proba.shape == (len(subs), 90, 3)
    np.testing.assert_allclose(proba.sum(axis=2), 1.0, atol=1e-10)
    if name != "pls":  # plsda regresses an all-zero indicator: softmax still gives it some mass
        assert (proba[:, :, 2] == 0).all()
        assert (m.predict(fit, three_classes.X, subs) != 2).all()


@pytest.mark.parametrize("name", REGRESSORS)
def test_regressors_fit_predict_and_determinism(name, regression):
    m = get_model(name)
    for params, subs in _ends(name, regression):
        fit = m.fit(regression, params, subs, seed=5)
        again = pickle.loads(pickle.dumps(m.fit(regression, params, subs, seed=5)))
        pred = m.predict(fit, regression.X, subs)
        assert pred.shape == (len(subs), len(regression.y)) and np.isfinite(pred).all()
        np.testing.assert_array_equal(pred, m.predict(again, regression.X, subs))
        imp = m.importance(fit, subs)
        assert imp is None or (imp.shape == (6,) and np.isfinite(imp).all())
    # the last (most complex) candidate explains most of the variance in sample
    params, subs = _groups(name, regression, 3)[-1]
    fit = m.fit(regression, params, subs, seed=5)
    resid = regression.y - m.predict(fit, regression.X, subs)[-1]
    assert 1 - resid.var() / regression.y.var() > 0.5


def test_linear_importance_ranks_the_real_predictors_first(regression):
    for name in ("lm", "glm", "ridge", "lasso", "pls", "huber", "bayes_ridge"):
        m = get_model(name)
        params, subs = _groups(name, regression, 3)[-1]
        imp = m.importance(m.fit(regression, params, subs, seed=0), subs[-1:])
        assert set(np.argsort(-imp)[:2]) == {0, 1}, name


@pytest.mark.parametrize("name", ["glm", "lm", "huber", "quantile_reg", "bayes_ridge"])
def test_weights_change_weighted_fits(name, regression):
    m = get_model(name)
    assert m.takes_weights
    params, subs = _groups(name, regression)[0]
    w = np.where(np.arange(120) < 30, 50.0, 0.01)
    shifted = regression.y + (np.arange(120) < 30) * 5.0
    heavy = TrainingData(regression.X, shifted, REGRESSION, weights=w)
    plain = TrainingData(regression.X, heavy.y, REGRESSION)
    a = m.predict(m.fit(heavy, params, subs, 0), regression.X[:30], subs)
    b = m.predict(m.fit(plain, params, subs, 0), regression.X[:30], subs)
    assert np.abs(a - b).max() > 0.5


# -- agreement with R -----------------------------------------------------------------------
def _proba(name: str, data: TrainingData, params: dict, subs: list[dict], X=None) -> np.ndarray:
    m = get_model(name)
    fit = m.fit(data, params, subs, seed=1)
    return m.predict_proba(fit, data.X[R_ROWS] if X is None else X, subs)


def test_lda_posteriors_equal_mass_lda(sonar_all):
    got = _proba("lda", sonar_all, {}, [{}])[0]
    np.testing.assert_allclose(got[:, 0], R_LDA_M, rtol=1e-6, atol=1e-9)


def test_qda_posteriors_equal_mass_qda(sonar_all):
    got = _proba("qda", sonar_all, {}, [{}])[0]
    np.testing.assert_allclose(got[:, 0], R_QDA_M, rtol=1e-6, atol=0)


def test_gaussian_naive_bayes_equals_e1071(sonar_all):
    params = {"laplace": 0.0, "usekernel": False, "adjust": 1.0}
    got = _proba("naive_bayes", sonar_all, params, [{}])[0]
    np.testing.assert_allclose(got[:, 0], R_NB_M, rtol=1e-8, atol=1e-12)


def test_kernel_naive_bayes_is_the_product_of_bw_nrd0_kernel_densities(sonar_all):
    from scipy.stats import gaussian_kde

    from leanfit.models.discriminant import bw_nrd0

    params = {"laplace": 0.0, "usekernel": True, "adjust": 1.5}
    X, y, cols = sonar_all.X, sonar_all.y, range(0, 60, 7)
    sub = TrainingData(X[:, cols], y, CLASSIFICATION, ("M", "R"))
    got = _proba("naive_bayes", sub, params, [{}])[0]
    logs = np.zeros((len(R_ROWS), 2))
    for k in range(2):
        logs[:, k] = np.log((y == k).mean())
        for j in cols:
            v = X[y == k, j]
            kde = gaussian_kde(v, bw_method=1.5 * bw_nrd0(v) / v.std(ddof=1))
            logs[:, k] += np.log(kde(X[R_ROWS, j]))
    want = np.exp(logs - np.logaddexp.reduce(logs, axis=1, keepdims=True))
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_plsda_softmax_probabilities_equal_caret_plsda(sonar_all):
    subs = [{"ncomp": 1}, {"ncomp": 2}, {"ncomp": 3}]
    got = _proba("pls", sonar_all, {"ncomp": 3}, subs)
    np.testing.assert_allclose(got[:, :, 0], R_PLSDA_M, rtol=1e-8)


def test_pcr_equals_pls_package(sonar_all):
    data = TrainingData(sonar_all.X[:, 1:], sonar_all.X[:, 0], REGRESSION)
    subs = [{"ncomp": 1}, {"ncomp": 2}, {"ncomp": 3}]
    m = get_model("pcr")
    got = m.predict(m.fit(data, {"ncomp": 3}, subs, 0), data.X[R_ROWS], subs)
    np.testing.assert_allclose(got, R_PCR, rtol=1e-8)


def test_binomial_glm_equals_r_glm(sonar_all):
    data = TrainingData(sonar_all.X[:, :10], sonar_all.y, CLASSIFICATION, ("M", "R"))
    got = _proba("glm", data, {}, [{}])[0]
    np.testing.assert_allclose(got[:, 1], R_GLM_R, rtol=1e-6)


def test_knn_probabilities_equal_caret_knn3(sonar_all):
    train = np.setdiff1d(np.arange(208), R_ROWS)
    data = TrainingData(sonar_all.X[train], sonar_all.y[train], CLASSIFICATION, ("M", "R"))
    got = _proba("knn", data, {"k": 5}, [{"k": 5}], X=sonar_all.X[R_ROWS])[0]
    np.testing.assert_allclose(got[:, 0], R_KNN3_M, atol=1e-12)


def test_gaussian_process_equals_kernlab_gausspr(sonar_all):
    X = sonar_all.X
    m = get_model("gaussprocess")
    reg = TrainingData(X[:, 1:10], X[:, 0], REGRESSION)
    got = m.predict(m.fit(reg, {"sigma": 0.05}, [{}], 0), X[R_ROWS, 1:10], [{}])[0]
    np.testing.assert_allclose(got, R_GAUSSPR, rtol=1e-9)
    got = _proba("gaussprocess", sonar_all, {"sigma": 0.01}, [{}])[0]
    np.testing.assert_allclose(got[:, 0], R_GAUSSPR_M, atol=1e-4)  # kernlab's looser tolerance


def test_linear_svm_decision_values_match_kernlab(sonar_all):
    m = get_model("svm_linear")
    fit = m.fit(sonar_all, {"C": 1.0}, [{}], 0)
    dec = fit.estimator.decision_function(fit.transform(sonar_all.X[R_ROWS]))
    # libsvm and kernlab solve the same dual to a 1e-3 tolerance; positive means class R in both
    np.testing.assert_allclose(dec, R_KSVM_LINEAR, atol=5e-3)


# -- sub-model equivalence -------------------------------------------------------------------
def _one_vs_separate(name: str, data: TrainingData, params: dict, subs: list[dict], X: np.ndarray):
    """Predictions of one fit scored at every sub, and of one fit per sub."""
    m = get_model(name)
    together = m.predict(m.fit(data, params, subs, 3), X, subs)
    apart = np.concatenate([m.predict(m.fit(data, {**params, **s}, [s], 3), X, [s]) for s in subs])
    return together, apart


def test_pls_each_ncomp_equals_sklearn_plsregression(sonar_all, regression):
    from sklearn.cross_decomposition import PLSRegression

    from leanfit.models.linear import PLS

    subs = [{"ncomp": a} for a in (5, 1, 2, 3)]
    m = get_model("pls")
    X = sonar_all.X
    fit = m.fit(sonar_all, {"ncomp": 5}, subs, 0)
    eta = fit.eta(X, subs)
    for s, e in zip(subs, eta, strict=True):
        ref = PLSRegression(s["ncomp"], scale=False, tol=PLS.tol, max_iter=PLS.max_iter)
        ref.fit(X, np.eye(2)[sonar_all.y])
        np.testing.assert_allclose(e, ref.predict(X), atol=1e-8)
    fit = m.fit(regression, {"ncomp": 5}, subs, 0)
    pred = m.predict(fit, regression.X, subs)
    for s, p in zip(subs, pred, strict=True):
        ref = PLSRegression(s["ncomp"], scale=False).fit(regression.X, regression.y)
        np.testing.assert_allclose(p, ref.predict(regression.X).ravel(), atol=1e-8)
    together, apart = _one_vs_separate("pls", sonar_all, {"ncomp": 5}, subs, X)
    np.testing.assert_array_equal(together, apart)


def test_pcr_each_ncomp_equals_sklearn_pca_then_ols(regression):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LinearRegression

    subs = [{"ncomp": a} for a in (4, 1, 2, 3)]
    m = get_model("pcr")
    pred = m.predict(m.fit(regression, {"ncomp": 4}, subs, 0), regression.X, subs)
    for s, p in zip(subs, pred, strict=True):
        pca = PCA(n_components=s["ncomp"], svd_solver="full").fit(regression.X)
        ols = LinearRegression().fit(pca.transform(regression.X), regression.y)
        np.testing.assert_allclose(p, ols.predict(pca.transform(regression.X)), atol=1e-8)


def test_knn_each_k_equals_sklearn_where_there_are_no_ties(sonar_all):
    from sklearn.neighbors import KNeighborsClassifier

    from leanfit.models.neighbors import find_neighbours

    train, test = np.arange(0, 208, 2), np.arange(1, 208, 2)
    data = TrainingData(sonar_all.X[train], sonar_all.y[train], CLASSIFICATION, ("M", "R"))
    subs = [{"k": k} for k in (9, 5, 7, 1, 3)]
    m = get_model("knn")
    fit = m.fit(data, {"k": 9}, subs, 0)
    pred = m.predict(fit, sonar_all.X[test], subs)
    proba = m.predict_proba(fit, sonar_all.X[test], subs)
    nb = find_neighbours(data.X, sonar_all.X[test], 10)
    for s, p, pr in zip(subs, pred, proba, strict=True):
        k = s["k"]
        ref = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(data.X, data.y)
        clear = nb.d2[:, k] > nb.d2[:, k - 1]  # no distance tie at the k-th neighbour
        assert clear.mean() > 0.9
        np.testing.assert_array_equal(p[clear], ref.predict(sonar_all.X[test])[clear])
        np.testing.assert_allclose(pr[clear], ref.predict_proba(sonar_all.X[test])[clear])
    together, apart = _one_vs_separate("knn", data, {"k": 9}, subs, sonar_all.X[test])
    np.testing.assert_array_equal(together, apart)


def test_knn_distance_ties_all_vote_and_vote_ties_follow_the_seed():
    X = np.array([[1.0], [-1.0], [2.0], [-2.0], [3.0]])
    y = np.array([0, 1, 0, 1, 1])
    data = TrainingData(X, y, CLASSIFICATION, ("a", "b"))
    m = get_model("knn")
    fit = m.fit(data, {"k": 1}, [{"k": 1}], seed=4)
    new = np.zeros((200, 1))
    proba = m.predict_proba(fit, new, [{"k": 1}, {"k": 3}])
    np.testing.assert_allclose(proba[0], 0.5)  # k=1: both rows at distance 1 vote
    np.testing.assert_allclose(proba[1], 0.5)  # k=3: the four rows within distance 2 vote
    pred = m.predict(fit, new, [{"k": 1}])[0]
    assert 0 < pred.mean() < 1  # vote ties broken at random ...
    np.testing.assert_array_equal(pred, m.predict(fit, new, [{"k": 1}])[0])  # ... reproducibly
    other = m.predict(m.fit(data, {"k": 1}, [{"k": 1}], seed=5), new, [{"k": 1}])[0]
    assert (pred != other).any()
    reg = m.fit(TrainingData(X, y * 10.0, REGRESSION), {"k": 1}, [{"k": 1}], 0)
    np.testing.assert_allclose(m.predict(reg, [[0.0]], [{"k": 1}, {"k": 9}]), [[5.0], [6.0]])


def test_lasso_and_lars_paths(regression):
    from sklearn.linear_model import Lasso

    from leanfit.models.linear import _normalise, enet_path

    fractions = [1.0, 0.1, 0.35, 0.8, 0.0]
    subs = [{"fraction": f} for f in fractions]
    together, apart = _one_vs_separate("lasso", regression, {"fraction": 1.0}, subs, regression.X)
    np.testing.assert_allclose(together, apart, atol=1e-12)
    lars = get_model("lars")
    same = lars.predict(lars.fit(regression, {"fraction": 1.0}, subs, 0), regression.X, subs)
    np.testing.assert_allclose(together, same, atol=1e-12)  # caret's lars is the lasso path
    lm = get_model("lm")
    ols = lm.predict(lm.fit(regression, {"intercept": True}, [{}], 0), regression.X, [{}])
    np.testing.assert_allclose(together[0], ols[0], atol=1e-8)  # fraction 1: least squares
    np.testing.assert_allclose(together[-1], regression.y.mean())  # fraction 0: the mean
    # at the path's knots the coefficients solve the lasso at the knot's penalty
    path = enet_path(regression.X, regression.y, 0.0)
    Xn, _, _ = _normalise(regression.X)
    yc = regression.y - regression.y.mean()
    norms = np.abs(path.coefs).sum(axis=0)
    from sklearn.linear_model import lars_path_gram

    alphas, _, _ = lars_path_gram(Xn.T @ yc, Xn.T @ Xn, n_samples=120, method="lasso")
    for i in (1, 2, 4):
        ref = Lasso(alpha=alphas[i], fit_intercept=False, tol=1e-12, max_iter=100000)
        ref.fit(Xn, yc)
        got = path.at_fraction([norms[i] / norms[-1]])[:, 0]
        np.testing.assert_allclose(got, ref.coef_, atol=1e-7)


def test_enet_path_ends_at_rescaled_ridge_and_fractions_are_submodels(regression):
    from leanfit.models.linear import _normalise

    Xn, meanx, normx = _normalise(regression.X)
    yc = regression.y - regression.y.mean()
    m = get_model("enet")
    for lam in (0.1, 2.0):
        subs = [{"fraction": f} for f in (1.0, 0.05, 0.5)]
        fit = m.fit(regression, {"fraction": 1.0, "lambda": lam}, subs, 0)
        # elasticnet's (non-naive) coefficients at fraction 1: (1 + lambda) x ridge
        ridge = (1 + lam) * np.linalg.solve(Xn.T @ Xn + lam * np.eye(6), Xn.T @ yc)
        np.testing.assert_allclose(fit.at_fraction([1.0])[:, 0], ridge, rtol=1e-8)
        together, apart = _one_vs_separate(
            "enet", regression, {"fraction": 1.0, "lambda": lam}, subs, regression.X
        )
        np.testing.assert_allclose(together, apart, atol=1e-12)
        rm = get_model("ridge")
        rfit = rm.fit(regression, {"lambda": lam}, [{"lambda": lam}], 0)
        np.testing.assert_allclose(
            rm.predict(rfit, regression.X, [{"lambda": lam}])[0], together[0], rtol=1e-8
        )


def test_ridge_lambdas_from_one_svd_equal_separate_fits(regression):
    subs = [{"lambda": v} for v in (0.0, 0.1, 0.001, 5.0)]
    together, apart = _one_vs_separate("ridge", regression, {"lambda": 0.0}, subs, regression.X)
    np.testing.assert_allclose(together, apart, atol=1e-10)


def test_lars2_steps(regression):
    m = get_model("lars2")
    subs = [{"step": s} for s in (1, 2, 3, 99)]
    fit = m.fit(regression, {"step": 99}, subs, 0)
    pred = m.predict(fit, regression.X, subs)
    np.testing.assert_allclose(pred[0], regression.y.mean())  # step 1: nothing entered
    assert np.count_nonzero(fit.at_step([2])) == 1 and np.count_nonzero(fit.at_step([3])) == 2
    lasso = get_model("lasso")
    one = [{"fraction": 1.0}]
    full = lasso.predict(lasso.fit(regression, one[0], one, 0), regression.X, one)
    np.testing.assert_allclose(pred[-1], full[0], atol=1e-10)


def test_kernel_ridge_each_alpha_equals_sklearn(regression):
    from sklearn.kernel_ridge import KernelRidge

    from leanfit.models.svm import _standardise

    subs = [{"alpha": a} for a in (1.0, 0.01, 0.3)]
    m = get_model("kernel_ridge")
    w = np.linspace(0.5, 2.0, 120)
    data = TrainingData(regression.X, regression.y, REGRESSION, weights=w)
    pred = m.predict(m.fit(data, {"alpha": 1.0, "gamma": 0.2}, subs, 0), regression.X, subs)
    Xs, _, _ = _standardise(regression.X)
    mu, sd = regression.y.mean(), regression.y.std(ddof=1)
    for s, p in zip(subs, pred, strict=True):
        ref = KernelRidge(alpha=s["alpha"], kernel="rbf", gamma=0.2)
        ref.fit(Xs, (regression.y - mu) / sd, sample_weight=w)
        np.testing.assert_allclose(p, ref.predict(Xs) * sd + mu, atol=1e-8)


def test_pam_thresholds(sonar_all):
    m = get_model("pam")
    grid = m.default_grid(sonar_all, 4)
    subs = [{"threshold": 0.0}] + grid.to_dict("records") + [{"threshold": 1e6}]
    together, apart = _one_vs_separate("pam", sonar_all, subs[0], subs, sonar_all.X)
    np.testing.assert_array_equal(together, apart)
    fit = m.fit(sonar_all, subs[0], subs, 0)
    proba = m.predict_proba(fit, sonar_all.X, subs)
    np.testing.assert_allclose(proba[-1], np.tile([111 / 208, 97 / 208], (208, 1)))
    kept = [np.count_nonzero(m.importance(fit, [s])) for s in subs]
    assert kept[0] == 60 and kept[-1] == 0 and kept == sorted(kept, reverse=True)
    assert (together[1] == sonar_all.y).mean() > 0.65


def test_svm_kernels_equal_direct_libsvm_fits(three_classes):
    from sklearn.svm import SVC

    from leanfit.models.svm import _standardise

    Xs, _, _ = _standardise(three_classes.X)
    cases = [
        ("svm_linear", {"C": 0.5}, {"kernel": "linear", "C": 0.5}),
        (
            "svm_poly",
            {"degree": 2, "scale": 0.1, "C": 2.0},
            {"kernel": "poly", "degree": 2, "gamma": 0.1, "coef0": 1.0, "C": 2.0},
        ),
    ]
    for name, params, kwargs in cases:
        m = get_model(name)
        fit = m.fit(three_classes, params, [{}], 0)
        ref = SVC(**kwargs).fit(Xs, three_classes.y)
        np.testing.assert_array_equal(m.predict(fit, three_classes.X, [{}])[0], ref.predict(Xs))


# -- grids -----------------------------------------------------------------------------------
def test_caret_default_grids(sonar_all, regression):
    assert get_model("knn").default_grid(sonar_all, 3)["k"].tolist() == [5, 7, 9]
    assert get_model("knn").default_grid(sonar_all, 1)["k"].tolist() == [5]
    for length in (1, 3, 5):
        grid = get_model("pls").default_grid(sonar_all, length)
        assert grid["ncomp"].tolist() == list(range(1, length + 1))
    assert get_model("pcr").default_grid(regression, 9)["ncomp"].tolist() == [1, 2, 3, 4, 5]
    lasso = get_model("lasso").default_grid(regression, 3)
    np.testing.assert_allclose(lasso["fraction"], [0.1, 0.5, 0.9])
    enet = get_model("enet").default_grid(regression, 3)
    assert sorted(set(enet["lambda"])) == [0.0, 1e-4, 0.1] and len(enet) == 9
    np.testing.assert_allclose(sorted(set(enet["fraction"])), [0.05, 0.525, 1.0])
    ridge = get_model("ridge").default_grid(regression, 3)
    np.testing.assert_allclose(ridge["lambda"], [0.0, 0.1, 1e-4])
    assert get_model("lars2").default_grid(sonar_all, 3)["step"].tolist() == [2, 31, 60]
    poly = get_model("svm_poly").default_grid(sonar_all, 3)
    assert len(poly) == 27 and sorted(set(poly["degree"])) == [1, 2, 3]
    assert get_model("svm_linear").default_grid(sonar_all, 5)["C"].tolist() == [1.0]
    mlp = get_model("mlp_sklearn").default_grid(sonar_all, 3)
    assert sorted(set(mlp["size"])) == [1, 3, 5] and sorted(set(mlp["decay"])) == [0.0, 1e-4, 0.1]
    assert get_model("nnet").name == "mlp_sklearn"
    torch_mlp = get_model("mlp").default_grid(sonar_all, 3)
    assert sorted(set(torch_mlp["units"])) == [8, 16, 32] and len(torch_mlp) == 27
    assert sorted(set(torch_mlp["l2"])) == [0.0, 1e-4, 0.1]
    assert sorted(set(torch_mlp["epochs"])) == [50, 100, 150]
    nb = get_model("nb").default_grid(sonar_all, 3)
    assert list(nb.columns) == ["fL", "usekernel", "adjust"] and len(nb) == 2


def test_simplest_first_orders(sonar_all):
    knn = get_model("knn")
    assert knn.sort_simplest_first(knn.default_grid(sonar_all, 3))["k"].tolist() == [9, 7, 5]
    pls = get_model("pls")
    grid = pd.DataFrame({"ncomp": [3, 1, 2]})
    assert pls.sort_simplest_first(grid)["ncomp"].tolist() == [1, 2, 3]
    enet = get_model("enet")
    grid = enet.sort_simplest_first(enet.default_grid(sonar_all, 2))
    assert grid.values.tolist() == [[0.05, 0.1], [0.05, 0.0], [1.0, 0.1], [1.0, 0.0]]


@pytest.mark.parametrize("name", ALL)
def test_random_grids_are_valid(name, sonar_all, regression):
    from leanfit.tuning.plan import normalize_grid

    m = get_model(name)
    data = sonar_all if CLASSIFICATION in m.modes else regression
    if not m.params:
        return
    grid = normalize_grid(m, m.random_grid(data, 4, np.random.default_rng(1)))
    assert 1 <= len(grid) <= 4


# -- end to end ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_train_classification_end_to_end(name, training):
    res = lf.train(
        "Class ~ .",
        data=training,
        method=name,
        control=lf.Control(method="cv", number=3),
        tune_length=2,
        seed=1,
    )
    assert len(res.failures) == 0
    # references on the same folds (the majority class alone scores 0.535 here): scikit-learn's
    # LDA (0.656) and 5-nearest-neighbours (0.713)
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.neighbors import KNeighborsClassifier

    X, y = training.drop(columns="Class").to_numpy(), training["Class"].to_numpy()
    folds = list(res.resamples)
    lda = np.mean(
        [LinearDiscriminantAnalysis().fit(X[a], y[a]).score(X[b], y[b]) for _, a, b in folds]
    )
    acc = res.results["Accuracy"]
    if name == "lda":
        assert acc.max() == pytest.approx(lda, abs=1e-12)
    elif name == "knn":
        knn5 = np.mean(
            [KNeighborsClassifier(5).fit(X[a], y[a]).score(X[b], y[b]) for _, a, b in folds]
        )
        assert acc[res.results["k"] == 5].iloc[0] == pytest.approx(knn5, abs=1e-12)
    elif name == "qda":  # 60 x 60 class covariances from about 50 rows each: barely informative
        assert acc.max() >= 0.535 + 0.05
    else:
        assert acc.max() >= lda - 0.03
    assert res.predict(training.head(5)).shape == (5,)


@pytest.mark.parametrize("name", REGRESSORS)
def test_train_regression_end_to_end(name, regression_frame):
    res = lf.train(
        "y ~ .",
        data=regression_frame,
        method=name,
        control=lf.Control(method="cv", number=3),
        tune_length=2,
        seed=1,
    )
    assert len(res.failures) == 0
    # references on the same folds: least squares (scikit-learn), the noise level of this
    # linear problem (CV RMSE 0.5345), and predicting the training mean (2.91)
    from sklearn.linear_model import LinearRegression

    X, y = regression_frame.drop(columns="y").to_numpy(), regression_frame["y"].to_numpy()
    ols, mean_only = [], []
    for _, tr, te in res.resamples:
        ols.append(
            np.sqrt(np.mean((LinearRegression().fit(X[tr], y[tr]).predict(X[te]) - y[te]) ** 2))
        )
        mean_only.append(np.sqrt(np.mean((y[tr].mean() - y[te]) ** 2)))
    best = res.results["RMSE"].min()
    if name in ("lm", "glm"):
        assert best == pytest.approx(np.mean(ols), rel=1e-10)  # they are least squares
    elif name in NEAR_OLS:
        assert best <= 1.1 * np.mean(ols)
    else:  # too few candidates (tune_length=2) or too little flexibility to reach the noise
        assert best <= 0.7 * np.mean(mean_only)
    assert res.predict(regression_frame.head(5)).shape == (5,)


def test_svm_radial_cost_is_svm_radial_with_sigest():
    """caret's svmRadialCost: only C is tuned; sigma is sigest's, as svm_radial with "sigest"."""
    from leanfit.models.svm import SVMRadial, SVMRadialCost

    sonar = lf.datasets.load("sonar")
    X = sonar.drop(columns="Class").to_numpy()
    y = (sonar["Class"] == "R").to_numpy().astype(int)
    data = TrainingData(X, y, CLASSIFICATION, ("M", "R"))
    a = SVMRadialCost().fit(data, {"C": 2.0}, [{}], seed=3)
    b = SVMRadial().fit(data, {"C": 2.0, "sigma": "sigest"}, [{}], seed=3)
    assert a.sigma == b.sigma
    np.testing.assert_array_equal(
        SVMRadialCost().predict_proba(a, X, [{}]), SVMRadial().predict_proba(b, X, [{}])
    )
    assert list(SVMRadialCost().default_grid(data, 3)["C"]) == [0.25, 0.5, 1.0]


def test_multinom_matches_unpenalised_and_shrinks_with_decay():
    """decay 0 is the maximum-likelihood multinomial model; larger decay flattens probabilities."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from leanfit.models.linear import Multinom

    X, y = load_iris(return_X_y=True)
    data = TrainingData(X, y, CLASSIFICATION, ("setosa", "versicolor", "virginica"))
    m = Multinom()
    p0 = m.predict_proba(m.fit(data, {"decay": 0.0}, [{}], 1), X, [{}])[0]
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    ref = LogisticRegression(C=np.inf, max_iter=1000, tol=1e-8).fit(z, y).predict_proba(z)
    np.testing.assert_allclose(p0, ref, atol=1e-4)
    p1 = m.predict_proba(m.fit(data, {"decay": 1.0}, [{}], 1), X, [{}])[0]
    assert p1.max(axis=1).mean() < p0.max(axis=1).mean()
    assert (p1.argmax(axis=1) == y).mean() > 0.9
    assert list(m.default_grid(data, 3)["decay"]) == [0.0, 0.1, 0.0001]
