"""Data-parallel training (leanfit.nn.ddp): two gloo processes give the single-process weights."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch.distributed")

from leanfit.nn.ddp import train_ddp  # noqa: E402
from leanfit.nn.network import seeded_mlp  # noqa: E402
from leanfit.nn.training import TrainOptions, named_loss, train_network  # noqa: E402

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch.distributed is not available"
)


def _single(spec, X, targets, loss_name, options, seed):
    net = seeded_mlp(spec, seed)
    out = train_network(net, X, targets, named_loss(loss_name), options, seed)
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}, out.history


@pytest.mark.parametrize(
    "optimizer, n, extra",
    [
        # 101 rows in global batches of 16: the last batch (5 rows) splits 3 / 2
        ("sgd", 101, {"lr": 0.05, "l2": 1e-3}),
        # 97 rows: the last batch has 1 row, so rank 1 has none and contributes no gradient
        ("adam", 97, {"lr": 0.01, "schedule": "step"}),
    ],
)
def test_two_processes_equal_one(optimizer, n, extra):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] ** 2 + rng.normal(scale=0.3, size=n) > -1).astype(np.int64)
    spec = {"n_inputs": 6, "n_outputs": 2, "hidden": [12, 8], "activation": "tanh"}
    options = TrainOptions(optimizer=optimizer, batch_size=16, epochs=4, device="cpu", **extra)
    ref, ref_hist = _single(spec, X, [y], "cross_entropy", options, 7)
    state, hist = train_ddp(spec, X, [y], "cross_entropy", options, 7, world_size=2)
    assert state.keys() == ref.keys()
    for k in ref:
        np.testing.assert_allclose(state[k], ref[k], rtol=0, atol=1e-5, err_msg=k)
    assert not all(np.array_equal(state[k], seeded_mlp(spec, 7).state_dict()[k]) for k in ref)
    assert hist["epoch"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(hist["train_loss"], ref_hist["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(hist["lr"], ref_hist["lr"])


def test_bad_arguments_are_refused_before_spawning():
    X, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    spec = {"n_inputs": 2, "n_outputs": 2, "hidden": [3]}
    with pytest.raises(ValueError, match="loss_name='hinge'"):
        train_ddp(spec, X, [y], "hinge", TrainOptions(), 0)
    with pytest.raises(ValueError, match="checkpoint"):
        train_ddp(spec, X, [y], "mse", TrainOptions(checkpoint_path="x.pt"), 0)
    with pytest.raises(ValueError, match="TrainOptions.epochs=0"):
        train_ddp(spec, X, [y], "mse", TrainOptions(epochs=0), 0)


def test_command_line_help():
    proc = subprocess.run(
        [sys.executable, "-m", "leanfit.nn.ddp", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "torchrun" in proc.stdout and "--world-size" in proc.stdout
