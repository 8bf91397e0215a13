"""Data-parallel training of an MLP with PyTorch DDP (gloo backend, CPU or GPU).

:func:`train_ddp` trains the same network as :func:`leanfit.nn.training.train_network` would,
split over ``world_size`` processes: every rank builds the network from the seed
(:func:`leanfit.nn.network.seeded_mlp`), draws the same per-epoch permutation, and takes its
contiguous share of each GLOBAL batch (``options.batch_size`` rows); each rank's loss is
scaled by ``share * world_size / batch`` so that DDP's averaged gradient is the gradient of the
global batch's mean loss, also when the last batch does not split evenly (a rank with no rows
contributes a zero gradient). Without dropout the result equals single-process training up to
floating-point summation order. Early stopping (every rank scores the whole validation set) and
all schedules work; checkpointing does not.

Called from Python, it spawns ``world_size`` processes on this machine (start method spawn,
TCP rendezvous on 127.0.0.1 at a free port). Launched under ``torchrun`` (RANK, WORLD_SIZE and
MASTER_ADDR set), it joins that process group instead, e.g. over two machines::

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-endpoint HOST:29500 -m leanfit.nn.ddp \\
        --data data.npz --spec '{"hidden": [64, 64]}' --loss cross_entropy \\
        --options '{"optimizer": "adam", "epochs": 20}' --seed 1 --out weights.npz

``data.npz`` holds ``X`` and the targets ``y`` (or ``y0``, ``y1``, ...); ``n_inputs`` and
``n_outputs`` default to X's columns and (for cross-entropy) the number of classes. Rank 0
writes the final weights (and ``history.*`` columns) to ``--out``. Run
``python -m leanfit.nn.ddp --help`` for every flag; without torchrun it spawns
``--world-size`` local processes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .training import TrainOptions

# PyTorch and the training core are imported inside the functions, so that
# ``python -m leanfit.nn.ddp --help`` answers at once.
LOSSES = ("cross_entropy", "mse")


def _launched_by_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_rank(
    spec: dict[str, Any],
    X: np.ndarray,
    targets: Sequence[np.ndarray],
    loss_name: str,
    options: TrainOptions,
    seed: int,
    rank: int,
    world_size: int,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """One rank's training inside an initialised process group."""
    from torch.nn.parallel import DistributedDataParallel

    from .network import resolve_device, seeded_mlp
    from .training import _Dist, _numpy_state, _train, named_loss

    net = seeded_mlp(spec, seed)
    device = resolve_device(options.device)
    net.to(device)
    ddp = DistributedDataParallel(
        net, device_ids=[device.index or 0] if device.type == "cuda" else None
    )
    outcome = _train(
        ddp,
        net,
        X,
        targets,
        named_loss(loss_name),
        options,
        seed,
        (),
        None,
        False,
        _Dist(rank, world_size),
    )
    return _numpy_state(net.state_dict()), outcome.history


def _spawned(
    rank: int,
    world_size: int,
    port: int,
    out: str,
    args: tuple[dict[str, Any], np.ndarray, list[np.ndarray], str, TrainOptions, int],
) -> None:
    import torch
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    try:
        state, history = _run_rank(*args, rank=rank, world_size=world_size)
        if rank == 0:
            tmp = f"{out}.tmp"
            torch.save(
                {
                    "state": {k: torch.from_numpy(v) for k, v in state.items()},
                    "history": history.to_numpy(dtype=np.float64).tolist(),
                },
                tmp,
            )
            os.replace(tmp, out)
    finally:
        dist.destroy_process_group()


