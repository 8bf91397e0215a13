"""PyTorch networks: the training core (leanfit.nn.training), its building blocks
(leanfit.nn.network) and the ``mlp`` model built on them."""

from __future__ import annotations

import importlib.util
import math
import pickle
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

import leanfit as lf  # noqa: E402
from leanfit.models.base import CLASSIFICATION, REGRESSION, TrainingData, get_model  # noqa: E402
from leanfit.models.neural import MLP, NetFit  # noqa: E402
from leanfit.nn import ACTIVATIONS, OPTIMIZERS, SCHEDULES  # noqa: E402
from leanfit.nn.network import (  # noqa: E402
    Standardize,
    build_mlp,
    count_parameters,
    resolve_device,
    seeded_mlp,
)
from leanfit.nn.training import (  # noqa: E402
    TrainingDiverged,
    TrainOptions,
    named_loss,
    train_network,
)
from leanfit.tuning.plan import normalize_grid  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CE = named_loss("cross_entropy")


def _problem(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy, non-linearly separated classes in 5 standardised features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1] + 0.5 * X[:, 2] + rng.normal(scale=0.3, size=n)) > 0).astype(np.int64)
    return X, y


SPEC = {"n_inputs": 5, "n_outputs": 2, "hidden": (16,), "activation": "tanh"}


def _opts(**kw) -> TrainOptions:
    base = {"device": "cpu", "batch_size": 32, "epochs": 10, "lr": 0.01}
    return TrainOptions(**{**base, **kw})


def _state(net) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# -- building blocks -------------------------------------------------------------------------
def test_build_mlp_layout_and_validation():
    net = build_mlp(4, 3, (8, 6), "gelu", 0.2)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "GELU", "Dropout", "Linear", "GELU", "Dropout", "Linear"]
    assert count_parameters(net) == (4 * 8 + 8) + (8 * 6 + 6) + (6 * 3 + 3)
    assert len(build_mlp(4, 1, ())) == 1  # no hidden layer: a linear model
    for act in ACTIVATIONS:
        assert build_mlp(2, 2, (3,), act)(torch.zeros(1, 2)).shape == (1, 2)
    with pytest.raises(ValueError, match="activation='swish'.*relu"):
        build_mlp(4, 2, (8,), activation="swish")
    with pytest.raises(ValueError, match="dropout=1.0"):
        build_mlp(4, 2, (8,), dropout=1.0)
    with pytest.raises(ValueError, match=r"hidden\[1\]=0"):
        build_mlp(4, 2, (8, 0))
    with pytest.raises(ValueError, match="n_inputs=0"):
        build_mlp(0, 2, (8,))


def test_devices_and_standardize():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device='tpu'.*auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda:1'.*not available"):
            resolve_device("cuda:1")
    st = Standardize(np.array([1.0, 2.0]), np.array([2.0, 4.0]))
    out = st(torch.tensor([[3.0, 10.0]]))
    np.testing.assert_allclose(out.numpy(), [[1.0, 2.0]])
    assert st.center.dtype == torch.float32 and "scale" in st.state_dict()
    with pytest.raises(ValueError, match="nonzero"):
        Standardize(np.zeros(2), np.array([1.0, 0.0]))


# -- options ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field_, value",
    [
        ("optimizer", "lbfgs"),
        ("lr", 0.0),
        ("lr", float("nan")),
        ("momentum", 1.5),
        ("l1", -1.0),
        ("l2", float("inf")),
        ("schedule", "linear"),
        ("batch_size", 0),
        ("batch_size", 2.5),
        ("epochs", 0),
        ("early_stopping", "yes"),
        ("validation_fraction", 1.0),
        ("patience", 0),
        ("device", "gpu"),
        ("num_threads", 0),
        ("checkpoint_every", 0),
        ("checkpoint_path", 3),
    ],
)
def test_bad_train_options_name_field_and_value(field_, value):
    opts = TrainOptions(**{field_: value})
    with pytest.raises(ValueError, match=rf"TrainOptions\.{field_}={value!r}".replace("(", r"\(")):
        opts.check()
    X, y = _problem(20)
    with pytest.raises(ValueError, match=field_):
        train_network(build_mlp(5, 2, (4,)), X, [y], CE, opts, 0)


