"""ONNX export coverage: every registered method either exports with parity or is listed with why.

Each method is fitted once per task (Sonar: two classes, Glass: six, BostonHousing: regression)
with one fixed candidate (Control(method="none")), exported by ``to_onnx`` and run in ONNX Runtime;
its probabilities (or predictions) must match leanfit's own within 1e-5 and its classes exactly.
The data are rounded to float32 first: the graph's input is float32 by contract, so this compares
the models, not the rounding of their inputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import leanfit as lf

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

from leanfit.export import onnx as onnx_module  # noqa: E402
from leanfit.export import onnx_predict, supported_methods, to_onnx  # noqa: E402
from leanfit.models.base import registry  # noqa: E402

NONE = lf.Control(method="none")
ATOL = 1e-5

# Methods to_onnx refuses, each with the reason (the README lists them too).
NOT_EXPORTABLE = {
    "qrf": "a quantile forest predicts a weighted quantile of the training responses sharing "
    "leaves with the row; ONNX's tree operators only sum or average leaf values",
}
# One candidate per method: small, so the whole file runs in seconds.
GRIDS: dict[str, dict[str, object]] = {
    "adaboost": {"n_estimators": 15, "max_depth": 2, "learning_rate": 0.5},
    "bayes_ridge": {},
    "catboost": {"iterations": 30, "depth": 3, "learning_rate": 0.1, "l2_leaf_reg": 3.0},
    "enet": {"fraction": 0.5, "lambda": 0.01},
    "extra_trees": {"mtry": 3, "min_node_size": 2},
    "gaussprocess": {"sigma": 0.05},
    "gbm": {"n_trees": 20, "interaction_depth": 2, "shrinkage": 0.1, "n_minobsinnode": 10},
    "glm": {},
    "glmnet": {"alpha": 0.5, "lambda": 0.01},
    "hist_gbm": {
        "max_iter": 15,
        "learning_rate": 0.1,
        "max_leaf_nodes": 7,
        "min_samples_leaf": 10,
        "l2_regularization": 0.0,
    },
    "huber": {"epsilon": 1.35, "alpha": 0.001},
    "kernel_ridge": {"alpha": 0.5, "gamma": 0.05},
    "knn": {"k": 5},
    "lars": {"fraction": 0.5},
    "lars2": {"step": 4},
    "lasso": {"fraction": 0.5},
    "lda": {},
    "lightgbm": {
        "n_estimators": 20,
        "num_leaves": 7,
        "learning_rate": 0.1,
        "min_child_samples": 10,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "lambda_l1": 0.0,
        "lambda_l2": 0.0,
    },
    "lm": {"intercept": True},
    "mlp": {
        "units": 8,
        "layers": 1,
        "activation": "relu",
        "dropout": 0.0,
        "l1": 0.0,
        "l2": 0.0,
        "optimizer": "adam",
        "lr": 0.01,
        "schedule": "constant",
        "batch_size": 64,
        "epochs": 5,
    },
    "mlp_sklearn": {"size": 3, "decay": 0.1},
    "multinom": {"decay": 0.1},
    "naive_bayes": {"laplace": 0.0, "usekernel": True, "adjust": 1.0},
    "nb": {"fL": 0.0, "usekernel": False, "adjust": 1.0},
    "pam": {"threshold": 0.5},
    "pcr": {"ncomp": 3},
    "pls": {"ncomp": 3},
    "qda": {},
    "qrf": {"mtry": 3},
    "quantile_reg": {"quantile": 0.5, "alpha": 0.01},
    "rda": {"gamma": 0.3, "lambda": 0.4},
    "rf": {"mtry": 3},
    "ridge": {"lambda": 0.1},
    "rpart": {"cp": 0.01},
    "rpart2": {"maxdepth": 3},
    "svm_linear": {"C": 1.0},
    "svm_poly": {"degree": 2, "scale": 0.01, "C": 1.0},
    "svm_radial": {"sigma": 0.05, "C": 1.0},
    "svm_radial_cost": {"C": 1.0},
    "treebag": {},
    "xgb_linear": {"nrounds": 10, "lambda": 0.1, "alpha": 0.01, "eta": 0.3},
    "xgb_tree": {
        "nrounds": 15,
        "max_depth": 3,
        "eta": 0.3,
        "gamma": 0.0,
        "colsample_bytree": 0.7,
        "min_child_weight": 1.0,
        "subsample": 1.0,
    },
}
OPTIONS: dict[str, dict[str, object]] = {
    "rf": {"n_trees": 30},
    "extra_trees": {"n_trees": 30},
    "qrf": {"n_trees": 30},
    "treebag": {"n_bags": 10},
    "distill_mlp": {
        "teacher": "rpart2",
        "teacher_params": {"maxdepth": 2},
    },
}
DISTILL_GRID = {
    "T": 2.0,
    "alpha": 0.5,
    "units": 8,
    "layers": 1,
    "optimizer": "adam",
    "lr": 0.01,
    "batch_size": 64,
    "multiple": 1.0,
    "epochs": 3,
}


def _float32(df: pd.DataFrame, target: str) -> pd.DataFrame:
    out = df.copy()
    cols = [c for c in out.columns if c != target]
    out[cols] = out[cols].astype(np.float32).astype(float)
    return out


@pytest.fixture(scope="module")
def tasks() -> dict[str, tuple[pd.DataFrame, str, str]]:
    sonar = _float32(lf.datasets.load("sonar"), "Class")
    glass = _float32(lf.datasets.load("glass"), "Type")
    boston = _float32(lf.datasets.load("bostonhousing").drop(columns="chas"), "medv")
    return {
        "sonar": (sonar, "Class", "classification"),
        "glass": (glass, "Type", "classification"),
        "boston": (boston, "medv", "regression"),
    }


def _cases() -> list[tuple[str, str]]:
    out = []
    for name, cls in sorted(registry().items()):
        for task in ("sonar", "glass", "boston"):
            mode = "regression" if task == "boston" else "classification"
            if mode in cls.modes:
                out.append((name, task))
    return out


def _method(name: str):
    opts = OPTIONS.get(name)
    return registry()[name](options=opts) if opts else name


def _fit(name: str, task: tuple[pd.DataFrame, str, str]):
    data, target, _ = task
    grid = DISTILL_GRID if name == "distill_mlp" else GRIDS[name]
    grid_df = pd.DataFrame([grid]) if grid else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lf.train(
            f"{target} ~ .", data=data, method=_method(name), grid=grid_df, control=NONE, seed=3
        )


def test_every_method_has_a_grid_or_a_reason():
    names = set(registry())
    assert names - {"distill_mlp"} <= set(GRIDS)
    assert not set(NOT_EXPORTABLE) & set(supported_methods())
    assert set(NOT_EXPORTABLE) == set(onnx_module.NOT_EXPORTABLE)
    assert names == set(supported_methods()) | set(NOT_EXPORTABLE)


@pytest.mark.parametrize(("name", "task_name"), _cases())
def test_export_parity(name, task_name, tasks):
    task = tasks[task_name]
    data, target, mode = task
    if name in NOT_EXPORTABLE:
        assert name not in supported_methods()
        res = _fit(name, task)
        with pytest.raises(NotImplementedError, match=name):
            to_onnx(res)
        return
    assert name in supported_methods()
    res = _fit(name, task)
    b = to_onnx(res, name=f"{name}_{task_name}")
    X = data.drop(columns=target)
    _check(b, res, X, mode)
    if registry()[name].takes_missing:  # NaN goes where the engine sends it
        Xn = X.to_numpy().copy()
        Xn[np.random.default_rng(0).random(Xn.shape) < 0.1] = np.nan
        _check(b, res, pd.DataFrame(Xn, columns=X.columns, index=X.index), mode)


def _check(b: bytes, res, X: pd.DataFrame, mode: str) -> None:
    """The graph's output on X against leanfit's own predictions (probabilities or values)."""
    got = onnx_predict(b, X.to_numpy(dtype=np.float32))
    assert got.dtype == np.float32
    if mode == "classification":
        ref = res.predict_proba(X)
        assert list(ref.columns) == list(res.dataset.levels)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref.to_numpy(), rtol=0, atol=ATOL)
        # the labels the graph implies are leanfit's (ties aside: none in these fits)
        labels = np.asarray(res.dataset.levels)[got.argmax(axis=1)]
        top = np.sort(ref.to_numpy(), axis=1)
        clear = top[:, -1] - top[:, -2] > 1e-4
        np.testing.assert_array_equal(
            labels[clear], np.asarray(ref.columns)[ref.to_numpy().argmax(axis=1)][clear]
        )
    else:
        ref = np.asarray(res.predict(X), dtype=float)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=ATOL, atol=ATOL * np.abs(ref).mean())


def test_coverage_count():
    """The issue's target: at least 38 registered methods export."""
    names = set(registry())
    exportable = names - set(NOT_EXPORTABLE)
    assert exportable <= set(supported_methods())
    assert len(exportable) >= 38, sorted(names - set(supported_methods()))


