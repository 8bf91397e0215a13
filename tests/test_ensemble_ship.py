"""Shipping an ensemble: one ONNX graph (members plus combiner) checked against the ensemble's
own Python predictions, a bundle round trip, and an ensemble as a distillation teacher."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanfit as lf

pytest.importorskip("onnxruntime")

SEED = 3
TOL = 1e-5


def _ctl(**kw) -> lf.Control:
    return lf.Control(method="cv", number=5, save_predictions="final", seed=SEED, **kw)


def _run(graph: bytes, feed: dict) -> dict:
    from leanfit.export import onnx_session

    s = onnx_session(graph)
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feed), strict=True))


def _raw_feed(X: pd.DataFrame, fits: dict) -> dict:
    enc = next(iter(fits.values())).dataset.encoder
    cats = dict(enc.categorical)
    feed = {}
    for c in enc.columns:
        if c in cats:
            feed[c] = X[[c]].astype(str).to_numpy(dtype=object)
        else:
            feed[c] = X[[c]].to_numpy(dtype=np.float32)
    return feed


@pytest.fixture(scope="module")
def glass() -> tuple[pd.DataFrame, dict]:
    df = lf.datasets.load("glass")
    ctl = _ctl(class_probs=True)
    fits = {
        "lda": lf.train(df, "Type", method="lda", control=ctl),
        "nb": lf.train(df, "Type", method="naive_bayes", control=ctl),
        "rpart": lf.train(df, "Type", method="rpart", control=ctl, grid={"cp": [0.01]}),
    }
    return df, fits


@pytest.fixture(scope="module")
def sonar() -> tuple[pd.DataFrame, dict]:
    df = lf.datasets.load("sonar")
    ctl = _ctl(class_probs=True)
    fits = {
        "lda": lf.train(df, "Class", method="lda", control=ctl),
        "rpart": lf.train(df, "Class", method="rpart", control=ctl, grid={"cp": [0.01]}),
    }
    return df, fits


@pytest.fixture(scope="module")
def boston() -> tuple[pd.DataFrame, dict]:
    df = lf.datasets.load("bostonhousing")
    ctl = _ctl()
    fits = {
        "lm": lf.train(df, "medv", method="lm", control=ctl),
        "rpart": lf.train(df, "medv", method="rpart", control=ctl, grid={"cp": [0.01]}),
    }
    return df, fits


@pytest.mark.parametrize("method", ["caruana", "average", "vote"])
def test_onnx_multiclass_matches_predict_proba(glass, method):
    df, fits = glass
    ens = lf.ensemble(fits, method, inner=3)
    X = df.drop(columns="Type")
    want = ens.predict_proba(X).to_numpy()
    Xm = fits["lda"].dataset.encoder.transform(X).astype(np.float32)
    got = _run(ens.to_onnx(), {"X": Xm})["probabilities"]
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= TOL
    assert np.array_equal(got.argmax(1), ens.predict(X).cat.codes.to_numpy())
    raw = _run(ens.to_onnx(raw_inputs=True), _raw_feed(X, fits))
    assert np.max(np.abs(raw["probabilities"] - want)) <= TOL
    assert list(raw["label"]) == [str(v) for v in ens.predict(X)]


def test_onnx_weighted_graph_is_the_weighted_sum_of_member_graphs(glass):
    """By hand: the members' own graphs, averaged with the ensemble's weights."""
    df, fits = glass
    ens = lf.ensemble(fits, "average", weights="equal", inner=3)
    Xm = fits["lda"].dataset.encoder.transform(df.drop(columns="Type")).astype(np.float32)
    members = [_run(lf.export.to_onnx(f), {"X": Xm})["probabilities"] for f in fits.values()]
    got = _run(ens.to_onnx(), {"X": Xm})["probabilities"]
    assert np.max(np.abs(got - np.mean(members, axis=0))) <= 1e-6


def test_onnx_binary_stack_matches(sonar):
    df, fits = sonar
    ens = lf.ensemble(fits, "stack", inner=3)
    X = df.drop(columns="Class")
    want = ens.predict_proba(X).to_numpy()
    Xm = fits["lda"].dataset.encoder.transform(X).astype(np.float32)
    got = _run(ens.to_onnx(), {"X": Xm})["probabilities"]
    assert np.max(np.abs(got - want)) <= TOL
    assert np.array_equal(got.argmax(1), ens.predict(X).cat.codes.to_numpy())


@pytest.mark.parametrize("method", ["average", "stack"])
def test_onnx_regression_raw_inputs_matches(boston, method):
    df, fits = boston
    ens = lf.ensemble(fits, method, inner=3)
    X = df.drop(columns="medv")
    want = ens.predict(X).to_numpy()
    got = _run(ens.to_onnx(raw_inputs=True), _raw_feed(X, fits))["prediction"]
    assert got.shape == want.shape
    assert np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) <= TOL


def test_onnx_refuses_naming_the_member(boston, glass):
    df, fits = boston
    ens = lf.ensemble(fits, "average", weights="equal", inner=3)
    with pytest.raises(ValueError, match="member 'lm'.*factor column"):
        ens.to_onnx()  # "X" form: the factor column chas is dummy-encoded outside the graph
    gdf, gfits = glass
    ctl = _ctl(class_probs=True)
    knn = lf.train(gdf, "Type", method="knn", control=ctl, grid={"k": [5]})
    ens = lf.ensemble({"lda": gfits["lda"], "knn": knn}, "average", weights="equal", inner=3)
    with pytest.raises(NotImplementedError, match="member 'knn'"):
        ens.to_onnx(raw_inputs=True)


@pytest.mark.parametrize(("which", "method"), [("glass", "caruana"), ("boston", "stack")])
def test_bundle_round_trip_equals_the_ensemble(request, tmp_path, which, method):
    df, fits = request.getfixturevalue(which)
    target = next(iter(fits.values())).dataset.target
    ens = lf.ensemble(fits, method, inner=3)
    path = lf.save_bundle(ens, tmp_path / "ens.lfb")
    b = lf.load_bundle(path)
    assert b.runtime == "onnx" and b.info["kind"] == "ensemble"
    assert b.info["onnx_inputs"] == "raw"
    X = df.drop(columns=target)
    got = b.predict(X)
    if which == "glass":
        want = ens.predict_proba(X)
        assert list(got["prediction"]) == [str(v) for v in ens.predict(X)]
        probs = got[[f"prob_{c}" for c in want.columns]].to_numpy()
        assert np.max(np.abs(probs - want.to_numpy())) <= TOL
    else:
        want = ens.predict(X).to_numpy()
        assert np.max(np.abs(got["prediction"].to_numpy() - want)) <= TOL * max(
            1, np.abs(want).max()
        )
    assert b.metrics[ens.metric] == pytest.approx(ens.results.loc["ensemble", ens.metric])


def test_bundle_refuses_an_ensemble_that_does_not_export(tmp_path, glass):
    gdf, gfits = glass
    ctl = _ctl(class_probs=True)
    knn = lf.train(
        gdf, "Type", method="knn", control=ctl, grid={"k": [5]}, preprocess=["YeoJohnson"]
    )
    ens = lf.ensemble({"lda": gfits["lda"], "knn": knn}, "average", weights="equal", inner=3)
    with pytest.raises(lf.BundleError, match="member 'knn'"):
        lf.save_bundle(ens, tmp_path / "no.lfb")


@pytest.mark.parametrize("method", ["caruana", "stack"])
def test_distill_takes_an_ensemble_as_teacher(glass, method):
    pytest.importorskip("torch")
    df, fits = glass
    ens = lf.ensemble(fits, method, inner=3)
    test = df.sample(60, random_state=1)
    with pytest.warns(UserWarning, match="identical to rows the teacher"):
        out = lf.distill(
            ens,
            test=test,
            hidden=(16,),
            epochs=3,
            multiple=1.0,
            hard_baseline=False,
            n_single=50,
            seed=1,
        )
    assert out.teacher.ensemble is ens
    assert out.teacher.name.startswith(f"ensemble ({method})")
    # the teacher's probabilities on the model matrix are the ensemble's on the frame
    X = df.drop(columns="Type")
    Xm = fits["lda"].dataset.encoder.transform(X)
    want = ens.predict_proba(X).to_numpy()
    assert np.max(np.abs(out.teacher.predict_proba(Xm) - want)) <= 1e-6
    # the report's teacher row scores the ensemble itself on the test rows
    acc = float(np.mean(ens.predict(test).astype(str).to_numpy() == test["Type"].astype(str)))
    assert out.report.iloc[0]["accuracy"] == pytest.approx(acc)
    assert out.report.index[0].startswith("teacher (ensemble")
    assert out.report.iloc[0]["parity_max_diff"] <= 1e-4  # the ensemble's one graph


def test_distill_ensemble_refuses_teacher_weights(glass):
    _, fits = glass
    ens = lf.ensemble(fits, "vote", inner=3)
    with pytest.raises(ValueError, match="teacher_weights does not apply"):
        lf.distill(ens, teacher_weights=[0.5, 0.25, 0.25])
