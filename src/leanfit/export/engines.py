"""ONNX export through the engines' own converters: skl2onnx (SVMs, scikit-learn MLPs, AdaBoost,
histogram gradient boosting), onnxmltools (XGBoost trees) and CatBoost's ``save_model(format=
"onnx")``, with leanfit's standardisation of the inputs (and of the response) spliced around them.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .onnx import (
    CLASSIFICATION,
    LIGHTGBM_OPSET,
    ML_OPSET,
    OPSET,
    _convert_sklearn,
    _Converted,
    _float_input,
    _need,
    _rename,
    _Spec,
)

__all__ = ["catboost", "sklearn_boosting", "sklearn_scaled", "xgb_tree"]


def _splice(
    proto: Any,
    out: str,
    *,
    center: Any = None,
    scale: Any = None,
    y_scale: float = 1.0,
    y_center: float = 0.0,
    double: bool = False,
) -> str:
    """Standardise ``X`` before a converted graph and rescale its output after it; returns the
    new output's name (float32). The arithmetic runs in float64; ``double`` says the converted
    graph itself takes and returns float64."""
    from onnx import TensorProto, helper, numpy_helper

    g = proto.graph
    _rename(g, out, "_lf_model_output")
    out = "_lf_model_output"
    inner = g.input[0].name
    fed = "_lf_model_input"
    for n in g.node:
        for i, v in enumerate(n.input):
            if v == inner:
                n.input[i] = fed
    del g.input[:]
    g.input.append(helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, None]))

    def const(name: str, value: Any) -> str:
        g.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=np.float64), name))
        return name

    pre = [helper.make_node("Cast", ["X"], ["_lf_xd"], to=TensorProto.DOUBLE)]
    cur = "_lf_xd"
    if center is not None:
        pre.append(helper.make_node("Sub", [cur, const("_lf_center", center)], ["_lf_xc"]))
        cur = "_lf_xc"
    if scale is not None:
        pre.append(helper.make_node("Div", [cur, const("_lf_scale", scale)], ["_lf_xs"]))
        cur = "_lf_xs"
    to = TensorProto.DOUBLE if double else TensorProto.FLOAT
    pre.append(helper.make_node("Cast", [cur], [fed], to=to))
    nodes = pre + list(g.node)
    post = [helper.make_node("Cast", [out], ["_lf_yd"], to=TensorProto.DOUBLE)]
    cur = "_lf_yd"
    if y_scale != 1.0 or y_center != 0.0:
        post.append(helper.make_node("Mul", [cur, const("_lf_yscale", y_scale)], ["_lf_ys"]))
        post.append(helper.make_node("Add", ["_lf_ys", const("_lf_ycenter", y_center)], ["_lf_y"]))
        cur = "_lf_y"
    post.append(helper.make_node("Cast", [cur], ["_lf_out"], to=TensorProto.FLOAT))
    del g.node[:]
    g.node.extend(nodes + post)
    return "_lf_out"


def _skl2onnx(est: Any, spec: _Spec, double: bool) -> tuple[Any, str]:
    """skl2onnx's graph of ``est`` (zipmap off), and its probabilities / prediction output."""
    _need("skl2onnx")
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    cls = spec.mode == CLASSIFICATION
    kind = DoubleTensorType if double else FloatTensorType
    proto = convert_sklearn(
        est,
        name=spec.name,
        initial_types=[("X", kind([None, spec.n_features]))],
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
        options={id(est): {"zipmap": False}} if cls else None,
    )
    return proto, proto.graph.output[1 if cls else 0].name


