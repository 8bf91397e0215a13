"""Stored runs back as TrainResults, comparisons and reports, with nothing refitted.

Above the experiment layer: re-planning a run parses its stored experiment config, and the
store below stays storage only (run lookups are in ``store/runs.py``).

A run's ``spec`` artifact says how to re-plan it (the experiment config text and where its data
came from); planning fits nothing. The reloaded data must match the stored fingerprint and the
re-planned settings the stored config. Scores, results, per-resample metrics and held-out
predictions are re-derived from the stored task results, the selection is the stored one, and the
final model and pre-processing are loaded from their artifacts (``store/artifacts.py``).

Run ids and experiments: a run is one fit of one experiment (``runs`` is keyed by (experiment,
fit)), so an experiment name stands for all of its runs, one per fit.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .store import Store, StoreError, _diff_keys, _display, _dumps
from .store.runs import resolve_runs, run_labels, run_spec

if TYPE_CHECKING:
    from .compare import ModelComparison
    from .execute import TaskResult
    from .fusion import EnsembleResult
    from .tuning.result import TrainResult
    from .tuning.trainplan import TrainPlan

__all__ = [
    "resolve_runs",
    "restore_ensemble",
    "restore_fit",
    "restore_runs",
    "run_labels",
    "run_spec",
    "stored_comparison",
    "write_stored_report",
]


def restore_fit(store: Store, run_id: int, plan: TrainPlan | None = None) -> TrainResult:
    """Rebuild the TrainResult of a finished stored run without fitting anything.

    A run from ``leanfit run`` is re-planned from its stored config (data reloaded from its path);
    a run from ``train(..., store=)`` in Python needs ``plan`` (``plan_train`` with the same
    arguments). Raises StoreError naming what differs when the data or settings changed.
    """
    return restore_runs(store, [run_id], {run_id: plan} if plan is not None else None)[run_id]


def restore_runs(
    store: Store,
    run_ids: Sequence[int],
    plans: dict[int, TrainPlan] | None = None,
    infos: dict[int, dict[str, Any]] | None = None,
) -> dict[int, TrainResult]:
    """``restore_fit`` for several runs; fits of one experiment config share one data load.
    ``infos``: the runs' ``store.run`` records when the caller already has them."""
    plans = dict(plans or {})
    from .fusion.persist import is_ensemble_run

    infos = {i: store.run(i) for i in run_ids} if infos is None else infos
    for i, info in infos.items():
        if is_ensemble_run(info):
            raise StoreError(
                f"run {i} ({info['experiment']}/{info['fit']}) is an ensemble, not a fit: "
                "restore it with leanfit.restore.restore_ensemble"
            )
        if info["status"] != "finished":
            raise StoreError(
                f"run {i} ({info['experiment']}/{info['fit']}) is not finished (status "
                f"{info['status']}, {info['n_tasks']} task results stored); run it again to "
                "finish it"
            )
    specs = {i: run_spec(store, infos[i]) for i in run_ids}
    groups: dict[tuple[str, str, int | None], dict[int, str]] = {}  # run id -> fit name
    for i, spec in specs.items():
        if i not in plans and spec is not None and spec.get("kind") == "experiment":
            key = (spec["config"], spec["config_path"], spec.get("seed"))
            groups.setdefault(key, {})[i] = spec["fit"]
    for (text, path, seed), fits in groups.items():
        plans.update(_replan_experiment(text, path, fits, seed))
    out = {}
    for i in run_ids:
        if i not in plans:
            why = (
                "it was stored by an older leanfit, without its re-plan spec"
                if specs[i] is None
                else "it was made by train() in Python"
            )
            raise StoreError(
                f"run {i} ({infos[i]['experiment']}/{infos[i]['fit']}) cannot be re-planned from "
                f"the store: {why}; pass plan=plan_train(<the same arguments>) to restore_fit"
            )
        out[i] = _rebuild(store, i, infos[i], specs[i], plans[i])
    return out


