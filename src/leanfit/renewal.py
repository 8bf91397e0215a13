"""Renewal: retrain a stored experiment's champion on new data and promote it only if it is not
worse (``lf.retrain``, ``leanfit retrain CONFIG --data new.csv``).

The champion is the best finished fit of the stored experiment (by the first fit's metric, or
the fit named with ``fit=``), or the challenger its latest promotion put in its place. New data
is checked against the champion's schema first (missing and extra columns, type changes, new
factor levels), before anything is fitted. The challenger is the champion's configuration run
again on the new data, as experiment ``<name>@retrain-<UTC time>`` in the store: the champion's
chosen parameters, or a new tuning with ``tune=True``. Both are scored on THE SAME resamples of
the new data: the challenger refitted on each resample's training rows (train() does that), the
champion as it stands, predicting the held-out rows. ``compare.ModelComparison`` gives the paired
t-test and the Nadeau–Bengio corrected t-test of challenger minus champion.

Decision: with ``gain`` the mean per-resample difference, signed so that positive is better
(metric-aware: ROC, Accuracy, Rsquared higher; RMSE, MAE, logLoss lower), the challenger is
promoted when ``gain >= -margin`` (``margin`` in the metric's units, default 0: not worse on
average). Promotion writes the challenger's bundle to ``bundle`` and keeps the bundle it
replaces as ``<stem>.v1.lfb``, ``<stem>.v2.lfb``, ... (the highest number is the latest
replaced); when ``bundle`` does not exist yet, the champion's bundle is written there first, so
the file always holds the current model. The decision and its numbers are stored as the
challenger run's ``renewal`` artifact (JSON; ``renewals(store)`` lists them) and, with
``report=``, written as the HTML report's Renewal section.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .compare import ModelComparison, ModelDiff
    from .store import Store
    from .tuning.result import TrainResult

__all__ = ["Renewal", "renewals", "retrain", "schema_differences"]

ARTIFACT = "renewal"
_TAG = "@retrain-"


@dataclass
class Renewal:
    """One retrain-and-promote decision and the numbers behind it."""

    experiment: str
    fit: str
    champion_run: int
    challenger_run: int | None
    metric: str
    maximize: bool
    champion: float  # mean of the metric over the resamples of the new data
    challenger: float
    gain: float  # mean of (challenger - champion), signed so that positive is better
    p_value: float  # paired t-test of challenger - champion (compare.ModelComparison.diff)
    p_value_corrected: float  # Nadeau & Bengio's corrected resampled t-test
    margin: float
    promoted: bool
    tuned: bool
    wall_seconds: float
    values: pd.DataFrame  # per resample: Resample, champion, challenger (the metric)
    bundle: Path | None = None
    previous_bundle: Path | None = None
    data: str | None = None
    # wall seconds of each step: champion (restore), check, challenger (fit and resample),
    # compare (the champion scored on the held-out rows), bundle (write, keep the old one)
    times: dict[str, float] = field(default_factory=dict)
    result: TrainResult | None = field(default=None, repr=False)  # the challenger
    champion_result: TrainResult | None = field(default=None, repr=False)
    comparison: ModelComparison | None = field(default=None, repr=False)
    diffs: list[ModelDiff] = field(default_factory=list, repr=False)

    @property
    def decision(self) -> str:
        """One line: promoted or kept, and why."""
        better = "higher" if self.maximize else "lower"
        verdict = "challenger promoted" if self.promoted else "champion kept"
        rule = ">=" if self.promoted else "<"
        return (
            f"{verdict}: {self.metric} {self.challenger:.4g} vs {self.champion:.4g} "
            f"({better} is better), gain {self.gain:+.4g} {rule} -margin {-self.margin:+.4g}; "
            f"paired t-test p = {self.p_value:.3g}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The stored record (JSON-ready)."""
        return {
            "experiment": self.experiment,
            "fit": self.fit,
            "champion_run": self.champion_run,
            "challenger_run": self.challenger_run,
            "metric": self.metric,
            "maximize": self.maximize,
            "champion": _num(self.champion),
            "challenger": _num(self.challenger),
            "gain": _num(self.gain),
            "p_value": _num(self.p_value),
            "p_value_corrected": _num(self.p_value_corrected),
            "margin": self.margin,
            "promoted": self.promoted,
            "decision": self.decision,
            "tuned": self.tuned,
            "wall_seconds": round(self.wall_seconds, 3),
            "times": {k: round(v, 3) for k, v in self.times.items()},
            "resamples": int(len(self.values)),
            "values": {
                k: [_num(v) for v in self.values[k]] if k != "Resample" else list(self.values[k])
                for k in self.values.columns
            },
            "bundle": None if self.bundle is None else str(self.bundle),
            "previous_bundle": None if self.previous_bundle is None else str(self.previous_bundle),
            "data": self.data,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }

    def __repr__(self) -> str:
        lines = [
            f"Renewal of {self.experiment}/{self.fit} (champion run {self.champion_run}, "
            f"challenger run {self.challenger_run})",
            f"  {self.metric} over {len(self.values)} resamples of the new data: champion "
            f"{self.champion:.4f}, challenger {self.challenger:.4f}",
            f"  paired t-test p = {self.p_value:.4g}; corrected t-test p = "
            f"{self.p_value_corrected:.4g}; margin {self.margin:g}",
            f"  {self.decision}",
        ]
        if self.bundle is not None:
            kept = f" (previous kept as {self.previous_bundle})" if self.previous_bundle else ""
            lines.append(f"  bundle: {self.bundle}{kept}")
        steps = ", ".join(f"{k} {v:.2f}" for k, v in self.times.items())
        lines.append(f"  wall time {self.wall_seconds:.1f} s" + (f" ({steps})" if steps else ""))
        return "\n".join(lines)


