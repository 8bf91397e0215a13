"""Final models as artifacts without pickle (every registered model round-trips with identical
predictions), the trust list, and restoring stored runs with zero fits, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import test_store

import leanfit as lf
from leanfit.models.base import CLASSIFICATION, Model, TrainingData, registry
from leanfit.restore import restore_fit
from leanfit.store import Store, StoreError
from leanfit.store.artifacts import UnsafeModelError, dump_model, load_model
from leanfit.trustlist import first_params
from leanfit.tuning.train import plan_train

ENGINE_PACKAGE = {"xgboost": "xgboost", "catboost": "catboost", "torch": "torch"}
FORMATS = {
    "gbm": "lightgbm-text",
    "lightgbm": "lightgbm-text",
    "xgb_tree": "skops+xgboost-json",
    "xgb_linear": "skops+xgboost-json",
    "catboost": "skops+catboost-cbm",
}
# the store fixtures of test_store.py: SQLite and a real throwaway PostgreSQL server
pg_server, store_url, store = test_store.pg_server, test_store.store_url, test_store.store

# fewer trees (same code); the teacher a distilled network needs
# distill_mlp's regression fit is still being written by its owners: classification covers its
# fitted object (Student dataclasses holding arrays, a history frame, an sklearn estimator)
MODES = {"distill_mlp": (CLASSIFICATION,)}
OPTIONS = {"rf": {"n_trees": 25}, "extra_trees": {"n_trees": 25}, "distill_mlp": {"teacher": "gbm"}}


def _data(mode: str) -> tuple[TrainingData, np.ndarray]:
    rng = np.random.default_rng(3)
    X, new = rng.normal(size=(48, 4)), rng.normal(size=(15, 4))
    if mode == CLASSIFICATION:
        y = (X[:, 0] + 0.5 * rng.normal(size=48) > 0).astype(int)
        levels: tuple[str, ...] = ("a", "b")
    else:
        y, levels = 2 * X[:, 0] + rng.normal(size=48), ()
    cols = tuple(f"x{i}" for i in range(4))
    return TrainingData(X=X, y=y, mode=mode, levels=levels, columns=cols), new


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_registered_model_round_trips(name: str) -> None:
    cls = registry()[name]
    package = ENGINE_PACKAGE.get(cls.engine)
    if package and importlib.util.find_spec(package) is None:
        pytest.skip(f"{name}: engine package {package!r} is not installed")
    model = cls(options=dict(OPTIONS.get(name, {})))
    for mode in MODES.get(name, model.modes):
        data, new = _data(mode)
        params = first_params(model, data)
        subs = [{k: params[k] for k in model.submodel if k in params}]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = model.fit(data, params, subs, 7)
        fmt, blob = dump_model(fitted)
        assert fmt == FORMATS.get(name, "skops"), (name, fmt)
        back = load_model(fmt, blob)
        np.testing.assert_array_equal(
            model.predict(back, new, subs), model.predict(fitted, new, subs)
        )
        if mode == CLASSIFICATION and model.probabilities:
            np.testing.assert_array_equal(
                model.predict_proba(back, new, subs), model.predict_proba(fitted, new, subs)
            )


@pytest.mark.parametrize(
    "steps", [["center", "scale"], ["zv", "corr", "YeoJohnson", "pca"], ["bagImpute"], ["ica"]]
)
def test_preprocess_round_trips(steps: list[str]) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(40, 5)), columns=list("abcde"))
    df.iloc[3, 1] = np.nan if "bagImpute" in steps else df.iloc[3, 1]
    pp = lf.PreProcess(steps, **({"n_comp": 2} if "ica" in steps else {})).fit(df)
    fmt, blob = dump_model(pp)
    assert fmt == "skops"
    back = load_model(fmt, blob)
    np.testing.assert_array_equal(back.transform(df), pp.transform(df))
    assert back.describe() == pp.describe()


def test_numpy_arrays_and_plain_dicts_round_trip() -> None:
    """What a network's fitted object is made of: arrays (any dtype), dicts, lists, tuples, and
    a pandas training history (kept as numpy columns, never as pandas internals)."""
    from leanfit.models.trees import EngineFit

    history = pd.DataFrame(
        {"epoch": np.arange(3), "loss": [0.5, 0.25, np.nan], "opt": ["adam"] * 3},
        index=pd.Index([10, 11, 12], name="row"),
    ).assign(kind=pd.Categorical(["a", "b", "a"]))
    weights = {
        "history": history,
        "curve": pd.Series([1.5, 2.5], name="lr"),
        "layers": [np.arange(12, dtype=np.float32).reshape(3, 4), np.ones(4)],
        "sizes": (4, 3, 1),
        "act": "relu",
        "scale": np.float64(0.5),
        7: {"nested": np.array([1, 2], dtype=np.int8), "none": None, "flag": True},
    }
    fitted = EngineFit(weights, "regression", 0)
    fmt, blob = dump_model(fitted)
    back = load_model(fmt, blob)
    assert isinstance(back, EngineFit) and back.mode == "regression"
    got = back.est
    assert got["sizes"] == (4, 3, 1) and got["act"] == "relu" and got[7]["none"] is None
    for a, b in zip(got["layers"], weights["layers"], strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert got[7]["nested"].dtype == np.int8 and got["scale"] == 0.5
    pd.testing.assert_frame_equal(got["history"], history, check_exact=True)
    pd.testing.assert_series_equal(got["curve"], weights["curve"], check_exact=True)


class Opaque:
    """A type outside the trust list (this test module)."""

    def __init__(self) -> None:
        self.w = np.ones(3)


def test_untrusted_types_refused_by_name() -> None:
    import skops.io as sio

    with pytest.raises(UnsafeModelError, match="test_store_artifacts.Opaque"):
        dump_model({"model": Opaque()})
    with pytest.raises(UnsafeModelError, match="builtins.eval"):
        dump_model({"f": eval})
    blob = sio.dumps({"model": Opaque()})  # written by someone else, bypassing dump_model
    with pytest.raises(UnsafeModelError, match="test_store_artifacts.Opaque.*refusing to load"):
        load_model("skops", blob)
    with pytest.raises(UnsafeModelError, match="unknown model format"):
        load_model("pickle", b"\x80\x04")


@dataclass
class OpaqueModel(Model):
    """A user model whose fitted object is outside the trust list."""

    name: ClassVar[str] = "opaque"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION,)

    def fit(self, data, params, subs, seed):
        out = Opaque()
        out.w = data.X[data.y == 1].mean(axis=0) - data.X[data.y == 0].mean(axis=0)
        return out

    def predict_proba(self, fitted, X, subs):
        p1 = 1 / (1 + np.exp(-(X @ fitted.w)))
        return np.tile(np.stack([1 - p1, p1], axis=1), (len(subs), 1, 1))


def _train_kwargs(training: pd.DataFrame, **kw: Any) -> dict[str, Any]:
    return {
        "x": "Class ~ .",
        "data": training,
        "control": lf.Control(
            method="cv", number=3, class_probs=True, summary="two_class", save_predictions="all"
        ),
        "metric": "ROC",
        "seed": 11,
        **kw,
    }


def test_restore_train_run_exactly_with_zero_fits(
    store: Store, training: pd.DataFrame, testing: pd.DataFrame, monkeypatch
) -> None:
    grid = {"interaction_depth": [1, 2], "n_trees": [10, 30], "shrinkage": 0.1, "n_minobsinnode": 5}
    kw = _train_kwargs(training, method="gbm", grid=grid, preprocess=["center", "scale"])
    first = lf.train(**kw, store=store, experiment="api", fit="gbm")
    run_id = first.store_run["run_id"]
    info = store.run(run_id)
    assert info["artifacts"]["final_model"]["fmt"] == "lightgbm-text"
    assert info["artifacts"]["final_preprocess"]["fmt"] == "skops"
    assert info["summary"]["best_index"] == first.best_index and info["summary"]["notes"] == []
    with pytest.raises(StoreError, match="made by train\\(\\) in Python.*plan=plan_train"):
        restore_fit(store, run_id)
    plan = plan_train(**kw)
    calls: list[str] = []
    for cls in set(registry().values()):
        monkeypatch.setattr(cls, "fit", lambda self, *a, **k: calls.append(self.name))
    back = restore_fit(store, run_id, plan=plan)
    assert calls == []
    assert back.store_run["restored"] and back.store_run["resumed_tasks"] == 6
    assert back.best_index == first.best_index and back.best_params == first.best_params
    pd.testing.assert_frame_equal(back.results, first.results, check_exact=True)
    pd.testing.assert_frame_equal(back.resample, first.resample, check_exact=True)
    pd.testing.assert_frame_equal(back.predictions, first.predictions, check_exact=True)
    pd.testing.assert_series_equal(back.predict(testing), first.predict(testing))
    pd.testing.assert_frame_equal(
        back.predict_proba(testing), first.predict_proba(testing), check_exact=True
    )
    assert back.final_info == first.final_info
    assert back.times["everything"] == pytest.approx(first.times["everything"])
    assert calls == []


def test_tampered_final_model_is_refused(tmp_path: Path, training: pd.DataFrame) -> None:
    import sqlalchemy as sa

    store = Store.open(f"sqlite:///{tmp_path / 't.db'}")
    kw = _train_kwargs(training, method="rda", grid={"gamma": [0.5], "lambda": [0.5]})
    run_id = lf.train(**kw, store=store, experiment="e", fit="f").store_run["run_id"]
    with store._engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE artifacts SET data = :d WHERE name = 'final_model'"), {"d": b"junk"}
        )
    with pytest.raises(StoreError, match="final_model.*hash no longer matches, refusing"):
        restore_fit(store, run_id, plan=plan_train(**kw))
    store.close()


def test_unsafe_final_model_is_noted_not_dropped_silently(
    tmp_path: Path, training: pd.DataFrame, testing: pd.DataFrame
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'u.db'}")
    kw = _train_kwargs(training, method=OpaqueModel())
    with pytest.warns(UserWarning, match="final_model of 'opaque' not stored.*Opaque"):
        res = lf.train(**kw, store=store, experiment="e", fit="opaque")
    run_id = res.store_run["run_id"]
    assert "Opaque" in res.store_run["notes"][0]
    info = store.run(run_id)
    assert "final_model" not in info["artifacts"] and info["status"] == "finished"
    assert "test_store_artifacts.Opaque" in info["summary"]["notes"][0]
    back = restore_fit(store, run_id, plan=plan_train(**kw))
    pd.testing.assert_frame_equal(back.results, res.results, check_exact=True)
    with pytest.raises(ValueError, match="restored without its final model.*Opaque"):
        back.predict(testing)
    store.close()


CSV_CONFIG = """\
name: csv-exp
data: data.csv
formula: Class ~ .
partition: {p: 0.75, seed: 998}
controls:
  cv3: {method: cv, number: 3, class_probs: true, summary: two_class, save_predictions: final}
