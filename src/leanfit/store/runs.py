"""Looking up stored runs: ids from a reference, a run's re-plan spec, display labels.

Storage only: these read run records and artifacts; turning them back into TrainResults is
``leanfit.restore``'s job, above the tuning and experiment layers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from . import Store, StoreError, _display

__all__ = ["resolve_runs", "run_labels", "run_spec"]


def resolve_runs(store: Store, ref: str | int | Sequence[int]) -> list[int]:
    """Run ids from an id, ids (``"3,4"``) or an experiment name (all its runs, by id)."""
    if isinstance(ref, int):
        return [ref]
    if not isinstance(ref, str):
        return [int(i) for i in ref]
    parts = [p.strip() for p in ref.split(",") if p.strip()]
    if parts and all(p.isdigit() for p in parts):
        return [int(p) for p in parts]
    runs = store.runs()
    ids = [int(i) for i in runs.loc[runs["experiment"] == ref, "id"]]
    if not ids:
        known = sorted(set(runs["experiment"]))
        raise StoreError(
            f"no run id or experiment named {ref!r} in {_display(store.url)}; experiments: "
            f"{', '.join(known) or 'none'}"
        )
    return ids


def run_spec(store: Store, run: int | dict[str, Any]) -> dict[str, Any] | None:
    """The stored re-plan spec of a run (its id, or its ``store.run`` record when the caller
    already has it), or None for a run stored by an older leanfit."""
    info = store.run(run) if isinstance(run, int) else run
    if "spec" not in info["artifacts"]:
        return None
    return json.loads(store.load_artifact(info["id"], "spec"))


def run_labels(infos: dict[int, dict[str, Any]]) -> dict[int, str]:
    """Display names: the fit name, or experiment/fit where fit names repeat."""
    fits = [info["fit"] for info in infos.values()]
    out = {}
    for i, info in infos.items():
        out[i] = (
            info["fit"] if fits.count(info["fit"]) == 1 else f"{info['experiment']}/{info['fit']}"
        )
    if len(set(out.values())) < len(out):
        out = {i: f"{v}#{i}" for i, v in out.items()}
    return out
