"""int8 and fp16 forms of a network's ONNX graph, made by ONNX Runtime's own tools.

int8 weights (weight-only: each weight matrix int8 with one scale for the matrix, each bias
int8 with one scale, read by DequantizeLinear nodes that ONNX Runtime folds into float32 weights
when it opens the graph: an int8 file computing at float32 speed), int8 dynamic
(``quantize_dynamic``: weights int8, activations quantized per call), int8 static
(``quantize_static``: activation ranges calibrated beforehand on TRAINING rows, never on the
test rows that measure it) and fp16 (``onnxruntime.transformers.float16``, inputs and outputs
kept float32). Each is a new Candidate, measured like the others: int8 is often slower than
fp32 on small networks (onnxruntime#20052), so nothing here assumes it wins.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .candidate import Candidate

QUANTIZE_TECHNIQUES = ("int8_weights", "int8_dynamic", "int8_static", "fp16")
#: matrix operators that make a graph a network (tree ensembles use TreeEnsemble* instead)
_NETWORK_OPS = {"MatMul", "Gemm"}
CALIBRATION_ROWS = 1_000


def is_network_graph(onnx_bytes: bytes | None) -> bool:
    """True for a graph whose work is matrix products (a network) held in dense weights: the
    graphs int8 / fp16 quantization applies to. Tree ensembles, kernels and hand-built linear
    graphs are not, nor sparse-weight graphs (magnitude pruning's), which ONNX Runtime's
    quantizers cannot read."""
    if onnx_bytes is None:
        return False
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    if len(model.graph.sparse_initializer):
        return False
    ops = {n.op_type for n in model.graph.node}
    for fn in model.functions:
        ops |= {n.op_type for n in fn.node}
    return bool(ops & _NETWORK_OPS) and not any(op.startswith("TreeEnsemble") for op in ops)


def calibration_rows(X_train: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most ``n`` training rows (a seeded sample, in their order) to calibrate on."""
    X = np.asarray(X_train, dtype=np.float32)
    if len(X) > n:
        X = X[np.sort(np.random.default_rng(seed).choice(len(X), size=n, replace=False))]
    return np.ascontiguousarray(X)


class TrainingRowsReader:
    """ONNX Runtime's CalibrationDataReader over training rows, in batches; ``fed`` keeps every
    batch handed out, so what calibrated a graph can be checked."""

    def __init__(self, input_name: str, X: np.ndarray, batch: int = 64) -> None:
        self.input_name = input_name
        self.X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
        self.batch = int(batch)
        self.fed: list[np.ndarray] = []
        self._it: Iterator[dict[str, np.ndarray]] = self._batches()

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        for i in range(0, len(self.X), self.batch):
            part = self.X[i : i + self.batch]
            self.fed.append(part)
            yield {self.input_name: part}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = self._batches()


def _input_name(onnx_bytes: bytes) -> str:
    import onnx

    return str(onnx.load_from_string(onnx_bytes).graph.input[0].name)


def _onnx_candidate(
    base: Candidate, technique: str, graph: bytes, settings: dict[str, Any], note: str = ""
) -> Candidate:
    from .onnx_candidate import onnx_predictor

    return Candidate(
        name=f"{base.name} {technique}",
        technique=technique,
        predict=onnx_predictor(graph),
        size_bytes=len(graph),
        settings={**base.settings, **settings, "from": base.name},
        onnx=graph,
        note=note,
    )


def _preprocessed(onnx_bytes: bytes, folder: Path) -> Path:
    """The graph with shapes inferred and optimised (ONNX Runtime's recommended pre-processing
    before quantization); the graph itself when that step fails."""
    src = folder / "fp32.onnx"
    src.write_bytes(onnx_bytes)
    out = folder / "fp32_pre.onnx"
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        quant_pre_process(str(src), str(out), skip_symbolic_shape=True)
        return out
    except Exception:  # an optional optimisation: quantize the graph as it is
        return src


def compact(onnx_bytes: bytes) -> bytes:
    """The graph without what only costs bytes: shape annotations of intermediate values,
    node names, doc strings and the quantizer's metadata; every tensor that is not a graph
    input or output renamed to a short name ("v0", "v1", ...). The computation is unchanged.
    ONNX Runtime's quantizers name a 16 x 256 weight "W0_Transposed_quantized_zero_point" and
    annotate every value: on a small network that is several percent of the file."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    g = model.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output} | {""}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if name in keep:
            return name
        if name not in names:
            names[name] = f"v{len(names)}"
        return names[name]

    for t in g.initializer:
        t.name = short(t.name)
        t.doc_string = ""
    for n in g.node:
        n.name = ""
        n.doc_string = ""
        n.input[:] = [short(i) for i in n.input]
        n.output[:] = [short(o) for o in n.output]
    del g.value_info[:]
    del model.metadata_props[:]
    g.doc_string = ""
    model.doc_string = ""
    return bytes(model.SerializeToString())


def _int8(a: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 of ``a``: (codes, scales), one scale per slice along ``axis`` (None:
    one for the tensor), scale = max |a| / 127 (1 where the slice is all zero)."""
    a = np.asarray(a, dtype=np.float64)
    if axis is None:
        peak = np.array(np.abs(a).max() if a.size else 0.0)
    else:
        other = tuple(i for i in range(a.ndim) if i != axis)
        peak = np.abs(a).max(axis=other)
    scale = np.where(peak > 0, peak / 127.0, 1.0)
    shape = [1] * a.ndim
    if axis is not None:
        shape[axis] = -1
    codes = np.clip(np.rint(a / scale.reshape(shape)), -127, 127).astype(np.int8)
    return codes, scale.astype(np.float32)


def int8_weights_graph(onnx_bytes: bytes, per_neuron: bool = False) -> bytes:
    """``onnx_bytes`` with every float32 weight matrix of a Gemm / MatMul stored as int8 with
    one scale (``per_neuron``: one per output neuron, 4 bytes each, which on a small network
    costs a tenth of the int8 file), and every float32 bias of a Gemm as int8 with one scale,
    each read through a DequantizeLinear node; activations stay float32. Then
    :func:`compact`."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    uses: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    new_nodes: list[Any] = []
    new_inits: list[Any] = []
    gone: set[str] = set()
    for n in g.node:
        if n.op_type in ("Gemm", "MatMul"):
            trans_b = any(a.name == "transB" and a.i == 1 for a in n.attribute)
            slots = [(1, 0 if (n.op_type == "Gemm" and trans_b) else 1)]
            if n.op_type == "Gemm" and len(n.input) > 2:
                slots.append((2, -1))
            for pos, axis in slots:
                per_axis = per_neuron and pos == 1
                name = n.input[pos]
                t = inits.get(name)
                if t is None or t.data_type != onnx.TensorProto.FLOAT or uses.get(name) != 1:
                    continue
                a = numpy_helper.to_array(t)
                if a.ndim != (2 if pos == 1 else 1):
                    continue
                codes, scale = _int8(a, axis if per_axis else None)
                q, sc, out = f"{name}_q", f"{name}_s", f"{name}_dq"
                new_inits += [numpy_helper.from_array(codes, q), numpy_helper.from_array(scale, sc)]
                dq = helper.make_node("DequantizeLinear", [q, sc], [out])
                if per_axis:
                    dq.attribute.append(helper.make_attribute("axis", axis))
                new_nodes.append(dq)
                n.input[pos] = out
                gone.add(name)
        new_nodes.append(n)
    kept = [t for t in g.initializer if t.name not in gone]
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    del g.node[:]
    g.node.extend(new_nodes)
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx") and op.version < 13:
            op.version = 13  # per-axis DequantizeLinear
    return compact(model.SerializeToString())


def int8_weights(base: Candidate) -> Candidate:
    """``base``'s graph with int8 weights and biases, float32 activations (weight-only int8):
    about 4x smaller; leanfit's ONNX Runtime session folds the DequantizeLinear nodes at load,
    so it computes as fast as the float32 graph."""
    assert base.onnx is not None
    graph = int8_weights_graph(base.onnx)
    note = (
        "int8 weights and biases dequantized once when ONNX Runtime opens the graph "
        "(session config session.disable_quant_qdq=1, as leanfit's onnx_session sets it); "
        "a session without it dequantizes on every call"
    )
    return _onnx_candidate(
        base, "int8_weights", graph, {"weights": "int8 (a scale per tensor)"}, note
    )


def int8_dynamic(base: Candidate) -> Candidate:
    """``base``'s graph with int8 weights, activations quantized on the fly (per call)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    assert base.onnx is not None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = _preprocessed(base.onnx, folder)
        dst = folder / "int8_dynamic.onnx"
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        graph = compact(dst.read_bytes())
    return _onnx_candidate(base, "int8_dynamic", graph, {"weights": "int8"})


def int8_static(base: Candidate, X_train: np.ndarray, *, rows: int, seed: int) -> Candidate:
    """``base``'s graph with int8 weights and activations, the activation ranges calibrated on
    up to ``rows`` training rows (MinMax), QDQ format."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    assert base.onnx is not None
    X = calibration_rows(X_train, rows, seed)
    reader = TrainingRowsReader(_input_name(base.onnx), X)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = _preprocessed(base.onnx, folder)
        dst = folder / "int8_static.onnx"
        cwd = os.getcwd()
        os.chdir(folder)  # the calibrator writes its augmented graph to the working folder
        try:
            quantize_static(
                str(src),
                str(dst),
                reader,
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
        finally:
            os.chdir(cwd)
        graph = compact(dst.read_bytes())
    return _onnx_candidate(
        base, "int8_static", graph, {"weights": "int8", "calibration_rows": len(X)}
    )


def fp16(base: Candidate) -> Candidate:
    """``base``'s graph with float16 weights and computation, float32 inputs and outputs."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    assert base.onnx is not None
    model = onnx.load_from_string(base.onnx)
    half = convert_float_to_float16(model, keep_io_types=True)
    graph = compact(half.SerializeToString())
    return _onnx_candidate(base, "fp16", graph, {"weights": "float16"})


def quantized(
    bases: list[Candidate],
    X_train: np.ndarray,
    techniques: set[str],
    *,
    calibration: int = CALIBRATION_ROWS,
    seed: int = 0,
) -> list[Candidate]:
    """The requested int8 / fp16 forms of every network candidate in ``bases``; a form that
    ONNX Runtime cannot make or load is left out with a warning naming it, never hidden."""
    from leanfit.export import onnx_session

    out: list[Candidate] = []
    for base in bases:
        if not is_network_graph(base.onnx):
            continue
        makers = {
            "int8_weights": int8_weights,
            "int8_dynamic": int8_dynamic,
            "int8_static": lambda b: int8_static(b, X_train, rows=calibration, seed=seed),
            "fp16": fp16,
        }
        for technique in QUANTIZE_TECHNIQUES:
            if technique not in techniques:
                continue
            try:
                made = makers[technique](base)
                assert made.onnx is not None
                onnx_session(made.onnx, threads=1)  # a graph ONNX Runtime cannot load: left out
                out.append(made)
            except Exception as e:  # ONNX Runtime refused this graph: report, keep the others
                import warnings

                warnings.warn(
                    f"{technique} of {base.name!r} failed in ONNX Runtime "
                    f"({type(e).__name__}: {e}); that candidate is left out",
                    stacklevel=2,
                )
    return out