def retrain(
    config: str | Path,
    data: str | Path | pd.DataFrame,
    *,
    store: Store | str | None = None,
    fit: str | None = None,
    tune: bool = False,
    margin: float = 0.0,
    bundle: str | Path | None = None,
    report: str | Path | None = None,
    n_jobs: int | None = None,
    echo: Callable[[str], None] = print,
) -> Renewal:
    """Retrain the stored experiment ``config``'s champion on ``data`` (a CSV path or a
    DataFrame) and promote it only if it is not worse by ``margin`` (see the module docstring).

    ``store``: a Store or its URL (default as for ``leanfit run``); ``fit``: the champion's
    fit name (default: the experiment's best fit); ``tune``: tune again (default: the
    champion's chosen parameters); ``bundle``: the bundle file holding the current model
    (default ``<output or .>/<experiment>.lfb``); ``report``: an HTML report to write.
    """
    from .store import Store

    t0 = time.perf_counter()
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not margin >= 0:
        raise ValueError(f"margin={margin!r} must be a number >= 0 (in the metric's units)")
    own = not isinstance(store, Store)
    st = store if isinstance(store, Store) else Store.open(store)
    try:
        return _retrain(
            st, Path(config), data, fit, tune, float(margin), bundle, report, n_jobs, echo, t0
        )
    finally:
        if own:
            st.close()


