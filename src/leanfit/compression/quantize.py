"""int8 and fp16 forms of a network's ONNX graph, made by ONNX Runtime's own tools.

int8 dynamic (``quantize_dynamic``: weights int8, activations quantized per call), int8 static
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

QUANTIZE_TECHNIQUES = ("int8_dynamic", "int8_static", "fp16")
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


def int8_dynamic(base: Candidate) -> Candidate:
    """``base``'s graph with int8 weights, activations quantized on the fly (per call)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    assert base.onnx is not None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = _preprocessed(base.onnx, folder)
        dst = folder / "int8_dynamic.onnx"
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        graph = dst.read_bytes()
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
        graph = dst.read_bytes()
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
    return _onnx_candidate(base, "fp16", half.SerializeToString(), {"weights": "float16"})


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
            "int8_dynamic": lambda b: int8_dynamic(b),
            "int8_static": lambda b: int8_static(b, X_train, rows=calibration, seed=seed),
            "fp16": lambda b: fp16(b),
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