def sklearn_scaled(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """The kernlab-style SVMs (SVMFit) and mlp_sklearn (MLPFit): a scikit-learn estimator on
    standardised inputs (and, in regression, a standardised response)."""
    est = fitted.estimator
    if est is None:
        raise NotImplementedError(f"this {model.name!r} fit saw one class only: nothing to export")
    if spec.mode != CLASSIFICATION and model.name != "mlp_sklearn":
        from .graphs import svm_regression

        return svm_regression(fitted, spec)
    if getattr(fitted, "calibrator", None) is not None:
        est = fitted.calibrator
    double = model.name == "mlp_sklearn"  # skl2onnx's SVM operators are float32 only
    proto, out = _skl2onnx(est, spec, double)
    cls = spec.mode == CLASSIFICATION
    out = _splice(
        proto,
        out,
        center=fitted.center,
        scale=fitted.scale,
        y_scale=1.0 if cls else float(fitted.y_scale),
        y_center=0.0 if cls else float(fitted.y_center),
        double=double,
    )
    return proto, out, (np.asarray(est.classes_).astype(int) if cls else None)


def sklearn_boosting(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """adaboost and hist_gbm: the scikit-learn ensemble cut at the chosen iteration count."""
    est = copy.copy(fitted.est)
    count = int(sub.get(model.submodel[0], 0) or 0) if model.submodel else 0
    if hasattr(est, "estimator_weights_"):  # AdaBoost
        n = len(est.estimators_)
        if 0 < count < n:
            est.estimators_ = est.estimators_[:count]
            est.estimator_weights_ = est.estimator_weights_[:count]
            est.estimator_errors_ = est.estimator_errors_[:count]
            est.n_estimators = count
    elif hasattr(est, "_predictors"):  # HistGradientBoosting*
        if 0 < count < est.n_iter_:
            est._predictors = est._predictors[:count]  # n_iter_ is their count
            est.max_iter = count
        with _int_missing_tracks():
            return _convert_sklearn(est, spec)
    return _convert_sklearn(est, spec)


@contextmanager
def _int_missing_tracks() -> Iterator[None]:
    """skl2onnx 1.20 writes a Python bool into the integer attribute
    ``nodes_missing_value_tracks_true`` at histogram-tree leaves, which onnx refuses: pass it as
    an int for the duration of one conversion."""
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def add_node(*args: Any, nodes_missing_value_tracks_true: Any = 0, **kwargs: Any) -> Any:
        tracks = int(nodes_missing_value_tracks_true)
        return original(*args, nodes_missing_value_tracks_true=tracks, **kwargs)

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original


def xgb_tree(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """An XGBoost tree booster cut at the chosen round count, by onnxmltools."""
    _need("onnxmltools")
    from onnxmltools import convert_xgboost

    booster = fitted.est
    total = int(booster.num_boosted_rounds())
    count = int(sub.get("nrounds", total))
    if 0 < count < total:
        booster = booster[0:count]
    proto = convert_xgboost(
        booster,
        name=spec.name,
        initial_types=_float_input(spec.n_features, "onnxmltools.convert.common.data_types"),
        target_opset=LIGHTGBM_OPSET,
    )
    cls = spec.mode == CLASSIFICATION
    out = proto.graph.output[1 if cls else 0].name
    return proto, out, (np.arange(spec.n_classes) if cls else None)


def catboost(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """A CatBoost model cut at the chosen iteration count, by CatBoost's own ONNX export."""
    import onnx

    m = fitted.est
    count = int(sub.get("iterations", m.tree_count_))
    if 0 < count < m.tree_count_:
        m = m.copy()
        m.shrink(ntree_end=count)
    fd, path = tempfile.mkstemp(suffix=".onnx")
    os.close(fd)
    try:
        m.save_model(path, format="onnx", export_parameters={"onnx_domain": "ai.catboost"})
        proto = onnx.load(path)
    finally:
        os.remove(path)
    g = proto.graph
    cls = spec.mode == CLASSIFICATION
    out = g.output[-1 if cls else 0].name
    # the classifier's probabilities pass through a ZipMap (a sequence of maps): take its input
    zipmap = next((n for n in g.node if n.op_type == "ZipMap" and out in n.output), None)
    if zipmap is not None:
        out = zipmap.input[0]
        g.node.remove(zipmap)
    for o in list(g.output):  # free the contract's names ("probabilities", "prediction")
        _rename(g, o.name, f"_lf_catboost_{o.name}")
    out = out if zipmap is not None else f"_lf_catboost_{out}"
    proto.ir_version = max(int(proto.ir_version), 8)  # initializers need not be graph inputs
    return proto, out, (np.arange(spec.n_classes) if cls else None)
