"""The training core: mini-batch training of any network with any loss.

:func:`train_network` trains ``net`` on ``X`` and any number of target arrays (class labels,
teacher logits, ...) with a loss ``loss(outputs, batch_targets) -> scalar mean``. It is
seed-deterministic on the CPU: every epoch's shuffle and dropout masks are drawn from
generators seeded by (seed, epoch), inside ``torch.random.fork_rng`` so the caller's global
PyTorch generator is left as it was. Options: five optimisers, L1/L2 weight penalties, learning
rate schedules, early stopping on a validation set (given, or carved off the training rows),
snapshots of the weights at chosen epochs (the sub-model trick: one long fit scores every
shorter one), and atomic checkpoints that an interrupted run resumes from, bit for bit.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import OPTIMIZERS, SCHEDULES
from .network import check_device_name, resolve_device, torch

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "lr", "seconds")
_CHECKPOINT_FORMAT = 1

LossFn = Callable[["torch.Tensor", tuple["torch.Tensor", ...]], "torch.Tensor"]


@dataclass(frozen=True)
class TrainOptions:
    """How :func:`train_network` trains.

    ``l1`` / ``l2`` add ``l1 * sum|w| + l2 * sum(w^2)`` over the weights (not the biases) to
    every batch's loss. Schedules, stepped once per epoch: "constant"; "step" halves the rate
    every ``max(1, epochs // 4)`` epochs; "cosine" anneals it to 0 over ``epochs``;
    "exponential" multiplies it by 0.97 per epoch; "plateau" halves it after
    ``max(1, patience // 2)`` epochs without improvement of the validation loss (of the
    training loss when there is no validation set). ``momentum`` is used by "sgd" and
    "rmsprop". ``num_threads`` sets PyTorch's intra-op threads during the fit (restored after).
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    l1: float = 0.0
    l2: float = 0.0
    schedule: str = "constant"
    batch_size: int = 128
    epochs: int = 100
    early_stopping: bool = False
    validation_fraction: float = 0.1
    patience: int = 10
    device: str = "auto"
    num_threads: int = 1
    checkpoint_path: str | None = None
    checkpoint_every: int = 1

    def check(self) -> None:
        """Raise ValueError naming the field, its value and what is valid, for any bad value."""

        def bad(name: str, valid: str) -> ValueError:
            return ValueError(f"TrainOptions.{name}={getattr(self, name)!r} is not valid: {valid}")

        def number(name: str) -> float | None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
                return None
            return float(v)

        def whole(name: str) -> int | None:
            v = getattr(self, name)
            return None if isinstance(v, bool) or not isinstance(v, Integral) else int(v)

        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"use one of {', '.join(OPTIMIZERS)}")
        lr = number("lr")
        if lr is None or lr <= 0:
            raise bad("lr", "the learning rate must be a finite number > 0")
        m = number("momentum")
        if m is None or not 0 <= m < 1:
            raise bad("momentum", "must be a number in [0, 1)")
        for name in ("l1", "l2"):
            v = number(name)
            if v is None or v < 0:
                raise bad(name, "the penalty must be a finite number >= 0")
        if self.schedule not in SCHEDULES:
            raise bad("schedule", f"use one of {', '.join(SCHEDULES)}")
        for name in ("batch_size", "epochs", "patience", "num_threads", "checkpoint_every"):
            v = whole(name)
            if v is None or v < 1:
                raise bad(name, "must be a whole number >= 1")
        if not isinstance(self.early_stopping, bool | np.bool_):
            raise bad("early_stopping", "must be True or False")
        vf = number("validation_fraction")
        if vf is None or not 0 < vf < 1:
            raise bad("validation_fraction", "must be a number strictly between 0 and 1")
        try:
            check_device_name(self.device)
        except ValueError as exc:
            raise bad("device", str(exc).split("is not valid: ", 1)[-1]) from None
        if self.checkpoint_path is not None and not isinstance(self.checkpoint_path, str | Path):
            raise bad("checkpoint_path", "must be None or a file path")


