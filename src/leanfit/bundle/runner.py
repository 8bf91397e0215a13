"""What computes a bundle's predictions from clean raw rows: an ONNX Runtime session (fed one
input per raw column, or the numeric model matrix "X"), or the Python fit itself (its final
model and pre-processing, loaded from skops / the engine's format)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..execute import Context, predict_group
from ..frame import Encoder, check_missing_rows
from ..models.base import CLASSIFICATION, Model

__all__ = ["OnnxRunner", "PythonRunner", "Runner"]

# (predictions, probabilities or None): class codes (n,) or values (n,); probabilities (n, K)
Output = tuple[np.ndarray, np.ndarray | None]


class Runner:
    """Predictions for clean rows (the schema's columns, as ``Schema.validate`` returns them)."""

    def run(self, clean: pd.DataFrame) -> Output:
        raise NotImplementedError


@dataclass
class OnnxRunner(Runner):
    """An ONNX Runtime session; its inputs say how to feed it: a single "X" (the encoded model
    matrix) or one input per raw column (numerics float64 or float32 [N, 1], factors string)."""

    session: Any
    encoder: Encoder
    mode: str
    classes: list[str] | None

    def __post_init__(self) -> None:
        names = [i.name for i in self.session.get_inputs()]
        self.raw = names != ["X"]
        if self.raw:
            missing = [c for c in self.encoder.columns if c not in names]
            if missing:
                raise ValueError(
                    f"the ONNX graph has inputs {names}, not 'X' nor one per raw column "
                    f"(missing {missing})"
                )
            self.kinds = {i.name: i.type for i in self.session.get_inputs()}
        self.outputs = [o.name for o in self.session.get_outputs()]

    def run(self, clean: pd.DataFrame) -> Output:
        if self.raw:
            feed = {}
            for col in self.encoder.columns:
                s = clean[col]
                if "string" in self.kinds[col]:
                    arr = np.array(["" if isinstance(v, float) else str(v) for v in s], object)
                    feed[col] = arr.reshape(-1, 1)
                else:
                    dtype = np.float64 if "double" in self.kinds[col] else np.float32
                    feed[col] = s.to_numpy(dtype=dtype).reshape(-1, 1)
        else:
            X = self.encoder.transform(clean)
            feed = {"X": np.ascontiguousarray(X, dtype=np.float32)}
        out = dict(zip(self.outputs, self.session.run(None, feed), strict=True))
        if self.mode != CLASSIFICATION:
            return np.asarray(out["prediction"], dtype=float).reshape(-1), None
        prob = np.asarray(out["probabilities"], dtype=float)
        if "label" in out and self.classes is not None:
            codes = {c: k for k, c in enumerate(self.classes)}
            pred = np.array([codes[str(v)] for v in np.asarray(out["label"]).reshape(-1)])
        else:
            pred = prob.argmax(axis=1)
        return pred, prob


@dataclass
class PythonRunner(Runner):
    """The fit's own final model and pre-processing, as ``TrainResult.predict`` runs them."""

    model: Model
    final_model: Any
    preprocess: Any
    encoder: Encoder
    sub: dict[str, Any]
    mode: str
    levels: tuple[str, ...]

    def run(self, clean: pd.DataFrame) -> Output:
        X = self.encoder.transform(clean)
        with warnings.catch_warnings():  # imputation of allowed missing values is expected
            warnings.simplefilter("ignore")
            check_missing_rows(
                self.encoder,
                X,
                takes_missing=self.model.takes_missing,
                preprocess=self.preprocess,
                who=f"method {self.model.name!r}",
            )
        probs = self.mode == CLASSIFICATION and self.model.probabilities
        ctx = Context(
            X=np.empty((0, X.shape[1])),
            y=np.empty(0),
            weights=None,
            mode=self.mode,
            levels=self.levels,
            columns=tuple(self.encoder.feature_names),
            model=self.model,
            preprocess=None,
            groups=(),
            class_probs=bool(probs),
        )
        pred, prob = predict_group(ctx, self.preprocess, self.final_model, X, [self.sub])
        return pred[0], (None if prob is None else prob[0])
