"""ONNX export of fitted leanfit models and torch modules, under one graph contract.

Every exported graph has one input ``"X"`` (float32, ``[N, p]``, the numeric model matrix) and one
output: ``"probabilities"`` (float32, ``[N, K]``, columns in class-code order) for classifiers, or
``"prediction"`` (float32, ``[N]``) for regressors. Teachers (tree ensembles) and students (torch
networks) can then be compared in the same runtime (see ``leanfit.export.runtime``). The maintained
converters do the work: onnxmltools for LightGBM, skl2onnx for scikit-learn trees, the torch.export
based exporter (``torch.onnx.export(..., dynamo=True)``) for torch modules; ``engines`` adds
skl2onnx / onnxmltools / CatBoost conversions, ``graphs`` hand-built graphs for the linear,
discriminant, kernel and neighbour models. ``_CONVERTERS`` is the one table of what exports.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__

if TYPE_CHECKING:
    from ..models.base import Model

# Fixed opsets, per converter: the default ONNX domain for torch and scikit-learn graphs, the
# highest onnxmltools supports for LightGBM, and ai.onnx.ml for the tree-ensemble operators.
OPSET = 18
LIGHTGBM_OPSET = 15
ML_OPSET = 3
INSTALL_HINT = "pip install 'leanfit[onnx]'"
CLASSIFICATION = "classification"
REGRESSION = "regression"
# Sub-model parameters that count the members of a forest / bagging ensemble.
_TREE_COUNTS = ("n_trees", "n_estimators", "ntree", "n_bags", "num_trees")

# What each converter returns: the ONNX model, its output's name, and the class codes (or None).
_Converted = tuple[Any, str, np.ndarray | None]

__all__ = [
    "LIGHTGBM_OPSET",
    "ML_OPSET",
    "NOT_EXPORTABLE",
    "OPSET",
    "supported_methods",
    "to_onnx",
]


def _need(module: str) -> Any:
    """Import an optional export dependency, or fail with the install hint."""
    try:
        return import_module(module)
    except ImportError as e:
        raise ImportError(
            f"ONNX export and timing need the package {module.split('.')[0]!r}: {INSTALL_HINT}"
        ) from e


@dataclass(frozen=True)
class _Spec:
    """What the exported graph must compute: its task, width and class count."""

    mode: str
    n_features: int
    n_classes: int = 0
    name: str = "leanfit"


# -- entry point ------------------------------------------------------------------------------


def to_onnx(
    obj: Any,
    *,
    n_features: int | None = None,
    name: str = "leanfit",
    mode: str | None = None,
    raw_inputs: bool = False,
    sub: dict[str, Any] | None = None,
) -> bytes:
    """Serialise a fitted model as an ONNX graph: input "X" float32 [N, p], one output.

    ``obj`` is a TrainResult (its final model at the chosen sub-model), a ``torch.nn.Module``
    mapping float32 features to logits (classification; one logit means a binary sigmoid) or to
    predictions (regression; pass ``n_features`` and ``mode``), or a tuple
    ``(model, fitted, sub)`` of a leanfit Model (or method name), its fitted object and the
    sub-model dict. Classifiers output "probabilities" [N, K] in class-code order, regressors
    "prediction" [N]. Only the model is exported: pre-processing and factor encoding are not.

    ``raw_inputs=True`` (a TrainResult only) exports the whole pipeline instead: one input per
    raw predictor column, factor encoding and pre-processing inside the graph, outputs "label"
    and "probabilities" (or "prediction"); see ``leanfit.export.pipeline``.

    ``sub`` (a TrainResult only) exports the final model at other sub-model values than the
    chosen ones, e.g. ``{"n_trees": 50}``: its first 50 trees (what compression's fewer-trees
    candidates ship).
    """
    from ..tuning.result import TrainResult

    if mode is not None and mode not in (CLASSIFICATION, REGRESSION):
        raise ValueError(f"mode must be 'classification' or 'regression', got {mode!r}")
    if raw_inputs:
        from .pipeline import raw_inputs_onnx

        def model_graph(p: int, k: int) -> bytes:  # the fit's model on its p-column matrix
            spec = _Spec(obj.dataset.mode, p, k, name)
            return _export_fitted(obj.model, obj.final_model, {**obj._sub(), **(sub or {})}, spec)

        return raw_inputs_onnx(obj, model_graph, n_features=n_features, mode=mode, name=name)
    torch = sys.modules.get("torch")
    if sub is not None and not isinstance(obj, TrainResult):
        raise TypeError("to_onnx(sub=...) is for a TrainResult; the tuple form carries its sub")
    if isinstance(obj, TrainResult):
        model, fitted, chosen, spec = _from_result(obj, n_features, name)
        sub = {**chosen, **(sub or {})}
    elif torch is not None and isinstance(obj, torch.nn.Module):
        return _torch_to_onnx(obj, n_features, mode, name)
    elif isinstance(obj, tuple) and len(obj) == 3:
        model, fitted, sub = obj
        model = _as_model(model)
        spec = _infer_spec(model, fitted, n_features, name)
    else:
        raise TypeError(
            "to_onnx() takes a TrainResult, a torch.nn.Module or a (model, fitted, sub) tuple, "
            f"got {type(obj).__name__}"
        )
    if mode is not None and mode != spec.mode:
        raise ValueError(f"mode={mode!r} but the fitted model is a {spec.mode} model")
    return _export_fitted(model, fitted, dict(sub or {}), spec)


def supported_methods() -> list[str]:
    """The leanfit methods whose fitted models ``to_onnx`` converts."""
    return sorted({cls.name for cls in _handlers()} - set(NOT_EXPORTABLE))


# -- leanfit fits -----------------------------------------------------------------------------


_CONVERTERS = {
    "gbm": "_lightgbm",
    "lightgbm": "_lightgbm",
    "rf": "_sklearn_ensemble",
    "extra_trees": "_sklearn_ensemble",
    "treebag": "_sklearn_ensemble",
    "rpart": "_cart",
    "rpart2": "_cart",
    "mlp": "_network",
    "distill_mlp": "_network",
    # hand-built graphs (leanfit.export.graphs) and other converters (leanfit.export.engines)
    "lm": "graphs:affine",
    "glm": "graphs:affine",
    "glmnet": "graphs:affine",
    "multinom": "graphs:affine",
    "lasso": "graphs:affine",
    "enet": "graphs:affine",
    "lars": "graphs:affine",
    "lars2": "graphs:affine",
    "ridge": "graphs:affine",
    "pls": "graphs:affine",
    "pcr": "graphs:affine",
    "huber": "graphs:affine",
    "quantile_reg": "graphs:affine",
    "bayes_ridge": "graphs:affine",
    "xgb_linear": "graphs:affine",
    "pam": "graphs:affine",
    "lda": "graphs:discriminant",
    "qda": "graphs:discriminant",
    "rda": "graphs:discriminant",
    "naive_bayes": "graphs:naive_bayes",
    "nb": "graphs:naive_bayes",
    "gaussprocess": "graphs:gaussprocess",
    "kernel_ridge": "graphs:kernel_ridge",
    "knn": "graphs:knn",
    "svm_linear": "engines:sklearn_scaled",
    "svm_poly": "engines:sklearn_scaled",
    "svm_radial": "engines:sklearn_scaled",
    "svm_radial_cost": "engines:sklearn_scaled",
    "mlp_sklearn": "engines:sklearn_scaled",
    "adaboost": "engines:sklearn_boosting",
    "hist_gbm": "engines:sklearn_boosting",
    "xgb_tree": "engines:xgb_tree",
    "catboost": "engines:catboost",
}


# Registered methods with no ONNX graph, and why (a subclass of a supported method may be here).
NOT_EXPORTABLE = {
    "qrf": "a quantile forest predicts a weighted quantile of the training responses that share "
    "leaves with the row; ONNX's tree-ensemble operators only sum or average leaf values",
}


def _handlers() -> dict[type[Model], Any]:
    """Converter per registered model class (a subclass uses its parent's)."""
    from ..models.base import registry

    reg = registry()
    return {reg[m]: _converter(f) for m, f in _CONVERTERS.items() if m in reg}


def _converter(entry: str) -> Any:
    """A converter function: ``"name"`` here, or ``"module:name"`` in a sibling module."""
    if ":" not in entry:
        return globals()[entry]
    module, func = entry.split(":")
    return getattr(import_module(f"{__package__}.{module}"), func)


def _as_model(model: Any) -> Any:
    from ..models.base import Model, get_model

    if isinstance(model, str) or (isinstance(model, type) and issubclass(model, Model)):
        return get_model(model)
    if not isinstance(model, Model):
        raise TypeError(f"expected a leanfit Model or method name, got {type(model).__name__}")
    return model


def _from_result(
    res: Any, n_features: int | None, name: str
) -> tuple[Any, Any, dict[str, Any], _Spec]:
    """The final model of a TrainResult, refusing what ONNX would not reproduce."""
    if res.final_model is None:
        raise ValueError(f"the {res.method!r} result has no final model to export")
    if res.final_preprocess is not None:
        steps = list(getattr(res.final_preprocess, "steps", ()) or ())
        raise ValueError(
            f"cannot export the {res.method!r} result: it has a pre-processing step "
            f"(preprocess={steps}, fitted as final_preprocess) that ONNX export does not "
            "include; ONNX covers the model on the numeric model matrix only. Train without "
            "preprocess= (apply the transformation to the data yourself) to export."
        )
    cats = [c for c, _ in res.dataset.encoder.categorical]
    if cats:
        raise ValueError(
            f"cannot export the {res.method!r} result: its dataset encoder dummy-encodes the "
            f"factor column(s) {cats}, a step ONNX export does not include; ONNX covers the model "
            "on the numeric model matrix only. Encode the factors yourself and train on numbers."
        )
    p = len(res.dataset.encoder.feature_names)
    if n_features is not None and int(n_features) != p:
        raise ValueError(f"n_features={n_features} but the model was trained on {p} columns")
    spec = _Spec(res.dataset.mode, p, len(res.dataset.levels), name)
    return res.model, res.final_model, res._sub(), spec


def _infer_spec(model: Any, fitted: Any, n_features: int | None, name: str) -> _Spec:
    """Task, width and class count from a fitted object (for the tuple form)."""
    if hasattr(fitted, "model_to_string"):  # LightGBM booster
        obj = fitted.params.get("objective", "regression")
        mode = REGRESSION if obj == "regression" else CLASSIFICATION
        k = 2 if obj == "binary" else int(fitted.params.get("num_class", 0) or 0)
        p = int(fitted.num_feature())
    elif _students(fitted) or hasattr(fitted, "network"):  # distill_mlp's / mlp's networks
        first = _students(fitted)[0] if _students(fitted) else fitted
        mode, k = first.mode, int(first.n_classes)
        p = int(getattr(first, "n_inputs", 0) or first.spec["n_inputs"])
    elif hasattr(fitted, "est") and hasattr(fitted, "mode"):
        mode = fitted.mode
        if hasattr(fitted, "values"):  # CartFit
            k = fitted.values.shape[1] if mode == CLASSIFICATION else 0
        else:
            k = int(getattr(fitted, "n_classes", 0))
        p = int(fitted.est.n_features_in_)
    else:
        method = getattr(model, "name", "?")
        if method in supported_methods():
            raise NotImplementedError(
                f"the (model, fitted, sub) form cannot tell the task and width of a {method!r} "
                "fit (it covers LightGBM boosters, scikit-learn engine fits and networks): "
                "export the TrainResult, to_onnx(result)"
            )
        raise NotImplementedError(_unsupported(method))
    if n_features is not None and int(n_features) != p:
        raise ValueError(f"n_features={n_features} but the model was fitted on {p} columns")
    return _Spec(mode, p, k if mode == CLASSIFICATION else 0, name)


def _unsupported(method: str) -> str:
    return (
        f"ONNX export of method {method!r} is not supported; supported methods: "
        f"{', '.join(supported_methods())} (and torch.nn.Module networks)"
    )


def _export_fitted(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> bytes:
    if model.name in NOT_EXPORTABLE:
        raise NotImplementedError(
            f"ONNX export of method {model.name!r} is not supported: {NOT_EXPORTABLE[model.name]}"
        )
    handlers = _handlers()
    handler = next((handlers[c] for c in type(model).__mro__ if c in handlers), None)
    if handler is None:
        raise NotImplementedError(_unsupported(model.name))
    _need("onnx")
    made = handler(model, fitted, sub, spec)
    if isinstance(made, bytes):
        return made
    proto, out_name, classes = made
    return _finalize(proto, out_name, spec, classes)


def _students(fitted: Any) -> list[Any]:
    """distill_mlp's fit: a list of Students (one per sub); else empty."""
    if isinstance(fitted, list) and fitted and all(hasattr(s, "kind") for s in fitted):
        return fitted
    return []


def _network(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> bytes:
    """leanfit's torch networks (mlp, distill_mlp): standardisation and MLP as one module."""
    students = _students(fitted)
    if students:
        if len(students) != 1:
            raise ValueError(
                f"this {model.name!r} fit holds {len(students)} students (one per epoch count); "
                "export a TrainResult or a fit of one sub-model"
            )
        if students[0].kind != "mlp":
            raise NotImplementedError(
                f"a {students[0].kind!r} student is not exported; only network students are"
            )
        net = students[0].network()
    else:
        net = fitted.network(fitted.index([sub])[0])
    return _torch_to_onnx(net, spec.n_features, spec.mode, spec.name, spec.n_classes)


def _float_input(p: int, module: str) -> list[tuple[str, Any]]:
    types = _need(module)
    return [("X", types.FloatTensorType([None, p]))]


def _lightgbm(model: Any, booster: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """A LightGBM booster cut at the chosen iteration count, by onnxmltools."""
    import lightgbm as lgb

    _need("onnxmltools")
    from onnxmltools import convert_lightgbm

    objective = booster.params.get("objective")
    if objective not in ("binary", "multiclass", "regression"):
        raise NotImplementedError(f"LightGBM objective {objective!r} is not exported")
    if objective == "binary" and float(booster.params.get("sigmoid", 1.0)) != 1.0:
        raise NotImplementedError("a binary booster with sigmoid != 1 is not exported")
    per = booster.num_model_per_iteration()
    total = booster.num_trees() // per
    key = next((k for k in model.submodel if k in sub), None)
    n = total if key is None else max(min(int(sub[key]), total), 1)
    cut = lgb.Booster(model_str=booster.model_to_string(num_iteration=n))
    kw: dict[str, Any] = {"zipmap": False} if spec.mode == CLASSIFICATION else {}
    proto = convert_lightgbm(
        cut,
        name=spec.name,
        initial_types=_float_input(spec.n_features, "onnxmltools.convert.common.data_types"),
        target_opset=LIGHTGBM_OPSET,
        **kw,
    )
    out = proto.graph.output[1 if spec.mode == CLASSIFICATION else 0].name
    classes = np.arange(spec.n_classes) if spec.mode == CLASSIFICATION else None
    return proto, out, classes


def _sklearn_ensemble(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """A scikit-learn forest or bagging ensemble (its first n members for a tree-count sub)."""
    est = fitted.est
    key = next((k for k in model.submodel if k in sub and k in _TREE_COUNTS), None)
    if key is not None and int(sub[key]) < len(est.estimators_):
        n = max(int(sub[key]), 1)
        est = copy.copy(est)
        est.estimators_ = est.estimators_[:n]
        est.n_estimators = n
        if hasattr(est, "estimators_features_"):
            est.estimators_features_ = est.estimators_features_[:n]
    return _convert_sklearn(est, spec)


def _cart(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """leanfit's pruned CART as a scikit-learn tree holding only the nodes it keeps."""
    rep = model._reps(fitted, [sub])[0]
    est = copy.deepcopy(fitted.est)
    state = est.tree_.__getstate__()
    nodes, values = state["nodes"], state["values"]
    left, right = nodes["left_child"], nodes["right_child"]
    # A node whose children predict with an ancestor's value was pruned to a leaf (its own value
    # is its class distribution / mean: what the pruned tree predicts there).
    internal = left != -1
    cut = internal & (rep[np.where(internal, left, 0)] != left)
    keep = np.zeros(len(nodes), dtype=bool)
    keep[0] = True
    for i in range(len(nodes)):  # parents precede their children in scikit-learn's node ids
        if keep[i] and internal[i] and not cut[i]:
            keep[left[i]] = keep[right[i]] = True
    new_id = np.cumsum(keep) - 1
    out = nodes[keep].copy()
    leaf = (out["left_child"] == -1) | cut[keep]
    out["left_child"] = np.where(leaf, -1, new_id[np.where(leaf, 0, out["left_child"])])
    out["right_child"] = np.where(leaf, -1, new_id[np.where(leaf, 0, out["right_child"])])
    out["feature"][leaf] = -2
    out["threshold"][leaf] = -2.0
    state.update(nodes=out, values=np.ascontiguousarray(values[keep]), node_count=int(keep.sum()))
    est.tree_.__setstate__(state)
    return _convert_sklearn(est, spec)


def _convert_sklearn(est: Any, spec: _Spec) -> _Converted:
    """skl2onnx conversion, zipmap off; NaN routed as scikit-learn routes it."""
    _need("skl2onnx")
    from skl2onnx import convert_sklearn

    cls = spec.mode == CLASSIFICATION
    proto = convert_sklearn(
        est,
        name=spec.name,
        initial_types=_float_input(spec.n_features, "skl2onnx.common.data_types"),
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
        options={id(est): {"zipmap": False}} if cls else None,
    )
    _missing_like_sklearn(proto, est)
    out = proto.graph.output[1 if cls else 0].name
    return proto, out, (np.asarray(est.classes_).astype(int) if cls else None)


def _member_trees(est: Any) -> list[Any]:
    """The scikit-learn trees (``tree_`` objects) of a tree or tree ensemble."""
    if hasattr(est, "tree_"):
        return [est.tree_]
    return [t.tree_ for t in getattr(est, "estimators_", []) if hasattr(t, "tree_")]


def _missing_like_sklearn(proto: Any, est: Any) -> None:
    """Send NaN down the side scikit-learn does (its ``missing_go_to_left``) at every split.

    skl2onnx leaves ONNX's default (NaN fails the ``<=`` test: right). Converted trees are
    matched to scikit-learn's by node count and split thresholds (skl2onnx rounds those to
    float32), since bagging's members become separate operators in their own order.
    """
    known: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for tree in _member_trees(est):
        nodes = tree.__getstate__()["nodes"]
        if "missing_go_to_left" not in (nodes.dtype.names or ()):
            return
        branch = nodes["left_child"] != -1
        thresholds = nodes["threshold"][branch].astype(np.float32)
        known.setdefault(len(nodes), []).append((thresholds, nodes["missing_go_to_left"]))
    for node in proto.graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {a.name: a for a in node.attribute}
        if not {"nodes_treeids", "nodes_nodeids", "nodes_modes", "nodes_values"} <= set(attrs):
            continue
        tree_ids = np.asarray(attrs["nodes_treeids"].ints)
        node_ids = np.asarray(attrs["nodes_nodeids"].ints)
        branch = np.asarray(attrs["nodes_modes"].strings) != b"LEAF"
        values = np.asarray(attrs["nodes_values"].floats, dtype=np.float32)
        tracks = np.zeros(len(tree_ids), dtype=np.int64)
        for t in np.unique(tree_ids):
            at = np.flatnonzero(tree_ids == t)
            at = at[np.argsort(node_ids[at], kind="stable")]
            mine = values[at][branch[at]]
            pool = known.get(len(at), [])
            hit = next(
                (
                    i
                    for i, (thr, _) in enumerate(pool)
                    if thr.shape == mine.shape and np.allclose(thr, mine, rtol=1e-6, atol=1e-30)
                ),
                None,
            )
            if hit is None:
                return  # not trees we know: leave ONNX's default routing
            goes_left = pool.pop(hit)[1]
            tracks[at] = np.where(branch[at], goes_left[node_ids[at]], 0)
        if "nodes_missing_value_tracks_true" in attrs:
            del attrs["nodes_missing_value_tracks_true"].ints[:]
            attrs["nodes_missing_value_tracks_true"].ints.extend(tracks.tolist())
        else:
            from onnx import helper

            node.attribute.append(
                helper.make_attribute("nodes_missing_value_tracks_true", tracks.tolist())
            )


# -- torch ------------------------------------------------------------------------------------


def _torch_to_onnx(
    module: Any, n_features: int | None, mode: str | None, name: str, n_classes: int = 0
) -> bytes:
    """A torch network with a softmax (or sigmoid) head, by torch's torch.export exporter."""
    import logging
    import warnings

    import torch

    _need("onnx")
    _need("onnxscript")
    if n_features is None:
        raise ValueError("exporting a torch module needs n_features= (its input width)")
    if mode is None:
        raise ValueError("exporting a torch module needs mode='classification' or 'regression'")
    p = int(n_features)
    net = copy.deepcopy(module).float().cpu().eval()
    with torch.no_grad():
        z = net(torch.zeros(2, p))
    if not isinstance(z, torch.Tensor):
        raise TypeError("the torch module must return one tensor")
    if mode == CLASSIFICATION:
        if z.dim() != 2:
            raise ValueError(f"a classifier must return logits [N, K], got shape {tuple(z.shape)}")
        k = max(int(z.shape[1]), 2)
        if n_classes and k != n_classes:
            raise ValueError(f"the network gives {k} class columns, the model has {n_classes}")
    else:
        if not (z.dim() == 1 or (z.dim() == 2 and z.shape[1] == 1)):
            raise ValueError(
                f"a regressor must return [N] or [N, 1] predictions, got shape {tuple(z.shape)}"
            )
        k = 0

    class _Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            z = self.net(x)
            if mode == REGRESSION:
                return z if z.dim() == 1 else z[:, 0]
            if z.shape[1] == 1:
                p1 = torch.sigmoid(z)
                return torch.cat([1.0 - p1, p1], dim=1)
            return torch.softmax(z, dim=1)

    out = "probabilities" if mode == CLASSIFICATION else "prediction"
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "torchvision is not installed" and similar chatter
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                _Head().eval(),
                (torch.zeros(2, p),),
                dynamo=True,
                input_names=["X"],
                output_names=[out],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                opset_version=OPSET,
                optimize=True,
                verbose=False,
            )
    finally:
        logger.setLevel(level)
    assert program is not None  # the dynamo exporter returns its program
    spec = _Spec(mode, p, k, name)
    classes = np.arange(k) if mode == CLASSIFICATION else None
    return _finalize(program.model_proto, out, spec, classes)


# -- the common graph contract ----------------------------------------------------------------


def _finalize(proto: Any, out_name: str, spec: _Spec, classes: np.ndarray | None) -> bytes:
    """Rename to the contract (X -> probabilities / prediction), prune, strip, check."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = proto.graph
    if len(g.input) != 1:
        raise RuntimeError(f"expected one graph input, the converter made {len(g.input)}")
    _rename(g, g.input[0].name, "X")
    raw = "_leanfit_raw_output"
    _rename(g, out_name, raw)
    del g.output[:]
    target = "probabilities" if spec.mode == CLASSIFICATION else "prediction"
    cur = raw
    if spec.mode == CLASSIFICATION:
        k = spec.n_classes
        classes = np.asarray(classes, dtype=int)
        if len(classes) != k or not np.array_equal(classes, np.arange(k)):
            # Some classes were absent from the training rows: spread the engine's columns
            # over all K (zeros elsewhere), as leanfit's expand_proba does.
            spread = np.zeros((len(classes), k), dtype=np.float32)
            spread[np.arange(len(classes)), classes] = 1.0
            g.initializer.append(numpy_helper.from_array(spread, "_leanfit_spread"))
            g.node.append(helper.make_node("MatMul", [cur, "_leanfit_spread"], ["_leanfit_k"]))
            cur = "_leanfit_k"
        g.node.append(helper.make_node("Identity", [cur], [target]))
        g.output.append(helper.make_tensor_value_info(target, TensorProto.FLOAT, ["N", k]))
    else:
        g.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "_leanfit_flat"))
        g.node.append(helper.make_node("Reshape", [cur, "_leanfit_flat"], [target]))
        g.output.append(helper.make_tensor_value_info(target, TensorProto.FLOAT, ["N"]))
    _prune(g)
    _strip(proto)
    g.name = spec.name
    proto.producer_name, proto.producer_version = "leanfit", __version__
    _set_opsets(proto)
    del g.input[:]
    g.input.append(helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", spec.n_features]))
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def _rename(g: Any, old: str, new: str) -> None:
    """Rename a tensor everywhere in a graph (node inputs/outputs, graph inputs/outputs)."""
    if old == new:
        return
    for n in g.node:
        for seq in (n.input, n.output):
            for i, v in enumerate(seq):
                if v == old:
                    seq[i] = new
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.name == old:
            v.name = new


def _prune(g: Any) -> None:
    """Drop nodes and initializers the outputs do not need (e.g. the predicted-label branch)."""
    need = {o.name for o in g.output}
    keep = []
    for n in reversed(list(g.node)):
        if any(o in need for o in n.output):
            keep.append(n)
            need.update(i for i in n.input if i)
            for a in n.attribute:  # subgraphs (If/Loop/Scan) read outer tensors too
                for sub in [a.g, *a.graphs] if a.type in (5, 10) else []:
                    for sn in sub.node:
                        need.update(sn.input)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    inits = [t for t in g.initializer if t.name in need]
    del g.initializer[:]
    g.initializer.extend(inits)
    vis = [v for v in g.value_info if v.name in need]
    del g.value_info[:]
    g.value_info.extend(vis)


def _strip(proto: Any) -> None:
    """Remove doc strings and exporter metadata so the size is the model's size."""
    proto.doc_string = ""
    del proto.metadata_props[:]
    g = proto.graph
    g.doc_string = ""
    del g.metadata_props[:]
    del g.value_info[:]
    for n in g.node:
        n.doc_string = ""
        del n.metadata_props[:]
    for v in list(g.input) + list(g.output) + list(g.initializer):
        v.doc_string = ""
        del v.metadata_props[:]


def _set_opsets(proto: Any) -> None:
    """One import per domain (converters may repeat one), the default domain included."""
    versions: dict[str, int] = {}
    for o in proto.opset_import:
        versions[o.domain] = max(versions.get(o.domain, 0), int(o.version))
    versions.setdefault("", OPSET)
    del proto.opset_import[:]
    for domain, version in versions.items():
        op = proto.opset_import.add()
        op.domain, op.version = domain, version
