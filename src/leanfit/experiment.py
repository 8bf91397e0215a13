"""Experiments from a config file: the seed's caret workflow as data, validated before any fit.

A config names the data, an optional stratified partition, named controls and grids, and the
fits to run in order (each optionally followed by a tolerance pick or predictions on the held-out
rows). ``run_experiment`` prints caret-like tables and writes CSV/JSON results to ``output``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .control import Control

if TYPE_CHECKING:
    from .fusion import EnsembleResult
    from .store import Store
    from .tuning.result import TrainResult

_FIT_KEYS = {
    "method",
    "options",
    "control",
    "grid",
    "tune_length",
    "preprocess",
    "metric",
    "maximize",
    "seed",
    "tolerance",
    "predict",
    "selection",
    "task",
}


@dataclass
class Experiment:
    """A validated experiment: data, partition, and the fits to run in order."""

    name: str
    data: pd.DataFrame
    formula: str
    training: pd.DataFrame
    testing: pd.DataFrame | None
    fits: dict[str, dict[str, Any]]
    output: Path | None
    compare: dict[str, str] = field(default_factory=dict)  # display name -> fit name
    report: Path | None = None
    # `explain:` fits whose predictions the report explains ({"fits", "rows", "method"})
    explain: dict[str, Any] = field(default_factory=dict)
    results: dict[str, TrainResult] = field(default_factory=dict)
    # what the experiment store keeps to re-plan a fit later: the config text and where it was
    source: dict[str, Any] = field(default_factory=dict)
    # the seed given to the seedless partition / fits (None: every part has its own) and a line
    # telling the user which it was and where it came from
    seed: int | None = None
    seed_note: str | None = None
    # ensembles over the fits (name -> lf.ensemble keyword arguments and ``members``), built
    # after the fits, and what they gave
    ensembles: dict[str, dict[str, Any]] = field(default_factory=dict)
    ensemble_results: dict[str, EnsembleResult] = field(default_factory=dict)


@dataclass(frozen=True)
class Seq(Sequence[Any]):
    """R's seq(from, to, by) as a lazy sequence: its length is known without listing its
    values, so a range to 1e12 is refused by the grid's size check, not built first."""

    start: float
    step: float
    n: int

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        j = i + self.n if i < 0 else i
        if not 0 <= j < self.n:
            raise IndexError(i)
        return self.start + j * self.step


def _seq(v: Any, what: str = "a grid range") -> Any:
    """Grid values: a list, a scalar, or {from, to, by} like R's seq(): the values from ``from``
    stepping by ``by`` up to ``to``, as a lazy ``Seq`` (``what`` names it in errors: a zero,
    non-numeric or wrong-signed step is refused, as R's seq() refuses it)."""
    if isinstance(v, dict):
        missing = {"from", "to", "by"} - set(v)
        if missing:
            raise ValueError(f"{what} needs from/to/by; missing {sorted(missing)}")
        bad = {k: v[k] for k in ("from", "to", "by") if not _is_number(v[k])}
        if bad:
            raise ValueError(f"{what}: from/to/by must be numbers, got {bad}")
        start, stop, by = v["from"], v["to"], v["by"]
        if by == 0:
            raise ValueError(
                f"{what}: by: 0 never gets from {start} to {stop}; give a non-zero step"
            )
        steps = (stop - start) / by
        if not math.isfinite(steps):
            raise ValueError(f"{what}: from/to/by must be finite, got {v}")
        if steps < 0:
            raise ValueError(f"{what}: by: {by} goes away from to: {stop}; flip its sign")
        return Seq(start, by, int(math.floor(steps + 1e-10)) + 1)
    return v


