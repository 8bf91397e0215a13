"""Candidates that are ONNX graphs predict through one ONNX Runtime session on one thread, so
what is scored is exactly what would be shipped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def onnx_predictor(graph: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """A predict function over ``graph`` (input float32 model-matrix rows; output
    probabilities ``(n, K)`` or predictions ``(n,)``), its session opened on first use."""
    session: list[Any] = []

    def predict(X: np.ndarray) -> np.ndarray:
        from leanfit.export import onnx_predict, onnx_session

        if not session:
            session.append(onnx_session(graph, threads=1))
        out = np.asarray(onnx_predict(session[0], X))
        return out.reshape(-1) if out.ndim == 2 and out.shape[1] == 1 else out

    return predict