@dataclass
class TrainOutcome:
    """What :func:`train_network` reports besides the trained network."""

    history: pd.DataFrame  # epoch, train_loss, val_loss (NaN without validation), lr, seconds
    best_epoch: int  # the epoch whose weights the network holds at the end
    snapshots: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    stopped: str = "epochs"  # "epochs" | "early_stopping"
    resumed_from: int = 0  # 0, or the epoch a checkpoint resumed from


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the network holds the last good epoch's weights."""

    def __init__(self, message: str, epoch: int, last_good_epoch: int, batch: Any = None):
        super().__init__(message)
        self.epoch = epoch
        self.last_good_epoch = last_good_epoch
        self.batch = batch


# -- helpers shared with ddp --------------------------------------------------------------------
def _seed_int(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise ValueError(f"seed={seed!r} must be a whole number")
    return int(seed) % 2**63


def _mix(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) % 2**64 for p in parts]).generate_state(1)[0])


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The row order of ``epoch`` (1-based): a function of (seed, epoch) only."""
    rng = np.random.default_rng(np.random.SeedSequence([_seed_int(seed), int(epoch), 0x5348]))
    return rng.permutation(n)


def validation_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (training rows, validation rows), each sorted: ``round(n * fraction)`` rows
    (at least one, leaving at least one) are held out."""
    if n < 2:
        raise ValueError(f"early stopping needs at least 2 rows to hold some out, got {n}")
    n_val = min(max(int(round(n * fraction)), 1), n - 1)
    perm = np.random.default_rng(np.random.SeedSequence([_seed_int(seed), 0x56414C])).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def named_loss(name: str) -> LossFn:
    """Built-in losses on the first target: "cross_entropy" (int64 labels, mean over rows) or
    "mse" (float targets reshaped to the outputs' shape, mean over values)."""
    import torch.nn.functional as F

    if name == "cross_entropy":
        return lambda out, t: F.cross_entropy(out, t[0])
    if name == "mse":
        return lambda out, t: F.mse_loss(out, t[0].reshape(out.shape))
    raise ValueError(f"loss {name!r} is not known: use 'cross_entropy' or 'mse'")


def make_optimizer(params: Any, options: TrainOptions) -> torch.optim.Optimizer:
    o, lr = options.optimizer, float(options.lr)
    if o == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(options.momentum))
    if o == "adam":
        return torch.optim.Adam(params, lr=lr)
    if o == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=float(options.momentum))
    if o == "adagrad":
        return torch.optim.Adagrad(params, lr=lr)
    return torch.optim.Adadelta(params, lr=lr)


