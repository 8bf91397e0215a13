"""An ensemble as ONE ONNX graph: every member's graph (``leanfit.export.to_onnx``) plus the
combiner (weighted Mul/Sum, a vote's ArgMax/OneHot mean, or the stacking meta-model's own graph
on the members' columns), so a shipped ensemble needs no Python.

Inputs are the members' shared ones: ``"X"`` (float32 ``[N, p]``, the numeric model matrix) or,
with ``raw_inputs=True``, one input per raw predictor column (numerics float32 ``[N, 1]``, factors
string ``[N, 1]``; ``double=True`` makes the numerics float64, as bundles feed them). Outputs:
``"probabilities"`` (float32 ``[N, K]``, the levels' order; with raw inputs also ``"label"``) or
``"prediction"`` (float32 ``[N]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..export import to_onnx
from ..export.pipeline import double_inputs
from .combine import Vote, Weighted
from .stack import Stacked

__all__ = ["ensemble_onnx"]

_MIN_OPSET = 13  # Unsqueeze with its axes as an input, ArgMax, OneHot, Sum
_P = "_lfe_"  # prefix of every tensor the ensemble adds or takes from a member


def _load(graph: bytes, prefix: str) -> Any:
    import onnx
    from onnx import compose

    return compose.add_prefix(onnx.load_from_string(bytes(graph)), prefix)


def _default_opset(model: Any) -> int:
    return max(
        (int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0
    )


def _to_opset(model: Any, target: int) -> Any:
    """A member graph at the ensemble's default-domain opset (converted, or re-declared when the
    converter cannot: the operators members use read the same at the newer opsets)."""
    if _default_opset(model) >= target:
        return model
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, target)
    except Exception:
        for o in model.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = target
        return model


def ensemble_onnx(
    ens: Any, *, raw_inputs: bool = False, double: bool = False, name: str = "leanfit_ensemble"
) -> bytes:
    """The EnsembleResult ``ens`` as one ONNX graph (see the module doc); refuses, naming the
    member, a member that does not export or whose class is not its most probable class."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    ho = ens.heldout
    names: tuple[str, ...] = tuple(ens.names)
    classification = bool(ho.classification)
    levels = list(ho.levels)
    k = len(levels)
    models = []
    for i, member in enumerate(names):
        fit = ens.members[member]
        if classification and not ho.has_prob[i] and not fit.model.classes_from_proba:
            raise NotImplementedError(
                f"cannot export the ensemble: member {member!r} ({fit.method}) gives no class "
                "probabilities and picks its class by its own rule, which a graph cannot take "
                "from its scores"
            )
        try:
            graph = to_onnx(fit, raw_inputs=True) if raw_inputs else to_onnx(fit)
            if raw_inputs:
                graph = double_inputs(graph)
        except (NotImplementedError, ValueError, TypeError) as e:
            raise type(e)(
                f"cannot export the ensemble: member {member!r} does not export: {e}"
            ) from e
        models.append(_load(graph, f"{_P}m{i}_"))
    meta = None
    if isinstance(ens.combiner, Stacked):
        try:
            meta = _load(to_onnx(ens.combiner.meta), f"{_P}meta_")
        except (NotImplementedError, ValueError, TypeError) as e:
            raise type(e)(
                f"cannot export the ensemble: its meta-model ({ens.combiner.meta.method}) does "
                f"not export: {e}"
            ) from e
    parts = models + ([meta] if meta is not None else [])
    opset = max([_MIN_OPSET, *(_default_opset(m) for m in parts)])
    parts = [_to_opset(m, opset) for m in parts]
    models, meta = parts[: len(models)], (parts[-1] if meta is not None else None)

    nodes: list[Any] = []
    inits: list[Any] = []
    count = [0]

    def fresh(hint: str) -> str:
        count[0] += 1
        return f"{_P}{hint}_{count[0]}"

    def const(value: Any, hint: str) -> str:
        nm = fresh(hint)
        inits.append(numpy_helper.from_array(np.asarray(value), nm))
        return nm

    def op(op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        out = fresh(hint)
        nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    # shared inputs, fed to every member's (prefixed) inputs
    first = ens.members[names[0]].dataset.encoder
    if raw_inputs:
        cats = dict(first.categorical)
        inputs = []
        shared = {}
        for col in first.columns:
            if col in cats:
                inputs.append(helper.make_tensor_value_info(col, TensorProto.STRING, ["N", 1]))
                shared[col] = col
            else:
                kind = TensorProto.DOUBLE if double else TensorProto.FLOAT
                inputs.append(helper.make_tensor_value_info(col, kind, ["N", 1]))
                shared[col] = op("Cast", [col], "in", to=TensorProto.DOUBLE)
    else:
        p = len(first.feature_names)
        inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", p])]
        shared = {"X": "X"}
    member_out = []
    out_name = "probabilities" if classification else "prediction"
    for i, m in enumerate(models):
        pre = f"{_P}m{i}_"
        for v in m.graph.input:
            nodes.append(helper.make_node("Identity", [shared[v.name[len(pre) :]]], [v.name]))
        nodes.extend(m.graph.node)
        inits.extend(m.graph.initializer)
        t = pre + out_name
        if classification and not ho.has_prob[i]:  # its predicted class as a 0/1 row
            t = _onehot(op, const, t, k)
        member_out.append(t)

    comb = ens.combiner
    if isinstance(comb, Weighted):
        terms = [
            op("Mul", [t, const(np.array(w, np.float32), "w")], "wt")
            for t, w in zip(member_out, comb.weights, strict=True)
            if w != 0
        ]
        result = op("Sum", terms, "avg") if len(terms) > 1 else terms[0]
    elif isinstance(comb, Vote):
        votes = [_onehot(op, const, t, k) for t in member_out]
        total = op("Sum", votes, "votes") if len(votes) > 1 else votes[0]
        result = op("Div", [total, const(np.array(len(votes), np.float32), "m")], "share")
    elif isinstance(comb, Stacked):
        assert meta is not None
        axes = const(np.array([1], np.int64), "axes")
        cols = []
        for t in member_out:
            if not classification:
                cols.append(op("Unsqueeze", [t, axes], "col"))
            elif k == 2:  # the first level's probability, as stack.features() lays it out
                cols.append(op("Gather", [t, const(np.array([0], np.int64), "lv0")], "col", axis=1))
            else:
                cols.append(t)
        X_meta = op("Concat", cols, "meta_x", axis=1) if len(cols) > 1 else cols[0]
        nodes.append(helper.make_node("Identity", [X_meta], [f"{_P}meta_X"]))
        nodes.extend(meta.graph.node)
        inits.extend(meta.graph.initializer)
        result = f"{_P}meta_{out_name}"
        if classification and not comb.meta.model.probabilities:
            result = _onehot(op, const, result, k)
    else:
        raise NotImplementedError(f"no ONNX graph for the combiner {type(comb).__name__}")

    outputs = []
    if classification:
        nodes.append(helper.make_node("Identity", [result], ["probabilities"]))
        outputs.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", k]))
        if raw_inputs:
            idx = op("ArgMax", ["probabilities"], "argmax", axis=1, keepdims=0)
            table = const(np.array([str(v) for v in levels], dtype=object), "levels")
            nodes.append(helper.make_node("Gather", [table, idx], ["label"], axis=0))
            outputs.insert(0, helper.make_tensor_value_info("label", TensorProto.STRING, ["N"]))
    else:
        nodes.append(helper.make_node("Identity", [result], ["prediction"]))
        outputs.append(helper.make_tensor_value_info("prediction", TensorProto.FLOAT, ["N"]))

    versions: dict[str, int] = {"": opset}
    for m in parts:
        for o in m.opset_import:
            if o.domain not in ("", "ai.onnx"):
                versions[o.domain] = max(versions.get(o.domain, 0), int(o.version))
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    full = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in versions.items()]
    )
    full.ir_version = max(int(m.ir_version) for m in parts)
    full.producer_name = "leanfit"
    onnx.checker.check_model(full)
    return bytes(full.SerializeToString())


def _onehot(op: Any, const: Any, t: str, k: int) -> str:
    """A [N, K] score tensor's most probable class (first on ties) as a float32 0/1 row."""
    idx = op("ArgMax", [t], "argmax", axis=1, keepdims=0)
    values = const(np.array([0.0, 1.0], np.float32), "onoff")
    return op("OneHot", [idx, const(np.array(k, np.int64), "k"), values], "onehot", axis=-1)
