"""ONNX export of a whole fit from the raw columns: factor encoding, pre-processing, model, labels.

``to_onnx(fit, raw_inputs=True)`` builds one graph with one input per raw predictor column,
named as the column: numeric columns float32 ``[N, 1]`` (NaN = missing), factor columns string
``[N, 1]`` (the empty string = missing). Inside the graph the dataset encoder's treatment coding
(first level dropped, a missing value makes every dummy of its factor NaN), the fitted
pre-processing steps (column filters, centering, scaling, range, median imputation, PCA, ICA,
spatial sign) and the model from ``to_onnx(fit)`` run in turn, the steps in float64 as leanfit
computes them. Outputs: classifiers ``"label"`` (string [N]) and ``"probabilities"`` (float32
[N, K], the fit's level order); regressors ``"prediction"`` (float32 [N]).

A level unseen in training is treated as missing inside the graph (leanfit's own predict refuses
it): callers validate rows against the training levels first, as the bundle's schema does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..models.base import CLASSIFICATION

__all__ = ["EXACT_STEPS", "double_inputs", "raw_inputs_onnx"]

#: Builds the fit's model graph on a p-column matrix with k classes (0 for regression): input
#: "X", output "probabilities" or "prediction" (``to_onnx``'s converters; passed in by onnx.py,
#: which this module does not import).
ModelGraph = Callable[[int, int], bytes]

#: Steps built as exact graph operations (everything else in PreProcess is refused by name).
EXACT_STEPS = (
    "zv",
    "nzv",
    "corr",
    "center",
    "scale",
    "range",
    "median_impute",
    "pca",
    "ica",
    "spatial_sign",
)
_WHY_NOT = {
    "box_cox": "its log / power transform is not reproduced within float rounding in ONNX",
    "yeo_johnson": "it needs expm1/log1p, which ONNX lacks (exp(x) - 1 loses the precision)",
    "expo_trans": "it needs expm1, which ONNX lacks (exp(x) - 1 loses the precision)",
    "knn_impute": "a nearest-neighbour search over the training rows is not built as a graph",
    "bag_impute": "its per-column bagged trees are not built as a graph",
    "dummy": "train() encodes factors itself; a PreProcess dummy step is not exported",
    "other": "regrouping a factor's dummy block (unseen levels to 'other') is not built as a graph",
    "target_encode": "its per-level encoding tables (and missing/unseen levels) are not built "
    "as a graph",
    "winsorize": "capping at the fitted quantiles is not built as a graph",
    "discretize": "its per-column bin edges are not built as a graph",
}
_OUTPUTS = ("label", "probabilities", "prediction")
_PREFIX = "_lfm_"  # the model graph's tensors, kept apart from the raw column names
_SPATIAL_EPS = float(np.finfo(np.float64).eps)  # as preprocess: rows with norm <= eps -> 0
_ML_DOMAIN = "ai.onnx.ml"
_MIN_OPSET = 9  # the default-domain opset the pre-processing operators need


@dataclass
class _Graph:
    """Nodes and initializers of the pre-processing part, with fresh tensor names."""

    nodes: list[Any] = field(default_factory=list)
    inits: list[Any] = field(default_factory=list)
    count: int = 0

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"_lfp_{hint}_{self.count}"

    def const(self, value: Any, hint: str) -> str:
        from onnx import numpy_helper

        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        from onnx import helper

        out = self.fresh(hint)
        domain = _ML_DOMAIN if op_type == "LabelEncoder" else ""
        self.nodes.append(helper.make_node(op_type, inputs, [out], domain=domain, **attrs))
        return out


def raw_inputs_onnx(
    obj: Any,
    model_graph: ModelGraph,
    *,
    n_features: int | None = None,
    mode: str | None = None,
    name: str = "leanfit",
) -> bytes:
    """``to_onnx(obj, raw_inputs=True)``: check the call, then build the whole-pipeline graph."""
    from ..tuning.result import TrainResult

    if not isinstance(obj, TrainResult):
        raise NotImplementedError(
            f"raw_inputs=True needs a TrainResult (it holds the raw columns' encoder and the "
            f"fitted pre-processing), got {type(obj).__name__}; export it without raw_inputs"
        )
    if n_features is not None:
        raise ValueError(
            "n_features= does not apply with raw_inputs=True: the graph takes one input per raw "
            f"predictor column ({len(obj.dataset.encoder.columns)} here)"
        )
    if mode is not None and mode != obj.dataset.mode:
        raise ValueError(f"mode={mode!r} but the fitted model is a {obj.dataset.mode} model")
    return _pipeline(obj, model_graph, name)


def double_inputs(onnx_bytes: bytes) -> bytes:
    """A raw-inputs graph with its numeric inputs made float64 instead of float32.

    float32 inputs round values that carry more digits, which can move a row across a split
    that leanfit (computing in float64) does not; double inputs reproduce leanfit's predictions
    on any float64 data. Each numeric input feeds only a cast to float64, so only its declared
    type changes.
    """
    import onnx
    from onnx import TensorProto

    proto = onnx.load_from_string(bytes(onnx_bytes))
    casts = {n.input[0] for n in proto.graph.node if n.op_type == "Cast"}
    for v in proto.graph.input:
        t = v.type.tensor_type
        if t.elem_type == TensorProto.FLOAT:
            if v.name not in casts or not _only_cast(proto.graph, v.name):
                raise ValueError(
                    f"input {v.name!r} does not feed a single cast: not a raw-inputs graph "
                    "made by to_onnx(fit, raw_inputs=True)"
                )
            t.elem_type = TensorProto.DOUBLE
    onnx.checker.check_model(proto)
    return bytes(proto.SerializeToString())


def _only_cast(graph: Any, name: str) -> bool:
    users = [n for n in graph.node if name in n.input]
    return len(users) == 1 and users[0].op_type == "Cast"


def _pipeline(res: Any, model_graph: ModelGraph, name: str) -> bytes:
    """The whole-pipeline graph of a checked TrainResult (see the module doc)."""
    import onnx
    from onnx import TensorProto, compose, helper

    enc, pp, (p, k) = _check(res)
    model = onnx.load_from_string(model_graph(p, k))
    default = max(
        (int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0
    )
    if default < _MIN_OPSET:  # IsNaN, Where and int64 Less came at opset 9
        from onnx import version_converter

        model = version_converter.convert_version(model, _MIN_OPSET)
    model = compose.add_prefix(model, _PREFIX)
    g = _Graph()
    x = _encode(g, enc)
    if pp is not None:
        x = _preprocess(g, pp, x)
    g.nodes.append(helper.make_node("Cast", [x], [_PREFIX + "X"], to=TensorProto.FLOAT))

    mg = model.graph
    outputs = []
    tail: list[Any] = []
    if res.dataset.mode == CLASSIFICATION:
        probs = _PREFIX + "probabilities"
        tail.append(helper.make_node("Identity", [probs], ["probabilities"]))
        levels = np.array([str(v) for v in res.dataset.levels], dtype=object)
        table = g.const(levels, "levels")
        idx = g.fresh("argmax")
        tail.append(helper.make_node("ArgMax", [probs], [idx], axis=1, keepdims=0))
        tail.append(helper.make_node("Gather", [table, idx], ["label"], axis=0))
        outputs = [
            helper.make_tensor_value_info("label", TensorProto.STRING, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", k]),
        ]
    else:
        tail.append(helper.make_node("Identity", [_PREFIX + "prediction"], ["prediction"]))
        outputs = [helper.make_tensor_value_info("prediction", TensorProto.FLOAT, ["N"])]
    inputs = [
        helper.make_tensor_value_info(
            col, TensorProto.STRING if col in dict(enc.categorical) else TensorProto.FLOAT, ["N", 1]
        )
        for col in enc.columns
    ]
    graph = helper.make_graph(
        [*g.nodes, *mg.node, *tail],
        name,
        inputs,
        outputs,
        initializer=[*g.inits, *mg.initializer],
    )
    full = helper.make_model(graph, opset_imports=list(model.opset_import))
    full.ir_version = model.ir_version
    full.producer_name, full.producer_version = model.producer_name, model.producer_version
    _need_ml_opset(full)
    onnx.checker.check_model(full)
    return bytes(full.SerializeToString())


def _check(res: Any) -> tuple[Any, Any, tuple[int, int]]:
    """The fit's encoder, pre-processing, and the model's input width and class count (0 for
    regression); refuse what the graph cannot reproduce, naming why."""
    if res.final_model is None:
        raise ValueError(f"the {res.method!r} result has no final model to export")
    enc = res.dataset.encoder
    mode = res.dataset.mode
    if enc.formula is not None:
        raise NotImplementedError(
            f"cannot export the {res.method!r} result with raw_inputs=True: its formula "
            f"'~ {enc.formula.rhs}' builds terms (poly, interactions, I(), C(), log...) that the "
            "graph does not express; export it without raw_inputs (the graph then takes the "
            "model matrix X, which the fit's encoder builds)"
        )
    clash = [c for c in enc.columns if c in _OUTPUTS or c.startswith(("_lfp_", _PREFIX))]
    if clash:
        raise NotImplementedError(
            f"cannot export the {res.method!r} result with raw_inputs=True: predictor column(s) "
            f"{clash} would share a name with the graph's outputs {list(_OUTPUTS)} or its "
            "internal tensors; rename the column(s) and train again"
        )
    for col, levels in enc.categorical:
        if "" in levels:
            raise NotImplementedError(
                f"cannot export the {res.method!r} result with raw_inputs=True: factor column "
                f"{col!r} has the empty string as a level, and the graph reads an empty string "
                "as a missing value; recode that level and train again"
            )
    if mode == CLASSIFICATION and not res.model.classes_from_proba:
        raise NotImplementedError(
            f"cannot export the {res.method!r} result with raw_inputs=True: method "
            f"{res.method!r} picks its class by its own rule, not as the most probable class, so "
            "a graph's label (the argmax of the probabilities) could differ from its predict()"
        )
    pp = res.final_preprocess
    p = len(enc.feature_names)
    if pp is not None:
        run = tuple(getattr(pp, "_run", pp.steps))
        bad = [s for s in run if s not in EXACT_STEPS]
        if getattr(pp, "levels_", None):
            bad = ["dummy", *[s for s in bad if s != "dummy"]]
        if bad:
            reasons = "; ".join(f"{s}: {_WHY_NOT.get(s, 'not built as a graph')}" for s in bad)
            raise NotImplementedError(
                f"cannot export the {res.method!r} result with raw_inputs=True: its "
                f"pre-processing step(s) {bad} cannot be built exactly in ONNX ({reasons}); "
                f"steps exported: {list(EXACT_STEPS)}"
            )
        p = len(pp.output_names_)
    return enc, pp, (p, len(res.dataset.levels) if mode == CLASSIFICATION else 0)


def _encode(g: _Graph, enc: Any) -> str:
    """The encoder's model matrix in float64 [N, p]: numbers as they are, factors as dummies."""
    from onnx import TensorProto

    cats = dict(enc.categorical)
    parts = []
    for col in enc.columns:
        if col not in cats:
            parts.append(g.op("Cast", [col], "num", to=TensorProto.DOUBLE))
            continue
        levels = list(cats[col])
        code = g.op(
            "LabelEncoder",
            [col],
            "code",
            keys_strings=levels,
            values_int64s=list(range(len(levels))),
            default_int64=-1,
        )
        wanted = g.const(np.arange(1, len(levels), dtype=np.int64)[None, :], "levels")
        hits = g.op("Equal", [code, wanted], "hit")
        dummies = g.op("Cast", [hits], "dummy", to=TensorProto.DOUBLE)
        missing = g.op("Less", [code, g.const(np.zeros((1, 1), np.int64), "zero")], "miss")
        nan = g.const(np.full((1, 1), np.nan), "nan")
        parts.append(g.op("Where", [missing, nan, dummies], "factor"))
    if len(parts) == 1:
        return parts[0]
    return g.op("Concat", parts, "matrix", axis=1)