def test_default_options_are_valid():
    TrainOptions().check()


# -- training --------------------------------------------------------------------------------
LR = {"sgd": 0.05, "adam": 0.01, "rmsprop": 0.003, "adagrad": 0.05, "adadelta": 1.0}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_lowers_the_loss(optimizer):
    X, y = _problem()
    net = seeded_mlp(SPEC, 1)
    opts = _opts(optimizer=optimizer, lr=LR[optimizer], epochs=20)
    out = train_network(net, X, [y], CE, opts, 1)
    h = out.history
    assert list(h.columns) == ["epoch", "train_loss", "val_loss", "lr", "seconds"]
    assert h["epoch"].tolist() == list(range(1, 21)) and h["val_loss"].isna().all()
    assert h["train_loss"].iloc[-1] < 0.85 * h["train_loss"].iloc[0]
    assert out.best_epoch == 20 and out.stopped == "epochs" and out.resumed_from == 0
    assert not net.training  # left in eval mode


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_schedule_lowers_the_loss_and_sets_the_rate(schedule):
    X, y = _problem()
    net = seeded_mlp(SPEC, 2)
    out = train_network(net, X, [y], CE, _opts(schedule=schedule, epochs=12), 2)
    h = out.history
    assert h["train_loss"].iloc[-1] < 0.85 * h["train_loss"].iloc[0]
    lr = h["lr"].to_numpy()
    assert lr[0] == pytest.approx(0.01)
    if schedule == "constant":
        np.testing.assert_allclose(lr, 0.01)
    elif schedule == "step":  # halved every 12 // 4 = 3 epochs
        np.testing.assert_allclose(lr, 0.01 * 0.5 ** (np.arange(12) // 3))
    elif schedule == "exponential":
        np.testing.assert_allclose(lr, 0.01 * 0.97 ** np.arange(12), rtol=1e-6)
    elif schedule == "cosine":
        np.testing.assert_allclose(lr, 0.005 * (1 + np.cos(np.pi * np.arange(12) / 12)), rtol=1e-6)
    else:
        assert (np.diff(lr) <= 0).all()


def test_penalties_shrink_the_weights():
    X, y = _problem()
    norms = {}
    for name, kw in {"none": {}, "l1": {"l1": 0.01}, "l2": {"l2": 0.01}}.items():
        net = seeded_mlp(SPEC, 3)
        train_network(net, X, [y], CE, _opts(epochs=30, **kw), 3)
        norms[name] = sum(float(p.detach().abs().sum()) for p in net.parameters() if p.ndim == 2)
    assert norms["l1"] < 0.8 * norms["none"] and norms["l2"] < 0.8 * norms["none"]


def test_seed_determinism_and_global_rng_untouched():
    X, y = _problem()
    spec = {**SPEC, "dropout": 0.3}
    before = torch.get_rng_state().clone()
    threads = torch.get_num_threads()
    states = []
    for seed in (5, 5, 6):
        net = seeded_mlp(spec, seed)
        train_network(net, X, [y], CE, _opts(num_threads=1), seed)
        states.append(_state(net))
    assert _same(states[0], states[1])
    assert not _same(states[0], states[2])
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.get_num_threads() == threads


def test_targets_of_several_arrays_and_kinds():
    """A distillation-style loss: labels (int) and soft targets (float) sliced together."""
    X, y = _problem()
    soft = np.eye(2, dtype=np.float64)[y] * 0.8 + 0.1
    seen = []

    def loss(out, t):
        seen.append((t[0].dtype, t[1].dtype, len(t[0]) == len(t[1]) == len(out)))
        log_p = torch.log_softmax(out, dim=1)
        return 0.5 * torch.nn.functional.nll_loss(log_p, t[0]) - 0.5 * (t[1] * log_p).sum(1).mean()

    out = train_network(seeded_mlp(SPEC, 0), X, [y, soft], loss, _opts(epochs=3), 0)
    assert set(seen) == {(torch.int64, torch.float32, True)}
    assert len(out.history) == 3
    with pytest.raises(ValueError, match=r"targets\[1\] has shape \(5, 2\) but X has 120 rows"):
        train_network(seeded_mlp(SPEC, 0), X, [y, soft[:5]], loss, _opts(), 0)


def test_snapshots_equal_shorter_runs():
    X, y = _problem()
    net = seeded_mlp({**SPEC, "dropout": 0.2}, 4)
    out = train_network(net, X, [y], CE, _opts(epochs=8), 4, snapshot_epochs=[3, 8, 20])
    assert sorted(out.snapshots) == [3, 8, 20]
    assert _same(out.snapshots[8], _state(net)) and _same(out.snapshots[20], _state(net))
    short = seeded_mlp({**SPEC, "dropout": 0.2}, 4)
    train_network(short, X, [y], CE, _opts(epochs=3), 4)
    assert _same(out.snapshots[3], _state(short))
    assert all(v.dtype == np.float32 for v in out.snapshots[3].values())


# -- early stopping --------------------------------------------------------------------------
def test_early_stopping_restores_the_best_epoch():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 20)).astype(np.float32)
    y = (X[:, 0] + rng.normal(scale=1.5, size=60) > 0).astype(np.int64)  # noisy: over-fits
    Xv = rng.normal(size=(200, 20)).astype(np.float32)
    yv = (Xv[:, 0] + rng.normal(scale=1.5, size=200) > 0).astype(np.int64)
    spec = {"n_inputs": 20, "n_outputs": 2, "hidden": (64, 64)}
    net = seeded_mlp(spec, 0)
    opts = _opts(epochs=300, lr=0.01, batch_size=16, early_stopping=True, patience=8)
    out = train_network(net, X, [y], CE, opts, 0, validation=(Xv, [yv]))
    h = out.history.set_index("epoch")
    assert out.stopped == "early_stopping" and len(h) == out.best_epoch + 8 < 300
    assert out.best_epoch == h["val_loss"].idxmin()
    later = h.loc[out.best_epoch + 1 :, "val_loss"]
    assert len(later) == 8 and (later > h.loc[out.best_epoch, "val_loss"]).all()
    with torch.no_grad():
        val = float(CE(net(torch.from_numpy(Xv)), (torch.from_numpy(yv),)))
    assert val == pytest.approx(h.loc[out.best_epoch, "val_loss"], rel=1e-5)
    # without a validation set, a seeded tenth of the rows is held out
    net2 = seeded_mlp(spec, 0)
    out2 = train_network(net2, X, [y], CE, opts, 0)
    assert out2.history["val_loss"].notna().all()