def _is_number(x: Any) -> bool:
    """A real number from YAML (int or float, not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def data_path(spec: str, base: Path) -> str:
    """Where ``data:`` points: a bundled data set's name, or the CSV file's absolute path."""
    from . import datasets

    if spec in datasets.NAMES:
        return spec
    return str((Path(spec) if Path(spec).is_absolute() else base / spec).resolve())


def load_data(spec: str, base: Path) -> pd.DataFrame:
    """A bundled data set name, or a CSV path relative to the config file."""
    from . import datasets

    if spec in datasets.NAMES:
        return datasets.load(spec)
    from .configfile import read_csv

    path = Path(data_path(spec, base))
    if not path.exists():
        raise ValueError(
            f"data {spec!r} is neither a bundled data set {list(datasets.NAMES)} "
            f"nor an existing CSV file ({path})"
        )
    return read_csv(path, spec)


def load_experiment(
    path: str | Path,
    n_jobs: int | None = None,
    output: str | Path | None = None,
    verbose: bool = True,
    allow_large: bool | None = None,
    store: Store | None = None,
) -> Experiment:
    """Read and validate a config: every name, method, grid and control is checked up front.
    With a ``store``, a seedless config reuses the seed drawn when the experiment first ran."""
    from .configfile import read_text

    text = read_text(path)  # missing, a directory, binary, not UTF-8: one error naming it
    return parse_experiment(
        text,
        path,
        n_jobs=n_jobs,
        output=output,
        verbose=verbose,
        allow_large=allow_large,
        store=store,
    )


def parse_experiment(
    text: str,
    path: str | Path,
    n_jobs: int | None = None,
    output: str | Path | None = None,
    verbose: bool = True,
    only: Sequence[str] | None = None,
    allow_large: bool | None = None,
    seed: int | None = None,
    store: Store | None = None,
    frame: pd.DataFrame | None = None,
) -> Experiment:
    """Validate a config's ``text`` (read from ``path``: data paths are relative to its folder)
    and plan its fits — only those named in ``only`` when given (a stored run's re-plan).
    ``allow_large`` (else the config's ``allow_large``) lifts the plan size limits; a re-plan
    lifts them too, as that plan already ran.

    A partition or fit without a seed gets one experiment seed: ``seed`` when given (a stored
    run's), else the one stored with this experiment's runs in ``store``, else a fresh draw
    (kept with the runs, so the next run of the experiment resumes instead of differing).
    ``frame``: the data to use instead of the config's ``data`` (a retrain's new rows)."""
    from .configfile import parse_yaml_mapping
    from .frame import check_task, parse_formula, target_for_task
    from .splits import partition

    path = Path(path)
    cfg = parse_yaml_mapping(text, path)
    unknown = set(cfg) - {
        "name",
        "data",
        "formula",
        "partition",
        "n_jobs",
        "controls",
        "grids",
        "fits",
        "output",
        "compare",
        "allow_large",
        "task",
        "explain",
        "ensembles",
    }
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)}")
    for key in ("data", "formula", "fits"):
        if key not in cfg:
            raise ValueError(f"config {str(path)!r} lacks {key!r}")
    name = cfg.get("name", path.stem)
    seedless = _seedless(cfg, only)
    note = None
    if seedless and seed is None:
        seed, note = _experiment_seed(store, name, seedless)
    data = frame if frame is not None else load_data(cfg["data"], path.parent)
    target, _ = parse_formula(cfg["formula"], list(map(str, data.columns)))
    try:  # the experiment's task: every fit's unless it names its own, and the partition's
        task = check_task(cfg.get("task"))
        outcome = target_for_task(data[target], target, task)
    except ValueError as e:
        raise ValueError(f"task: {e}") from None
    training, testing = data, None
    if "partition" in cfg:
        part = dict(cfg["partition"])
        rows = partition(outcome, p=part.get("p", 0.75), seed=part.get("seed", seed))
        training, testing = data.iloc[rows], data.drop(data.index[rows])

    jobs = n_jobs if n_jobs is not None else cfg.get("n_jobs", 1)
    large = allow_large if allow_large is not None else cfg.get("allow_large", False)
    if not isinstance(large, bool):
        raise ValueError(f"allow_large must be true or false, got {large!r}")
    large = large or only is not None
    controls = {}
    for cname, cspec in (cfg.get("controls") or {}).items():
        try:
            controls[cname] = Control(**{**cspec, "n_jobs": jobs, "verbose": verbose})
        except (TypeError, ValueError) as e:
            raise ValueError(f"control {cname!r}: {e}") from None
    grids = {
        g: {k: _seq(v, f"grid {g!r}: {k}") for k, v in spec.items()}
        for g, spec in (cfg.get("grids") or {}).items()
    }
    fits = {}
    if only is not None:
        missing = [f for f in only if f not in cfg["fits"]]
        if missing:
            raise ValueError(f"config {str(path)!r} has no fit(s) {missing}")
    for fname, fspec in cfg["fits"].items():
        if only is not None and fname not in only:
            continue
        try:
            fits[fname] = _plan_fit(
                fspec,
                cfg["formula"],
                training,
                testing,
                controls,
                grids,
                {"n_jobs": jobs, "verbose": verbose},
                large,
                seed,
                task,
            )
        except (TypeError, ValueError) as e:
            raise ValueError(f"fit {fname!r}: {e}") from None
    out = Path(output) if output else (Path(cfg["output"]) if cfg.get("output") else None)
    compare = _check_compare(cfg.get("compare") or {}, fits) if only is None else {}
    explain = _check_explain(cfg.get("explain"), list(cfg["fits"])) if "explain" in cfg else {}
    ensembles = _check_ensembles(cfg.get("ensembles") or {}, fits, controls) if only is None else {}
    source = {
        "kind": "experiment",
        "config": text,
        "config_path": str(path.resolve()),
        "data_source": "<DataFrame>" if frame is not None else data_path(cfg["data"], path.parent),
        "training_rows": len(training),
        "held_out": None if testing is None else len(testing),
    }
    if seedless:
        source["seed"] = seed  # how a later run (or a re-plan) finds the drawn seed
    return Experiment(
        name=name,
        data=data,
        formula=cfg["formula"],
        training=training,
        testing=testing,
        fits=fits,
        output=out,
        compare=compare,
        explain=explain,
        report=out / "report.html" if out else None,
        source=source,
        seed=seed if seedless else None,
        seed_note=note,
        ensembles=ensembles,
    )


def _check_explain(spec: Any, fits: list[str]) -> dict[str, Any]:
    """The ``explain:`` entry: a fit name, a list of them, or {fits, rows, method}; the
    report then explains those fits' predictions on the first ``rows`` held-out rows."""
    from .explanations import METHODS

    if isinstance(spec, str | list):
        spec = {"fits": spec}
    if not isinstance(spec, dict):
        raise ValueError(
            f"explain: give a fit name, a list of fit names or {{fits, rows, method}}, got {spec!r}"
        )
    bad = set(spec) - {"fits", "rows", "method"}
    if bad:
        raise ValueError(f"explain: unknown key(s) {sorted(bad)}; valid: fits, rows, method")
    names = spec.get("fits")
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not names:
        raise ValueError(f"explain: 'fits' must name one or more fits of {fits}")
    unknown = [n for n in names if n not in fits]
    if unknown:
        raise ValueError(f"explain: fit(s) {unknown} are not in the config; fits: {fits}")
    rows = spec.get("rows", 100)
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        raise ValueError(f"explain: rows must be a positive whole number, got {rows!r}")
    method = spec.get("method", "auto")
    if method not in ("auto", *METHODS):
        raise ValueError(f"explain: method {method!r} is not one of {['auto', *METHODS]}")
    return {"fits": [str(n) for n in names], "rows": rows, "method": method}


def _explanations(exp: Experiment, echo: Any) -> dict[str, Any]:
    """The report's explanations: each asked-for fit on the first rows held out (training
    rows without a partition); a fit that cannot be explained gets the reason instead."""
    from .explanations import explain

    spec = exp.explain
    rows = (exp.testing if exp.testing is not None else exp.training).head(spec["rows"])
    out: dict[str, Any] = {}
    for name in spec["fits"]:
        if name not in exp.results:
            continue
        t0 = time.perf_counter()
        try:
            out[name] = explain(exp.results[name], rows, method=spec["method"])
        except (ValueError, TypeError, ImportError) as e:
            out[name] = str(e)
        echo(f"{name}: {len(rows)} row(s) explained in {time.perf_counter() - t0:.1f} s")
    return out


def _seedless(cfg: dict[str, Any], only: Sequence[str] | None) -> list[str]:
    """The parts of a config that name no seed: the partition, and fits whose own entry and
    control both lack one (those would otherwise draw a new seed on every run)."""
    out = []
    part, fits = cfg.get("partition"), cfg.get("fits")
    if "partition" in cfg and (not isinstance(part, dict) or part.get("seed") is None):
        out.append("the partition")
    controls: dict[str, Any] = cfg["controls"] if isinstance(cfg.get("controls"), dict) else {}
    for fname, fspec in fits.items() if isinstance(fits, dict) else ():
        if (only is not None and fname not in only) or not isinstance(fspec, dict):
            continue
        ctl = fspec.get("control")
        ctl = controls.get(ctl) if isinstance(ctl, str) else ctl
        ctl_seed = ctl.get("seed") if isinstance(ctl, dict) else None
        if fspec.get("seed") is None and ctl_seed is None:
            out.append(str(fname))
    return out


def stored_seed(store: Store, experiment: str) -> int | None:
    """The seed drawn for a seedless config when ``experiment`` first ran, as stored with its
    runs' re-plan specs, or None when the store has no run of it that kept one."""
    from .store.runs import run_spec

    runs = store.runs()
    for run_id in runs.loc[runs["experiment"] == experiment, "id"]:
        spec = run_spec(store, int(run_id)) or {}
        if spec.get("seed") is not None:
            return int(spec["seed"])
    return None


def _experiment_seed(store: Store | None, name: str, seedless: list[str]) -> tuple[int, str]:
    """The seed for the seedless parts of experiment ``name`` — the one stored by an earlier run
    of it, else a fresh draw — and a line saying which (``{stored}``: filled in by the run,
    which knows whether it keeps the seed)."""
    import numpy as np

    what = ", ".join(seedless)
    seed = None if store is None else stored_seed(store, name)
    if seed is not None:
        return seed, (
            f"seed: {seed} (for {what}: drawn when experiment {name!r} first ran, read back "
            f"from the store; put `seed: {seed}` in the config to fix it)"
        )
    seed = int(np.random.SeedSequence().generate_state(1)[0])
    return (
        seed,
        f"seed: {seed} (for {what}: drawn; {{stored}}; put `seed: {seed}` in the config to fix it)",
    )


def _seed_line(exp: Experiment, storing: bool) -> str | None:
    """The experiment's seed note, saying whether this run keeps a freshly drawn seed."""
    if exp.seed_note is None:
        return None
    kept = (
        "stored with the runs and reused when this experiment runs again"
        if storing
        else "not stored, as this run keeps nothing"
    )
    return exp.seed_note.replace("{stored}", kept)


def _check_compare(compare: dict[str, str], fits: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The models to compare must be resampled fits on identical resamples (checked now)."""
    if not compare:
        return {}
    if not isinstance(compare, dict) or len(compare) < 2:
        raise ValueError("compare: needs at least two entries, e.g. {GBM: gbmFit3, SVM: svmFit}")
    hashes = {}
    for label, fname in compare.items():
        if fname not in fits:
            raise ValueError(f"compare: {label!r} names fit {fname!r}; fits: {list(fits)}")
        plan = fits[fname]["plan"]
        if plan.resamples is None:
            raise ValueError(f"compare: fit {fname!r} has no resamples (method='none')")
        hashes[fname] = plan.resamples.hash
    first = next(iter(hashes))
    for fname, h in hashes.items():
        if h != hashes[first]:
            raise ValueError(
                f"compare: fits {first!r} and {fname!r} are resampled on different rows "
                f"(hashes {hashes[first][:12]} and {h[:12]}); give them the same seed and control"
            )
    return dict(compare)


_ENSEMBLE_KEYS = {
    "members",
    "method",
    "weights",
    "loss",
    "iterations",
    "bags",
    "bag_fraction",
    "meta",
    "meta_args",
    "meta_control",
    "blend_p",
    "inner",
    "metric",
    "seed",
}


def _check_ensembles(
    ensembles: Any, fits: dict[str, dict[str, Any]], controls: dict[str, Control]
) -> dict[str, dict[str, Any]]:
    """``ensembles: {name: {members: [fit, ...], method: caruana, ...}}``: every member a
    resampled fit keeping its held-out predictions, all on the same resamples (checked now)."""
    from .fusion import METHODS

    if not isinstance(ensembles, dict):
        raise ValueError(
            "ensembles: must map names to settings, e.g. "
            "{ens: {members: [gbmFit, svmFit], method: caruana}}"
        )
    out = {}
    for name, spec in ensembles.items():
        what = f"ensemble {name!r}"
        if name in fits:
            raise ValueError(f"{what}: the name is taken by a fit; give the ensemble its own")
        if not isinstance(spec, dict):
            raise ValueError(f"{what}: needs a mapping with members (and method), got {spec!r}")
        bad = set(spec) - _ENSEMBLE_KEYS
        if bad:
            raise ValueError(
                f"{what}: unknown key(s) {sorted(bad)}; valid: {sorted(_ENSEMBLE_KEYS)}"
            )
        members = spec.get("members")
        if not isinstance(members, list) or len(members) < 2:
            raise ValueError(f"{what}: members must list at least two fits, got {members!r}")
        method = spec.get("method", "caruana")
        if method not in METHODS:
            raise ValueError(f"{what}: method {method!r} is not one of {list(METHODS)}")
        hashes = {}
        for m in members:
            if m not in fits:
                raise ValueError(f"{what}: member {m!r} is not a fit; fits: {list(fits)}")
            plan = fits[m]["plan"]
            if plan.resamples is None:
                raise ValueError(f"{what}: member {m!r} is not resampled (method 'none')")
            if plan.control.save_predictions in (False, "none"):
                raise ValueError(
                    f"{what}: member {m!r} keeps no held-out predictions: give its control "
                    "save_predictions: final (or all)"
                )
            hashes[m] = plan.resamples.hash
        first = members[0]
        for m, h in hashes.items():
            if h != hashes[first]:
                raise ValueError(
                    f"{what}: members {first!r} and {m!r} are resampled on different rows "
                    f"(hashes {hashes[first][:12]} and {h[:12]}); give them the same seed and "
                    "control"
                )
        opts = {k: v for k, v in spec.items() if k != "members"}
        ctl = opts.get("meta_control")
        if ctl is not None:
            if not isinstance(ctl, str) or ctl not in controls:
                raise ValueError(
                    f"{what}: meta_control must name a control; defined: {list(controls)}"
                )
            opts["meta_control"] = controls[ctl]
        out[str(name)] = {"members": [str(m) for m in members], "options": opts}
    return out


def _plan_fit(
    fspec: dict[str, Any],
    formula: str,
    training: pd.DataFrame,
    testing: pd.DataFrame | None,
    controls: dict[str, Control],
    grids: dict[str, dict[str, Any]],
    run_opts: dict[str, Any],
    allow_large: bool = False,
    seed: int | None = None,
    task: str | None = None,
) -> dict[str, Any]:
    """Resolve one fit's named control and grid and plan it: every check, no fitting.
    ``seed``: the experiment's, for a fit that names none (nor does its control); ``task``:
    the experiment's, for a fit that names none."""
    from .tuning.train import plan_train

    bad = set(fspec) - _FIT_KEYS
    if bad:
        raise ValueError(f"unknown key(s) {sorted(bad)}; valid: {sorted(_FIT_KEYS)}")
    spec = dict(fspec)
    if spec.get("task") is None:
        spec["task"] = task
    ctl = spec.get("control")
    if isinstance(ctl, str):
        if ctl not in controls:
            raise ValueError(f"names control {ctl!r}; defined: {list(controls)}")
        spec["control"] = controls[ctl]
    else:
        spec["control"] = Control(**{**(ctl or {}), **run_opts})
    grid = spec.get("grid")
    if isinstance(grid, str):
        if grid not in grids:
            raise ValueError(f"names grid {grid!r}; defined: {list(grids)}")
        grid = grids[grid]
    elif isinstance(grid, dict):
        grid = {k: _seq(v, f"grid: {k}") for k, v in grid.items()}
    spec["grid"] = grid
    if spec.get("selection"):
        spec["control"] = replace(spec["control"], selection=spec.pop("selection"))
    predict = spec.get("predict")
    if predict:
        if testing is None:
            raise ValueError("predicts held-out rows, but the config has no partition")
        head = predict.get("head", len(testing)) if isinstance(predict, dict) else len(testing)
        if not isinstance(head, int) or head < 1:
            raise ValueError(f"predict: head must be a positive integer, got {head!r}")
        spec["predict"] = {"head": head}
    if spec.get("seed") is None and spec["control"].seed is None:
        spec["seed"] = seed
    train_args = {k: v for k, v in spec.items() if k not in ("tolerance", "predict")}
    plan = plan_train(formula, data=training, allow_large=allow_large, **train_args)
    tol = spec.get("tolerance")
    if tol:
        tol = {"metric": plan.metric, "tol": 1.5, "maximize": None, **dict(tol)}
        if tol["metric"] not in plan.metric_names:
            raise ValueError(
                f"tolerance metric {tol['metric']!r} is not produced; the fit "
                f"produces {plan.metric_names}"
            )
        spec["tolerance"] = tol
    spec["plan"] = plan
    return spec


def run_experiment(
    exp: Experiment, echo: Callable[[str], None] = print, store: Store | None = None
) -> dict[str, Any]:
    """Run every fit in order, print caret-like output, and write results if asked."""
    from .selection import choose
    from .tuning.train import run_plan

    check_outputs(exp)  # a folder that cannot be written fails now, not after the fits
    t0 = time.perf_counter()
    echo(
        f"== {exp.name}: {len(exp.training)} training rows"
        + (f", {len(exp.testing)} held out" if exp.testing is not None else "")
    )
    seed_line = _seed_line(exp, store is not None)
    if seed_line:
        echo(seed_line)
    summary: dict[str, Any] = {"name": exp.name, "fits": {}}
    if exp.seed is not None:
        summary["seed"] = exp.seed
    for fname, spec in exp.fits.items():
        echo(f"\n== {fname}")
        source = {**exp.source, "fit": fname} if exp.source else None
        res = run_plan(spec["plan"], store=store, experiment=exp.name, fit=fname, source=source)
        if res.store_run and res.store_run["resumed_tasks"]:
            echo(
                f"(resumed: {res.store_run['resumed_tasks']} task results read from the store, "
                f"{res.store_run['computed_tasks']} computed)"
            )
        for note in (res.store_run or {}).get("notes", ()):
            echo(f"(store: {note})")
        exp.results[fname] = res
        echo(repr(res))
        entry: dict[str, Any] = {
            "method": res.method,
            "metric": res.metric,
            "best_params": res.best_params,
            "times": {k: round(v, 3) for k, v in res.times.items()},
            "final_info": res.final_info,
        }
        if res.final_warnings:
            entry["final_warnings"] = res.final_warnings
        if res.store_run:
            entry["run_id"] = res.store_run["run_id"]
            if res.store_run.get("resumed"):  # its times cover every invocation, not just this
                entry["resumed"] = True
                entry["invocations"] = res.store_run["invocations"]
        if res.scores is not None:
            best = res.results.iloc[res.best_index]
            entry["best_metrics"] = {m: float(best[m]) for m in res.metric_names}
            assert res.resamples is not None  # a fit with scores was resampled
            entry["resample_hash"] = res.resamples.hash
            entry["failed_fits"] = len(res.scores.failures)
            entry["warned_fits"] = res.scores.warned_fits
        tol = spec.get("tolerance")
        if tol:
            metric = tol["metric"]
            maximize = res.maximize if tol["maximize"] is None else tol["maximize"]
            row = choose(
                res.results,
                partial(_tolerance_rule, tol=tol["tol"]),
                metric,
                maximize,
                res.control.select_incomplete,
            )
            echo(
                f"\n{fname}: simplest candidate within {tol['tol']}% of the best "
                f"{metric} (row {row}"
                + ("" if res.control.select_incomplete else ", among complete candidates")
                + "):"
            )
            cols = [*res.candidates.columns, *res.metric_names, "Resamples"]
            echo(res.results.iloc[[row]][cols].to_string())
            entry["tolerance_pick"] = res.results.iloc[[row]][cols].to_dict("records")[0]
        if spec.get("predict"):
            head = spec["predict"]["head"]
            assert exp.testing is not None  # parse_experiment refuses predict without a partition
            rows = exp.testing.head(head)
            pred, prob = res.predict(rows), None
            echo(f"\n{fname}: predictions on the first {head} held-out rows")
            echo(pd.DataFrame({"pred": pred}).to_string())
            if res.dataset.mode == "classification" and res.model.probabilities:
                prob = res.predict_proba(rows)
                echo(prob.to_string())
            entry["predictions"] = [str(v) for v in pred]
            if prob is not None:
                entry["probabilities"] = prob.round(6).to_dict("list")
        summary["fits"][fname] = entry
        if exp.output:
            _write_fit(exp.output, fname, res)
    comparisons = []
    if exp.compare:
        comparisons.append(_run_compare(exp, summary, echo))
    if exp.ensembles:
        _run_ensembles(exp, summary, echo, store)
    summary["total_seconds"] = round(time.perf_counter() - t0, 3)
    summary["compute_seconds"] = round(
        sum(e["times"].get("compute", 0.0) for e in summary["fits"].values()), 3
    )
    _echo_timings(summary, echo)
    if exp.output:
        exp.output.mkdir(parents=True, exist_ok=True)
        (exp.output / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        echo(f"results written to {exp.output}/")
    if exp.report:
        from .report import write_report

        t1 = time.perf_counter()
        notes = {
            "Partition": f"{len(exp.training)} training rows, "
            + (f"{len(exp.testing)} held out" if exp.testing is not None else "no hold-out")
        }
        if seed_line:
            notes["Seed"] = seed_line
        explained = _explanations(exp, echo) if exp.explain else None
        write_report(
            exp.report,
            exp.name,
            exp.results,
            comparisons,
            notes,
            explanations=explained,
            ensembles=exp.ensemble_results,
        )
        echo(f"report written to {exp.report} ({time.perf_counter() - t1:.1f} s)")
    return summary


def _tolerance_rule(results: pd.DataFrame, metric: str, maximize: bool, tol: float) -> int:
    """selection.tolerance as a rule ``f(results, metric, maximize)`` for ``choose``."""
    from .selection import tolerance

    return tolerance(results, metric=metric, tol=tol, maximize=maximize)


def _echo_timings(summary: dict[str, Any], echo: Callable[[str], None]) -> None:
    """Each fit's wall seconds in this run and compute seconds (fitting and predicting, every
    worker; a resumed fit's include the task results read from the store), and for a resumed
    fit the wall time over all its invocations."""
    echo("\n== timings (seconds)")
    echo(f"  {'':<10} {'wall':>8} {'compute':>8}")
    for fname, e in summary["fits"].items():
        t = e["times"]
        line = f"  {fname:<10} {t['everything']:8.2f} {t.get('compute', float('nan')):8.2f}"
        if e.get("resumed"):
            line += (
                f"  resumed: {t.get('wall_total', float('nan')):.2f} s wall over "
                f"{e['invocations']} invocations"
            )
        echo(line)
    echo(f"  {'total':<10} {summary['total_seconds']:8.2f} {summary['compute_seconds']:8.2f}")


def _run_compare(exp: Experiment, summary: dict[str, Any], echo: Callable[[str], None]) -> Any:
    """caret's resamples / summary / diff on the configured fits, printed and kept."""
    from .compare import resamples
    from .report import Comparison

    comp = resamples({label: exp.results[f] for label, f in exp.compare.items()})
    diffs = [comp.diff(), comp.diff(test="corrected_t", adjustment="holm")]
    echo("\n== comparison: " + ", ".join(comp.models))
    echo(repr(comp.summary()))
    for d in diffs:
        echo(repr(d))
    summary["comparison"] = {
        "models": exp.compare,
        "summary": comp.summary().to_frame().to_dict("records"),
        "diffs": [d.to_frame().to_dict("records") for d in diffs],
    }
    return Comparison(", ".join(comp.models), comp, diffs)


def _run_ensembles(
    exp: Experiment, summary: dict[str, Any], echo: Callable[[str], None], store: Store | None
) -> None:
    """Build the configured ensembles from the fits' held-out predictions (nothing refitted),
    print them, and keep them in the store beside the fits when there is one."""
    from .fusion import ensemble

    summary["ensembles"] = {}
    for name, spec in exp.ensembles.items():
        echo(f"\n== ensemble {name}")
        try:
            ens = ensemble({m: exp.results[m] for m in spec["members"]}, **spec["options"])
        except ValueError as e:
            raise ValueError(f"ensemble {name!r}: {e}") from None
        entry: dict[str, Any] = {
            "method": ens.method,
            "members": list(ens.names),
            "metric": ens.metric,
            "estimate": ens.estimate,
            "results": ens.results.reset_index(names="model").to_dict("records"),
            "best_member": ens.best_member,
            "test": ens.test,
        }
        if ens.weights is not None:
            entry["weights"] = ens.weights.to_dict()
        if store is not None:
            entry["run_id"] = ens.save(store, name, experiment=exp.name)
        echo(repr(ens))
        exp.ensemble_results[name] = ens
        summary["ensembles"][name] = entry


def check_outputs(exp: Experiment) -> None:
    """The output folder and report file can be written, and no two fits share a file name
    (names are mapped by ``paths.safe_filename``): checked before the first fit runs."""
    from .paths import check_distinct, check_writable

    if exp.output:
        check_writable(exp.output)
        check_distinct(exp.fits, "fits")
    if exp.report:
        if Path(exp.report).is_dir():
            raise ValueError(f"report file {str(exp.report)!r} is a directory; give a file name")
        check_writable(Path(exp.report).parent, "report folder")


def _write_fit(out: Path, fname: str, res: TrainResult) -> None:
    """The fit's tables as ``<fit>_results.csv`` etc., named through ``paths.output_file``."""
    from .paths import output_file

    out.mkdir(parents=True, exist_ok=True)
    if res.scores is not None:
        res.results.to_csv(output_file(out, fname, "_results.csv"), index=False)
        rs = res.resample
        if rs is not None:
            rs.to_csv(output_file(out, fname, "_resample.csv"), index=False)
        if len(res.failures):
            res.failures.to_csv(output_file(out, fname, "_failures.csv"), index=False)
        if len(res.fit_warnings):
            res.fit_warnings.to_csv(output_file(out, fname, "_fit_warnings.csv"), index=False)