def _row(values: Any) -> np.ndarray:
    """A per-column statistic as a float64 [1, p] constant."""
    return np.asarray(values, dtype=np.float64).reshape(1, -1)


def _preprocess(g: _Graph, pp: Any, x: str) -> str:
    """PreProcess.transform's steps, in its order, on the float64 matrix ``x``."""
    kept = np.asarray(pp.kept_, dtype=np.int64)
    if len(kept) != pp.n_features_in_ or not np.array_equal(kept, np.arange(len(kept))):
        x = g.op("Gather", [x, g.const(kept, "kept")], "kept", axis=1)
    if pp.center_ is not None:
        x = g.op("Sub", [x, g.const(_row(pp.center_), "center")], "centered")
    if pp.scale_ is not None:
        x = g.op("Div", [x, g.const(_row(pp.scale_), "scale")], "scaled")
    if pp.min_ is not None:
        lo_, hi_ = np.asarray(pp.min_, float), np.asarray(pp.max_, float)
        lo = np.where(np.isnan(lo_), 0.0, lo_)
        span = hi_ - lo_
        span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
        x = g.op("Sub", [x, g.const(_row(lo), "lo")], "shifted")
        x = g.op("Div", [x, g.const(_row(span), "span")], "ranged")
    if pp.median_ is not None:
        holes = g.op("IsNaN", [x], "holes")
        x = g.op("Where", [holes, g.const(_row(pp.median_), "median"), x], "imputed")
    if pp.rotation_ is not None:
        x = g.op("MatMul", [x, g.const(np.asarray(pp.rotation_, np.float64), "rotation")], "pcs")
    if pp.ica_unmixing_ is not None:
        x = g.op("Sub", [x, g.const(_row(pp.ica_mean_), "ica_mean")], "ica_centered")
        unmix = np.ascontiguousarray(np.asarray(pp.ica_unmixing_, np.float64).T)
        x = g.op("MatMul", [x, g.const(unmix, "unmixing")], "ics")
    if "spatial_sign" in getattr(pp, "_run", pp.steps):
        sq = g.op("Mul", [x, x], "square")
        zero = g.const(np.zeros((1, 1)), "zero")
        sq = g.op("Where", [g.op("IsNaN", [sq], "sq_nan"), zero, sq], "square_seen")
        # A product with a column of ones sums the rows (ReduceSum changed form at opset 13,
        # and the model graphs come at opsets from 9 up).
        ones = g.const(np.ones((len(pp.output_names_), 1)), "ones")
        norm = g.op("Sqrt", [g.op("MatMul", [sq, ones], "sumsq")], "norm")
        big = g.op("Greater", [norm, g.const(np.full((1, 1), _SPATIAL_EPS), "eps")], "big")
        signed = g.op("Div", [x, norm], "signed")
        x = g.op("Where", [big, signed, g.op("Mul", [x, zero], "zeroed")], "spatial")
    return x


def _need_ml_opset(proto: Any) -> None:
    """LabelEncoder's keys_strings / values_int64s need ai.onnx.ml version 2 or later."""
    uses = any(n.domain == _ML_DOMAIN for n in proto.graph.node)
    if not uses:
        return
    for o in proto.opset_import:
        if o.domain == _ML_DOMAIN:
            o.version = max(int(o.version), 2)
            return
    op = proto.opset_import.add()
    op.domain, op.version = _ML_DOMAIN, 2
