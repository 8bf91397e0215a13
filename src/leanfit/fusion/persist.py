"""Ensembles in the experiment store, without pickle: an ensemble is a run of its own (keyed by
experiment and ensemble name like a fit) whose config names its members' run ids, whose
``ensemble`` artifact (JSON) holds the combiner's weights and the honest estimate, and — for
stacking and blending — whose meta-model is stored as the store stores any final model
(``meta_model`` / ``meta_preprocess`` artifacts: the engine's own format or skops with the trust
list). Restoring refits nothing: the members come back from their runs, the held-out predictions
from their stored task results, and the meta-model is re-planned on those (its data fingerprint
checked) with its stored final model loaded in.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..control import Control
from ..store import Store, StoreError, _dumps
from .combine import Vote, Weighted
from .members import held_out
from .stack import Stacked, features

if TYPE_CHECKING:
    from ..tuning.result import TrainResult

KIND = "ensemble"
_CONTROL_PLAIN = (str, int, float, bool, type(None))


def is_ensemble_run(info: dict[str, Any]) -> bool:
    """Whether a ``store.run`` record is a stored ensemble (not a fit)."""
    return (info.get("config") or {}).get("kind") == KIND


def control_fields(control: Control) -> dict[str, Any]:
    """A Control as JSON-friendly fields; a callable (summary, selection) cannot be stored."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(control):
        v = getattr(control, f.name)
        if f.name in ("verbose", "n_jobs", "executor", "scheduler"):
            continue  # how it ran, not what it computes
        if callable(v):
            raise StoreError(
                f"the meta-model's control has a callable {f.name} ({getattr(v, '__name__', v)}):"
                " only named summaries and selections can be stored; use their names"
            )
        if f.name in ("index", "index_out") and v is not None:
            v = [[int(i) for i in fold] for fold in v]
        elif f.name == "adaptive" and v is not None:
            v = dict(v)
        out[f.name] = v
    return out


def _meta_spec(ens: Any) -> dict[str, Any]:
    """How the stacking meta-model was planned, as JSON (to re-plan it on restore)."""
    from ..models.base import get_model

    s = ens.settings
    meta = s.get("meta")
    model = ens.combiner.meta.model
    try:
        registered = isinstance(meta, str) and type(get_model(meta)) is type(model)
    except (ValueError, TypeError):
        registered = False
    if not registered:
        raise StoreError(
            f"the meta-model {getattr(meta, 'name', meta)!r} is not a registered method name: "
            "only a stacking meta-model given by name (e.g. 'glmnet') can be stored"
        )
    args = {"seed": int(s["seed"]), **dict(s.get("meta_args") or {})}
    if model.options:
        args["options"] = dict(model.options)
    try:
        json.dumps(args)
    except TypeError as e:
        raise StoreError(f"meta_args {args!r} cannot be stored as JSON: {e}") from None
    control = ens.combiner.meta.control  # the control it was trained with
    return {"method": meta, "args": args, "control": control_fields(control)}


def heldout_digest(ho: Any) -> str:
    """SHA-256 of the members' held-out predictions, rows and target: what the combiner saw."""
    import hashlib

    h = hashlib.sha256()
    for arr in (np.ascontiguousarray(ho.P, dtype=float), ho.rows.astype(np.int64), ho.y):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(repr((ho.names, ho.levels)).encode())
    return h.hexdigest()