# Sub-model values scored from one fit: each exported graph must be the one asked for.
SUBS = {
    "glmnet": ("sonar", [{"lambda": 0.002}, {"lambda": 0.05}]),
    "pls": ("glass", [{"ncomp": 1}, {"ncomp": 4}]),
    "pcr": ("boston", [{"ncomp": 2}, {"ncomp": 5}]),
    "enet": ("boston", [{"fraction": 0.2}, {"fraction": 0.8}]),
    "lars2": ("boston", [{"step": 2}, {"step": 6}]),
    "ridge": ("boston", [{"lambda": 0.01}, {"lambda": 1.0}]),
    "pam": ("glass", [{"threshold": 0.2}, {"threshold": 1.5}]),
    "rda": ("glass", [{"gamma": 0.1, "lambda": 0.2}, {"gamma": 0.7, "lambda": 0.9}]),
    "kernel_ridge": ("boston", [{"alpha": 0.1}, {"alpha": 2.0}]),
    "knn": ("glass", [{"k": 1}, {"k": 9}]),
    "xgb_tree": ("glass", [{"nrounds": 4}, {"nrounds": 15}]),
    "xgb_linear": ("sonar", [{"nrounds": 3}, {"nrounds": 10}]),
    "catboost": ("boston", [{"iterations": 7}, {"iterations": 30}]),
    "adaboost": ("glass", [{"n_estimators": 3}, {"n_estimators": 15}]),
    "hist_gbm": ("sonar", [{"max_iter": 5}, {"max_iter": 15}]),
}