# -- divergence ------------------------------------------------------------------------------
def test_a_huge_learning_rate_raises_training_diverged():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(120, 5)) * 1000).astype(np.float32)  # unscaled inputs and targets
    y = X.sum(axis=1, keepdims=True) * 10
    spec = {"n_inputs": 5, "n_outputs": 1, "hidden": (16,)}
    net = seeded_mlp(spec, 0)
    initial = _state(net)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch \d+.*learning rate.*unscaled"):
        train_network(net, X, [y], named_loss("mse"), _opts(optimizer="sgd", lr=1e6), 0)
    assert _same(_state(net), initial)  # the last good weights: the initial ones


def test_a_nan_loss_leaves_the_last_good_weights():
    X, y = _problem()  # 120 rows, batches of 32: 4 per epoch
    calls = []

    def loss(out, t):
        calls.append(1)
        value = CE(out, t)
        return value * math.nan if len(calls) == 10 else value  # epoch 3, batch 2

    net = seeded_mlp(SPEC, 0)
    with pytest.raises(TrainingDiverged, match="epoch 3, batch 2.*weights of epoch 2") as exc:
        train_network(net, X, [y], loss, _opts(), 0)
    assert (exc.value.epoch, exc.value.last_good_epoch, exc.value.batch) == (3, 2, 2)
    ref = seeded_mlp(SPEC, 0)
    train_network(ref, X, [y], CE, _opts(epochs=2), 0)
    assert _same(_state(net), _state(ref))


# -- checkpoints -----------------------------------------------------------------------------
_CHILD = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_nn import _problem, _opts, CE
from leanfit.nn.network import seeded_mlp
from leanfit.nn.training import train_network
X, y = _problem()
calls = []
def loss(out, t):
    calls.append(1)
    if len(calls) == 3 * 4 + 2:  # epoch 4, batch 2: epoch 3's checkpoint is on disk
        os.kill(os.getpid(), signal.SIGKILL)
    return CE(out, t)
