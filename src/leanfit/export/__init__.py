"""Export fitted models to ONNX and measure them in ONNX Runtime (size, latency, parity).

The engines (onnx, onnxruntime, skl2onnx, onnxmltools, torch) load only when a function is called:
``pip install 'leanfit[onnx]'``.
"""

from .onnx import supported_methods, to_onnx
from .runtime import Latency, Parity, check_parity, measure_latency, onnx_predict, onnx_session

__all__ = [
    "Latency",
    "Parity",
    "check_parity",
    "measure_latency",
    "onnx_predict",
    "onnx_session",
    "supported_methods",
    "to_onnx",
]
