"""Whole-pipeline ONNX export (to_onnx(fit, raw_inputs=True)): raw columns in, the Python fit's
labels and probabilities out, run in ONNX Runtime and compared with leanfit's own predict."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import leanfit as lf

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

from leanfit.export import to_onnx  # noqa: E402
from leanfit.export.pipeline import double_inputs  # noqa: E402
from leanfit.models.base import get_model  # noqa: E402

NONE = lf.Control(method="none")
GRIDS = {
    "gbm": lf.expand_grid(n_trees=30, interaction_depth=2, shrinkage=0.1, n_minobsinnode=10),
    "rf": lf.expand_grid(mtry=7),
}
HOLES = ["V1", "V5", "V11", "V20", "band", "site"]


def _method(name: str):
    return type(get_model("rf"))(options={"n_trees": 50}) if name == "rf" else name


def _with_factors(sonar: pd.DataFrame) -> pd.DataFrame:
    """Sonar with two factor columns placed among the numbers: "band" (a categorical whose
    declared order lo < mid < hi is not alphabetical) and "site" (text, related to the class)."""
    rng = np.random.default_rng(0)
    d = sonar.copy()
    band = pd.cut(d["V11"], [-1.0, 0.1, 0.25, 2.0], labels=["lo", "mid", "hi"])
    d["band"] = pd.Categorical(band.astype(str), categories=["lo", "mid", "hi"])
    site = rng.choice(["a", "b", "c", "d"], len(d))
    d["site"] = np.where(d["Class"].eq("R") & (rng.random(len(d)) < 0.5), "a", site)
    numbers = [f"V{i}" for i in range(2, 61)]
    return d[["band", "V1", "site", *numbers, "Class"]]


def _holes(df: pd.DataFrame, frac: float, seed: int) -> pd.DataFrame:
    """Make about ``frac`` of the values of a few numeric and both factor columns missing."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    for col in HOLES:
        out.loc[rng.random(len(out)) < frac, col] = np.nan if out[col].dtype.kind == "f" else None
    return out


@pytest.fixture(scope="module")
def table(sonar) -> pd.DataFrame:
    """The factor table with its numbers rounded to float32, the graph's numeric input type, so
    Python and ONNX see the same values (see test_float64_inputs for unrounded data)."""
    d = _with_factors(sonar)
    num = d.select_dtypes("number").columns
    d[num] = d[num].astype(np.float32).astype(np.float64)
    return d


def _feeds(sess, X: pd.DataFrame, dtype=np.float32) -> dict:
    """One array per graph input, built from the raw column by hand (missing text -> "")."""
    out = {}
    for i in sess.get_inputs():
        s = X[i.name]
        if i.type == "tensor(string)":
            text = s.astype(object).where(s.notna(), "").astype(str)
            out[i.name] = text.to_numpy(dtype=object)[:, None]
        else:
            out[i.name] = s.to_numpy(dtype=dtype, na_value=np.nan)[:, None]
    return out


def _run(b: bytes, X: pd.DataFrame, dtype=np.float32) -> list:
    sess = ort.InferenceSession(b, providers=["CPUExecutionProvider"])
    return sess.run(None, _feeds(sess, X, dtype))