train_network(seeded_mlp({spec!r}, 9), X, [y], loss, _opts(**{opts!r}), 9, snapshot_epochs=[2, 6])
"""


def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    ck = tmp_path / "ck" / "run.pt"
    kw = {"epochs": 6, "schedule": "plateau", "checkpoint_path": str(ck)}
    spec = {**SPEC, "dropout": 0.25}  # dropout: the random state must resume too
    code = _CHILD.format(tests=str(ROOT / "tests"), spec=spec, opts=kw)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    saved = torch.load(ck, weights_only=True)
    assert saved["epoch"] == 3 and [p.name for p in ck.parent.iterdir()] == ["run.pt"]

    X, y = _problem()

    def run(**extra):
        net = seeded_mlp(spec, 9)
        out = train_network(net, X, [y], CE, _opts(**{**kw, **extra}), 9, snapshot_epochs=[2, 6])
        return net, out

    resumed_net, resumed = run()
    plain_net, plain = run(checkpoint_path=None)
    assert resumed.resumed_from == 3 and plain.resumed_from == 0
    assert _same(_state(resumed_net), _state(plain_net))
    assert _same(resumed.snapshots[2], plain.snapshots[2])
    cols = ["epoch", "train_loss", "val_loss", "lr"]
    pd.testing.assert_frame_equal(resumed.history[cols], plain.history[cols])
    # a finished checkpoint: a re-run returns at once with the same result
    again_net, again = run()
    assert again.resumed_from == 6 and _same(_state(again_net), _state(plain_net))
    # a checkpoint from another run is refused, saying what differs
    with pytest.raises(ValueError, match=r"different training run.*options\.lr: checkpoint 0.01"):
        run(lr=0.02)


def test_an_early_stopped_checkpoint_resumes_stopped(tmp_path):
    X, y = _problem(60)
    kw = {"epochs": 200, "early_stopping": True, "patience": 3, "lr": 0.05}
    a = seeded_mlp(SPEC, 1)
    first = train_network(a, X, [y], CE, _opts(**kw, checkpoint_path=str(tmp_path / "c.pt")), 1)
    assert first.stopped == "early_stopping"
    b = seeded_mlp(SPEC, 1)
    again = train_network(b, X, [y], CE, _opts(**kw, checkpoint_path=str(tmp_path / "c.pt")), 1)
    assert again.stopped == "early_stopping" and again.best_epoch == first.best_epoch
    assert _same(_state(a), _state(b))


# -- the mlp model ---------------------------------------------------------------------------
@dataclass
class CountingMLP(MLP):
    calls: list = field(default_factory=list)

    def fit(self, data, params, subs, seed):
        self.calls.append({"n": len(data.y), "params": dict(params), "subs": list(subs)})
        return super().fit(data, params, subs, seed)


def _sonar_data() -> TrainingData:
    df = lf.datasets.load("sonar")
    y = (df["Class"] == "R").to_numpy(int)
    return TrainingData(df.iloc[:, :60].to_numpy(float), y, CLASSIFICATION, ("M", "R"))


def test_param_defaults_fill_grids():
    m = get_model("mlp")
    grid = normalize_grid(m, {"units": [4, 8], "l2": 0.0, "epochs": [5, 10]})
    assert len(grid) == 4 and list(grid.columns) == m.param_names
    assert grid.iloc[0][["layers", "activation", "optimizer", "lr", "schedule"]].tolist() == [
        1,
        "relu",
        "adam",
        1e-3,
        "constant",
    ]
    with pytest.raises(
        ValueError, match=r"lacks column\(s\) \['units', 'epochs'\]; it needs all of"
    ):
        normalize_grid(m, {"l2": [0.0]})
    with pytest.raises(ValueError, match=r"grid value lr=0.0"):
        normalize_grid(m, {"units": 4, "l2": 0.0, "epochs": 5, "lr": 0.0})
    gbm = get_model("gbm")  # no defaults: every column is required, as before
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['shrinkage', 'n_minobsinnode'\]"):
        normalize_grid(gbm, {"n_trees": [5], "interaction_depth": [1]})


def test_epochs_are_a_submodel_of_one_fit(training):
    model = CountingMLP(options={"device": "cpu"})
    grid = {"units": [8], "l2": [0.0], "epochs": [5, 10, 20], "batch_size": [64]}
    res = lf.train(
        "Class ~ .",
        data=training,
        method=model,
        grid=grid,
        control=lf.Control(method="cv", number=3),
        seed=1,
    )
    assert len(model.calls) == 3 * 1 + 1  # one fit per resample, plus the final fit
    assert all([s["epochs"] for s in c["subs"]] == [5, 10, 20] for c in model.calls[:-1])
    assert model.calls[-1]["subs"] == [{"epochs": res.best_params["epochs"]}]
    assert res.final_info.keys() >= {"best_epoch", "stopped"}
    alone = lf.train(
        "Class ~ .",
        data=training,
        method=MLP(options={"device": "cpu"}),
        grid={**grid, "epochs": [10]},
        control=lf.Control(method="cv", number=3),
        seed=1,
    )
    together = res.results.set_index("epochs").loc[10, "Accuracy"]
    assert together == alone.results["Accuracy"].iloc[0]


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_one_fit_scores_each_epoch_count_like_a_separate_fit(schedule):
    data = _sonar_data()
    m = MLP(options={"device": "cpu"})
    params = {**normalize_grid(m, {"units": 8, "l2": 1e-3, "epochs": 20}).iloc[0].to_dict()}
    params["schedule"], params["dropout"] = schedule, 0.1
    subs = [{"epochs": e} for e in (20, 5, 10)]
    fit = m.fit(data, params, subs, seed=3)
    together = m.predict_proba(fit, data.X, subs)
    for i, s in enumerate(subs):
        alone = m.fit(data, {**params, **s}, [s], seed=3)
        np.testing.assert_array_equal(together[i], m.predict_proba(alone, data.X, [s])[0])
    assert fit.epochs == [20, 5, 10] and m.describe_fit(fit)["best_epoch"] == 20


def test_netfit_network_is_the_predictor():
    data = _sonar_data()
    m = MLP(options={"device": "cpu", "hidden": (12, 6)})
    params = normalize_grid(m, {"units": 1, "l2": 0.0, "epochs": 15}).iloc[0].to_dict()
    fit = pickle.loads(pickle.dumps(m.fit(data, params, [{"epochs": 15}], seed=0)))
    assert isinstance(fit, NetFit) and fit.spec["hidden"] == (12, 6)
    assert fit.center.dtype == np.float32 and fit.scale.dtype == np.float32
    net = fit.network()
    assert not net.training and next(net.parameters()).device.type == "cpu"
    with torch.no_grad():
        logits = net(torch.from_numpy(data.X.astype(np.float32))).numpy()
    proba = m.predict_proba(fit, data.X, [{"epochs": 15}])[0]
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(logits), 1).numpy(), proba, atol=1e-6)
    # regression: the network de-standardises its output
    reg = TrainingData(data.X[:, 1:], data.X[:, 0] * 100 + 5, REGRESSION)
    rfit = m.fit(reg, params, [{"epochs": 15}], seed=0)
    with torch.no_grad():
        out = rfit.network(0)(torch.from_numpy(reg.X.astype(np.float32))).numpy()[:, 0]
    np.testing.assert_allclose(out, m.predict(rfit, reg.X, [{"epochs": 15}])[0], rtol=1e-6)
    assert abs(out.mean() - reg.y.mean()) < 0.2 * reg.y.std()


def test_model_checkpoints_resume_each_fit(tmp_path):
    data = _sonar_data()
    m = MLP(options={"device": "cpu", "checkpoint_dir": str(tmp_path)})
    params = normalize_grid(m, {"units": 8, "l2": 0.0, "epochs": 6}).iloc[0].to_dict()
    subs = [{"epochs": 3}, {"epochs": 6}]
    a = m.fit(data, params, subs, seed=2)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith("mlp-")
    b = m.fit(data, params, subs, seed=2)  # resumed from the finished checkpoint
    np.testing.assert_array_equal(
        m.predict_proba(a, data.X, subs), m.predict_proba(b, data.X, subs)
    )
    m.fit(data, params, subs, seed=3)
    m.fit(data, params, subs[1:], seed=2)  # other sub-models: another file, not a clash
    assert len(list(tmp_path.iterdir())) == 3
    with pytest.raises(ValueError, match=r"mlp: unknown option\(s\) \['epochs'\]"):
        MLP(options={"epochs": 3}).fit(data, params, subs, seed=2)


def test_importing_leanfit_does_not_import_torch_and_its_absence_is_explained():
    code = textwrap.dedent(
        """
        import sys
        import leanfit as lf
        from leanfit.models.base import get_model, registry
        registry(); m = get_model("mlp")
        assert "torch" not in sys.modules, "torch was imported"
        sys.modules["torch"] = None  # as if PyTorch were not installed
        import numpy as np
        from leanfit.models.base import TrainingData
        data = TrainingData(np.zeros((4, 2)), np.array([0, 1, 0, 1]), "classification", ("a", "b"))
        try:
            m.fit(data, {}, [{}], 0)
        except ImportError as exc:
            print(exc)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "the mlp model needs PyTorch: pip install 'leanfit[torch]'" in proc.stdout