def ensemble_record(ens: Any) -> dict[str, Any]:
    """Everything about an ensemble that is not a member or a meta-model, as JSON."""
    comb = ens.combiner
    combiner: dict[str, Any]
    if isinstance(comb, Weighted):
        combiner = {"kind": "weighted", "weights": [float(w) for w in comb.weights]}
    elif isinstance(comb, Vote):
        combiner = {"kind": "vote"}
    else:
        assert isinstance(comb, Stacked)
        combiner = {
            "kind": "stack",
            "meta": _meta_spec(ens),
            "best_index": int(comb.meta.best_index),
            "best_params": json.loads(_dumps(comb.meta.best_params)),
        }
    drop = ("meta", "meta_args")
    settings = {k: v for k, v in ens.settings.items() if k not in drop}
    return {
        "method": ens.method,
        "members": list(ens.names),
        "combiner": combiner,
        "metric": ens.metric,
        "maximize": ens.maximize,
        "metric_names": list(ens.metric_names),
        "resample": json.loads(ens.resample.to_json(orient="split", index=False)),
        "optimistic": ens.optimistic,
        "best_member": ens.best_member,
        "test": {k: float(v) for k, v in ens.test.items()},
        "estimate": ens.estimate,
        "settings": json.loads(_dumps(settings)),
        "resample_hash": ens.heldout.resample_hash,
        "rows": int(len(ens.heldout.rows)),
        "heldout_sha256": heldout_digest(ens.heldout),
        "levels": list(ens.heldout.levels),
    }


def save_ensemble(store: Store, ens: Any, experiment: str, name: str) -> int:
    """Store ``ens`` as run (``experiment``, ``name``) of ``store``; returns its run id.

    Every member must be a finished run of this store (trained with ``store=`` or by an
    experiment). Saving again with the same members and settings replaces the artifacts."""
    from ..store.artifacts import UnsafeModelError, dump_model
    from ..tuning.persist import versions

    member_ids: dict[str, int] = {}
    for m, fit in ens.members.items():
        run = fit.store_run or {}
        if "run_id" not in run:
            raise StoreError(
                f"member {m!r} is not a stored run: train it with store= (or in an experiment) "
                "so the ensemble can name its run and restore it without refitting"
            )
        rid = int(run["run_id"])
        try:
            info = store.run(rid)
        except StoreError:
            raise StoreError(
                f"member {m!r} is run {rid} of another store, not of {store!r}"
            ) from None
        if (info["experiment"], info["fit"]) != (run.get("experiment"), run.get("fit")):
            raise StoreError(
                f"member {m!r} is run {rid} ({run.get('experiment')}/{run.get('fit')}), but "
                f"run {rid} of {store!r} is {info['experiment']}/{info['fit']}: another store"
            )
        if info["status"] != "finished":
            raise StoreError(f"member {m!r} (run {rid}) is not finished in the store")
        member_ids[m] = rid
    record = ensemble_record(ens)
    first = store.run(next(iter(member_ids.values())))
    config = {
        "kind": KIND,
        "method": ens.method,
        "members": member_ids,
        "resamples": ens.heldout.resample_hash,
        "combiner_settings": record["settings"],
        "meta": record["combiner"].get("meta"),
    }
    run_id = store.start_run(
        experiment,
        name,
        config=config,
        fingerprint=first["fingerprint"],
        seed=int(ens.settings.get("seed", 0)),
        versions=versions(),
    )
    meta = ens.meta_model
    if meta is not None:
        for art, obj in (
            ("meta_model", meta.final_model),
            ("meta_preprocess", meta.final_preprocess),
        ):
            if obj is None:
                continue
            try:
                fmt, data = dump_model(obj)
            except UnsafeModelError as e:
                raise StoreError(f"ensemble {name!r}: its meta-model cannot be stored: {e}") from e
            store.save_artifact(run_id, art, data, fmt)
    store.save_artifact(run_id, "ensemble", _dumps(record).encode(), "json")
    summary = {
        "kind": KIND,
        "metric": ens.metric,
        "value": float(ens.results.loc["ensemble", ens.metric]),
        "best_member": ens.best_member,
        "test": record["test"],
        "estimate": ens.estimate,
    }
    store.finish_run(run_id, summary)
    return run_id


