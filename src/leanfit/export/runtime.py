"""ONNX Runtime helpers: sessions, predictions, parity checks and latency on one thread.

Teacher and student are measured the same way (same runtime, same thread count, same rows), so
their size and latency can be compared honestly for distillation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .onnx import _need

if TYPE_CHECKING:
    import onnxruntime


def onnx_session(onnx_bytes: bytes, threads: int = 1) -> onnxruntime.InferenceSession:
    """An InferenceSession on the CPU with ``threads`` intra- and inter-op threads, sequential.

    A graph whose int8 tensors are all weights (every DequantizeLinear reads initializers, no
    QuantizeLinear: leanfit's weight-only int8) is opened with ONNX Runtime's QDQ handling off,
    so those DequantizeLinear nodes are constant-folded once at load: the file is int8, the
    computation float32 at float32 speed."""
    ort = _need("onnxruntime")
    onnx_bytes = bytes(onnx_bytes)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = int(threads)
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if weight_only_int8(onnx_bytes):
        opts.add_session_config_entry("session.disable_quant_qdq", "1")
    return ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])


def weight_only_int8(onnx_bytes: bytes) -> bool:
    """True for a graph with DequantizeLinear nodes that all read initializers and no
    QuantizeLinear node: quantized weights, float32 activations."""
    if b"DequantizeLinear" not in onnx_bytes:  # cheap test before parsing
        return False
    import onnx

    g = onnx.load_from_string(onnx_bytes).graph
    inits = {t.name for t in g.initializer}
    dq = [n for n in g.node if n.op_type == "DequantizeLinear"]
    quantizes = any(n.op_type in ("QuantizeLinear", "DynamicQuantizeLinear") for n in g.node)
    return bool(dq) and not quantizes and all(i in inits for n in dq for i in n.input if i)


def fast_runner(session: onnxruntime.InferenceSession) -> Callable[[dict[str, Any]], list[Any]]:
    """``feed -> outputs`` (numpy arrays, in the session's output order) through the session's
    own binding with the output names and run options made once: the same computation as
    ``session.run(None, feed)`` without its per-call checks of the feed (about 2.5 us of a
    7 us single-row call on a small network). The feed must hold C-contiguous arrays of the
    inputs' types; ``session.run`` is used where the binding is not at hand."""
    ort = _need("onnxruntime")
    names = [o.name for o in session.get_outputs()]
    inner = getattr(session, "_sess", None)
    if inner is None or not hasattr(inner, "run"):
        return lambda feed: list(session.run(names, feed))
    options = ort.RunOptions()
    run = inner.run

    def call(feed: dict[str, Any]) -> list[Any]:
        return list(run(names, feed, options))

    return call


def _as_float32(X: Any) -> np.ndarray:
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
    return X


def _session(obj: Any) -> onnxruntime.InferenceSession:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return onnx_session(bytes(obj))
    if hasattr(obj, "run") and hasattr(obj, "get_inputs"):
        return obj
    raise TypeError(f"expected ONNX bytes or an InferenceSession, got {type(obj).__name__}")


def onnx_predict(onnx_bytes_or_session: Any, X: Any) -> np.ndarray:
    """The graph's single output for rows X (cast to float32): probabilities or predictions."""
    sess = _session(onnx_bytes_or_session)
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: _as_float32(X)})[0]


@dataclass
class Parity:
    """How closely an ONNX graph reproduces leanfit's own predictions."""

    max_abs_diff: float
    label_agreement: float  # share of rows with the same argmax (NaN for regression)
    ok: bool