def restore_ensemble(
    store: Store,
    ref: int | str,
    experiment: str | None = None,
    plans: dict[int, TrainPlan] | None = None,
) -> EnsembleResult:
    """A stored ensemble — its run id, or its name with ``experiment`` — rebuilt without refitting
    anything: its members restored from their runs (``plans`` for members trained by train() in
    Python, keyed by run id), its weights or meta-model from its artifacts."""
    from .fusion import EnsembleResult
    from .fusion.persist import is_ensemble_run

    if isinstance(ref, str) and not ref.isdigit():
        runs = store.runs()
        hit = runs[
            (runs["fit"] == ref) & ((runs["experiment"] == experiment) | (experiment is None))
        ]
        ids = [int(i) for i in hit["id"] if is_ensemble_run(store.run(int(i)))]
        if len(ids) != 1:
            where = f" in experiment {experiment!r}" if experiment else ""
            raise StoreError(
                f"{len(ids)} stored ensembles are named {ref!r}{where}"
                + ("; give its experiment or run id" if ids else "")
            )
        run_id = ids[0]
    else:
        run_id = int(ref)
    info = store.run(run_id)
    if not is_ensemble_run(info):
        raise StoreError(
            f"run {run_id} ({info['experiment']}/{info['fit']}) is a fit, not an ensemble: "
            "restore it with restore_fit"
        )
    if info["status"] != "finished":
        raise StoreError(f"ensemble run {run_id} is not finished (status {info['status']})")
    members = {str(k): int(v) for k, v in info["config"]["members"].items()}
    restored = restore_runs(store, list(members.values()), plans)
    return EnsembleResult.restored(
        store, run_id, {m: restored[i] for m, i in members.items()}, info
    )


def _replan_experiment(
    text: str, path: str, fits: dict[int, str], seed: int | None = None
) -> dict[int, TrainPlan]:
    """Plan the named fits of a stored experiment config (its data reloaded; nothing fitted),
    with the seed drawn for its seedless parts when it ran (``seed``)."""
    from .experiment import parse_experiment

    try:
        exp = parse_experiment(
            text, Path(path), n_jobs=1, verbose=False, only=list(fits.values()), seed=seed
        )
    except (ValueError, FileNotFoundError) as e:
        ids = ", ".join(map(str, fits))
        raise StoreError(f"run(s) {ids}: cannot re-plan from the stored config {path}: {e}") from e
    return {i: exp.fits[f]["plan"] for i, f in fits.items()}


