"""What identifies a planned run in the experiment store: the data's fingerprint and the
configuration that decides every task, so a re-run resumes only when nothing changed."""

from __future__ import annotations

import hashlib
import io
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..splits import Resamples
    from .train import TrainPlan

_VERSIONS = ("leanfit", "numpy", "pandas", "scikit-learn", "lightgbm", "glum")


def data_fingerprint(plan: TrainPlan) -> str:
    """SHA-256 of the numeric training data, target, weights and class levels."""
    ctx = plan.context
    h = hashlib.sha256()
    for arr in (ctx.X, ctx.y, ctx.weights):
        if arr is not None:
            h.update(arr.tobytes())
    h.update(repr((ctx.levels, ctx.columns)).encode())
    return h.hexdigest()


def _name(v: Any) -> Any:
    return (
        v
        if isinstance(v, str | int | float | bool | type(None))
        else getattr(v, "__qualname__", repr(v))
    )


def run_config(plan: TrainPlan) -> dict[str, Any]:
    """The settings that decide every task's result (JSON-friendly); n_jobs and verbose don't."""
    c, ctx = plan.control, plan.context
    pp = ctx.preprocess
    return {
        "method": plan.model.name,
        "options": {k: _name(v) for k, v in plan.model.options.items()},
        "candidates": plan.candidates.astype(object).to_dict("records"),
        "resamples": plan.resamples.hash if plan.resamples is not None else None,
        "resampling": c.method,
        "summary": _name(c.summary),
        "class_probs": c.class_probs,
        "sampling": c.sampling,
        "preprocess": None if pp is None else [list(pp.steps), repr(vars(pp))],
        "seed": plan.seed,
    }


def versions() -> dict[str, str]:
    """Installed versions of leanfit and its engines, recorded with every run."""
    out = {}
    for name in _VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def resamples_npz(resamples: Resamples) -> bytes:
    """The resample set (names, hash, every train/held-out index array) as a numpy .npz — kept
    with the run so its exact rows can be compared or reused later, without pickle."""
    import numpy as np

    arrays = {
        "names": np.array(resamples.names),
        "hash": np.array(resamples.hash),
        "n": np.array(resamples.n),
    }
    for i, (tr, te) in enumerate(zip(resamples.train, resamples.test, strict=True)):
        arrays[f"train_{i}"], arrays[f"test_{i}"] = tr, te
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
