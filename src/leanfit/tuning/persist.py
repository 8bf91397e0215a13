"""What identifies a planned run in the experiment store: the data's fingerprint and the
configuration that decides every task, so a re-run resumes only when nothing changed."""

from __future__ import annotations

import hashlib
import io
import warnings
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..splits import Resamples
    from ..store import Store
    from .result import TrainResult
    from .trainplan import TrainPlan

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
    out: dict[str, Any] = {
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
        # only when set, so runs stored before the option existed keep their identity
        **({"duplicates": c.duplicates} if c.duplicates != "keep" else {}),
    }
    if plan.space is not None:  # the budget is not here: a larger one resumes the same search
        from .space import describe_space

        out["search"] = {
            "search": c.search,
            "sampler": c.sampler,
            "sampler_options": {k: _name(v) for k, v in (c.sampler_options or {}).items()},
            "batch": c.batch,
            "objectives": list(c.objectives or ()),
            "space": describe_space(plan.space),
            "metric": plan.metric,
        }
    return out


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

    arrays: dict[str, Any] = {  # Any: numpy's stub reads **kwargs as savez's allow_pickle
        "names": np.array(resamples.names),
        "hash": np.array(resamples.hash),
        "n": np.array(resamples.n),
    }
    for i, (tr, te) in enumerate(zip(resamples.train, resamples.test, strict=True)):
        arrays[f"train_{i}"], arrays[f"test_{i}"] = tr, te
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def data_description(plan: TrainPlan) -> dict[str, Any]:
    """Rows, columns, target and levels of the planned data: what a fingerprint mismatch names."""
    ds = plan.dataset
    return {
        "rows": int(len(ds.y)),
        "columns": [str(c) for c in plan.context.columns],
        "target": str(ds.target),
        "levels": [str(v) for v in ds.levels],
        "weights": ds.weights is not None,
    }


def run_spec(plan: TrainPlan, source: dict[str, Any] | None) -> dict[str, Any]:
    """How to re-plan this fit later (``store.restore``): the experiment config it came from
    (``source``), or ``{"kind": "train"}`` for a Python ``train()`` call, plus the data shape."""
    return {**(source or {"kind": "train"}), "data": data_description(plan)}


def save_final(store: Store, run_id: int, res: TrainResult) -> list[str]:
    """Store the final model and pre-processing as artifacts (no pickle, see store/artifacts.py).

    Returns notes on what could not be stored (also warned about); the store records each
    stored artifact's format itself.
    """
    from ..store.artifacts import UnsafeModelError, dump_model

    notes: list[str] = []
    for name, obj in (("final_model", res.final_model), ("final_preprocess", res.final_preprocess)):
        if obj is None:
            continue
        try:
            fmt, data = dump_model(obj)
        except UnsafeModelError as e:
            note = f"{name} of {res.method!r} not stored: {e}"
            notes.append(note)
            warnings.warn(note, UserWarning, stacklevel=3)
            continue
        store.save_artifact(run_id, name, data, fmt)
    return notes


def run_summary(res: TrainResult, notes: list[str]) -> dict[str, Any]:
    """The finished run's summary: the choice, its metrics per resample, times, notes."""
    out: dict[str, Any] = {
        "best_index": int(res.best_index),
        "best_params": res.best_params,
        "metric": res.metric,
        "value": None,
        "times": res.times,
        "final_info": res.final_info,
        "final_warnings": res.final_warnings,
        "notes": notes,
        "invocations": (res.store_run or {}).get("invocations", 1),  # > 1: resumed
    }
    if res.scores is not None:
        out["value"] = float(res.results.iloc[res.best_index][res.metric])
        out["resample_metrics"] = {
            "names": list(res._resampled().names),
            "metrics": list(res.metric_names),
            "values": res.scores.values[:, res.best_index, :].tolist(),
        }
    return out