def _retrain(
    store: Store,
    config: Path,
    data: str | Path | pd.DataFrame,
    fit: str | None,
    tune: bool,
    margin: float,
    bundle: str | Path | None,
    report: str | Path | None,
    n_jobs: int | None,
    echo: Callable[[str], None],
    t0: float,
) -> Renewal:
    from .configfile import parse_yaml_mapping, read_text
    from .experiment import parse_experiment, run_experiment
    from .restore import restore_fit
    from .store.runs import run_spec

    text = read_text(config)
    cfg = parse_yaml_mapping(text, config)
    name = str(cfg.get("name", config.stem))
    if not isinstance(cfg.get("fits"), dict) or not cfg["fits"]:
        raise ValueError(f"config {str(config)!r} has no fits to retrain")
    times: dict[str, float] = {}
    tick = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        times[step] = now - tick
        tick = now

    champ_run, fname = _champion(store, name, list(cfg["fits"]), fit)
    champion = restore_fit(store, champ_run)
    spec = run_spec(store, champ_run) or {}
    lap("champion")
    echo(f"== champion: {name}/{fname} (run {champ_run}, {champion.method})")

    frame, source = _new_data(data)
    problems = schema_differences(champion, frame, str(cfg.get("formula", "")))
    if problems:
        raise ValueError(
            f"the new data {source!r} do not match the champion's schema ({name}/{fname}, run "
            f"{champ_run}): " + "; ".join(problems)
        )
    lap("check")

    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    new_cfg = _challenger_config(champion, spec, cfg, fname, tune, frame, data)
    new_cfg["name"] = f"{name.split(_TAG)[0]}{_TAG}{stamp}"
    import yaml

    new_text = yaml.safe_dump(new_cfg, sort_keys=False)
    exp = parse_experiment(
        new_text,
        config,
        n_jobs=n_jobs,
        verbose=False,
        only=[fname],
        seed=spec.get("seed"),
        frame=frame if isinstance(data, pd.DataFrame) else None,
    )
    exp.output, exp.report, exp.compare = None, None, {}
    if exp.fits[fname]["plan"].resamples is None:
        raise ValueError(
            f"fit {fname!r} is not resampled (method='none'): a challenger must be compared with "
            "the champion on resamples of the new data; give the fit a resampling control"
        )
    if isinstance(data, pd.DataFrame):
        exp.source = {}  # a DataFrame has no path to reload it from: not re-plannable
    echo(f"== challenger: {exp.name}/{fname} on {len(exp.training)} rows of {source}")
    run_experiment(exp, echo=echo, store=store)
    res = exp.results[fname]
    lap("challenger")
    comp, values = _compare(champion, res, exp.training)
    lap("compare")
    metric, maximize = res.metric, bool(res.maximize)
    diff_t = comp.diff(metric=metric, test="t", adjustment="none")
    diff_c = comp.diff(metric=metric, test="corrected_t", adjustment="none")
    p = float(diff_t.table["p_value"].iloc[0])
    p_c = float(diff_c.table["p_value"].iloc[0])
    champ_mean = float(np.nanmean(values["champion"]))
    chal_mean = float(np.nanmean(values["challenger"]))
    gain = float(np.nanmean(values["challenger"] - values["champion"]))
    gain = gain if maximize else -gain
    promoted = bool(np.isfinite(gain) and gain >= -margin)
    out = Renewal(
        experiment=name.split(_TAG)[0],
        fit=fname,
        champion_run=champ_run,
        challenger_run=(res.store_run or {}).get("run_id"),
        metric=metric,
        maximize=maximize,
        champion=champ_mean,
        challenger=chal_mean,
        gain=gain,
        p_value=p,
        p_value_corrected=p_c,
        margin=margin,
        promoted=promoted,
        tuned=tune,
        wall_seconds=0.0,
        values=values,
        data=source,
        result=res,
        champion_result=champion,
        comparison=comp,
        diffs=[diff_t, diff_c],
    )
    path = Path(bundle) if bundle is not None else _default_bundle(cfg, config, out.experiment)
    out.bundle, out.previous_bundle = _promote(path, champion, res, exp.training, promoted)
    lap("bundle")
    out.times = times
    out.wall_seconds = time.perf_counter() - t0
    if out.challenger_run is not None:
        blob = json.dumps(out.to_dict(), indent=1).encode()
        store.save_artifact(int(out.challenger_run), ARTIFACT, blob, "json")
    echo(repr(out))
    if report is not None:
        write_renewal_report(out, report)
        echo(f"report written to {report}")
    return out


# ---------------------------------------------------------------------------------------------
# the champion


