"""Students: a small network trained on the teacher's soft outputs, or a shallow tree / linear
model regressing the teacher's logits (Buciluǎ et al.'s "mimic" regression; T and alpha do not
apply to those two)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import softmax

from leanfit.models.base import CLASSIFICATION, REGRESSION

STUDENTS = ("mlp", "tree", "linear")


@dataclass
class Student:
    """A fitted student on the model matrix: outputs are logits (n, K) or predictions (n,)."""

    kind: str
    mode: str
    n_classes: int
    n_inputs: int
    spec: dict[str, Any] | None = None  # build_mlp keyword arguments (mlp)
    state: dict[str, np.ndarray] | None = None  # Standardize + mlp (+ output affine) weights
    estimator: Any = None  # scikit-learn regressor (tree / linear)
    y_center: float = 0.0
    y_scale: float = 1.0
    history: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.mode == CLASSIFICATION else 1

    def network(self) -> Any:
        """The mlp as one torch module mapping raw float32 features to logits / predictions."""
        from leanfit.nn.network import inference_network

        if self.kind != "mlp":
            raise ValueError(f"a {self.kind} student has no network")
        assert self.spec is not None and self.state is not None  # an mlp student has both
        mlp = {k[2:]: v for k, v in self.state.items() if k.startswith("1.")}
        affine = (self.y_scale, self.y_center) if self.mode != CLASSIFICATION else None
        return inference_network(
            self.spec, mlp, self.state["0.center"], self.state["0.scale"], affine
        )

    def outputs(self, X: np.ndarray, chunk: int = 65_536) -> np.ndarray:
        """Logits (classification) or predictions (regression) for model-matrix rows."""
        X = np.asarray(X, dtype=np.float32)
        if self.kind == "mlp":
            import torch

            net = self.network()
            with torch.no_grad():
                parts = [
                    net(torch.from_numpy(np.ascontiguousarray(X[i : i + chunk]))).numpy()
                    for i in range(0, len(X), chunk)
                ]
            out = np.concatenate(parts) if parts else np.empty((0, self.n_outputs), np.float32)
            out = out.astype(float)
        else:
            out = np.asarray(self.estimator.predict(X), dtype=float)
            if self.mode != CLASSIFICATION:
                out = out * self.y_scale + self.y_center
        if self.mode != CLASSIFICATION:
            return out.reshape(-1)
        return out.reshape(len(X), self.n_classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.mode != CLASSIFICATION:
            raise ValueError("a regression student gives no class probabilities")
        return softmax(self.outputs(X), axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = self.outputs(X)
        return out.argmax(axis=1) if self.mode == CLASSIFICATION else out

    @property
    def n_parameters(self) -> int:
        """Trainable numbers: network weights, or tree nodes, or linear coefficients."""
        if self.kind == "mlp":
            assert self.state is not None  # an mlp student has its weights
            return int(sum(v.size for k, v in self.state.items() if not k.startswith("0.")))
        if self.kind == "tree":
            return int(self.estimator.tree_.node_count)
        ridge = self.estimator[-1]
        return int(ridge.coef_.size + np.size(ridge.intercept_))

    def to_onnx(self) -> bytes:
        """ONNX graph: input "X" float32 [N, p]; output "probabilities" or "prediction"."""
        if self.kind == "mlp":
            from leanfit.export import to_onnx

            return to_onnx(self.network(), n_features=self.n_inputs, mode=self.mode)
        return _sklearn_student_onnx(self)


def _sklearn_student_onnx(st: Student) -> bytes:
    """A tree / linear student's regressor, then softmax (classification) or de-scaling, under
    the export's own graph contract (export.onnx's conversion and _finalize)."""
    from onnx import TensorProto, helper

    from leanfit.export.onnx import _convert_sklearn, _finalize, _Spec

    proto, raw, _ = _convert_sklearn(st.estimator, _Spec(REGRESSION, st.n_inputs))
    graph = proto.graph
    classes = None
    if st.mode == CLASSIFICATION:
        graph.node.append(helper.make_node("Softmax", [raw], ["student_out"], axis=1))
        classes = np.arange(st.n_classes)
    else:
        graph.initializer.extend(
            [
                helper.make_tensor("y_scale", TensorProto.FLOAT, [], [st.y_scale]),
                helper.make_tensor("y_center", TensorProto.FLOAT, [], [st.y_center]),
            ]
        )
        graph.node.extend(
            [
                helper.make_node("Mul", [raw, "y_scale"], ["scaled"]),
                helper.make_node("Add", ["scaled", "y_center"], ["student_out"]),
            ]
        )
    spec = _Spec(st.mode, st.n_inputs, st.n_classes if st.mode == CLASSIFICATION else 0)
    return _finalize(proto, "student_out", spec, classes)


# -- fitting ---------------------------------------------------------------------------------


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    center = np.nanmean(X, axis=0)
    scale = np.nanstd(X, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return center.astype(np.float32), scale.astype(np.float32)


def fit_mlp_students(
    X: np.ndarray,
    labels: np.ndarray,
    teacher: np.ndarray,
    mode: str,
    n_classes: int,
    *,
    n_real: int,
    hidden: tuple[int, ...],
    activation: str,
    dropout: float,
    T: float,
    alpha: float,
    options: Any,
    seed: int,
    snapshot_epochs: tuple[int, ...] = (),
    progress: bool = False,
) -> list[Student]:
    """Train one mlp on a transfer set; one Student per snapshot epoch (or the final one).

    ``X``: transfer rows, the first ``n_real`` being the training rows (standardisation is
    fitted on those); ``labels``: class codes with -1 (or NaN targets) on synthetic rows;
    ``teacher``: the teacher's logits / predictions on every row.
    """
    import torch

    from leanfit.distillation.loss import distillation_loss
    from leanfit.nn.network import Standardize, seeded_mlp
    from leanfit.nn.training import train_network

    X = np.asarray(X, dtype=np.float32)
    p = X.shape[1]
    center, scale = _standardise(X[:n_real])
    y_center, y_scale = 0.0, 1.0
    if mode == CLASSIFICATION:
        targets = (np.asarray(labels, dtype=np.int64), np.asarray(teacher, dtype=np.float32))
        n_out = n_classes
    else:
        real = np.asarray(labels, dtype=float)[:n_real]
        y_center = float(np.nanmean(real))
        sd = float(np.nanstd(real))
        y_scale = sd if np.isfinite(sd) and sd > 0 else 1.0
        targets = (
            ((np.asarray(labels, dtype=float) - y_center) / y_scale).astype(np.float32),
            ((np.asarray(teacher, dtype=float) - y_center) / y_scale).astype(np.float32),
        )
        n_out = 1
    spec = {
        "n_inputs": p,
        "n_outputs": n_out,
        "hidden": tuple(int(h) for h in hidden),
        "activation": activation,
        "dropout": float(dropout),
    }
    net = torch.nn.Sequential(Standardize(center, scale), seeded_mlp(spec, seed))
    loss = distillation_loss(mode, T, alpha)
    epochs = tuple(sorted({int(e) for e in snapshot_epochs}))
    outcome = train_network(
        net, X, targets, loss, options, seed, snapshot_epochs=epochs, progress=progress
    )
    states = [outcome.snapshots[e] for e in epochs] if epochs else [_state(net)]
    info = {"best_epoch": outcome.best_epoch, "stopped": outcome.stopped}
    return [
        Student(
            "mlp",
            mode,
            n_classes,
            p,
            spec=spec,
            state=s,
            y_center=y_center,
            y_scale=y_scale,
            history=outcome.history,
            info=dict(info),
        )
        for s in states
    ]


def _state(net: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}


def fit_mimic_student(
    kind: str,
    X: np.ndarray,
    teacher: np.ndarray,
    mode: str,
    n_classes: int,
    *,
    max_depth: int = 8,
    min_samples_leaf: int = 5,
    l2: float = 1.0,
    seed: int = 0,
) -> Student:
    """A shallow regression tree or a ridge regression on the teacher's (row-centred) logits."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    X = np.asarray(X, dtype=np.float32)
    target = np.asarray(teacher, dtype=float)
    y_center, y_scale = 0.0, 1.0
    if mode == CLASSIFICATION:
        target = target - target.mean(axis=1, keepdims=True)
    else:
        y_center = float(target.mean())
        sd = float(target.std())
        y_scale = sd if sd > 0 else 1.0
        target = (target - y_center) / y_scale
    if kind == "tree":
        est = DecisionTreeRegressor(
            max_depth=int(max_depth), min_samples_leaf=int(min_samples_leaf), random_state=seed
        )
    elif kind == "linear":
        est = make_pipeline(StandardScaler(), Ridge(alpha=float(l2)))
    else:
        raise ValueError(f"student must be one of {list(STUDENTS)}, got {kind!r}")
    est.fit(X, target)
    return Student(
        kind, mode, n_classes, X.shape[1], estimator=est, y_center=y_center, y_scale=y_scale
    )