@pytest.mark.parametrize("name", sorted(SUBS))
def test_submodel_graphs(name, tasks):
    """One fit scoring several sub-models: each sub's graph matches leanfit at that sub."""
    from leanfit.export.onnx import _export_fitted, _Spec
    from leanfit.models.base import TrainingData, get_model

    task_name, subs = SUBS[name]
    data, target, mode = tasks[task_name]
    X = data.drop(columns=target).to_numpy(dtype=float)
    if mode == "classification":
        levels = tuple(sorted(data[target].astype(str).unique()))
        y = pd.Categorical(data[target].astype(str), categories=levels).codes.astype(np.int64)
    else:
        levels, y = (), data[target].to_numpy(dtype=float)
    td = TrainingData(X=X, y=y, mode=mode, levels=levels)
    model = get_model(name)
    params = {**GRIDS[name]}
    for key in subs[-1]:
        params[key] = subs[-1][key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(td, params, subs, seed=1)
        ref = model.predict_proba(fitted, X, subs) if levels else model.predict(fitted, X, subs)
    spec = _Spec(mode, X.shape[1], len(levels))
    outs = []
    for i, sub in enumerate(subs):
        got = onnx_predict(_export_fitted(model, fitted, sub, spec), X.astype(np.float32))
        np.testing.assert_allclose(got, ref[i], rtol=ATOL, atol=ATOL)
        outs.append(got)
    assert not np.allclose(outs[0], outs[1], atol=1e-3)  # the subs differ: the cut is real


def test_tuple_form_points_to_the_result(tasks):
    """A hand-built graph needs the task and width a TrainResult carries: the tuple form says so."""
    res = _fit("lm", tasks["boston"])
    with pytest.raises(NotImplementedError, match=r"'lm' fit .*export the TrainResult"):
        to_onnx(("lm", res.final_model, {}))
