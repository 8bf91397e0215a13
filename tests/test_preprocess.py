"""Tests for leanfit.preprocess: caret's preProcess values, fixed order and data-frame handling."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from leanfit.preprocess import STEP_ORDER, PreProcess

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
    assert STEP_ORDER == ("zv", "center", "scale", "range", "median_impute")
    pp = PreProcess(["medianImpute", "range", "scale", "center", "zv", "scale"])
    assert pp.steps == STEP_ORDER


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
    with pytest.raises(ValueError, match="unknown step 'pca'.*medianImpute"):
        PreProcess(["center", "pca"])
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
