"""ONNX export (leanfit.export): real conversions, run in ONNX Runtime, compared with leanfit."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import leanfit as lf

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

from leanfit.export import (  # noqa: E402
    Latency,
    check_parity,
    measure_latency,
    onnx_predict,
    supported_methods,
    to_onnx,
)
from leanfit.models.base import TrainingData, get_model  # noqa: E402
from leanfit.models.trees import RF  # noqa: E402

NONE = lf.Control(method="none")
LGB_ROW = {
    "num_leaves": 7,
    "learning_rate": 0.1,
    "min_child_samples": 10,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "lambda_l1": 0.0,
    "lambda_l2": 0.0,
}
SONAR_FITS = {
    "lightgbm": lf.expand_grid(n_estimators=40, **LGB_ROW),
    "gbm": lf.expand_grid(n_trees=30, interaction_depth=2, shrinkage=0.1, n_minobsinnode=10),
    "rf": lf.expand_grid(mtry=7),
    "extra_trees": lf.expand_grid(mtry=7, min_node_size=2),
    "treebag": None,
    "rpart": lf.expand_grid(cp=0.05),  # pruned: the cp=0 tree has more splits
    "rpart2": lf.expand_grid(maxdepth=2),
}
SMALL_FORESTS = {"rf": {"n_trees": 100}, "extra_trees": {"n_trees": 100}}


def _method(name: str):
    opts = SMALL_FORESTS.get(name)
    return type(get_model(name))(options=opts) if opts else name


def _sonar_data(sonar: pd.DataFrame) -> TrainingData:
    """Sonar as a model sees it (class codes 0 = M, 1 = R)."""
    y = pd.Categorical(sonar["Class"], categories=["M", "R"]).codes.astype(np.int64)
    X = sonar.drop(columns="Class").to_numpy(dtype=float)
    return TrainingData(X=X, y=y, mode="classification", levels=("M", "R"))


def _graph(b: bytes) -> tuple[list, list]:
    """(name, elem_type, dims) of the graph's inputs and outputs."""

    def desc(v):
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        return v.name, t.elem_type, dims

    g = onnx.load_from_string(b).graph
    return [desc(v) for v in g.input], [desc(v) for v in g.output]


@pytest.fixture(scope="module")
def sonar_X(sonar) -> pd.DataFrame:
    return sonar.drop(columns="Class")


@pytest.fixture(scope="module")
def boston() -> pd.DataFrame:
    return lf.datasets.load("bostonhousing").drop(columns="chas")  # numeric columns only


@pytest.fixture(scope="module", params=list(SONAR_FITS))
def sonar_fit(request, sonar):
    name = request.param
    res = lf.train(
        "Class ~ .", data=sonar, method=_method(name), grid=SONAR_FITS[name], control=NONE, seed=7
    )
    return name, res