fits:
  svmFit: {method: svm_radial, control: cv3, tune_length: 2, metric: ROC, seed: 5,
           preprocess: [center, scale]}
  rdaNone: {method: rda, control: {method: none}, grid: {gamma: 0.5, lambda: 0.5}, seed: 5}
"""


def test_restore_experiment_run_from_its_config_and_refuse_changed_data(
    tmp_path: Path, sonar: pd.DataFrame, fits: list[str]
) -> None:
    from leanfit.experiment import load_experiment, run_experiment

    sonar.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "c.yaml").write_text(CSV_CONFIG)
    store = Store.open(f"sqlite:///{tmp_path / 'e.db'}")
    exp = load_experiment(tmp_path / "c.yaml", verbose=False)
    exp.output = exp.report = None
    summary = run_experiment(exp, echo=lambda *a: None, store=store)
    ids = {f: summary["fits"][f]["run_id"] for f in ("svmFit", "rdaNone")}
    spec = json.loads(store.load_artifact(ids["svmFit"], "spec"))
    assert spec["kind"] == "experiment" and spec["fit"] == "svmFit"
    assert spec["data_source"] == str((tmp_path / "data.csv").resolve())
    n_fits = len(fits)
    for fname, run_id in ids.items():
        back = restore_fit(store, run_id)
        orig = exp.results[fname]
        pd.testing.assert_series_equal(back.predict(exp.testing), orig.predict(exp.testing))
        pd.testing.assert_frame_equal(
            back.predict_proba(exp.testing), orig.predict_proba(exp.testing), check_exact=True
        )
        if orig.scores is not None:
            pd.testing.assert_frame_equal(back.results, orig.results, check_exact=True)
            pd.testing.assert_frame_equal(back.predictions, orig.predictions, check_exact=True)
    assert len(fits) == n_fits  # restoring fitted nothing
    sonar.iloc[:-10].to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(StoreError, match="data reloaded from .*data.csv.*fingerprint.*rows now"):
        restore_fit(store, ids["svmFit"])
    changed = sonar.assign(V1=sonar["V1"] * 2)
    changed.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(StoreError, match="same rows and columns, but the values differ"):
        restore_fit(store, ids["svmFit"])
    (tmp_path / "data.csv").unlink()
    with pytest.raises(StoreError, match="cannot re-plan from the stored config"):
        restore_fit(store, ids["rdaNone"])
    store.close()


def test_run_artifacts_listed_with_size(store: Store) -> None:
    run_id = store.start_run(
        "e", "f", config={}, fingerprint="x", seed=1, versions={"leanfit": "0"}
    )
    store.save_artifact(run_id, "final_model", b"abc", "lightgbm-text")
    store.save_artifact(run_id, "spec", b"{}", "json")
    arts = store.run(run_id)["artifacts"]
    assert list(arts) == ["final_model", "spec"]
    assert arts["final_model"]["size"] == 3 and arts["final_model"]["fmt"] == "lightgbm-text"
    with pytest.raises(StoreError, match=rf"run {run_id} \(e/f\) is not finished \(status running"):
        restore_fit(store, run_id)