def _champion(store: Store, name: str, fits: list[str], fit: str | None) -> tuple[int, str]:
    """(run id, fit name) of the current champion: the latest promoted challenger of the
    experiment's best (or named) fit, else that fit's own finished run."""
    from .restore import restore_runs
    from .store import StoreError

    runs = store.runs()
    own = runs[(runs["experiment"] == name) & (runs["status"] == "finished")]
    stored = {str(f): int(i) for f, i in zip(own["fit"], own["id"], strict=True)}
    if fit is not None:
        if fit not in fits:
            raise ValueError(f"fit={fit!r} is not a fit of the config; its fits: {fits}")
        if fit not in stored:
            raise StoreError(
                f"experiment {name!r} has no finished run of fit {fit!r} in {store.url}; "
                f"finished: {sorted(stored)} (run `leanfit run CONFIG` first)"
            )
        chosen = fit
    else:
        have = [f for f in fits if f in stored]
        if not have:
            raise StoreError(
                f"experiment {name!r} has no finished run in {store.url}; run `leanfit run "
                "CONFIG` (with the same --store) first, then retrain it"
            )
        chosen = have[0]
        if len(have) > 1:  # the best by the first fit's metric (direction from that fit)
            results = restore_runs(store, [stored[f] for f in have])
            first = results[stored[have[0]]]
            metric, sign = first.metric, 1.0 if first.maximize else -1.0
            best = -math.inf
            for f in have:
                r = results[stored[f]]
                if r.scores is None or metric not in r.results.columns:
                    continue
                v = sign * float(r.results.iloc[r.best_index][metric])
                if np.isfinite(v) and v > best:
                    best, chosen = v, f
    latest = stored[chosen]
    for rec in renewals(store, name).to_dict("records"):
        if rec["fit"] == chosen and rec["promoted"] and rec["challenger_run"] is not None:
            latest = int(rec["challenger_run"])  # records come oldest first
    return latest, chosen


def renewals(store: Store, experiment: str | None = None) -> pd.DataFrame:
    """The stored renewal decisions (oldest first), of one experiment or all: experiment, fit,
    champion and challenger runs, metric, the two means, gain, p-values, margin, promoted,
    wall seconds, bundle paths and when."""
    cols = [
        "experiment",
        "fit",
        "champion_run",
        "challenger_run",
        "metric",
        "champion",
        "challenger",
        "gain",
        "p_value",
        "p_value_corrected",
        "margin",
        "promoted",
        "tuned",
        "wall_seconds",
        "bundle",
        "previous_bundle",
        "created",
    ]
    rows = []
    for run_id in store.runs_with_artifact(ARTIFACT):
        rec = json.loads(store.load_artifact(run_id, ARTIFACT))  # hash (and key) verified
        if experiment is None or rec.get("experiment") == experiment:
            rows.append({c: rec.get(c) for c in cols})
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------------
# the new data and its schema