def _python(res, X: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ImputedWarning for the rows with holes
        if res.dataset.mode == "regression":
            return res.predict(X).to_numpy(), None
        return res.predict(X).astype(str).to_numpy(), res.predict_proba(X).to_numpy()


@pytest.mark.parametrize("method", ["gbm", "rf"])
@pytest.mark.parametrize(
    "steps",
    [
        ["center", "scale"],
        ["median_impute"],
        ["zv", "center", "scale"],
        ["range", "pca", "spatialSign"],
    ],
    ids=lambda s: "+".join(s),
)
def test_classifier_parity_from_raw_columns(table, method, steps):
    impute = "median_impute" in steps
    train = _holes(table, 0.05, 2) if impute else table
    res = lf.train(
        "Class ~ .",
        data=train,
        method=_method(method),
        grid=GRIDS[method],
        control=NONE,
        seed=7,
        preprocess=steps,
    )
    b = to_onnx(res, raw_inputs=True)
    g = onnx.load_from_string(b).graph
    predictors = [c for c in table.columns if c != "Class"]
    assert [i.name for i in g.input] == predictors
    types = {i.name: i.type.tensor_type.elem_type for i in g.input}
    assert types["band"] == types["site"] == onnx.TensorProto.STRING
    assert types["V1"] == onnx.TensorProto.FLOAT
    assert [o.name for o in g.output] == ["label", "probabilities"]

    X = table.drop(columns="Class")
    if impute:  # new rows with holes, numeric and factor, filled by the fit's medians
        X = _holes(X, 0.15, 5)
        assert X[HOLES].isna().sum().min() > 10
    label, prob = _run(b, X)
    want_label, want_prob = _python(res, X)
    assert prob.shape == (len(X), 2)
    assert list(label) == list(want_label)
    np.testing.assert_allclose(prob, want_prob, rtol=0, atol=1e-5)


@pytest.mark.parametrize("steps", ["ica", "nzv+corr"])
def test_projection_and_filter_steps(table, steps):
    """ICA's unmixing (a MatMul) and the column filters (a Gather of the kept columns)."""
    pre = lf.PreProcess(["ica"], n_comp=5) if steps == "ica" else ["nzv", "corr"]
    res = lf.train(
        "Class ~ .",
        data=table,
        method="gbm",
        grid=GRIDS["gbm"],
        control=NONE,
        seed=7,
        preprocess=pre,
    )
    if steps != "ica":
        assert res.final_preprocess.removed_corr_  # some columns really are dropped
    X = table.drop(columns="Class")
    label, prob = _run(to_onnx(res, raw_inputs=True), X)
    want_label, want_prob = _python(res, X)
    assert list(label) == list(want_label)
    np.testing.assert_allclose(prob, want_prob, rtol=0, atol=1e-5)


def test_missing_factor_rows_without_imputation(table):
    """gbm takes missing values: a missing factor makes its dummies NaN, as leanfit encodes."""
    res = lf.train("Class ~ .", data=table, method="gbm", grid=GRIDS["gbm"], control=NONE, seed=3)
    X = _holes(table.drop(columns="Class"), 0.2, 9)
    label, prob = _run(to_onnx(res, raw_inputs=True), X)
    want_label, want_prob = _python(res, X)
    assert list(label) == list(want_label)
    np.testing.assert_allclose(prob, want_prob, rtol=0, atol=1e-5)


def test_unseen_level_counts_as_missing(table):
    res = lf.train(
        "Class ~ .",
        data=table,
        method="gbm",
        grid=GRIDS["gbm"],
        control=NONE,
        seed=3,
        preprocess=["median_impute"],
    )
    b = to_onnx(res, raw_inputs=True)
    X = table.drop(columns="Class").iloc[:40].copy()
    unseen = X.assign(site="zz", band=X["band"].astype(str).replace("mid", "huge"))
    missing = X.assign(site=None, band=X["band"].astype(str).replace("mid", None))
    a, b_ = _run(b, unseen), _run(b, missing)
    assert list(a[0]) == list(b_[0])
    np.testing.assert_array_equal(a[1], b_[1])
    _, want = _python(res, missing)
    np.testing.assert_allclose(a[1], want, rtol=0, atol=1e-5)


def test_float64_inputs_reproduce_unrounded_data(sonar):
    """Values with more digits than float32 holds: double inputs give leanfit's exact rows."""
    d = _with_factors(sonar)
    res = lf.train(
        "Class ~ .",
        data=d,
        method=_method("rf"),
        grid=GRIDS["rf"],
        control=NONE,
        seed=7,
        preprocess=["center", "scale"],
    )
    b = double_inputs(to_onnx(res, raw_inputs=True))
    g = onnx.load_from_string(b).graph
    assert {i.name: i.type.tensor_type.elem_type for i in g.input}["V1"] == onnx.TensorProto.DOUBLE
    X = d.drop(columns="Class")
    label, prob = _run(b, X, np.float64)
    want_label, want_prob = _python(res, X)
    assert list(label) == list(want_label)
    np.testing.assert_allclose(prob, want_prob, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="not a raw-inputs graph"):
        double_inputs(to_onnx(_plain(sonar)))


def _plain(sonar: pd.DataFrame):
    """A model-matrix fit (no factors, no pre-processing): its graph has the one input "X"."""
    return lf.train("Class ~ .", data=sonar, method="gbm", grid=GRIDS["gbm"], control=NONE)


def test_multiclass_labels_in_level_order():
    glass = lf.datasets.load("glass")
    num = glass.select_dtypes("number").columns
    glass[num] = glass[num].astype(np.float32).astype(np.float64)
    res = lf.train(
        "Type ~ .",
        data=glass,
        method="gbm",
        grid=GRIDS["gbm"].assign(n_minobsinnode=5),
        control=NONE,
        seed=1,
        preprocess=["center", "scale"],
    )
    X = glass.drop(columns="Type")
    label, prob = _run(to_onnx(res, raw_inputs=True), X)
    want_label, want_prob = _python(res, X)
    assert prob.shape == (len(X), len(res.dataset.levels)) and len(res.dataset.levels) == 6
    assert list(label) == list(want_label)
    np.testing.assert_allclose(prob, want_prob, rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", ["gbm", "rf"])
def test_regression_parity_with_a_factor(method):
    boston = lf.datasets.load("bostonhousing")  # chas is a factor: dummy-encoded by the formula
    num = boston.select_dtypes("number").columns
    boston[num] = boston[num].astype(np.float32).astype(np.float64)
    grid = GRIDS[method] if method == "gbm" else lf.expand_grid(mtry=4)
    res = lf.train(
        "medv ~ .",
        data=boston,
        method=_method(method),
        grid=grid,
        control=NONE,
        seed=2,
        preprocess=["zv", "center", "scale"],
    )
    assert [c for c, _ in res.dataset.encoder.categorical] == ["chas"]
    b = to_onnx(res, raw_inputs=True)
    g = onnx.load_from_string(b).graph
    assert [o.name for o in g.output] == ["prediction"]
    X = boston.drop(columns="medv")
    (pred,) = _run(b, X)
    want, _ = _python(res, X)
    assert pred.shape == (len(X),)
    np.testing.assert_allclose(pred, want, rtol=1e-6, atol=1e-4)


def test_refusals_name_the_step_or_reason(table, sonar):
    small = table.iloc[:, list(range(6)) + [-1]]
    for steps, step in ((["YeoJohnson"], "yeo_johnson"), (["knnImpute"], "knn_impute")):
        res = lf.train(
            "Class ~ .",
            data=small,
            method="gbm",
            grid=GRIDS["gbm"],
            control=NONE,
            preprocess=steps,
        )
        with pytest.raises(NotImplementedError, match=rf"step\(s\) \['{step}'\]"):
            to_onnx(res, raw_inputs=True)
    res = lf.train("Class ~ .", data=small, method="gbm", grid=GRIDS["gbm"], control=NONE)
    with pytest.raises(ValueError, match="n_features= does not apply"):
        to_onnx(res, raw_inputs=True, n_features=3)
    with pytest.raises(ValueError, match="mode='regression' but"):
        to_onnx(res, raw_inputs=True, mode="regression")
    with pytest.raises(NotImplementedError, match="raw_inputs=True needs a TrainResult"):
        to_onnx((res.model, res.final_model, {}), raw_inputs=True)
    named = small.rename(columns={"V1": "label"})
    res = lf.train("Class ~ .", data=named, method="gbm", grid=GRIDS["gbm"], control=NONE)
    with pytest.raises(NotImplementedError, match=r"column\(s\) \['label'\]"):
        to_onnx(res, raw_inputs=True)
    knn = lf.train("Class ~ .", data=sonar, method="knn", grid=lf.expand_grid(k=5), control=NONE)
    with pytest.raises(NotImplementedError, match="picks its class by its own rule"):
        to_onnx(knn, raw_inputs=True)
