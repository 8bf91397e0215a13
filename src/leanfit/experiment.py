"""Experiments from a config file: the seed's caret workflow as data, validated before any fit.

A config names the data, an optional stratified partition, named controls and grids, and the
fits to run in order (each optionally followed by a tolerance pick or predictions on the held-out
rows). ``run_experiment`` prints caret-like tables and writes CSV/JSON results to ``output``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .control import Control

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
    results: dict[str, Any] = field(default_factory=dict)
    # what the experiment store keeps to re-plan a fit later: the config text and where it was
    source: dict[str, Any] = field(default_factory=dict)


def _seq(v: Any, what: str = "a grid range") -> Any:
    """Grid values: a list, a scalar, or {from, to, by} like R's seq() (``what`` names it in
    errors: a zero, non-numeric or wrong-signed step is refused, as R's seq() refuses it)."""
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
        n = int(round((stop - start) / by)) + 1
        if n < 1:
            raise ValueError(f"{what}: by: {by} goes away from to: {stop}; flip its sign")
        return [start + i * by for i in range(n)]
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
) -> Experiment:
    """Read and validate a config: every name, method, grid and control is checked up front."""
    from .configfile import read_text

    text = read_text(path)  # missing, a directory, binary, not UTF-8: one error naming it
    return parse_experiment(text, path, n_jobs=n_jobs, output=output, verbose=verbose)


def parse_experiment(
    text: str,
    path: str | Path,
    n_jobs: int | None = None,
    output: str | Path | None = None,
    verbose: bool = True,
    only: Sequence[str] | None = None,
) -> Experiment:
    """Validate a config's ``text`` (read from ``path``: data paths are relative to its folder)
    and plan its fits — only those named in ``only`` when given (a stored run's re-plan)."""
    from .configfile import parse_yaml_mapping
    from .frame import parse_formula
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
    }
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)}")
    for key in ("data", "formula", "fits"):
        if key not in cfg:
            raise ValueError(f"config {str(path)!r} lacks {key!r}")
    data = load_data(cfg["data"], path.parent)
    target, _ = parse_formula(cfg["formula"], list(map(str, data.columns)))
    training, testing = data, None
    if "partition" in cfg:
        part = dict(cfg["partition"])
        rows = partition(data[target], p=part.get("p", 0.75), seed=part.get("seed"))
        training, testing = data.iloc[rows], data.drop(data.index[rows])

    jobs = n_jobs if n_jobs is not None else cfg.get("n_jobs", 1)
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
            )
        except (TypeError, ValueError) as e:
            raise ValueError(f"fit {fname!r}: {e}") from None
    out = Path(output) if output else (Path(cfg["output"]) if cfg.get("output") else None)
    compare = _check_compare(cfg.get("compare") or {}, fits) if only is None else {}
    source = {
        "kind": "experiment",
        "config": text,
        "config_path": str(path.resolve()),
        "data_source": data_path(cfg["data"], path.parent),
        "training_rows": len(training),
        "held_out": None if testing is None else len(testing),
    }
    return Experiment(
        name=cfg.get("name", path.stem),
        data=data,
        formula=cfg["formula"],
        training=training,
        testing=testing,
        fits=fits,
        output=out,
        compare=compare,
        report=out / "report.html" if out else None,
        source=source,
    )


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


def _plan_fit(
    fspec: dict[str, Any],
    formula: str,
    training: pd.DataFrame,
    testing: pd.DataFrame | None,
    controls: dict[str, Control],
    grids: dict[str, dict[str, Any]],
    run_opts: dict[str, Any],
) -> dict[str, Any]:
    """Resolve one fit's named control and grid and plan it: every check, no fitting."""
    from .tuning.train import plan_train

    bad = set(fspec) - _FIT_KEYS
    if bad:
        raise ValueError(f"unknown key(s) {sorted(bad)}; valid: {sorted(_FIT_KEYS)}")
    spec = dict(fspec)
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
    options = spec.pop("options", None)  # engine settings outside the grid: {n_trees: 1000}
    if options is not None:
        from .models.base import get_model

        if not isinstance(options, dict):
            raise ValueError(f"options must be a mapping, got {options!r}")
        spec["method"] = get_model(spec.get("method"))
        spec["method"].options.update(options)
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
    train_args = {k: v for k, v in spec.items() if k not in ("tolerance", "predict")}
    plan = plan_train(formula, data=training, **train_args)
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


def run_experiment(exp: Experiment, echo=print, store: Any = None) -> dict[str, Any]:
    """Run every fit in order, print caret-like output, and write results if asked."""
    from .selection import tolerance
    from .tuning.train import run_plan

    t0 = time.perf_counter()
    echo(
        f"== {exp.name}: {len(exp.training)} training rows"
        + (f", {len(exp.testing)} held out" if exp.testing is not None else "")
    )
    summary: dict[str, Any] = {"name": exp.name, "fits": {}}
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
        entry = {
            "method": res.method,
            "metric": res.metric,
            "best_params": res.best_params,
            "times": {k: round(v, 3) for k, v in res.times.items()},
            "final_info": res.final_info,
        }
        if res.store_run:
            entry["run_id"] = res.store_run["run_id"]
        if res.scores is not None:
            best = res.results.iloc[res.best_index]
            entry["best_metrics"] = {m: float(best[m]) for m in res.metric_names}
            entry["resample_hash"] = res.resamples.hash
            entry["failed_fits"] = len(res.scores.failures)
            entry["warned_fits"] = res.scores.warned_fits
        tol = spec.get("tolerance")
        if tol:
            metric = tol["metric"]
            maximize = res.maximize if tol["maximize"] is None else tol["maximize"]
            row = tolerance(res.results, metric=metric, tol=tol["tol"], maximize=maximize)
            echo(
                f"\n{fname}: simplest candidate within {tol['tol']}% of the best "
                f"{metric} (row {row}):"
            )
            cols = list(res.candidates.columns) + res.metric_names
            echo(res.results.iloc[[row]][cols].to_string())
            entry["tolerance_pick"] = res.results.iloc[[row]][cols].to_dict("records")[0]
        if spec.get("predict"):
            head = spec["predict"]["head"]
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
    summary["total_seconds"] = round(time.perf_counter() - t0, 3)
    echo("\n== timings (seconds)")
    for fname, e in summary["fits"].items():
        echo(f"  {fname:<10} {e['times']['everything']:8.2f}")
    echo(f"  {'total':<10} {summary['total_seconds']:8.2f}")
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
        write_report(exp.report, exp.name, exp.results, comparisons, notes)
        echo(f"report written to {exp.report} ({time.perf_counter() - t1:.1f} s)")
    return summary


def _run_compare(exp: Experiment, summary: dict[str, Any], echo) -> Any:
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


def _write_fit(out: Path, fname: str, res: Any) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if res.scores is not None:
        res.results.to_csv(out / f"{fname}_results.csv", index=False)
        rs = res.resample
        if rs is not None:
            rs.to_csv(out / f"{fname}_resample.csv", index=False)
        if len(res.failures):
            res.failures.to_csv(out / f"{fname}_failures.csv", index=False)
        if len(res.fit_warnings):
            res.fit_warnings.to_csv(out / f"{fname}_fit_warnings.csv", index=False)