def load_ensemble(
    store: Store, run_id: int, members: dict[str, TrainResult], info: dict[str, Any]
) -> dict[str, Any]:
    """The stored ensemble ``run_id`` from its restored ``members`` (name -> TrainResult), as
    ``EnsembleResult``'s fields: held-out predictions re-derived from the members, the combiner
    from its artifacts (``EnsembleResult.restored`` builds the result)."""
    what = f"ensemble run {run_id} ({info['experiment']}/{info['fit']})"
    rec = json.loads(store.load_artifact(run_id, "ensemble"))
    names = list(rec["members"])
    ho = held_out(names, [members[n] for n in names])
    if (
        ho.resample_hash != rec["resample_hash"]
        or len(ho.rows) != rec["rows"]
        or heldout_digest(ho) != rec["heldout_sha256"]
    ):
        raise StoreError(
            f"{what}: its members' restored held-out predictions are not those it was built on "
            f"(resamples {ho.resample_hash[:12]}, {len(ho.rows)} rows now; "
            f"{rec['resample_hash'][:12]}, {rec['rows']} stored)"
        )
    comb = rec["combiner"]
    combiner: Weighted | Vote | Stacked
    if comb["kind"] == "weighted":
        combiner = Weighted(np.asarray(comb["weights"], dtype=float))
    elif comb["kind"] == "vote":
        combiner = Vote()
    else:
        meta = _restore_meta(store, run_id, info, ho, comb, what)
        combiner = Stacked(meta=meta, names=ho.names, levels=ho.levels)
    rs = rec["resample"]
    resample = pd.DataFrame(rs["data"], columns=rs["columns"])
    settings = dict(rec["settings"])
    if comb["kind"] == "stack":
        settings["meta"] = comb["meta"]["method"]
    return dict(
        method=rec["method"],
        members={n: members[n] for n in names},
        combiner=combiner,
        heldout=ho,
        metric=rec["metric"],
        maximize=bool(rec["maximize"]),
        metric_names=list(rec["metric_names"]),
        resample=resample,
        optimistic={k: float(v) for k, v in rec["optimistic"].items()},
        best_member=rec["best_member"],
        test={k: float(v) for k, v in rec["test"].items()},
        estimate=rec["estimate"],
        settings=settings,
        store_run={"run_id": run_id, "experiment": info["experiment"], "name": info["fit"]},
    )


def _restore_meta(
    store: Store,
    run_id: int,
    info: dict[str, Any],
    ho: Any,
    comb: dict[str, Any],
    what: str,
) -> TrainResult:
    """The meta-model re-planned on the members' held-out columns (nothing fitted), with its
    stored final model and pre-processing."""
    from ..splits import partition
    from ..store.artifacts import load_model
    from ..tuning.train import plan_train

    spec = comb["meta"]
    settings = info["config"]["combiner_settings"]
    rows = np.arange(len(ho.y))
    if info["config"]["method"] == "blend":  # the meta-model saw the blend's share of the rows
        rows = np.asarray(partition(ho.y, p=settings["blend_p"], seed=settings["seed"]))
    X = features(ho.P[:, rows], ho.names, ho.levels)
    yv = ho.y[rows]
    if ho.levels:
        y = pd.Series(pd.Categorical.from_codes(yv, categories=list(ho.levels)), name=".outcome")
    else:
        y = pd.Series(yv, name=".outcome", dtype=float)
    args = {"task": "classification" if ho.levels else "regression", **spec["args"]}
    plan = plan_train(X, y, method=spec["method"], control=Control(**spec["control"]), **args)
    res = plan.empty_result()
    res.best_index = int(comb["best_index"])
    if json.loads(_dumps(res.best_params)) != comb["best_params"]:
        raise StoreError(
            f"{what}: the re-planned meta-model's candidate {res.best_index} is "
            f"{res.best_params}, but {comb['best_params']} was stored"
        )
    arts = info["artifacts"]
    if "meta_model" not in arts:
        raise StoreError(f"{what}: its meta-model artifact is missing")
    res.final_model = load_model(*store.artifact(run_id, "meta_model"), f"{what}: meta_model")
    if "meta_preprocess" in arts:
        res.final_preprocess = load_model(
            *store.artifact(run_id, "meta_preprocess"), f"{what}: meta_preprocess"
        )
    res.store_run = {"run_id": run_id, "restored": True, "notes": []}
    return res