def make_scheduler(opt: torch.optim.Optimizer, options: TrainOptions) -> Any:
    s, sched = options.schedule, torch.optim.lr_scheduler
    if s == "step":
        return sched.StepLR(opt, step_size=max(1, options.epochs // 4), gamma=0.5)
    if s == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=options.epochs)
    if s == "exponential":
        return sched.ExponentialLR(opt, gamma=0.97)
    if s == "plateau":
        return sched.ReduceLROnPlateau(
            opt, mode="min", factor=0.5, patience=max(1, options.patience // 2)
        )
    return None


def _penalty(weights: list[torch.Tensor], options: TrainOptions) -> torch.Tensor | float:
    out: torch.Tensor | float = 0.0
    if options.l1 > 0:
        out = out + float(options.l1) * sum(w.abs().sum() for w in weights)
    if options.l2 > 0:
        out = out + float(options.l2) * sum(w.pow(2).sum() for w in weights)
    return out


def _as_array(a: Any, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind in "iu":
        arr = np.ascontiguousarray(arr, dtype=np.int64)
    elif arr.dtype.kind in "fb":
        # NaN is allowed: a loss may mask missing targets (e.g. rows without a label)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    else:
        raise ValueError(f"{what} must be numeric (integers or floats), got dtype {arr.dtype}")
    return arr


def _check_data(X: Any, targets: Any, what: str) -> tuple[np.ndarray, list[np.ndarray]]:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what} X must be a 2-D array (rows x features), got shape {X.shape}")
    if X.dtype.kind not in "iufb":
        raise ValueError(f"{what} X must be numeric, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        raise ValueError(f"{what} X has missing or infinite values")
    if isinstance(targets, np.ndarray):
        targets = (targets,)
    ts = [_as_array(t, f"{what} targets[{i}]") for i, t in enumerate(targets)]
    for i, t in enumerate(ts):
        if t.ndim == 0 or len(t) != len(X):
            raise ValueError(f"{what} targets[{i}] has shape {t.shape} but X has {len(X)} rows")
    return X, ts


def _tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    if not a.flags.writeable:
        a = a.copy()
    return torch.from_numpy(a).to(device)


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the module's state."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _numpy_state(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in state.items()}


def _digest(X: np.ndarray, ts: list[np.ndarray]) -> str:
    h = hashlib.sha1()
    for a in (X, *ts):
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.data.cast("B"))
    return h.hexdigest()


def _fingerprint(
    module: torch.nn.Module,
    options: TrainOptions,
    seed: int,
    X: np.ndarray,
    ts: list[np.ndarray],
    validation: tuple[np.ndarray, list[np.ndarray]] | None,
    snaps: list[int],
) -> dict[str, Any]:
    skip = {"device", "num_threads", "checkpoint_path", "checkpoint_every"}
    opts = {k: v for k, v in asdict(options).items() if k not in skip}
    out = {
        f"options.{k}": (
            float(v) if isinstance(v, Real) and not isinstance(v, bool | Integral) else v
        )
        for k, v in opts.items()
    }
    out.update(
        {
            "seed": int(seed),
            "X shape": list(X.shape),
            "target shapes": [[t.dtype.str, *t.shape] for t in ts],
            "data values": _digest(X, ts),
            "validation": None if validation is None else _digest(*validation),
            "snapshot_epochs": list(snaps),
            "network": [[k, *v.shape] for k, v in module.state_dict().items()],
        }
    )
    return out


def _fingerprint_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [
        f"{k}: checkpoint {old.get(k)!r}, now {new.get(k)!r}"
        for k in keys
        if old.get(k) != new.get(k)
    ]


def _evaluate(
    module: torch.nn.Module, X: torch.Tensor, ts: list[torch.Tensor], loss: LossFn, chunk: int
) -> float:
    """The row-weighted mean loss over (X, ts) in eval mode."""
    was = module.training
    module.eval()
    total = 0.0
    with torch.no_grad():
        for lo in range(0, len(X), chunk):
            out = module(X[lo : lo + chunk])
            v = loss(out, tuple(t[lo : lo + chunk] for t in ts))
            total += float(v) * len(out)
    module.train(was)
    return total / len(X)


@dataclass
class _Dist:
    """Data-parallel context: this rank's share of each global batch, and summing over ranks."""

    rank: int
    world_size: int

    def all_sum(self, value: float) -> float:
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t[0])


# -- the trainer --------------------------------------------------------------------------------
def train_network(
    net: torch.nn.Module,
    X: np.ndarray,
    targets: Sequence[np.ndarray],
    loss: LossFn,
    options: TrainOptions,
    seed: int,
    *,
    snapshot_epochs: Sequence[int] = (),
    validation: tuple[np.ndarray, Sequence[np.ndarray]] | None = None,
    progress: bool = False,
) -> TrainOutcome:
    """Train ``net`` in place on (X, targets) with ``loss``; see the module docstring.

    ``targets`` are arrays with one row per row of X (integers become int64 tensors, floats
    and booleans float32), sliced alongside X; ``loss(outputs, batch_targets)`` returns the
    batch's mean loss. ``validation=(X_val, targets_val)`` is scored after every epoch (the
    ``val_loss`` column); with ``options.early_stopping`` and no validation set, a seeded
    ``validation_fraction`` of the rows is held out. Early stopping stops after ``patience``
    epochs without a lower validation loss and restores the best epoch's weights.

    ``snapshot_epochs``: for each, the weights a run with ``epochs=e`` would end with (with
    early stopping the best epoch up to e), as float32 numpy arrays; an epoch after the end
    gets the final weights. The network ends on ``options.device``, in eval mode.
    """
    return _train(
        net, net, X, targets, loss, options, seed, snapshot_epochs, validation, progress, None
    )


def _train(
    forward: torch.nn.Module,
    module: torch.nn.Module,
    X: Any,
    targets: Any,
    loss: LossFn,
    options: TrainOptions,
    seed: int,
    snapshot_epochs: Sequence[int],
    validation: Any,
    progress: bool,
    dist: _Dist | None,
) -> TrainOutcome:
    """Check every input before any work, hold out a validation set when early stopping needs
    one, then train under a forked RNG and the requested thread count (both restored after)."""
    if not isinstance(options, TrainOptions):
        raise TypeError(f"options must be a TrainOptions, got {type(options).__name__}")
    options.check()
    seed = _seed_int(seed)
    X, ts, val = _checked_data(X, targets, validation)
    snaps = sorted({int(e) for e in snapshot_epochs})
    if any(e < 1 for e in snaps):
        raise ValueError(f"snapshot_epochs={list(snapshot_epochs)} must be epochs >= 1")
    if options.checkpoint_path is not None and dist is not None:
        raise ValueError("checkpointing is not supported in data-parallel training")
    device = resolve_device(options.device)
    fingerprint = (
        None
        if options.checkpoint_path is None
        else _fingerprint(module, options, seed, X, ts, val, snaps)
    )
    if val is None and options.early_stopping:
        X, ts, val = _hold_out(X, ts, options.validation_fraction, seed)
    if len(X) == 0:
        raise ValueError("no training rows")

    threads = torch.get_num_threads()
    torch.set_num_threads(int(options.num_threads))
    rng_devices: list[Any] = []
    if device.type == "cuda":
        rng_devices = [device.index if device.index is not None else torch.cuda.current_device()]
    try:
        with torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(seed)
            run = _set_up(forward, module, X, ts, val, loss, options, seed, dist, device)
            return _loop(run, snaps, progress, fingerprint)
    finally:
        torch.set_num_threads(threads)


def _checked_data(
    X: Any, targets: Any, validation: Any
) -> tuple[np.ndarray, list[np.ndarray], tuple[np.ndarray, list[np.ndarray]] | None]:
    """The training arrays and the validation pair (or None), checked to match each other."""
    X, ts = _check_data(X, targets, "training")
    if validation is None:
        return X, ts, None
    if not isinstance(validation, tuple | list) or len(validation) != 2:
        raise ValueError("validation must be a pair (X_val, targets_val)")
    val = _check_data(validation[0], validation[1], "validation")
    if val[0].shape[1] != X.shape[1] or len(val[1]) != len(ts):
        raise ValueError(
            f"validation has {val[0].shape[1]} columns and {len(val[1])} target arrays; "
            f"training has {X.shape[1]} and {len(ts)}"
        )
    return X, ts, val


def _hold_out(
    X: np.ndarray, ts: list[np.ndarray], fraction: float, seed: int
) -> tuple[np.ndarray, list[np.ndarray], tuple[np.ndarray, list[np.ndarray]]]:
    """Carve a seeded validation set off the training rows (for early stopping without one)."""
    tr, va = validation_split(len(X), fraction, seed)
    return X[tr], [t[tr] for t in ts], (X[va], [t[va] for t in ts])


@dataclass
class _Run:
    """The constant parts of one fit: the networks, data on the device, optimiser, schedule."""

    forward: torch.nn.Module
    module: torch.nn.Module
    loss: LossFn
    options: TrainOptions
    seed: int
    dist: _Dist | None
    device: torch.device
    Xt: torch.Tensor
    Tt: list[torch.Tensor]
    Xv: torch.Tensor | None
    Tv: list[torch.Tensor] | None
    weights: list[torch.Tensor]
    opt: torch.optim.Optimizer
    sched: Any


@dataclass
class _Progress:
    """The run so far: what a checkpoint saves (besides model and optimiser) and resumes."""

    epoch: int = 0  # the last finished epoch
    history: list[list[float]] = field(default_factory=list)
    best_val: float = math.inf
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    since_best: int = 0
    stopped: str = "epochs"
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    last_good: dict[str, torch.Tensor] = field(default_factory=dict)  # the module's state


def _set_up(
    forward: torch.nn.Module,
    module: torch.nn.Module,
    X: np.ndarray,
    ts: list[np.ndarray],
    val: tuple[np.ndarray, list[np.ndarray]] | None,
    loss: LossFn,
    options: TrainOptions,
    seed: int,
    dist: _Dist | None,
    device: torch.device,
) -> _Run:
    """Move the module and data to ``device`` and build the optimiser and schedule."""
    module.to(device)
    Xt = _tensor(X, device)
    Tt = [_tensor(t, device) for t in ts]
    Xv = Tv = None
    if val is not None:
        Xv, Tv = _tensor(val[0], device), [_tensor(t, device) for t in val[1]]
    weights: list[torch.Tensor] = [p for p in module.parameters() if p.ndim >= 2]
    opt = make_optimizer(module.parameters(), options)
    sched = make_scheduler(opt, options)
    return _Run(
        forward, module, loss, options, seed, dist, device, Xt, Tt, Xv, Tv, weights, opt, sched
    )


def _resume(path: Path, fingerprint: dict[str, Any] | None, run: _Run) -> _Progress:
    """Load a checkpoint into the module, optimiser and schedule, once checked to be this run's."""
    ck = torch.load(path, weights_only=True, map_location="cpu")
    diff = _fingerprint_diff(ck.get("fingerprint", {}), fingerprint or {})
    if diff:
        raise ValueError(
            f"checkpoint {str(path)!r} was written by a different training run "
            f"({'; '.join(diff)}); delete it or use another checkpoint_path"
        )
    run.module.load_state_dict(ck["model"])
    run.opt.load_state_dict(ck["optimizer"])
    if run.sched is not None:
        run.sched.load_state_dict(ck["scheduler"])
    torch.set_rng_state(ck["rng"])
    return _Progress(
        epoch=int(ck["epoch"]),
        history=[list(r) for r in ck["history"]],
        best_val=ck["best_val"],
        best_epoch=ck["best_epoch"],
        best_state=ck["best_state"],
        since_best=ck["since_best"],
        stopped=ck["stopped"],
        snapshots={int(k): v for k, v in ck["snapshots"].items()},
    )


def _save_checkpoint(
    path: Path, fingerprint: dict[str, Any] | None, run: _Run, done: _Progress
) -> None:
    """Write the checkpoint atomically (a temporary file, then a rename)."""
    payload = {
        "format": _CHECKPOINT_FORMAT,
        "fingerprint": fingerprint,
        "epoch": done.epoch,
        "stopped": done.stopped,
        "model": done.last_good,  # the module's state, copied this epoch
        "optimizer": run.opt.state_dict(),
        "scheduler": None if run.sched is None else run.sched.state_dict(),
        "history": done.history,
        "best_val": done.best_val,
        "best_epoch": done.best_epoch,
        "best_state": done.best_state,
        "since_best": done.since_best,
        "snapshots": done.snapshots,
        "rng": torch.get_rng_state(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _checkpoint_due(epoch: int, every: int, epochs: int, stopped: str) -> bool:
    """Whether a checkpoint is written after ``epoch``: every ``every`` epochs, and at the end
    (the last epoch, or an early stop)."""
    return epoch % every == 0 or epoch == epochs or stopped != "epochs"


def _patience_step(
    best_val: float, since_best: int, val_loss: float, patience: int
) -> tuple[bool, int, bool]:
    """Early stopping's decision after one epoch: (improved, epochs since the best, stop).

    An epoch improves when its validation loss is strictly below the best so far; training stops
    once ``patience`` epochs in a row have not improved."""
    if val_loss < best_val:
        return True, 0, False
    since_best += 1
    return False, since_best, since_best >= patience


def _diverged(
    run: _Run,
    done: _Progress,
    path: Path | None,
    epoch: int,
    batch: Any,
    value: float,
) -> TrainingDiverged:
    """Restore the last good weights (those of ``done.epoch``) and build the error that says
    where and why."""
    run.module.load_state_dict(done.last_good)
    last_good_epoch = done.epoch
    options = run.options
    where = f"batch {batch}" if isinstance(batch, int) else batch
    kept = (
        f"; the checkpoint file {str(path)!r} was kept"
        if path is not None and path.exists()
        else ""
    )
    return TrainingDiverged(
        f"training diverged at epoch {epoch}, {where}: the loss is {value}. Likely causes: "
        f"a learning rate ({options.lr:g}) too high for the {options.optimizer!r} optimiser, "
        "unscaled inputs or targets, or no gradient clipping. The network holds the weights "
        f"of epoch {last_good_epoch}, the last good one"
        f"{' (its initial weights)' if last_good_epoch == 0 else ''}{kept}.",
        epoch=epoch,
        last_good_epoch=last_good_epoch,
        batch=batch,
    )


_Fail = Callable[[Any, float], TrainingDiverged]  # (batch or where, loss value) -> the error


def _batch_loss(run: _Run, idx: torch.Tensor) -> tuple[float, torch.Tensor]:
    """One batch's mean loss (over all ranks) and the term to back-propagate on this rank."""
    Xt, Tt, dist = run.Xt, run.Tt, run.dist
    if dist is None:
        out = run.forward(Xt[idx])
        value = run.loss(out, tuple(t[idx] for t in Tt))
        _check_scalar(value)
        return float(value.detach()), value
    share = idx.tensor_split(dist.world_size)[dist.rank]
    out = run.forward(Xt[share])
    if len(share):
        value = run.loss(out, tuple(t[share] for t in Tt))
        _check_scalar(value)
        part = float(value.detach()) * len(share)
        # DDP averages gradients over ranks: this scaling makes the average
        # the gradient of the global batch's mean loss
        term = value * (len(share) * dist.world_size / len(idx))
    else:
        part, term = 0.0, out.sum() * 0.0
    return dist.all_sum(part) / len(idx), term


def _train_epoch(run: _Run, epoch: int, fail: _Fail) -> float:
    """One pass over the shuffled training rows, one optimiser step per batch: the mean loss."""
    torch.manual_seed(_mix(run.seed, epoch, 0x44524F))  # dropout masks: (seed, epoch) only
    n, bs = len(run.Xt), int(run.options.batch_size)
    perm = torch.from_numpy(epoch_permutation(n, run.seed, epoch)).to(run.device)
    run.forward.train()
    total, batch = 0.0, 0
    for batch, lo in enumerate(range(0, n, bs), start=1):
        idx = perm[lo : lo + bs]
        mean, term = _batch_loss(run, idx)
        if not math.isfinite(mean):
            raise fail(batch, mean)
        run.opt.zero_grad(set_to_none=True)
        (term + _penalty(run.weights, run.options)).backward()
        run.opt.step()
        total += mean * len(idx)
    if not all(bool(torch.isfinite(p).all()) for p in run.module.parameters()):
        raise fail(batch, math.nan)
    return total / n


def _validation_loss(run: _Run, fail: _Fail) -> float:
    """The loss on the validation rows (NaN without them)."""
    if run.Xv is None or run.Tv is None:  # set together: both or neither
        return math.nan
    chunk = max(int(run.options.batch_size), 4096)
    val_loss = _evaluate(run.module, run.Xv, run.Tv, run.loss, chunk)
    if not math.isfinite(val_loss):
        raise fail("on the validation rows", val_loss)
    return val_loss


def _step_schedule(run: _Run, train_loss: float, val_loss: float) -> None:
    """Step the learning-rate schedule; "plateau" watches the validation (else training) loss."""
    if run.sched is None:
        return
    if run.options.schedule == "plateau":
        run.sched.step(val_loss if run.Xv is not None else train_loss)
    else:
        run.sched.step()


def _keep_best(done: _Progress, epoch: int, val_loss: float, options: TrainOptions) -> None:
    """After an epoch: the best epoch (early stopping's patience, or simply the last)."""
    if not options.early_stopping:
        done.best_epoch = epoch
        return
    improved, done.since_best, stop = _patience_step(
        done.best_val, done.since_best, val_loss, options.patience
    )
    if improved:
        done.best_val, done.best_epoch, done.best_state = val_loss, epoch, done.last_good
    if stop:
        done.stopped = "early_stopping"


def _progress_bar(progress: bool, dist: _Dist | None, epochs: int, start: int) -> Any:
    """A progress report over the epochs (on rank 0 only), or None."""
    if not progress or (dist is not None and dist.rank != 0):
        return None
    from ..progress import Progress

    return Progress(epochs, "epochs", "epoch", initial=start)


def _outcome(
    module: torch.nn.Module,
    done: _Progress,
    options: TrainOptions,
    snaps: list[int],
    resumed_from: int,
) -> TrainOutcome:
    """Restore the best weights (early stopping), put the module in eval mode and report."""
    if options.early_stopping and done.best_state is not None:
        module.load_state_dict(done.best_state)
    final = _state(module)
    out_snaps = {e: _numpy_state(done.snapshots.get(e, final)) for e in snaps}
    module.eval()
    return TrainOutcome(
        history=pd.DataFrame(done.history, columns=list(HISTORY_COLUMNS)).astype(
            {"epoch": int, "train_loss": float, "val_loss": float, "lr": float, "seconds": float}
        ),
        best_epoch=int(done.best_epoch),
        snapshots=out_snaps,
        stopped=done.stopped,
        resumed_from=resumed_from,
    )


def _loop(
    run: _Run, snaps: list[int], progress: bool, fingerprint: dict[str, Any] | None
) -> TrainOutcome:
    """Resume from a checkpoint if there is one, then train epoch by epoch: each one
    trains, validates, steps the schedule, keeps the best weights, snapshots and checkpoints."""
    module, options = run.module, run.options
    path = None if options.checkpoint_path is None else Path(options.checkpoint_path)
    done = _resume(path, fingerprint, run) if path is not None and path.exists() else _Progress()
    start = done.epoch
    done.last_good = _state(module)
    bar = _progress_bar(progress, run.dist, options.epochs, start)
    try:
        epoch = start
        while done.stopped == "epochs" and epoch < options.epochs:
            epoch += 1
            t0 = time.perf_counter()

            def fail(batch: Any, value: float, epoch: int = epoch) -> TrainingDiverged:
                return _diverged(run, done, path, epoch, batch, value)

            lr = float(run.opt.param_groups[0]["lr"])
            train_loss = _train_epoch(run, epoch, fail)
            val_loss = _validation_loss(run, fail)
            _step_schedule(run, train_loss, val_loss)
            done.history.append([epoch, train_loss, val_loss, lr, time.perf_counter() - t0])
            done.epoch, done.last_good = epoch, _state(module)  # one CPU copy per epoch
            _keep_best(done, epoch, val_loss, options)
            if epoch in snaps:
                # early stopping: the best so far (always set after a first, finite epoch)
                best = done.best_state if options.early_stopping else None
                done.snapshots[epoch] = done.last_good if best is None else best
            if path is not None and _checkpoint_due(
                epoch, options.checkpoint_every, options.epochs, done.stopped
            ):
                _save_checkpoint(path, fingerprint, run, done)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{train_loss:.4g}", val=f"{val_loss:.4g}")
    finally:
        if bar is not None:
            bar.close()
    return _outcome(module, done, options, snaps, resumed_from=start)


def _check_scalar(value: Any) -> None:
    if not isinstance(value, torch.Tensor) or value.ndim != 0:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"the loss must return a scalar tensor (the batch mean), got {shape}")