def train_ddp(
    spec: dict[str, Any],
    X: np.ndarray,
    targets: Sequence[np.ndarray],
    loss_name: str,
    options: TrainOptions,
    seed: int,
    world_size: int = 2,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Train ``build_mlp(**spec)`` with DDP over ``world_size`` processes (see the module
    docstring); return its final state dict (float32 numpy arrays) and the training history.

    ``loss_name``: "cross_entropy" (targets[0] are int labels) or "mse". Under torchrun the
    launcher's world size is used and every rank returns the same result.
    """
    import torch

    from .training import HISTORY_COLUMNS, TrainOptions

    if loss_name not in LOSSES:
        raise ValueError(f"loss_name={loss_name!r} is not valid: use one of {', '.join(LOSSES)}")
    if not isinstance(options, TrainOptions):
        raise TypeError(f"options must be a TrainOptions, got {type(options).__name__}")
    options.check()
    if options.checkpoint_path is not None:
        raise ValueError("train_ddp does not checkpoint: set checkpoint_path=None")
    if isinstance(targets, np.ndarray):
        targets = (targets,)
    targets = [np.asarray(t) for t in targets]
    args = (dict(spec), np.asarray(X), targets, loss_name, options, int(seed))

    if _launched_by_torchrun():
        import torch.distributed as dist

        created = not dist.is_initialized()
        if created:
            dist.init_process_group("gloo")
        try:
            return _run_rank(*args, rank=dist.get_rank(), world_size=dist.get_world_size())
        finally:
            if created:
                dist.destroy_process_group()

    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size={world_size!r} must be a whole number >= 1")
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="leanfit-ddp-") as tmp:
        out = str(Path(tmp) / "result.pt")
        mp.start_processes(
            _spawned,
            args=(world_size, _free_port(), out, args),
            nprocs=world_size,
            join=True,
            start_method="spawn",
        )
        res = torch.load(out, weights_only=True)
    state = {k: v.numpy() for k, v in res["state"].items()}
    history = pd.DataFrame(res["history"], columns=list(HISTORY_COLUMNS))
    return state, history.astype({"epoch": int})


# -- command line (torchrun) -------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m leanfit.nn.ddp",
        description="Data-parallel MLP training with DDP (gloo). Run under torchrun to use its "
        "process group, or directly to spawn --world-size local processes.",
    )
    p.add_argument("--data", required=True, help=".npz with X and y (or y0, y1, ...)")
    p.add_argument(
        "--spec",
        default="{}",
        help='JSON kwargs of build_mlp, e.g. \'{"hidden": [64], "activation": "relu"}\'',
    )
    p.add_argument("--loss", default="cross_entropy", choices=LOSSES)
    p.add_argument("--options", default="{}", help="JSON fields of TrainOptions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--world-size", type=int, default=2, help="local processes (not torchrun)")
    p.add_argument("--out", required=True, help=".npz for the final weights and history")
    a = p.parse_args(argv)
    with np.load(a.data) as d:
        X = d["X"]
        keys = ["y"] if "y" in d else sorted((k for k in d if k.startswith("y")), key=str)
        if not keys:
            p.error(f"{a.data} has no target array y (or y0, y1, ...)")
        targets = [d[k] for k in keys]
    spec = {"hidden": (), **json.loads(a.spec)}
    spec.setdefault("n_inputs", int(X.shape[1]))
    if "n_outputs" not in spec:
        t = targets[0]
        spec["n_outputs"] = (
            int(t.max()) + 1 if a.loss == "cross_entropy" else int(np.prod(t.shape[1:]) or 1)
        )
    from .training import TrainOptions

    options = TrainOptions(**json.loads(a.options))
    state, history = train_ddp(spec, X, targets, a.loss, options, a.seed, a.world_size)
    if int(os.environ.get("RANK", "0")) == 0:
        cols = {f"history.{c}": history[c].to_numpy() for c in history.columns}
        arrays: dict[str, Any] = {**state, **cols}  # Any: numpy's stub reads **kwargs oddly
        np.savez(a.out, **arrays)
        print(
            f"wrote {a.out}: {len(history)} epochs, final train loss "
            f"{history['train_loss'].iloc[-1]:.6g}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