# -- over-fitting ----------------------------------------------------------------------------
def test_regularisation_closes_the_overfitting_gap():
    """examples/overfitting.py on Sonar: the big unregularised net is perfect on its training
    rows and much worse resampled; dropout + L2, and early stopping, shrink that gap."""
    spec = importlib.util.spec_from_file_location("overfitting", ROOT / "examples/overfitting.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    table = mod.overfitting_table()
    print(table.round(3))
    base = table.loc["no regularisation"]
    assert base["training"] >= 0.99 and base["gap"] > 0.12
    for variant in ("dropout 0.5 + L2 0.1", "early stopping"):
        assert table.loc[variant, "gap"] <= base["gap"] - 0.05, variant


@pytest.mark.parametrize(
    "optimizer, schedule",
    [("sgd", "step"), ("adam", "cosine"), ("rmsprop", "exponential"), ("adagrad", "constant")]
    + [("adadelta", "plateau")],
)
def test_resume_after_an_exception_for_every_optimizer_and_schedule(tmp_path, optimizer, schedule):
    X, y = _problem()
    kw = {"optimizer": optimizer, "schedule": schedule, "lr": LR[optimizer], "epochs": 5}
    kw["checkpoint_path"] = str(tmp_path / "c.pt")
    calls = []

    def crash(out, t):
        calls.append(1)
        if len(calls) == 2 * 4 + 3:  # epoch 3
            raise KeyboardInterrupt
        return CE(out, t)

    with pytest.raises(KeyboardInterrupt):
        train_network(seeded_mlp(SPEC, 1), X, [y], crash, _opts(**kw), 1)
    resumed = seeded_mlp(SPEC, 1)
    out = train_network(resumed, X, [y], CE, _opts(**kw), 1, progress=True)
    plain = seeded_mlp(SPEC, 1)
    train_network(plain, X, [y], CE, _opts(**{**kw, "checkpoint_path": None}), 1)
    assert out.resumed_from == 2 and _same(_state(resumed), _state(plain))


def test_patience_step_on_a_hand_made_validation_loss_sequence():
    """Patience 2 on val losses 5, 4, 4, 3, 3.5, 3.2: epoch 3 ties (no improvement), epoch 4
    improves, epochs 5 and 6 do not, so training stops after epoch 6 with the best at epoch 4."""
    from leanfit.nn.training import _patience_step

    best, since, seen = math.inf, 0, []
    for loss in (5.0, 4.0, 4.0, 3.0, 3.5, 3.2):
        improved, since, stop = _patience_step(best, since, loss, patience=2)
        best = loss if improved else best
        seen.append((improved, since, stop))
    assert seen == [
        (True, 0, False),
        (True, 0, False),
        (False, 1, False),
        (True, 0, False),
        (False, 1, False),
        (False, 2, True),
    ]


def test_checkpoint_due_every_k_epochs_and_at_the_end():
    """every=3 over 7 epochs: after epochs 3, 6 and 7 (the last); any epoch of an early stop."""
    from leanfit.nn.training import _checkpoint_due

    due = [e for e in range(1, 8) if _checkpoint_due(e, 3, 7, "epochs")]
    assert due == [3, 6, 7]
    assert _checkpoint_due(4, 3, 7, "early_stopping")
