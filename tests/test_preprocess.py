"""Tests for leanfit.preprocess: caret's preProcess values, fixed order and data-frame handling."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import leanfit.datasets as lf_data
from leanfit.preprocess import (
    STEP_ORDER,
    PreProcess,
    _correlation,
    _find_correlation_exact,
    _find_correlation_fast,
)

NAN = np.nan

# columns: a = 1, 3, 5, NaN (mean 3, sd 2); b = constant 2; c = 5, NaN, 7, 9 (mean 7, sd 2)
X = np.array(
    [
        [1.0, 2.0, 5.0],
        [3.0, 2.0, NAN],
        [5.0, 2.0, 7.0],
        [NAN, 2.0, 9.0],
    ]
)


def test_step_order_constant() -> None:
    # caret's ?preProcess order, with dummy encoding first
    assert STEP_ORDER == (
        "other", "target_encode", "dummy", "zv", "nzv", "corr", "winsorize", "discretize",
        "box_cox", "yeo_johnson", "expo_trans", "center", "scale",
        "range", "knn_impute", "bag_impute", "median_impute", "pca", "ica", "spatial_sign",
    )  # fmt: skip
    pp = PreProcess(["medianImpute", "range", "scale", "center", "zv", "scale"])
    assert pp.steps == ("zv", "center", "scale", "range", "median_impute")
    every = PreProcess(
        ["spatialSign", "ica", "pca", "medianImpute", "range", "scale", "center", "expoTrans"]
        + ["YeoJohnson", "BoxCox", "corr", "nzv", "zv", "dummy"],
        n_comp=2,
    )
    new_steps = ("knn_impute", "bag_impute", "other", "target_encode", "winsorize", "discretize")
    assert every.steps == tuple(s for s in STEP_ORDER if s not in new_steps)
    snake = PreProcess(["spatial_sign", "box_cox", "yeo_johnson", "expo_trans", "knn_impute"])
    assert snake.steps == ("box_cox", "yeo_johnson", "expo_trans", "knn_impute", "spatial_sign")


def test_center_scale_by_hand_with_nan() -> None:
    pp = PreProcess().fit(X)
    np.testing.assert_allclose(pp.center_, [3.0, 2.0, 7.0])
    np.testing.assert_allclose(pp.scale_, [2.0, 1.0, 2.0])  # sd 0 -> divide by 1
    assert pp.min_ is None and pp.max_ is None and pp.median_ is None
    expected = np.array(
        [
            [-1.0, 0.0, -1.0],
            [0.0, 0.0, NAN],
            [1.0, 0.0, 0.0],
            [NAN, 0.0, 1.0],
        ]
    )
    out = pp.transform(X)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, expected)  # NaNs pass through without median_impute
    assert np.isfinite(out[:, 1]).all()
    np.testing.assert_array_equal(pp.kept_, [0, 1, 2])
    assert pp.removed_ == []


def test_sd_matches_r_sd_ddof1() -> None:
    data = np.array([[2.0], [4.0], [4.0], [4.0], [5.0], [5.0], [7.0], [9.0]])
    pp = PreProcess(["scale"]).fit(data)
    np.testing.assert_allclose(pp.scale_, [np.std(data, ddof=1)])
    assert pp.center_ is None
    np.testing.assert_allclose(pp.transform(data), data / np.std(data, ddof=1))


def test_order_is_fixed() -> None:
    a = PreProcess(["scale", "center"]).fit_transform(X)
    b = PreProcess(["center", "scale"]).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    # range comes after center/scale: result is still exactly [0, 1] per column
    r1 = PreProcess(["range", "center", "scale"]).fit(X)
    r2 = PreProcess(["center", "scale", "range"]).fit(X)
    np.testing.assert_array_equal(r1.transform(X), r2.transform(X))
    np.testing.assert_allclose(r1.min_, [-1.0, 0.0, -1.0])  # on the centered/scaled scale
    np.testing.assert_allclose(r1.max_, [1.0, 0.0, 1.0])
    np.testing.assert_allclose(
        r1.transform(X),
        [[0.0, 0.0, 0.0], [0.5, 0.0, NAN], [1.0, 0.0, 0.5], [NAN, 0.0, 1.0]],
    )


def test_range_alone_and_new_data_not_clipped() -> None:
    pp = PreProcess(["range"]).fit(X[:, [0, 2]])
    np.testing.assert_allclose(pp.min_, [1.0, 5.0])
    np.testing.assert_allclose(pp.max_, [5.0, 9.0])
    new = np.array([[9.0, 3.0], [3.0, 7.0]])
    np.testing.assert_allclose(pp.transform(new), [[2.0, -0.5], [0.5, 0.5]])


def test_zv_removes_constant_and_all_missing_columns() -> None:
    data = np.column_stack([X, np.full(4, NAN)])
    pp = PreProcess(["zv", "center", "scale"]).fit(data)
    np.testing.assert_array_equal(pp.kept_, [0, 2])
    assert pp.columns_ == ["x0", "x2"]
    assert pp.removed_ == ["x1", "x3"]
    np.testing.assert_allclose(pp.center_, [3.0, 7.0])
    out = pp.transform(data)
    assert out.shape == (4, 2)
    np.testing.assert_allclose(out[:, 0], [-1.0, 0.0, 1.0, NAN])
    assert pp.describe() == "centered (2), scaled (2), removed zero-variance: x1, x3"


def test_median_impute_uses_training_median() -> None:
    train = np.array([[1.0, 10.0], [2.0, NAN], [4.0, 30.0], [NAN, 50.0]])
    pp = PreProcess(["medianImpute"]).fit(train)
    np.testing.assert_allclose(pp.median_, [2.0, 30.0])
    np.testing.assert_allclose(pp.transform(train), [[1, 10], [2, 30], [4, 30], [2, 50]])
    # with centering, the median is learned on the centered scale: same values after un-centering
    pc = PreProcess(["center", "median_impute"]).fit(train)
    np.testing.assert_allclose(pc.center_, [7.0 / 3.0, 30.0])
    np.testing.assert_allclose(pc.median_, [2.0 - 7.0 / 3.0, 0.0])
    new = np.array([[NAN, NAN]])
    np.testing.assert_allclose(pc.transform(new) + pc.center_, [[2.0, 30.0]])


def test_transform_new_data_uses_training_statistics() -> None:
    pp = PreProcess().fit(X)
    new = np.array([[7.0, 2.0, 11.0], [3.0, 5.0, 7.0]])
    np.testing.assert_allclose(pp.transform(new), [[2.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    with pytest.raises(ValueError, match="fitted on 3"):
        pp.transform(new[:, :2])


def test_dataframe_in_dataframe_out() -> None:
    df = pd.DataFrame(X, columns=["V1", "V2", "V3"], index=[10, 20, 30, 40])
    pp = PreProcess(["zv", "center", "scale"]).fit(df)
    assert pp.columns_ == ["V1", "V3"] and pp.removed_ == ["V2"]
    out = pp.transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["V1", "V3"]
    assert list(out.index) == [10, 20, 30, 40]
    np.testing.assert_allclose(out["V3"].to_numpy(), [-1.0, NAN, 0.0, 1.0])
    # columns are matched by name on new data, whatever their order
    shuffled = df[["V3", "V1", "V2"]].iloc[[2, 0]]
    out2 = pp.transform(shuffled)
    assert list(out2.columns) == ["V1", "V3"] and list(out2.index) == [30, 10]
    np.testing.assert_allclose(out2.to_numpy(), [[1.0, 0.0], [-1.0, -1.0]])
    with pytest.raises(ValueError, match="missing column"):
        pp.transform(df[["V1", "V2"]])
    assert pp.describe() == "centered (2), scaled (2), removed zero-variance: V2"


def test_nullable_and_bool_columns_are_numeric() -> None:
    df = pd.DataFrame({"i": pd.array([1, None, 3], dtype="Int64"), "flag": [True, False, True]})
    out = PreProcess(["center"]).fit_transform(df)
    np.testing.assert_allclose(out["i"].to_numpy(), [-1.0, NAN, 1.0])
    np.testing.assert_allclose(out["flag"].to_numpy(), [1 / 3, -2 / 3, 1 / 3])


def test_errors() -> None:
    with pytest.raises(ValueError, match="unknown step 'PCA' .did you mean 'pca'.*spatialSign"):
        PreProcess(["center", "PCA"])
    with pytest.raises(ValueError, match="unknown step 'centre' .did you mean 'center'"):
        PreProcess(["centre"])
    df = pd.DataFrame({"num": [1.0, 2.0], "txt": ["a", "b"]})
    with pytest.raises(ValueError, match="column 'txt' is not numeric"):
        PreProcess().fit(df)
    with pytest.raises(ValueError, match="column 1"):
        PreProcess().fit(np.array([[1, "a"], [2, "b"]], dtype=object))
    with pytest.raises(ValueError, match="X must be 2-D"):
        PreProcess().fit(np.arange(3.0))
    with pytest.raises(RuntimeError, match="not fitted"):
        PreProcess().transform(X)


def test_pickle_and_describe() -> None:
    pp = PreProcess(["center", "scale", "range", "median_impute"]).fit(X)
    clone = pickle.loads(pickle.dumps(pp))
    np.testing.assert_array_equal(clone.transform(X), pp.transform(X))
    assert not np.isnan(pp.transform(X)).any()
    assert pp.describe() == "centered (3), scaled (3), range [0, 1] (3), median imputed (3)"
    assert PreProcess("zv").describe().startswith("not fitted")
    assert PreProcess("zv").fit(X[:, [0, 2]]).describe() == "removed zero-variance: none"


# ---------------------------------------------------------------------------------------------
# caret's full preProcess. The R numbers below come from caret 6.0-93 / MASS / mlbench (R 4.x):
#   library(caret); library(mlbench); data(Sonar); data(BostonHousing)
#   bh <- BostonHousing[, -c(4, 14)]                                  # numeric predictors
#   ss <- as.data.frame(scale(Sonar[, 1:10]))                         # Sonar standardized
# and are printed with sprintf("%.10g").


@pytest.fixture(scope="module")
def sonar() -> pd.DataFrame:
    return lf_data.load("sonar").iloc[:, :60]


@pytest.fixture(scope="module")
def boston() -> pd.DataFrame:
    return lf_data.load("bostonhousing").drop(columns=["chas", "medv"])


def _standardized(df: pd.DataFrame) -> pd.DataFrame:
    return (df - df.mean()) / df.std()


# pp <- preProcess(bh, method = "BoxCox"); sapply(pp$bc, function(b) b$lambda)   (zn: NA, has 0s)
R_BC_BOSTON = {
    "crim": -0.1, "indus": 0.4, "nox": -0.9, "rm": 0.4, "age": 1.3, "dis": -0.2, "rad": -0.1,
    "tax": -0.5, "ptratio": 2, "b": 2, "lstat": 0.2,
}  # fmt: skip
# pp <- preProcess(Sonar[, 1:60], method = "BoxCox"): V43..V51 hold zeros -> NA; the others x 10
R_BC_SONAR_X10 = [
    1, 2, 2, 1, 2, 4, 5, 4, 3, 3, 3, 5, 5, 4, 4, 3, 2, 3, 5, 8, 10, 12, 14, 14, 15, 16, 15, 14, 12,
    10, 7, 6, 5, 5, 4, 4, 3, 2, 3, 5, 3, 4, 2, 3, 3, 2, 3, 2, 2, 3, 1,
]  # fmt: skip


def test_box_cox_lambdas_match_caret(boston: pd.DataFrame, sonar: pd.DataFrame) -> None:
    pp = PreProcess(["BoxCox"]).fit(boston)
    lam = dict(zip(pp.columns_, pp.bc_lambda_, strict=True))
    assert np.isnan(lam.pop("zn"))  # has zeros: skipped, as caret
    assert lam == pytest.approx(R_BC_BOSTON, abs=1e-12)
    assert pp.describe() == "Box-Cox on 11 columns (skipped, values not all positive: zn)"
    ps = PreProcess(["box_cox"]).fit(sonar)
    skipped = [f"V{i}" for i in range(43, 52)]
    assert [c for c, v in zip(ps.columns_, ps.bc_lambda_, strict=True) if np.isnan(v)] == skipped
    np.testing.assert_allclose(ps.bc_lambda_[~np.isnan(ps.bc_lambda_)] * 10, R_BC_SONAR_X10)


def test_box_cox_transform_follows_caret_fudge_rules(boston: pd.DataFrame, sonar: pd.DataFrame):
    out = PreProcess(["BoxCox"]).fit_transform(boston)
    np.testing.assert_allclose(out["crim"], np.log(boston["crim"]))  # -0.1: within 0.2 of 0
    np.testing.assert_allclose(out["indus"], (boston["indus"] ** 0.4 - 1) / 0.4)
    np.testing.assert_allclose(out["age"], (boston["age"] ** 1.3 - 1) / 1.3)  # 1.3: not within
    np.testing.assert_array_equal(out["zn"], boston["zn"])  # skipped column untouched
    so = PreProcess(["BoxCox"]).fit_transform(sonar)
    np.testing.assert_array_equal(so["V21"], sonar["V21"])  # lambda 1.0: untouched
    np.testing.assert_array_equal(so["V30"], sonar["V30"])  # lambda 1.0
    # a wider fudge turns V29's 1.2 into "untouched" as well
    wide = PreProcess(["BoxCox"], fudge=0.3).fit_transform(sonar)
    np.testing.assert_array_equal(wide["V29"], sonar["V29"])


# pp <- preProcess(bh, method = "YeoJohnson"); pp$yj   (nox, ptratio, b: NA -- optimum at +-3)
R_YJ_BOSTON = {
    "crim": -0.9538893707, "zn": -0.90528968, "indus": 0.3791500598, "rm": 0.3329817334,
    "age": 1.366136746, "dis": -0.4488802463, "rad": -0.3736800737, "tax": -0.5291762254,
    "lstat": 0.1537039394,
}  # fmt: skip
# pp <- preProcess(ss, method = "YeoJohnson"); pp$yj; unlist(predict(pp, ss[1:2, ])[1, ])
R_YJ_SS = [
    -0.1605701448, -0.07911284411, -0.117734602, -0.1586026045, 0.07770607644, 0.3796152944,
    0.4906912439, 0.2287019537, 0.1491035058, 0.2525989012,
]  # fmt: skip
R_YJ_SS_ROW1 = [
    -0.4926044904, -0.04143855646, -0.02726449266, -1.017981705, 0.3138794792, -0.1041349292,
    0.4651368878, 0.2680462765, 0.7964787938, 0.02097001791,
]  # fmt: skip


def test_yeo_johnson_matches_scipy_and_caret(boston: pd.DataFrame, sonar: pd.DataFrame) -> None:
    from scipy import stats

    pp = PreProcess(["YeoJohnson"]).fit(boston)
    lam = dict(zip(pp.columns_, pp.yj_lambda_, strict=True))
    for col in ("nox", "ptratio", "b"):  # the MLE lies outside [-3, 3]: caret leaves them alone
        assert np.isnan(lam.pop(col))
        assert abs(stats.yeojohnson_normmax(boston[col].to_numpy())) > 3
    # same likelihood as scipy, maximised tighter than caret's optimize(tol = 1e-4)
    for col, value in lam.items():
        assert value == pytest.approx(stats.yeojohnson_normmax(boston[col].to_numpy()), abs=1e-6)
    assert lam == pytest.approx(R_YJ_BOSTON, abs=2e-5)
    ss = _standardized(sonar.iloc[:, :10])  # negative and positive values
    ps = PreProcess(["yeo_johnson"]).fit(ss)
    np.testing.assert_allclose(ps.yj_lambda_, R_YJ_SS, atol=2e-5)
    for j, col in enumerate(ss.columns):
        ref = stats.yeojohnson_normmax(ss[col].to_numpy())
        assert ps.yj_lambda_[j] == pytest.approx(ref, abs=1e-6)
        np.testing.assert_allclose(
            ps.transform(ss)[col], stats.yeojohnson(ss[col].to_numpy(), ps.yj_lambda_[j]),
            rtol=1e-12, atol=1e-14,
        )  # fmt: skip
    np.testing.assert_allclose(ps.transform(ss.iloc[:1]).iloc[0], R_YJ_SS_ROW1, atol=1e-5)
    assert ps.describe() == "YeoJohnson on 10"


# pp <- preProcess(ss, method = "expoTrans"); sapply(pp$et, function(e) e$lambda)
R_EXPO_SS = [
    -0.6974769605, -0.6514223376, -0.666673108, -0.6813583293, -0.5515102208, -0.3783593998,
    -0.3089584824, -0.4659262263, -0.5152956057, -0.4637672533,
]  # fmt: skip
# unlist(predict(pp, ss[1:2, ])[1, ])
R_EXPO_SS_ROW1 = [
    -0.4595071472, -0.04109073029, -0.02710279059, -0.9186268854, 0.3294459614, -0.1029641867,
    0.4807048478, 0.2774765872, 0.8523926769, 0.0210316774,
]  # fmt: skip


def test_expo_trans_matches_caret(sonar: pd.DataFrame) -> None:
    ss = _standardized(sonar.iloc[:, :10])
    pp = PreProcess(["expoTrans"]).fit(ss)
    np.testing.assert_allclose(pp.expo_lambda_, R_EXPO_SS, atol=1e-6)
    row = pp.transform(ss.iloc[:1]).iloc[0].to_numpy()
    np.testing.assert_allclose(row, R_EXPO_SS_ROW1, atol=1e-7)
    lam = pp.expo_lambda_[0]  # Manly (1976): (exp(lam x) - 1) / lam
    np.testing.assert_allclose(row[0], np.expm1(lam * ss.iloc[0, 0]) / lam)


# d <- data.frame(a = c(rep(0, 96), 1, 2, 3, 4), b = c(rep(0, 95), rep(1, 5)),
#   c = c(rep(0, 90), 1:10), d = c(rep(0, 90), 1:9, 9), e = 1:100, f = rep(5, 100),
#   g = c(rep(NA, 99), 1), h = c(rep(0, 80), rep(1, 4), 1:16))
# nearZeroVar(d, saveMetrics = TRUE); preProcess(d, method = "nzv")$method$remove  -> a d f g
R_NZV_FREQ = [96, 19, 90, 45, 1, 0, 0, 16]
R_NZV_PCT = [5, 2, 11, 10, 100, 1, 1, 17]


def test_nzv_matches_caret_at_the_boundaries() -> None:
    d = pd.DataFrame(
        {
            "a": [0] * 96 + [1, 2, 3, 4],  # ratio 96, 5 % unique -> nzv
            "b": [0] * 95 + [1] * 5,  # ratio exactly 19: not > 19
            "c": [0] * 90 + list(range(1, 11)),  # 11 % unique: not <= 10
            "d": [0] * 90 + list(range(1, 10)) + [9],  # exactly 10 % unique: nzv (<=)
            "e": range(1, 101),
            "f": [5] * 100,  # zero variance
            "g": [NAN] * 99 + [1],  # one value seen: zero variance
            "h": [0] * 80 + [1] * 4 + list(range(1, 17)),
        }
    )
    pp = PreProcess(["nzv"]).fit(d)
    np.testing.assert_allclose(pp.freq_ratio_, R_NZV_FREQ)
    np.testing.assert_allclose(pp.percent_unique_, R_NZV_PCT)
    assert pp.removed_ == ["a", "d", "f", "g"] == pp.removed_nzv_
    assert list(pp.transform(d).columns) == ["b", "c", "e", "h"]
    assert pp.describe() == "removed near-zero-variance: a, d, f, g"
    loose = PreProcess(["nzv"], freq_cut=10, unique_cut=20).fit(d)
    assert loose.removed_ == ["a", "b", "c", "d", "f", "g", "h"]  # only e = 1:100 survives


# cm <- cor(Sonar[, 1:60]); sort(findCorrelation(cm, cutoff = 0.75, exact = TRUE / FALSE))
R_FC_EXACT_75 = [
    2, 3, 8, 10, 11, 13, 14, 15, 16, 18, 19, 20, 21, 23, 25, 26, 27, 29, 30, 32, 33, 35, 37, 38,
    39, 41, 42, 43, 45, 46, 48, 49,
]  # fmt: skip
R_FC_FAST_75 = [
    2, 3, 8, 9, 11, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 25, 26, 27, 29, 31, 33, 34, 35, 36,
    38, 39, 41, 42, 43, 45, 46, 47, 48,
]  # fmt: skip
# big <- cbind(Sonar[, 1:60], sqrt(Sonar[, 1:60])) named V1..V60, S1..S60 (120 columns, so
# preProcess's findCorrelation takes the exact = FALSE path); preProcess(big, "corr")$method$remove
R_CORR_BIG = (  # split in the test
    "V18 S2 S3 S4 S6 S16 S20 S21 S23 S24 S55 S58 S59 S60 V15 V20 V1 V5 V7 V8 V9 V10 V11 V12 V13 "
    "V14 V17 V19 V22 V25 V26 V27 V28 V29 V30 V31 V32 V33 V34 V35 V36 V37 V38 V39 V40 V41 V42 V43 "
    "V44 V45 V46 V47 V48 V49 V50 V51 V52 V53 V54 V56 V57"
)


def test_corr_matches_caret_find_correlation(sonar: pd.DataFrame) -> None:
    cm = _correlation(sonar.to_numpy())
    np.testing.assert_allclose(cm, np.corrcoef(sonar.to_numpy(), rowvar=False))
    assert (_find_correlation_exact(cm, 0.75) + 1).tolist() == R_FC_EXACT_75
    assert (_find_correlation_fast(cm, 0.75) + 1).tolist() == R_FC_FAST_75
    pp = PreProcess(["corr"]).fit(sonar)  # preProcess(Sonar[, 1:60], "corr") -> V15 V18 V20
    assert pp.removed_corr_ == ["V15", "V18", "V20"] == pp.removed_
    assert pp.describe() == "removed correlated (|r| > 0.9): V15, V18, V20, zv added for corr"
    big = pd.concat([sonar, np.sqrt(sonar).rename(columns=lambda c: "S" + c[1:])], axis=1)
    assert sorted(PreProcess(["corr"]).fit(big).removed_) == sorted(R_CORR_BIG.split())


def test_corr_pairwise_complete_and_adds_zv() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=40)
    data = np.column_stack([a, a + rng.normal(scale=0.01, size=40), rng.normal(size=40)])
    data = np.column_stack([data, np.ones(40)])
    data[[3, 9], 0] = NAN
    data[[5], 1] = NAN
    both = ~np.isnan(data[:, 0]) & ~np.isnan(data[:, 1])
    r01 = np.corrcoef(data[both, 0], data[both, 1])[0, 1]
    assert _correlation(data[:, :3])[0, 1] == pytest.approx(r01, abs=1e-12)
    pp = PreProcess(["corr"]).fit(data)
    assert pp.removed_zv_ == ["x3"]  # caret adds zv for the correlation filter
    assert len(pp.removed_corr_) == 1 and pp.removed_corr_[0] in ("x0", "x1")


# pp <- preProcess(Sonar[, 1:60], method = "pca"); pp$numComp -> 30 (thresh = 0.8 -> 14)
# pr <- prcomp(Sonar[, 1:60], scale = TRUE); (pr$sdev^2 / sum(pr$sdev^2))[1:5]
R_PCA_VAR = [0.2034655665, 0.1889721637, 0.08549988519, 0.05679190354, 0.05007079945]
# predict(pp, Sonar[1:3, 1:60])[, 1:2]   (component signs are arbitrary)
R_PCA_PC12 = [
    [1.916544411, 1.367593735],
    [-0.4789690432, -7.568129531],
    [3.849940029, -6.424361073],
]


def test_pca_matches_caret(sonar: pd.DataFrame) -> None:
    pp = PreProcess(["pca"]).fit(sonar)
    assert pp.n_components_ == 30
    np.testing.assert_allclose(pp.pca_variance_[:5], R_PCA_VAR, rtol=1e-8)
    out = pp.transform(sonar.iloc[:3])
    assert list(out.columns) == [f"PC{i}" for i in range(1, 31)]
    np.testing.assert_allclose(np.abs(out.iloc[:, :2]), np.abs(R_PCA_PC12), rtol=1e-8)
    assert pp.describe() == (
        "centered (60), scaled (60), PCA needed 30 components to capture 95 percent of the "
        "variance, center and scale added for pca"
    )
    assert PreProcess(["pca"], thresh=0.8).fit(sonar).n_components_ == 14
    p5 = PreProcess(["pca"], pca_comp=5).fit(sonar)
    assert p5.n_components_ == 5 and "PCA used 5 components as specified" in p5.describe()
    scores = p5.transform(sonar.to_numpy())
    assert isinstance(scores, np.ndarray) and scores.shape == (208, 5)
    np.testing.assert_allclose(scores.mean(axis=0), 0, atol=1e-12)  # training scores centred
    cov = np.cov(scores, rowvar=False)
    np.testing.assert_allclose(cov, np.diag(np.diag(cov)), atol=1e-12)  # uncorrelated scores


def test_pca_keeps_at_least_two_components() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(50, 1))
    data = base + rng.normal(scale=1e-3, size=(50, 4))  # one component explains ~everything
    assert PreProcess(["pca"]).fit(data).n_components_ == 2  # caret: max(2, ...)


# pp <- preProcess(Sonar[, 1:3], method = "spatialSign"); predict(pp, Sonar[1:2, 1:3])
R_SPATIAL = [
    [-0.992636478, -0.1009855683, -0.06689347906],
    [0.526280315, 0.3153997452, 0.7896531078],
]


def test_spatial_sign_matches_caret(sonar: pd.DataFrame) -> None:
    pp = PreProcess(["spatialSign"]).fit(sonar.iloc[:, :3])
    np.testing.assert_allclose(pp.transform(sonar.iloc[:2, :3]), R_SPATIAL, rtol=1e-8)
    out = pp.transform(sonar.iloc[:, :3].to_numpy())
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)
    at_center = pp.transform(pp.center_[None, :])  # the zero vector stays zero
    np.testing.assert_array_equal(at_center, [[0.0, 0.0, 0.0]])
    # with PCA the components are signed (rows of unit length in PC space)
    pc = PreProcess(["pca", "spatialSign"], pca_comp=4).fit_transform(sonar)
    assert list(pc.columns) == ["PC1", "PC2", "PC3", "PC4"]
    np.testing.assert_allclose(np.linalg.norm(pc.to_numpy(), axis=1), 1.0)


# x <- Sonar[, 1:10]; NAs set at (row, col) = (5,1) (17,3) (33,3) (33,4) (60,10) (101,2) (150,7)
#   (180,5) (180,6) (200,9); pp <- preProcess(x[1:150, ], method = "knnImpute")
# as.matrix(predict(pp, x))[miss]     (values on the centred/scaled scale)
R_KNN_MISS = [(5, 1), (17, 3), (33, 3), (33, 4), (60, 10), (101, 2), (150, 7), (180, 5), (180, 6)]
R_KNN_MISS += [(200, 9)]
R_KNN_VALUES = [
    0.08375697212, -0.2740707129, -0.5284720252, -0.5990335783, -0.7454494763, 1.506891023,
    -0.5341339205, 0.2154924777, 0.4355764609, -0.3335723071,
]  # fmt: skip
R_KNN_MEAN = [
    0.0314114094, 0.04231610738, 0.04915202703, 0.05951342282, 0.07957666667, 0.1078966667,
    0.1248697987, 0.1362013333, 0.1656466667, 0.1879959732,
]  # fmt: skip


def test_knn_impute_matches_caret_fitted_on_training_rows(sonar: pd.DataFrame) -> None:
    x = sonar.iloc[:, :10].to_numpy().copy()
    rows, cols = (np.array(v) - 1 for v in zip(*R_KNN_MISS, strict=True))
    x[rows, cols] = NAN
    pp = PreProcess(["knnImpute"]).fit(x[:150])  # rows 180 and 200 are not training rows
    np.testing.assert_allclose(pp.center_, R_KNN_MEAN, rtol=1e-9)
    out = pp.transform(x)
    np.testing.assert_allclose(out[rows, cols], R_KNN_VALUES, rtol=1e-8)
    assert not np.isnan(out).any()
    observed = ~np.isnan(x)
    np.testing.assert_allclose(out[observed], ((x - pp.center_) / pp.scale_)[observed])
    assert pp.knn_data_.shape == (150 - 6, 10)  # complete training rows only
    # by hand for row 180: mean of its 5 nearest complete training rows on the observed columns
    z = (x[179] - pp.center_) / pp.scale_
    obs = ~np.isnan(z)
    d = ((pp.knn_data_[:, obs] - z[obs]) ** 2).sum(axis=1)
    nn = np.argsort(d)[:5]
    np.testing.assert_allclose(out[179, ~obs], pp.knn_data_[nn][:, ~obs].mean(axis=0))
    assert "5-nearest-neighbour imputed (10)" in pp.describe()
    with pytest.raises(ValueError, match="every column is missing"):
        pp.transform(np.full((1, 10), NAN))


def test_bag_impute_predicts_from_other_columns() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 10, size=300)
    data = np.column_stack([a, 2 * a + 1, rng.normal(size=300)])
    train, new = data[:200].copy(), data[200:].copy()
    train[rng.choice(200, 20, replace=False), 1] = NAN  # missing in training too
    holes = np.arange(0, 100, 4)
    new[holes, 1] = NAN
    pp = PreProcess(["bagImpute"], seed=7).fit(train)
    assert len(pp.bag_models_) == 3 and pp.center_ is None  # no centering added for bagImpute
    out = pp.transform(new)
    # caret's bagImp: 10 bagged regression trees predicting column 1 from columns 0 and 2,
    # fitted on the training rows where column 1 is observed (scikit-learn's own bagging,
    # seeded with seed + column index), so the same predictions exactly
    from sklearn.ensemble import BaggingRegressor
    from sklearn.tree import DecisionTreeRegressor

    seen = ~np.isnan(train[:, 1])
    ref = BaggingRegressor(DecisionTreeRegressor(), n_estimators=10, random_state=7 + 1)
    ref.fit(train[seen][:, [0, 2]], train[seen, 1])
    np.testing.assert_array_equal(out[holes, 1], ref.predict(new[holes][:, [0, 2]]))
    # and close to the truth 2a + 1: fully grown trees on 180 values of a in [0, 10]
    err = np.abs(out[holes, 1] - (2 * new[holes, 0] + 1))
    assert err.mean() < 0.15 and err.max() < 0.4  # 0.089 and 0.343 here; the range is 20
    keep = np.setdiff1d(np.arange(100), holes)
    np.testing.assert_array_equal(out[keep], new[keep])
    again = PreProcess(["bag_impute"], seed=7).fit(train).transform(new)
    np.testing.assert_array_equal(out, again)  # seeded
    assert pp.describe() == "bagged-tree imputed (3)"


def test_ica_recovers_independent_sources() -> None:
    t = np.linspace(0, 8, 400)
    sources = np.column_stack([np.sign(np.sin(3 * t)), (2 * t) % 2 - 1])
    mixed = sources @ np.array([[1.0, 0.5], [0.7, 2.0]]).T
    df = pd.DataFrame(mixed, columns=["m1", "m2"])
    pp = PreProcess(["ica"], n_comp=2, seed=1).fit(df)
    out = pp.transform(df)
    assert list(out.columns) == ["IC1", "IC2"]
    corr = np.abs(np.corrcoef(out.to_numpy().T, sources.T)[:2, 2:])
    assert np.sort(corr.max(axis=1)).tolist() > [0.99, 0.99]
    assert corr.max(axis=0).min() > 0.99  # each source recovered by one component
    np.testing.assert_allclose(out.std(ddof=0), 1.0, rtol=1e-6)
    assert pp.describe().endswith("ICA used 2 components, center and scale added for ica")
    with pytest.raises(ValueError, match="n_comp"):
        PreProcess(["ica"])
    with pytest.raises(ValueError, match="n_comp=3 is more than the 2 columns"):
        PreProcess(["ica"], n_comp=3).fit(df)
    both = PreProcess(["pca", "ica"], n_comp=2).fit(df)
    assert both.rotation_ is None and "pca dropped" in both.describe()


def test_dummy_encodes_factor_columns() -> None:
    df = pd.DataFrame(
        {
            "size": [1.0, 2.0, 3.0, 4.0, 5.0],
            "color": ["red", "blue", "green", "red", None],
            "chas": pd.Categorical(["0", "1", "0", "0", "1"], categories=["0", "1", "2"]),
        }
    )
    pp = PreProcess(["dummy"]).fit(df)
    out = pp.transform(df)
    assert list(out.columns) == ["size", "colorgreen", "colorred", "chas1"]  # model.matrix
    np.testing.assert_array_equal(out["colorred"], [1, 0, 0, 1, NAN])
    np.testing.assert_array_equal(out["colorgreen"], [0, 0, 1, 0, NAN])
    np.testing.assert_array_equal(out["chas1"], [0, 1, 0, 0, 1])
    assert pp.levels_ == {"color": ("blue", "green", "red"), "chas": ("0", "1")}
    hot = PreProcess(["dummy", "center"], dummy_full_rank=False).fit(df)
    out = hot.transform(df.iloc[[1]])
    assert list(out.columns) == ["size", "colorblue", "colorgreen", "colorred", "chas0", "chas1"]
    np.testing.assert_allclose(out.to_numpy(), [[-1.0, 0.75, -0.25, -0.5, -0.6, 0.6]])
    assert hot.describe().startswith("dummy variables (one-hot) for color, chas, centered (6)")
    with pytest.raises(ValueError, match=r"'color' has level\(s\) \['purple'\] not seen in fit"):
        pp.transform(df.assign(color="purple"))
    num = np.arange(6.0).reshape(3, 2)  # numpy input is numeric already: dummy does nothing
    np.testing.assert_array_equal(PreProcess(["dummy"]).fit_transform(num), num)


def test_order_is_fixed_whatever_the_listing(sonar: pd.DataFrame) -> None:
    a = PreProcess(["pca", "YeoJohnson", "scale", "center"]).fit_transform(sonar)
    b = PreProcess(["YeoJohnson", "center", "scale", "pca"]).fit_transform(sonar)
    pd.testing.assert_frame_equal(a, b)
    # YeoJohnson runs before centering: its lambdas are those of the raw columns
    pp = PreProcess(["center", "YeoJohnson"]).fit(sonar.iloc[:, :5])
    raw = PreProcess(["YeoJohnson"]).fit(sonar.iloc[:, :5])
    np.testing.assert_array_equal(pp.yj_lambda_, raw.yj_lambda_)
    expected = raw.transform(sonar.iloc[:, :5])
    pd.testing.assert_frame_equal(pp.transform(sonar.iloc[:, :5]), expected - expected.mean())


def test_new_data_uses_training_statistics_only(sonar: pd.DataFrame) -> None:
    steps = ["nzv", "corr", "YeoJohnson", "center", "scale", "pca"]
    train, test = sonar.iloc[:150], sonar.iloc[150:]
    pp = PreProcess(steps).fit(train)
    alone = pp.transform(test)
    joint = pp.transform(pd.concat([train, test]))
    pd.testing.assert_frame_equal(alone, joint.iloc[150:])  # rows are transformed independently
    other = PreProcess(steps).fit(test)
    assert not np.allclose(other.yj_lambda_[:5], pp.yj_lambda_[:5])
    # every statistic comes from the training rows: rebuild the scores by hand
    kept = train[pp.columns_]
    yj = PreProcess(["YeoJohnson"]).fit(kept)
    np.testing.assert_array_equal(yj.yj_lambda_, pp.yj_lambda_)
    z = yj.transform(kept)
    np.testing.assert_allclose(pp.center_, z.mean())
    np.testing.assert_allclose(pp.scale_, z.std())
    by_hand = ((yj.transform(test[pp.columns_]) - z.mean()) / z.std()).to_numpy() @ pp.rotation_
    np.testing.assert_allclose(alone.to_numpy(), by_hand, atol=1e-10)


def test_bad_input_and_missing_or_constant_columns() -> None:
    rng = np.random.default_rng(5)
    data = np.column_stack([rng.uniform(1, 2, 30), rng.normal(size=30), np.full(30, 3.0)])
    # BoxCox skips the column with negative values and says so
    pp = PreProcess(["BoxCox"]).fit(data)
    assert np.isnan(pp.bc_lambda_[1]) and not np.isnan(pp.bc_lambda_[0])
    assert pp.describe() == (
        "Box-Cox on 1 columns (skipped, values not all positive: x1; "
        "fewer than 3 distinct values: x2)"
    )
    # a constant column after the split: zv / nzv remove it, PCA without them is a clear error
    assert PreProcess(["zv", "pca"]).fit(data).removed_ == ["x2"]
    assert PreProcess(["nzv", "pca"]).fit(data).removed_ == ["x2"]
    with pytest.raises(ValueError, match=r"pca: column\(s\) \['x2'\] are constant.*'zv'"):
        PreProcess(["pca"]).fit(data)
    # an all-missing column: zv removes it, an imputer without zv says why it cannot work
    holes = np.column_stack([data[:, :2], np.full(30, NAN)])
    holes[0, 0] = NAN
    out = PreProcess(["zv", "medianImpute"]).fit_transform(holes)
    assert out.shape == (30, 2) and not np.isnan(out).any()
    for step in ("medianImpute", "knnImpute", "bagImpute"):
        with pytest.raises(ValueError, match=r"column\(s\) \['x2'\] have no observed value"):
            PreProcess([step]).fit(holes)
    with pytest.raises(ValueError, match="pick a single imputation method"):
        PreProcess(["knnImpute", "medianImpute"])
    with pytest.raises(ValueError, match="thresh"):
        PreProcess(["pca"], thresh=1.5)
    with pytest.raises(ValueError, match="every column was removed"):
        PreProcess(["zv"]).fit(np.ones((5, 2)))
    with pytest.raises(ValueError, match="no training row is complete"):
        PreProcess(["knnImpute"]).fit(np.array([[1.0, NAN], [NAN, 2.0], [3.0, NAN]]))


def test_pickle_every_step(sonar: pd.DataFrame) -> None:
    data = sonar.iloc[:, :12].to_numpy().copy()
    data[[4, 9], [2, 5]] = NAN
    for steps, kw in [
        (["nzv", "corr", "BoxCox", "YeoJohnson", "expoTrans", "knnImpute", "pca"], {}),
        (["BoxCox", "spatialSign"], {}),
        (["zv", "bagImpute", "ica"], {"n_comp": 3}),
        (["range", "medianImpute", "spatialSign"], {}),
    ]:  # fmt: skip
        pp = PreProcess(steps, **kw).fit(data[:150])
        clone = pickle.loads(pickle.dumps(pp))
        np.testing.assert_array_equal(clone.transform(data[150:]), pp.transform(data[150:]))
        assert clone.describe() == pp.describe()