def _data_differences(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """What changed between two data descriptions, in words."""
    if not old:
        return "the values differ"
    out = []
    if old["rows"] != new["rows"]:
        out.append(f"{new['rows']} rows now, {old['rows']} stored")
    added = [c for c in new["columns"] if c not in old["columns"]]
    removed = [c for c in old["columns"] if c not in new["columns"]]
    if added:
        out.append(f"new column(s) {added[:5]}{' ...' if len(added) > 5 else ''}")
    if removed:
        out.append(f"missing column(s) {removed[:5]}{' ...' if len(removed) > 5 else ''}")
    if not (added or removed) and old["columns"] != new["columns"]:
        out.append("the columns are in another order")
    if old["target"] != new["target"]:
        out.append(f"target {new['target']!r} now, {old['target']!r} stored")
    if old["levels"] != new["levels"]:
        out.append(f"class levels {new['levels']} now, {old['levels']} stored")
    if old.get("weights") != new.get("weights"):
        out.append("observation weights " + ("added" if new.get("weights") else "removed"))
    return "; ".join(out) or "same rows and columns, but the values differ"


def _check_plan(
    run_id: int, info: dict[str, Any], spec: dict[str, Any] | None, plan: TrainPlan
) -> None:
    """Refuse a re-plan whose data or task-deciding settings differ from the stored run."""
    from .tuning.persist import data_description, data_fingerprint, run_config

    what = f"run {run_id} ({info['experiment']}/{info['fit']})"
    fp = data_fingerprint(plan)
    if fp != info["fingerprint"]:
        where = (spec or {}).get("data_source")
        src = f"reloaded from {where!r}" if where else "given"
        raise StoreError(
            f"{what}: the data {src} do not match the stored data fingerprint "
            f"({info['fingerprint'][:12]}... stored, {fp[:12]}... now): "
            f"{_data_differences((spec or {}).get('data'), data_description(plan))}"
        )
    config = json.loads(_dumps(run_config(plan)))
    if config != info["config"]:
        keys = _diff_keys(info["config"], config)
        raise StoreError(
            f"{what}: the re-planned settings differ from the stored ones in "
            f"{', '.join(keys) or 'their values'}"
        )


def _rebuild(
    store: Store, run_id: int, info: dict[str, Any], spec: dict[str, Any] | None, plan: TrainPlan
) -> TrainResult:
    """One TrainResult from the stored tasks, summary and artifacts of a checked re-plan."""
    from .store.artifacts import load_model
    from .tuning.result import _find_candidate

    _check_plan(run_id, info, spec, plan)
    summary = info["summary"] or {}
    notes = list(summary.get("notes") or [])
    if plan.space is not None:  # a Bayesian or genetic search: its stored trials
        from .tuning.train import replay_plan

        if "trials" not in info["artifacts"]:
            raise StoreError(f"run {run_id} stored no trials of its search; run it again")
        plan = replay_plan(plan, json.loads(store.load_artifact(run_id, "trials")))
    res = plan.empty_result()
    done: list[TaskResult] = []
    if plan.resamples is not None and plan.control.adaptive is not None:
        from .tuning.train import race_plan

        done = plan.stored_results(store, run_id)
        try:  # the same stops again, from the stored results alone
            res.scores, res.stopped, _, _ = race_plan(plan, done, None, None, [0.0], False)
        except LookupError as err:
            raise StoreError(f"run {run_id}: {err}; run it again") from None
    elif plan.resamples is not None:
        done = plan.stored_results(store, run_id)
        if len(done) < len(plan.tasks):
            raise StoreError(
                f"run {run_id} has {len(done)} of its {len(plan.tasks)} task results; run it again"
            )
        res.scores = plan.scores_of(done)
    best = summary.get("best_index")
    if best is None:  # a summary written before best_index was kept
        best = _find_candidate(plan.candidates, plan.model, summary.get("best_params") or {})
    res.best_index = int(best)
    stored = summary.get("best_params")
    if stored is not None and json.loads(_dumps(res.best_params)) != stored:
        raise StoreError(
            f"run {run_id}: candidate {best} is {res.best_params}, but the stored choice is "
            f"{stored}; the candidates were planned differently"
        )
    arts = info["artifacts"]

    def load(name: str) -> Any:
        """A final artifact, its format read with (and verified with) its bytes."""
        return load_model(*store.artifact(run_id, name), f"artifact {name!r} of run {run_id}")

    if "final_model" in arts:
        res.final_model = load("final_model")
    elif not notes:
        notes.append("the final model was not stored (run written by an older leanfit)")
    if plan.context.preprocess is not None:
        if "final_preprocess" in arts:
            res.final_preprocess = load("final_preprocess")
        elif res.final_model is not None:
            res.final_model = None
            notes.append("the final pre-processing was not stored")
    res.final_info = dict(summary.get("final_info") or {})
    res.final_warnings = list(summary.get("final_warnings") or [])
    res.times = {k: float(v) for k, v in (summary.get("times") or {}).items()}
    res.store_run = {
        "run_id": run_id,
        "resumed_tasks": len(done),
        "computed_tasks": 0,
        "restored": True,
        "invocations": int(summary.get("invocations") or 1),
        "resumed": int(summary.get("invocations") or 1) > 1,
        "experiment": info["experiment"],
        "fit": info["fit"],
        "notes": notes,
    }
    return res


def stored_comparison(
    store: Store, run_ids: Sequence[int], infos: dict[int, dict[str, Any]] | None = None
) -> ModelComparison:
    """caret's ``resamples`` of stored runs from their stored per-resample metrics (nothing is
    refitted or re-planned); StoreError saying why when they cannot be compared. ``infos``: the
    runs' ``store.run`` records when the caller already has them."""
    from .compare import ModelComparison

    if len(run_ids) < 2:
        raise StoreError("a resampled comparison needs at least two runs")
    infos = {i: store.run(i) for i in run_ids} if infos is None else infos
    hashes: dict[int, str] = {}
    for i, info in infos.items():
        if (info["config"] or {}).get("kind") == "ensemble":
            raise StoreError(
                f"run {i} ({info['fit']}) is an ensemble: its inner-fold estimate is not on the "
                "fits' resamples; see its report section"
            )
        h = (info["config"] or {}).get("resamples")
        if h is None:
            raise StoreError(f"run {i} was not resampled (method 'none'): nothing to compare")
        hashes[i] = h
    first = run_ids[0]
    for i in run_ids[1:]:
        if hashes[i] != hashes[first]:
            raise StoreError(
                f"runs {first} and {i} were resampled on different rows (resample hashes "
                f"{hashes[first]} and {hashes[i]}): no resamples/diff comparison"
            )
    for i, info in infos.items():
        if (info["config"] or {}).get("resampling") == "loocv":
            raise StoreError(f"run {i} used leave-one-out CV: one estimate, nothing to compare")
        if info["status"] != "finished" or "resample_metrics" not in (info["summary"] or {}):
            raise StoreError(
                f"run {i} has no stored per-resample metrics (unfinished, or stored by an older "
                "leanfit)"
            )
    labels = run_labels(infos)
    first_rm = infos[first]["summary"]["resample_metrics"]
    cols: dict[str, Any] = {"Resample": first_rm["names"]}
    for i, info in infos.items():
        rm = info["summary"]["resample_metrics"]
        values = np.asarray(rm["values"], dtype=float)
        for j, metric in enumerate(rm["metrics"]):
            cols[f"{labels[i]}~{metric}"] = values[:, j]
    import pandas as pd

    n_train = n_test = None
    if "resamples" in infos[first]["artifacts"]:
        with np.load(io.BytesIO(store.load_artifact(first, "resamples")), allow_pickle=False) as z:
            k = len(first_rm["names"])
            n_train = [len(z[f"train_{r}"]) for r in range(k)]
            n_test = [len(z[f"test_{r}"]) for r in range(k)]
    return ModelComparison.from_values(
        pd.DataFrame(cols), n_train=n_train, n_test=n_test, resample_hash=hashes[first]
    )


def write_stored_report(store: Any, ref: str | int, path: str | Path) -> Path:
    """Write the report of stored runs — a run id, ids ``"3,4"`` or an experiment name (all its
    runs, one per fit) — from the experiment store, refitting nothing: scores, tables and
    comparisons come from the stored task results, final models from their artifacts."""
    import yaml

    from .compare import resamples
    from .fusion.persist import is_ensemble_run
    from .report import Comparison, write_report

    ids = resolve_runs(store, ref)
    infos = {i: store.run(i) for i in ids}
    ens_ids = [i for i in ids if is_ensemble_run(infos[i]) and infos[i]["status"] == "finished"]
    ids = [i for i in ids if not is_ensemble_run(infos[i])]
    done = [i for i in ids if infos[i]["status"] == "finished"]
    if not done:
        raise StoreError(f"none of the runs {ids} is finished; nothing to report")
    restored = restore_runs(store, done, infos={i: infos[i] for i in done})
    labels = run_labels({i: infos[i] for i in done})
    fits = {labels[i]: restored[i] for i in done}
    experiments = list(dict.fromkeys(infos[i]["experiment"] for i in done))
    title = experiments[0] if len(experiments) == 1 else f"Stored runs {', '.join(map(str, ids))}"
    notes: dict[str, Any] = {
        "Source": f"experiment store {_display(store.url)}, run(s) "
        + ", ".join(f"{i} ({labels[i]})" for i in done)
        + ". Rendered without refitting anything: tables, profiles and comparisons come from the "
        "stored held-out scores, the chosen models from their stored artifacts. Sections that "
        "would need new fits (learning curves, refitted importance) are left out."
    }
    skipped = [i for i in ids if i not in done]
    if skipped:
        notes["Not included"] = ", ".join(
            f"run {i} ({infos[i]['fit']}, status {infos[i]['status']})" for i in skipped
        )
    spec = run_spec(store, infos[done[0]]) or {}
    if len(experiments) == 1 and spec.get("kind") == "experiment":
        held = spec.get("held_out")
        notes["Partition"] = f"{spec.get('training_rows')} training rows, " + (
            f"{held} held out" if held is not None else "no hold-out"
        )
    for i in done:
        for note in (restored[i].store_run or {}).get("notes") or ():
            notes[f"Stored model of {labels[i]}"] = note
    comparisons = []
    compare: dict[str, str] = {}  # comparison label -> fit name
    if len(experiments) == 1 and spec.get("kind") == "experiment":
        compare = (yaml.safe_load(spec["config"]) or {}).get("compare") or {}
    by_fit = {infos[i]["fit"]: restored[i] for i in done}
    if compare:
        missing = [f for f in compare.values() if f not in by_fit]
        if missing:
            notes["Comparison"] = (
                f"the config's comparison ({', '.join(compare)}) is left out: fit(s) {missing} "
                "are not among the finished runs reported"
            )
        else:
            comp = resamples({label: by_fit[f] for label, f in compare.items()})
            diffs = [comp.diff(), comp.diff(test="corrected_t", adjustment="holm")]
            comparisons.append(Comparison(", ".join(comp.models), comp, diffs))
    ensembles = {infos[i]["fit"]: restore_ensemble(store, i) for i in ens_ids}
    return write_report(path, title, fits, comparisons, notes, ensembles=ensembles)