def _new_data(data: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The new rows and how to name them."""
    from .frame import to_pandas

    if isinstance(data, str | Path):
        from .configfile import read_csv

        path = Path(data).resolve()
        return read_csv(path, str(data)), str(path)
    frame = to_pandas(data)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"data must be a CSV path or a DataFrame, got {type(data).__name__}")
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    return frame, "the DataFrame given"


def schema_differences(champion: TrainResult, data: pd.DataFrame, formula: str = "") -> list[str]:
    """How ``data`` differs from what ``champion`` was trained on, in words (empty: it
    matches): missing columns, extra predictors the formula would now read, type changes
    (numeric vs text) and factor levels (or classes) it never saw."""
    from .frame import parse_formula
    from .models.base import CLASSIFICATION

    ds = champion.dataset
    enc, target = ds.encoder, ds.target
    known = [*enc.columns, target]
    out = []
    missing = [c for c in known if c not in data.columns]
    if missing:
        out.append(f"missing column(s) {missing}")
    if formula:
        try:
            _, reads = parse_formula(formula, list(map(str, data.columns)))
        except ValueError:
            reads = []
        extra = [c for c in reads if c not in known]
        if extra:
            out.append(f"extra column(s) {extra} the formula would now read")
    cats = dict(enc.categorical)
    changed, levels = [], []
    for col in enc.columns:
        if col not in data.columns:
            continue
        s = data[col]
        numeric = pd.api.types.is_numeric_dtype(s.dtype) or s.dtype == bool
        if col in cats and numeric and not isinstance(s.dtype, pd.CategoricalDtype):
            changed.append(f"{col!r}: factor -> numeric ({s.dtype})")
        elif col not in cats and not numeric:
            changed.append(f"{col!r}: numeric -> text ({s.dtype})")
        elif col in cats:
            new = sorted(set(s.dropna().astype(str)) - set(cats[col]))
            if new:
                levels.append(f"{col!r}: {new} (known: {list(cats[col])})")
    if target in data.columns:
        y = data[target]
        numeric = pd.api.types.is_numeric_dtype(y.dtype) and y.dtype != bool
        if ds.mode == CLASSIFICATION:
            new = sorted(set(y.dropna().astype(str)) - set(ds.levels))
            if new:
                levels.append(f"target {target!r}: class(es) {new} (known: {list(ds.levels)})")
        elif not numeric:
            changed.append(f"target {target!r}: numeric -> text ({y.dtype})")
    if changed:
        out.append("type change(s) " + ", ".join(changed))
    if levels:
        out.append("new factor level(s) " + "; ".join(levels))
    return out


# ---------------------------------------------------------------------------------------------
# the challenger


def _challenger_config(
    champion: TrainResult,
    spec: dict[str, Any],
    cfg: dict[str, Any],
    fname: str,
    tune: bool,
    frame: pd.DataFrame,
    data: str | Path | pd.DataFrame,
) -> dict[str, Any]:
    """The config that runs ``fname`` again on the new data: the champion's own config (a
    previous challenger's when it was promoted) with ``data`` pointing at the new rows, only
    that fit, and, unless ``tune``, its grid fixed at the champion's chosen parameters."""
    from .configfile import parse_yaml_mapping

    base = dict(cfg)
    if spec.get("kind") == "experiment" and spec.get("config"):
        base = dict(parse_yaml_mapping(spec["config"], spec.get("config_path") or "config"))
    base.pop("compare", None)
    base.pop("output", None)
    fits = base.get("fits") or {}
    if fname not in fits:
        fits = cfg["fits"]
    entry = dict(fits[fname])
    entry.pop("predict", None)
    entry.pop("tolerance", None)
    if not tune:
        params = {k: _py(v) for k, v in champion.best_params.items()}
        entry.pop("tune_length", None)
        entry["grid"] = {k: [v] for k, v in params.items()} if params else None
        if entry["grid"] is None:
            entry.pop("grid")
    base["fits"] = {fname: entry}
    base["data"] = str(Path(data).resolve()) if isinstance(data, str | Path) else "<DataFrame>"
    return base


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _compare(
    champion: TrainResult, res: TrainResult, training: pd.DataFrame
) -> tuple[ModelComparison, pd.DataFrame]:
    """The champion scored as it stands on the held-out rows of the challenger's resamples,
    beside the challenger's own per-resample metrics: a ModelComparison of the two (models
    "challenger" and "champion") and the chosen metric per resample."""
    from .compare import ModelComparison
    from .metrics import summarize
    from .models.base import CLASSIFICATION
    from .pools import one_thread

    if res.resamples is None or res.scores is None:
        raise ValueError(f"the challenger {res.method!r} was not resampled: nothing to compare")
    ds = res.dataset
    names = list(res.metric_names)
    chal = np.asarray(res.scores.values[:, res.best_index, :], dtype=float)
    mapping = None
    if ds.mode == CLASSIFICATION:
        old = list(champion.dataset.levels)
        if set(ds.levels) - set(old):
            raise ValueError(
                f"the new data have class(es) {sorted(set(ds.levels) - set(old))} the champion "
                f"does not know (its classes: {old})"
            )
        mapping = [old.index(c) for c in ds.levels]
    champ = np.full_like(chal, np.nan)
    n_train, n_test = [], []
    # The champion is fixed: each row's prediction does not depend on the resample, so all
    # rows are predicted once (one engine thread, as resample fits run) and sliced per resample.
    with one_thread():
        pred_all, prob_all, _ = champion._predict(training.reset_index(drop=True))
    if mapping is not None:
        labels = np.asarray(champion.dataset.levels, dtype=object)[np.asarray(pred_all, int)]
        pred_all = np.array([list(ds.levels).index(v) for v in labels], dtype=np.int64)
        if prob_all is not None:
            prob_all = np.asarray(prob_all, dtype=float)[:, mapping]
            prob_all = prob_all / prob_all.sum(axis=1, keepdims=True)
    for r, (_, tr, te) in enumerate(res.resamples):
        w = None if ds.weights is None else ds.weights[te]
        m = summarize(
            res.control.summary,
            ds.y[te],
            np.asarray(pred_all)[te][None],
            None if prob_all is None else np.asarray(prob_all)[te][None],
            ds.levels,
            w,
        )
        for j, n in enumerate(names):
            if n in m:
                champ[r, j] = float(np.asarray(m[n], dtype=float)[0])
        n_train.append(len(tr))
        n_test.append(len(te))
    rnames = list(res.resamples.names)
    wide = {"Resample": rnames}
    for j, n in enumerate(names):
        wide[f"challenger~{n}"] = list(chal[:, j])
        wide[f"champion~{n}"] = list(champ[:, j])
    comp = ModelComparison.from_values(
        pd.DataFrame(wide), n_train=n_train, n_test=n_test, resample_hash=res.resamples.hash
    )
    k = names.index(res.metric)
    values = pd.DataFrame({"Resample": rnames, "champion": champ[:, k], "challenger": chal[:, k]})
    return comp, values


# ---------------------------------------------------------------------------------------------
# bundles


def _default_bundle(cfg: dict[str, Any], config: Path, name: str) -> Path:
    out = cfg.get("output")
    folder = Path(out) if out else Path(".")
    from .paths import safe_filename

    return folder / f"{safe_filename(name)}.lfb"


def _promote(
    path: Path,
    champion: TrainResult,
    challenger: TrainResult,
    training: pd.DataFrame,
    promoted: bool,
) -> tuple[Path, Path | None]:
    """Keep ``path`` holding the current model: the champion's bundle is written there when
    the file does not exist; on promotion the file it holds moves to ``<stem>.v<k>.lfb`` and the
    challenger's bundle takes its place. Returns (path, where the replaced bundle went)."""
    from .bundle import save_bundle

    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        save_bundle(champion, path)
    if not promoted:
        return path, None
    new = path.with_name(path.name + ".new")
    save_bundle(challenger, new, data=training[list(challenger.dataset.encoder.columns)])
    k = 1
    while (kept := path.with_name(f"{path.stem}.v{k}{path.suffix}")).exists():
        k += 1
    path.replace(kept)
    new.replace(path)
    return path, kept


# ---------------------------------------------------------------------------------------------
# the report


def write_renewal_report(renewal: Renewal, path: str | Path) -> Path:
    """The HTML report of a renewal: its Renewal section (decision, numbers, per-resample
    values), the paired comparison of challenger and champion, and both fits."""
    from .report import Comparison, write_report

    assert renewal.result is not None and renewal.champion_result is not None
    fits = {"challenger": renewal.result, "champion": renewal.champion_result}
    comps = []
    if renewal.comparison is not None:
        comps.append(Comparison("challenger vs champion", renewal.comparison, renewal.diffs))
    notes = {"Data": renewal.data or ""}
    section = {**renewal.to_dict(), "values": renewal.values}
    return write_report(path, f"{renewal.experiment}: renewal", fits, comps, notes, renewal=section)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