def test_import_stays_light():
    code = (
        "import sys, leanfit.export; "
        "print(sorted(m for m in ('onnx', 'onnxruntime', 'torch', 'skl2onnx', 'onnxmltools')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_supported_methods_listed():
    assert {"gbm", "lightgbm", "rf", "extra_trees", "treebag", "rpart"} <= set(supported_methods())


def test_classifier_parity_on_sonar(sonar_fit, sonar_X):
    name, res = sonar_fit
    b = to_onnx(res, name=f"sonar_{name}")
    ins, outs = _graph(b)
    assert ins == [("X", onnx.TensorProto.FLOAT, [None, 60])]
    assert outs == [("probabilities", onnx.TensorProto.FLOAT, [None, 2])]
    ref = res.predict_proba(sonar_X).to_numpy()
    par = check_parity(b, ref, sonar_X.to_numpy(), atol=1e-5)
    assert par.ok and par.max_abs_diff <= 1e-5
    assert par.label_agreement == 1.0
    got = onnx_predict(b, sonar_X.to_numpy())
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_array_equal(got.argmax(axis=1), ref.argmax(axis=1))
    # NaN goes where the engine sends it (scikit-learn's missing_go_to_left, LightGBM's default)
    Xn = sonar_X.to_numpy().copy()
    Xn[np.random.default_rng(0).random(Xn.shape) < 0.1] = np.nan
    ref_nan = res.predict_proba(pd.DataFrame(Xn, columns=sonar_X.columns)).to_numpy()
    assert check_parity(b, ref_nan, Xn, atol=1e-5).ok


def test_gbm_submodel_cut_at_chosen_trees(sonar, sonar_X):
    """A booster fitted for 40 trees, exported at 15: matches leanfit's staged n_trees=15."""
    gbm = get_model("gbm")
    data = _sonar_data(sonar)
    params = {"n_trees": 40, "interaction_depth": 2, "shrinkage": 0.1, "n_minobsinnode": 10}
    subs = [{"n_trees": 15}, {"n_trees": 40}]
    booster = gbm.fit(data, params, subs, seed=3)
    X = sonar_X.to_numpy()
    ref = gbm.predict_proba(booster, X, subs)
    b15 = to_onnx((gbm, booster, subs[0]))
    b40 = to_onnx(("gbm", booster, subs[1]))
    assert check_parity(b15, ref[0], X, atol=1e-5).ok
    assert check_parity(b40, ref[1], X, atol=1e-5).ok
    assert np.abs(ref[0] - ref[1]).max() > 1e-3  # the cut matters
    assert len(b15) < len(b40)
    # a TrainResult whose chosen n_trees (15) is below its booster's 40 trees
    grid = lf.expand_grid(n_trees=[15, 40], interaction_depth=2, shrinkage=0.1, n_minobsinnode=10)
    res = lf.train(
        "Class ~ .", data=sonar, method="gbm", grid=grid, control=lf.Control(method="cv", number=3)
    )
    res = res.update(params={"n_trees": 15, "interaction_depth": 2})
    assert res._sub() == {"n_trees": 15}
    res = copy.copy(res)
    res.final_model = booster
    ref = res.predict_proba(sonar_X).to_numpy()
    np.testing.assert_allclose(ref, gbm.predict_proba(booster, X, subs[:1])[0])
    par = check_parity(to_onnx(res), ref, X, atol=1e-5)
    assert par.max_abs_diff <= 1e-5 and par.label_agreement == 1.0


def test_lightgbm_result_at_chosen_submodel(sonar, sonar_X):
    grid = lf.expand_grid(n_estimators=[10, 30], **LGB_ROW)
    res = lf.train(
        "Class ~ .",
        data=sonar,
        method="lightgbm",
        grid=grid,
        control=lf.Control(method="cv", number=3),
        seed=5,
    )
    assert res._sub()["n_estimators"] in (10, 30)
    ref = res.predict_proba(sonar_X).to_numpy()
    assert check_parity(to_onnx(res), ref, sonar_X.to_numpy(), atol=1e-5).ok


def test_forest_tree_count_submodel_exports_first_trees(sonar, sonar_X):
    """A forest model with a tree-count sub-model: only the first n trees are exported."""

    class RFByTrees(RF):
        submodel = ("n_trees",)

    data = _sonar_data(sonar)
    model = RFByTrees(options={"n_trees": 40})
    fit = model.fit(data, {"mtry": 7}, [{"n_trees": 40}], seed=1)
    X = sonar_X.to_numpy()
    ref = np.mean([t.predict_proba(X) for t in fit.est.estimators_[:12]], axis=0)
    b = to_onnx((model, fit, {"n_trees": 12}))
    assert check_parity(b, ref, X, atol=1e-5).ok
    assert len(fit.est.estimators_) == 40  # the fit itself is untouched


def test_multiclass_and_absent_class():
    glass = lf.datasets.load("glass")
    target = glass.columns[-1]
    X = glass.drop(columns=target)
    for name, grid in (
        ("lightgbm", lf.expand_grid(n_estimators=20, **LGB_ROW)),
        ("rf", lf.expand_grid(mtry=3)),
    ):
        res = lf.train(f"{target} ~ .", data=glass, method=_method(name), grid=grid, control=NONE)
        k = len(res.dataset.levels)
        b = to_onnx(res)
        assert _graph(b)[1] == [("probabilities", onnx.TensorProto.FLOAT, [None, k])]
        assert check_parity(b, res.predict_proba(X).to_numpy(), X.to_numpy(), atol=1e-5).ok
    # class 0 absent from the fitting rows: its column is 0, as leanfit's expand_proba does
    codes = glass[target].cat.codes.to_numpy()
    keep = codes != 0
    levels = tuple(map(str, glass[target].cat.categories))
    data = TrainingData(X.to_numpy()[keep], codes[keep].astype(np.int64), "classification", levels)
    for name, params in (("rf", {"mtry": 3}), ("rpart", {"cp": 0.01})):
        model = type(get_model(name))(options=SMALL_FORESTS.get(name, {}))
        sub = {k: params[k] for k in model.submodel}
        fit = model.fit(data, params, [sub], seed=2)
        ref = model.predict_proba(fit, X.to_numpy(), [sub])[0]
        got = onnx_predict(to_onnx((model, fit, sub)), X.to_numpy())
        assert got.shape == (len(X), len(levels)) and np.all(got[:, 0] == 0)
        np.testing.assert_allclose(got, ref, atol=1e-5)


@pytest.mark.parametrize(
    "name, grid",
    [
        ("lightgbm", lf.expand_grid(n_estimators=100, **LGB_ROW)),
        ("rf", lf.expand_grid(mtry=4)),
        ("rpart", lf.expand_grid(cp=0.01)),
    ],
)
def test_regression_parity_on_boston(boston, name, grid):
    res = lf.train("medv ~ .", data=boston, method=_method(name), grid=grid, control=NONE, seed=3)
    X = boston.drop(columns="medv")
    b = to_onnx(res)
    ins, outs = _graph(b)
    assert ins == [("X", onnx.TensorProto.FLOAT, [None, X.shape[1]])]
    assert outs == [("prediction", onnx.TensorProto.FLOAT, [None])]
    ref = res.predict(X).to_numpy()
    par = check_parity(b, ref, X.to_numpy(), atol=0.0, rtol=1e-5)
    assert par.ok and np.isnan(par.label_agreement)
    got = onnx_predict(b, X.to_numpy())
    assert got.shape == (len(X),)
    assert np.max(np.abs(got - ref) / np.abs(ref)) <= 1e-5


def test_torch_classifier_and_regressor():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    X = np.random.default_rng(1).normal(size=(64, 6)).astype(np.float32)
    clf = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    reg = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    logit = torch.nn.Sequential(torch.nn.Linear(6, 1))  # one logit: a binary sigmoid
    with torch.no_grad():
        t = torch.from_numpy(X)
        p_clf = torch.softmax(clf(t), dim=1).numpy()
        p_reg = reg(t)[:, 0].numpy()
        s = torch.sigmoid(logit(t)).numpy()
    b = to_onnx(clf, n_features=6, mode="classification")
    assert _graph(b) == (
        [("X", onnx.TensorProto.FLOAT, [None, 6])],
        [("probabilities", onnx.TensorProto.FLOAT, [None, 3])],
    )
    assert check_parity(b, p_clf, X, atol=1e-6).label_agreement == 1.0
    assert onnx_predict(b, X[:1]).shape == (1, 3)  # dynamic batch
    b = to_onnx(reg, n_features=6, mode="regression")
    assert _graph(b)[1] == [("prediction", onnx.TensorProto.FLOAT, [None])]
    assert check_parity(b, p_reg, X, atol=1e-5).ok
    b = to_onnx(logit, n_features=6, mode="classification")
    assert check_parity(b, np.hstack([1 - s, s]), X, atol=1e-6).ok
    assert clf.training  # the caller's module is not switched to eval mode
    with pytest.raises(ValueError, match="mode="):
        to_onnx(clf, n_features=6)
    with pytest.raises(ValueError, match="n_features="):
        to_onnx(clf, mode="classification")


def test_torch_mlp_result(sonar, sonar_X):
    pytest.importorskip("torch")
    grid = lf.expand_grid(units=8, l2=0.0, epochs=3)
    res = lf.train("Class ~ .", data=sonar, method="mlp", grid=grid, control=NONE, seed=1)
    ref = res.predict_proba(sonar_X).to_numpy()
    assert check_parity(to_onnx(res), ref, sonar_X.to_numpy(), atol=1e-5).ok


def test_missing_converter_names_the_extra(sonar, monkeypatch):
    res = lf.train("Class ~ .", data=sonar, method="rpart", grid=SONAR_FITS["rpart"], control=NONE)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'leanfit\[onnx\]'"):
        to_onnx(res)


def test_refusals(sonar, boston):
    res = lf.train(
        "Class ~ .",
        data=sonar,
        method="rpart",
        grid=SONAR_FITS["rpart"],
        control=NONE,
        preprocess=["center", "scale"],
    )
    with pytest.raises(ValueError, match=r"pre-processing step.*numeric model matrix only"):
        to_onnx(res)
    full = lf.datasets.load("bostonhousing")  # chas is a factor: dummy-encoded by the formula
    res = lf.train("medv ~ .", data=full, method="rpart", grid=SONAR_FITS["rpart"], control=NONE)
    with pytest.raises(ValueError, match=r"dummy-encodes .*'chas'.*numeric model matrix only"):
        to_onnx(res)
    qrf = type(get_model("qrf"))(options={"n_trees": 10})
    res = lf.train("medv ~ .", data=boston, method=qrf, grid={"mtry": [3]}, control=NONE)
    with pytest.raises(NotImplementedError, match=r"'qrf' is not supported: a quantile forest"):
        to_onnx(res)
    with pytest.raises(TypeError, match="TrainResult"):
        to_onnx(object())


def test_check_parity_reports_failures():
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(2).normal(size=(20, 4)).astype(np.float32)
    net = torch.nn.Sequential(torch.nn.Linear(4, 2))
    b = to_onnx(net, n_features=4, mode="classification")
    ref = onnx_predict(b, X).astype(float)
    ref[3] = ref[3, ::-1]  # one row's probabilities swapped
    with pytest.raises(ValueError, match="differs from the reference by up to"):
        check_parity(b, ref, X)
    par = check_parity(b, ref, X, raise_on_failure=False)
    assert not par.ok and par.max_abs_diff > 1e-4
    assert par.label_agreement in (1.0, 19 / 20)


def test_measure_latency_is_sane(sonar, sonar_X):
    res = lf.train("Class ~ .", data=sonar, method="rpart", grid=SONAR_FITS["rpart"], control=NONE)
    b = to_onnx(res)
    X = sonar_X.to_numpy()[:50]  # fewer rows than a batch: tiled
    lat = measure_latency(b, X, n_single=300, warmup=20, batch_size=128, batch_repeats=3)
    assert isinstance(lat, Latency)
    assert lat.size_bytes == len(b)
    assert 0 < lat.single_p50_us <= lat.single_p99_us
    assert lat.batch_rows_per_s > 0
    assert (lat.n_single, lat.batch_size) == (300, 128)
