"""One compressed form of a model: what was done to it, what it weighs, and how it predicts.

Every compression (pruning, low-rank, quantization, fewer trees, compiled trees, a smaller
student) produces ``Candidate`` objects; ``measure`` scores all of them the same way, on the same
test rows, on one thread, so the accuracy-size-latency front compares like with like.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# What each technique is called in tables, plots and errors (the keys are Candidate.technique).
TECHNIQUES = {
    "original": "the uncompressed model",
    "prune": "structured pruning of whole neurons, then fine-tuning",
    "magnitude": "magnitude pruning (sparse weights)",
    "lowrank": "low-rank factorisation of dense layers (truncated SVD), then fine-tuning",
    "int8_weights": "int8 weights and biases, float32 activations (dequantized at load)",
    "int8_dynamic": "int8 quantization in ONNX Runtime, dynamic",
    "int8_static": "int8 quantization in ONNX Runtime, static (calibrated on training rows)",
    "fp16": "float16 weights",
    "fewer_trees": "the first trees only, chosen from the sub-model profile (no refit)",
    "compiled": "compiled tree prediction",
    "student": "a smaller network distilled from the model",
}


@dataclass
class Source:
    """What a compression starts from: the model and the rows it was fitted on.

    ``model`` is a ``TrainResult`` or a distilled student (``Distilled``). ``X_train`` holds the
    training rows as float32 model-matrix rows (the encoding ``Candidate.predict`` takes), used to
    fine-tune, calibrate static quantization or distil students, never to measure. ``y_train``
    holds class codes 0..K-1 (in ``levels`` order) or values; ``levels`` is None for regression.
    """

    model: Any
    X_train: np.ndarray
    y_train: np.ndarray
    levels: list[str] | None
    seed: int = 0

    @property
    def classification(self) -> bool:
        return self.levels is not None


@dataclass
class Candidate:
    """A compressed model ready to be measured.

    ``predict`` takes float32 rows of the original fit's model matrix (the data set's encoding,
    before the fit's own pre-processing, which a candidate applies itself where it needs it) and
    returns class probabilities ``(n, K)`` in the fit's level order, or predictions ``(n,)`` for
    regression. ``size_bytes`` is the size of what would be shipped (the ONNX graph, the
    compiled library, the engine's model file). ``onnx`` is the graph where the candidate is one,
    so the chosen model can be saved or bundled. ``origin`` holds what a later generator needs
    to compress the candidate further (a distilled student and its transfer set), else None.
    """

    name: str
    technique: str
    predict: Callable[[np.ndarray], np.ndarray]
    size_bytes: int
    settings: dict[str, Any] = field(default_factory=dict)
    onnx: bytes | None = None
    note: str = ""
    origin: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.technique not in TECHNIQUES:
            raise ValueError(
                f"Candidate technique {self.technique!r} is not one of {sorted(TECHNIQUES)}"
            )
        if self.size_bytes <= 0:
            raise ValueError(f"Candidate {self.name!r}: size_bytes must be positive")