def check_parity(
    onnx_bytes: Any,
    reference: Any,
    X: Any,
    atol: float = 1e-4,
    *,
    rtol: float = 0.0,
    raise_on_failure: bool = True,
) -> Parity:
    """Compare the ONNX output on X with ``reference`` (leanfit's predict_proba or predictions).

    ``ok`` means every |onnx - reference| <= atol + rtol * |reference|; a failure raises a
    ValueError naming the largest difference unless ``raise_on_failure=False``.
    """
    ref = np.asarray(reference, dtype=float)
    got = np.asarray(onnx_predict(onnx_bytes, X), dtype=float)
    if ref.ndim == 2 and ref.shape[1] == 1 and got.ndim == 1:
        ref = ref[:, 0]
    if got.shape != ref.shape:
        raise ValueError(f"ONNX output has shape {got.shape}, the reference {ref.shape}")
    diff = np.abs(got - ref)
    both_nan = np.isnan(got) & np.isnan(ref)
    diff = np.where(both_nan, 0.0, diff)
    diff = np.where(np.isnan(diff), np.inf, diff)
    max_abs = float(diff.max()) if diff.size else 0.0
    ok = bool(np.all(diff <= atol + rtol * np.abs(np.nan_to_num(ref))))
    agree = (
        float(np.mean(got.argmax(axis=1) == ref.argmax(axis=1)))
        if got.ndim == 2 and len(got)
        else float("nan")
    )
    out = Parity(max_abs_diff=max_abs, label_agreement=agree, ok=ok)
    if not ok and raise_on_failure:
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        raise ValueError(
            f"ONNX output differs from the reference by up to {max_abs:.3g} (atol={atol:g}, "
            f"rtol={rtol:g}; worst at {tuple(int(i) for i in worst)}: onnx {got[worst]!r} vs "
            f"reference {ref[worst]!r}); argmax agreement {agree:.4f}"
        )
    return out


@dataclass
class Latency:
    """Size and ONNX Runtime speed of one graph (single-row latency and batch throughput)."""

    size_bytes: int
    single_p50_us: float
    single_p99_us: float
    batch_rows_per_s: float
    n_single: int
    batch_size: int


def measure_latency(
    onnx_bytes: bytes,
    X: Any,
    *,
    n_single: int = 10_000,
    warmup: int = 500,
    batch_size: int = 1024,
    batch_repeats: int = 20,
    threads: int = 1,
) -> Latency:
    """Time single-row calls (p50 / p99 over ``n_single``) and ``batch_size``-row batches.

    One session with ``threads`` threads; single rows cycle through X, pre-sliced so slicing is
    not timed, after ``warmup`` untimed calls; throughput is the median over ``batch_repeats``
    batches (X tiled when it has fewer rows). Calls go through ``fast_runner`` (no per-call feed
    checks), as the server calls its graphs. Wall-clock numbers: compare graphs measured on the
    same machine under the same load.
    """
    if n_single < 1 or batch_size < 1 or batch_repeats < 1:
        raise ValueError("n_single, batch_size and batch_repeats must be positive")
    X = _as_float32(X)
    if len(X) == 0:
        raise ValueError("X has no rows")
    sess = onnx_session(onnx_bytes, threads=threads)
    name = sess.get_inputs()[0].name
    rows = [{name: np.ascontiguousarray(X[i : i + 1])} for i in range(min(len(X), n_single))]
    run = fast_runner(sess)  # the lowest-overhead honest call: numpy in, numpy out
    for i in range(max(int(warmup), 0)):
        run(rows[i % len(rows)])
    clock = time.perf_counter_ns
    times = np.empty(int(n_single), dtype=np.int64)
    for i in range(int(n_single)):
        feed = rows[i % len(rows)]
        t0 = clock()
        run(feed)
        times[i] = clock() - t0
    reps = -(-batch_size // len(X))
    batch = {name: np.ascontiguousarray(np.tile(X, (reps, 1))[:batch_size])}
    run(batch)  # untimed warm-up of the batch shape
    rates = np.empty(int(batch_repeats))
    for r in range(int(batch_repeats)):
        t0 = clock()
        run(batch)
        rates[r] = batch_size / max((clock() - t0) * 1e-9, 1e-12)
    us = times / 1e3
    return Latency(
        size_bytes=len(onnx_bytes),
        single_p50_us=float(np.percentile(us, 50)),
        single_p99_us=float(np.percentile(us, 99)),
        batch_rows_per_s=float(np.median(rates)),
        n_single=int(n_single),
        batch_size=int(batch_size),
    )
