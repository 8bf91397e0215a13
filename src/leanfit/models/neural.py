"""Neural networks: PyTorch multi-layer perceptrons (``mlp``) and scikit-learn's one-hidden-layer
perceptron (``mlp_sklearn``, caret's ``nnet``)."""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from leanfit.models.base import CLASSIFICATION, REGRESSION, Model, Param, TrainingData, expand_grid
from leanfit.models.kernel import _scale_response
from leanfit.models.space import integer, loguniform, uniform
from leanfit.models.svm import _standardise
from leanfit.nn import ACTIVATIONS, OPTIMIZERS, SCHEDULES


@dataclass
class MLPFit:
    """A fitted MLP with the standardisation it was trained under (picklable)."""

    estimator: Any  # MLPClassifier / MLPRegressor, None for a single class
    center: np.ndarray
    scale: np.ndarray
    mode: str
    n_classes: int = 0
    y_center: float = 0.0
    y_scale: float = 1.0
    constant_class: int | None = None

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float) - self.center) / self.scale


class MLPSklearn(Model):
    """One-hidden-layer perceptron (caret's ``nnet`` / ``mlpWeightDecay`` grids) on scikit-learn.

    ``size`` hidden units (logistic activation, as nnet) and ``decay``, scikit-learn's L2
    penalty ``alpha`` (scikit-learn divides it by the number of rows and leaves biases
    unpenalised, so equal values do not mean exactly nnet's decay). Trained with L-BFGS (nnet
    uses BFGS) for at most ``options["max_iter"]`` (300) iterations from a start drawn from the
    fit's seed. Predictors are standardised, and the response too in regression, because
    gradient training needs comparable scales. Epochs are not a sub-model. Softmax / logistic
    outputs give the class probabilities.
    """

    name: ClassVar[str] = "mlp_sklearn"
    option_names = ("max_iter",)
    label: ClassVar[str] = "Multi-Layer Perceptron (scikit-learn)"
    engine: ClassVar[str] = "sklearn"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    tags: ClassVar[tuple[str, ...]] = ("neural network", "L2 regularization")
    params: ClassVar[tuple[Param, ...]] = (
        Param("size", "int", 1, 1000, label="#Hidden Units"),
        Param("decay", "float", 0.0, 1e3, label="Weight Decay"),
    )
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (("size", True), ("decay", False))

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret's nnet grid: size = 1, 3, 5, ... and decay = 0, 10^seq(-1, -4, length - 1)."""
        decay = np.concatenate([[0.0], 10.0 ** np.linspace(-1.0, -4.0, max(length - 1, 0))])
        return expand_grid(size=2 * np.arange(1, length + 1) - 1, decay=decay)

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's nnet random search: size from 1..20, decay = 10^U(-5, 1)."""
        return pd.DataFrame(
            {"size": rng.integers(1, 21, length), "decay": 10.0 ** rng.uniform(-5.0, 1.0, length)}
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> MLPFit:
        """Standardise and train the network from a seeded start."""
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        Xs, center, scale = _standardise(data.X)
        kwargs = {
            "hidden_layer_sizes": (int(params["size"]),),
            "alpha": float(params["decay"]),
            "activation": "logistic",
            "solver": "lbfgs",
            "max_iter": int(self.options.get("max_iter", 300)),
            "random_state": int(seed) % 2**32,
        }
        if data.mode == REGRESSION:
            ys, y_center, y_scale = _scale_response(data.y)
            m = MLPRegressor(**kwargs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
                m.fit(Xs, ys)
            return MLPFit(m, center, scale, REGRESSION, 0, y_center, y_scale)
        y = np.asarray(data.y).astype(int)
        present = np.unique(y)
        if present.size < 2:
            fit = MLPFit(None, center, scale, CLASSIFICATION, data.n_classes)
            fit.constant_class = int(present[0])
            return fit
        m = MLPClassifier(**kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(Xs, y)
        return MLPFit(m, center, scale, CLASSIFICATION, data.n_classes)

    def predict(self, fitted: MLPFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Network output (regression) or the most probable class."""
        if fitted.mode == REGRESSION:
            pred = fitted.estimator.predict(fitted.transform(X)) * fitted.y_scale
            return np.tile(pred + fitted.y_center, (len(subs), 1))
        return self.predict_proba(fitted, X, subs).argmax(axis=2)

    def predict_proba(
        self, fitted: MLPFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Class probabilities in class-code order (absent classes get 0)."""
        if fitted.mode != CLASSIFICATION:
            raise NotImplementedError("mlp_sklearn gives no probabilities in regression")
        Xs = fitted.transform(X)
        proba = np.zeros((Xs.shape[0], fitted.n_classes))
        if fitted.estimator is None:
            proba[:, fitted.constant_class] = 1.0
        else:
            proba[:, fitted.estimator.classes_.astype(int)] = fitted.estimator.predict_proba(Xs)
        return np.tile(proba, (len(subs), 1, 1))


# -- PyTorch ----------------------------------------------------------------------------------
def _torch_modules() -> tuple[Any, Any]:
    """leanfit.nn's network and training modules (they import PyTorch, or raise saying how to
    install it)."""
    from leanfit.nn import network, training

    return network, training


@dataclass
class NetFit:
    """A fitted torch MLP, as numpy arrays (picklable, no PyTorch objects).

    ``states[i]`` holds the weights scoring ``epochs[i]`` (one per sub, in the fit's subs
    order); ``network(i)`` rebuilds it as a PyTorch module taking raw features.
    """

    spec: dict[str, Any]  # kwargs of leanfit.nn.network.build_mlp
    center: np.ndarray  # float32 predictor means
    scale: np.ndarray  # float32 predictor standard deviations (0 replaced by 1)
    mode: str
    n_classes: int
    y_center: float
    y_scale: float
    states: list[dict[str, np.ndarray]]
    history: pd.DataFrame
    best_epoch: int
    stopped: str = "epochs"
    epochs: list[int] = field(default_factory=list)
    num_threads: int = 1

    def network(self, i: int = -1) -> Any:
        """``Standardize`` + the MLP (+ the de-standardising affine map in regression) in eval
        mode on the CPU: raw float32 features to logits (classification) or predictions."""
        network, _ = _torch_modules()
        affine = (self.y_scale, self.y_center) if self.mode == REGRESSION else None
        return network.inference_network(self.spec, self.states[i], self.center, self.scale, affine)

    def index(self, subs: list[dict[str, Any]]) -> list[int]:
        """The state scoring each sub (by its ``epochs``; the last state when it has none)."""
        out = []
        for s in subs:
            if "epochs" not in s:
                out.append(len(self.states) - 1)
                continue
            e = int(s["epochs"])
            if e not in self.epochs:
                raise ValueError(f"this mlp fit scores epochs {sorted(set(self.epochs))}, not {e}")
            out.append(self.epochs.index(e))
        return out

    def outputs(self, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Network outputs (S, n, K logits or 1 prediction) as float64, in batches."""
        network, _ = _torch_modules()
        torch = network.torch
        X = np.ascontiguousarray(X, dtype=np.float32)
        threads = torch.get_num_threads()
        torch.set_num_threads(self.num_threads)
        try:
            res = []
            for i in self.index(subs):
                net = self.network(i)
                with torch.no_grad():
                    chunks = [
                        net(torch.from_numpy(X[lo : lo + 65536])).numpy()
                        for lo in range(0, len(X), 65536)
                    ]
                width = self.n_classes if self.mode == CLASSIFICATION else 1
                res.append(np.concatenate(chunks) if chunks else np.zeros((0, width)))
        finally:
            torch.set_num_threads(threads)
        return np.stack(res).astype(np.float64)


_MLP_OPTIONS = {
    "early_stopping": False,
    "validation_fraction": 0.1,
    "patience": 10,
    "momentum": 0.9,
    "device": "auto",
    "num_threads": 1,
    "hidden": None,
    "checkpoint_dir": None,
    "checkpoint_every": 1,
}
EPOCH_SCHEDULES = ("step", "cosine")  # schedules that depend on the total number of epochs


class MLP(Model):
    """Multi-layer perceptron on PyTorch (leanfit.nn): ``layers`` hidden layers of ``units``
    units (or ``options["hidden"]``, e.g. ``(64, 32)``), an ``activation``, ``dropout`` after
    each hidden layer, L1/L2 penalties on the weights, five optimisers, learning rate schedules
    and mini-batches of ``batch_size`` rows.

    Classification trains K logits with cross-entropy (binary too; a class absent from the
    fitting rows still gets a column, with a probability near 0); regression trains one
    output with squared error on the standardised response. Predictors are standardised with
    the fitting rows' mean and sd (sd 0 → 1). Sub-model: ``epochs``, one fit with the largest
    count scores every smaller one from snapshots of the weights (with the "step" and "cosine"
    schedules, which depend on the epoch count, one training per count). Deterministic for a
    seed on the CPU.

    ``options``: ``early_stopping`` (False; hold out ``validation_fraction`` = 0.1 of the rows,
    stop after ``patience`` = 10 epochs without a lower validation loss and keep the best
    epoch; ``epochs`` is then the maximum), ``momentum`` (0.9, sgd and rmsprop), ``device``
    ("auto": a GPU when PyTorch sees one), ``num_threads`` (1), ``hidden`` (layer sizes
    overriding units x layers), ``checkpoint_dir`` (a checkpoint file per fit, named from a
    hash of its parameters, seed and data, written every ``checkpoint_every`` = 1 epochs: an
    interrupted train() resumes every fit where it stopped).
    """

    name: ClassVar[str] = "mlp"
    option_names = tuple(_MLP_OPTIONS)
    label: ClassVar[str] = "Multi-Layer Perceptron"
    engine: ClassVar[str] = "torch"
    modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION, REGRESSION)
    tags: ClassVar[tuple[str, ...]] = (
        "neural network",
        "L1 regularization",
        "L2 regularization",
        "dropout",
        "early stopping",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("units", "int", 1, 4096, label="#Hidden Units per Layer"),
        Param("layers", "int", 1, 8, label="#Hidden Layers", default=1),
        Param("activation", "cat", choices=ACTIVATIONS, label="Activation", default="relu"),
        Param("dropout", "float", 0.0, 0.95, label="Dropout Rate", default=0.0),
        Param("l1", "float", 0.0, None, label="L1 Penalty", default=0.0),
        Param("l2", "float", 0.0, None, label="L2 Penalty"),
        Param("optimizer", "cat", choices=OPTIMIZERS, label="Optimizer", default="adam"),
        Param("lr", "float", 1e-6, 10.0, log=True, label="Learning Rate", default=1e-3),
        Param("schedule", "cat", choices=SCHEDULES, label="LR Schedule", default="constant"),
        Param("batch_size", "int", 1, 1_000_000, label="Batch Size", default=32),
        Param("epochs", "int", 1, 100_000, label="#Epochs"),
    )
    submodel: ClassVar[tuple[str, ...]] = ("epochs",)
    space = MappingProxyType(
        {
            "units": integer(8, 256, log=True),
            "layers": integer(1, 3),
            "dropout": uniform(0.0, 0.5),
            "l2": loguniform(1e-6, 1e-2),
            "lr": loguniform(1e-4, 1e-1),
            "epochs": integer(10, 200, log=True),
        }
    )
    complexity_order: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("units", True),
        ("layers", True),
        ("epochs", True),
        ("l2", False),
        ("dropout", False),
        ("l1", False),
    )

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """units 8, 16, 32, ... x l2 = 0, 10^seq(-4, -1, length - 1) x epochs 50, 100, ...;
        the other parameters at their defaults."""
        l2 = np.concatenate([[0.0], 10.0 ** np.linspace(-4.0, -1.0, max(length - 1, 0))])
        return expand_grid(
            units=[8 * 2**i for i in range(length)],
            l2=l2,
            epochs=[50 * i for i in range(1, length + 1)],
        )

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Log-uniform units (4..512), l1/l2 (half the l1 draws are 0) and epochs (10..500);
        learning rates log-uniform over a range suited to each optimiser."""
        optimizer = rng.choice(np.array(OPTIMIZERS, dtype=object), length)
        lr_range = {
            "sgd": (-3.0, -0.5),
            "adam": (-4.0, -2.0),
            "rmsprop": (-4.0, -2.0),
            "adagrad": (-3.0, -0.5),
            "adadelta": (-1.0, 0.5),
        }
        lr = np.array([10.0 ** rng.uniform(*lr_range[o]) for o in optimizer])
        n = max(len(data.y), 1)
        batch = np.minimum(2 ** rng.integers(4, 9, length), n)
        l1 = np.where(rng.random(length) < 0.5, 0.0, 10.0 ** rng.uniform(-6.0, -2.0, length))
        return pd.DataFrame(
            {
                "units": np.round(np.exp(rng.uniform(np.log(4), np.log(512), length))).astype(int),
                "layers": rng.integers(1, 4, length),
                "activation": rng.choice(np.array(ACTIVATIONS, dtype=object), length),
                "dropout": rng.uniform(0.0, 0.5, length),
                "l1": l1,
                "l2": 10.0 ** rng.uniform(-6.0, -1.0, length),
                "optimizer": optimizer,
                "lr": lr,
                "schedule": rng.choice(np.array(SCHEDULES, dtype=object), length),
                "batch_size": batch.astype(int),
                "epochs": np.round(np.exp(rng.uniform(np.log(10), np.log(500), length))).astype(
                    int
                ),
            }
        )

    def _options(self) -> dict[str, Any]:
        self.check_options()  # train() has already; a direct fit() call has not
        return {**_MLP_OPTIONS, **self.options}

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> NetFit:
        """Standardise, then train one network for the largest epoch count of ``subs``."""
        network, training = _torch_modules()
        o = self._options()
        Xs, center, scale = _standardise(data.X)
        Xs = np.ascontiguousarray(Xs, dtype=np.float32)
        y_center, y_scale = 0.0, 1.0
        targets: list[np.ndarray]
        if data.mode == CLASSIFICATION:
            targets = [np.asarray(data.y).astype(np.int64)]
            loss, n_out = training.named_loss("cross_entropy"), data.n_classes
        else:
            ys, y_center, y_scale = _scale_response(data.y)
            targets = [ys.astype(np.float32).reshape(-1, 1)]
            loss, n_out = training.named_loss("mse"), 1
        hidden = o["hidden"]
        if hidden is None:
            hidden = (int(params["units"]),) * int(params["layers"])
        spec = {
            "n_inputs": int(Xs.shape[1]),
            "n_outputs": int(n_out),
            "hidden": tuple(int(h) for h in hidden),
            "activation": str(params["activation"]),
            "dropout": float(params["dropout"]),
        }
        wanted = [int(s.get("epochs", params["epochs"])) for s in subs] or [int(params["epochs"])]
        counts = sorted(set(wanted))
        runs = counts if params["schedule"] in EPOCH_SCHEDULES else counts[-1:]
        base = {
            "optimizer": str(params["optimizer"]),
            "lr": float(params["lr"]),
            "momentum": float(o["momentum"]),
            "l1": float(params["l1"]),
            "l2": float(params["l2"]),
            "schedule": str(params["schedule"]),
            "batch_size": int(params["batch_size"]),
            "early_stopping": bool(o["early_stopping"]),
            "validation_fraction": float(o["validation_fraction"]),
            "patience": int(o["patience"]),
            "device": str(o["device"]),
            "num_threads": int(o["num_threads"]),
            "checkpoint_every": int(o["checkpoint_every"]),
        }
        by_epoch: dict[int, dict[str, np.ndarray]] = {}
        outcome = None
        data_digest = None if o["checkpoint_dir"] is None else training._digest(Xs, targets)
        for E in runs:
            snaps = [e for e in counts if e <= E] if len(runs) == 1 else [E]
            path = None
            if data_digest is not None:
                key = {"spec": spec, "options": base, "epochs": snaps, "seed": int(seed)}
                path = str(Path(o["checkpoint_dir"]) / f"mlp-{_fit_hash(key, data_digest)}.pt")
            options = training.TrainOptions(**base, epochs=E, checkpoint_path=path)
            net = network.seeded_mlp(spec, seed)
            outcome = training.train_network(
                net, Xs, targets, loss, options, seed, snapshot_epochs=snaps
            )
            by_epoch.update(outcome.snapshots)
        assert outcome is not None
        states = [by_epoch[e] for e in wanted]
        if data.mode == CLASSIFICATION:
            states = _mask_absent(states, spec, np.asarray(data.y).astype(int), data.n_classes)
        return NetFit(
            spec=spec,
            center=center.astype(np.float32),
            scale=scale.astype(np.float32),
            mode=data.mode,
            n_classes=int(data.n_classes) if data.mode == CLASSIFICATION else 0,
            y_center=y_center,
            y_scale=y_scale,
            states=states,
            history=outcome.history,
            best_epoch=outcome.best_epoch,
            stopped=outcome.stopped,
            epochs=wanted,
            num_threads=int(o["num_threads"]),
        )

    def predict(self, fitted: NetFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Network output (regression) or the most probable class."""
        if fitted.mode == REGRESSION:
            return fitted.outputs(X, subs)[:, :, 0]
        return self.predict_proba(fitted, X, subs).argmax(axis=2)

    def predict_proba(
        self, fitted: NetFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        """Softmax of the logits (in float64), in class-code order."""
        if fitted.mode != CLASSIFICATION:
            raise NotImplementedError("mlp gives no probabilities in regression")
        from scipy.special import softmax

        return softmax(fitted.outputs(X, subs), axis=2)

    def predict_raw(
        self, fitted: NetFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray | None:
        """The logits (classification), e.g. for a student distilled from this network."""
        return fitted.outputs(X, subs) if fitted.mode == CLASSIFICATION else None

    def describe_fit(self, fitted: NetFit) -> dict[str, Any]:
        """The epoch whose weights the network kept and why training stopped."""
        return {"best_epoch": int(fitted.best_epoch), "stopped": fitted.stopped}


_ABSENT_LOGIT = -1e4  # exp(-1e4) is 0 in float64: an absent class gets probability 0


def _mask_absent(
    states: list[dict[str, np.ndarray]], spec: dict[str, Any], y: np.ndarray, n_classes: int
) -> list[dict[str, np.ndarray]]:
    """Classes absent from the fitting rows get zero output weights and a bias of -1e4 (their
    maximum-likelihood probability, 0, which cross-entropy only approaches), in the network
    itself so that exported networks agree with predict_proba."""
    absent = np.setdiff1d(np.arange(n_classes), y)
    if absent.size == 0:
        return states
    last = 3 * len(spec["hidden"])  # the output Linear's index in build_mlp's Sequential
    out = []
    for st in states:
        st = dict(st)
        w, b = st[f"{last}.weight"].copy(), st[f"{last}.bias"].copy()
        w[absent], b[absent] = 0.0, _ABSENT_LOGIT
        st[f"{last}.weight"], st[f"{last}.bias"] = w, b
        out.append(st)
    return out


def _fit_hash(key: dict[str, Any], data_digest: str) -> str:
    """A checkpoint name: the fit's settings and seed, and the digest of its data."""
    text = json.dumps({**key, "data": data_digest}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
