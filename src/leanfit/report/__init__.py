"""One self-contained HTML report of an experiment: design, tuning, comparison, tests, timings.

Images are PNGs embedded as data URIs and the style sheet is inline, so the file opens anywhere
with no network. Everything shown is derived from the held-out scores already computed.
It renders the results it is given; the report of stored runs is built by
``leanfit.restore.write_stored_report``, which restores them first.
"""

from __future__ import annotations

import base64
import html
import io
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d2430;
background:#f6f7f9;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:2px solid #dde3ea;padding-bottom:4px;
margin-top:2em}h3{margin-top:1.4em}
table{border-collapse:collapse;font-size:.86em;margin:.6em 0}
th,td{border:1px solid #dde3ea;padding:3px 8px;text-align:right}
th{background:#eef2f6}td.l,th.l{text-align:left}tr.best td{background:#fff4cc;font-weight:600}
img{max-width:100%;height:auto;border:1px solid #eef2f6;margin:6px 0}
.meta{color:#55606e;font-size:.9em}.grid{display:flex;flex-wrap:wrap;gap:12px}
.grid figure{margin:0;flex:1 1 460px}figcaption{font-size:.85em;color:#55606e}
details summary{cursor:pointer;color:#24528a}code{background:#f1f3f5;padding:0 3px}
.warn{color:#a33}
"""

_VERSIONS = ("leanfit", "numpy", "pandas", "scikit-learn", "lightgbm", "glum", "matplotlib")


@dataclass
class Comparison:
    """A between-model comparison to show: its name, the comparison object and its diffs."""

    name: str
    comparison: Any  # leanfit.compare.ModelComparison
    diffs: Sequence[Any] = field(default_factory=tuple)  # leanfit.compare.ModelDiff


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig: Any, caption: str) -> str:
    return (
        f'<figure><img alt="{html.escape(caption)}" src="{_png(fig)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _number(v: float, digits: int, p_value: bool = False) -> str:
    """Fixed decimals for metrics; significant digits for p-values and very large or small."""
    if pd.isna(v):
        return ""
    if p_value and 0 < v < 10**-digits:
        return f"{v:.3g}" if v >= 2.2e-16 else "&lt; 2.2e-16"
    return f"{v:.{digits}g}" if abs(v) >= 1e4 else f"{v:.{digits}f}"


def _table(
    df: pd.DataFrame, best: int | None = None, digits: int = 4, left: Sequence[str] = ()
) -> str:
    """A DataFrame as an HTML table; ``best`` highlights one row (the chosen candidate)."""
    cols = list(df.columns)
    head = "".join(
        f'<th class="{"l" if c in left else ""}">{html.escape(str(c))}</th>' for c in cols
    )
    rows = []
    for i, rec in enumerate(df.itertuples(index=False, name=None)):
        cells = []
        for c, v in zip(cols, rec, strict=True):
            if isinstance(v, float):
                text = _number(v, digits, p_value=c.startswith("p_"))
            else:
                text = html.escape(str(v))
            cells.append(f'<td class="{"l" if c in left else ""}">{text}</td>')
        cls = ' class="best"' if best is not None and i == best else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _versions() -> str:
    parts = []
    for name in _VERSIONS:
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(parts) + f"; Python {platform.python_version()}"


def _fit_section(name: str, res: Any) -> str:
    from .. import plots

    model = res.model
    out = [
        f'<h2 id="fit-{html.escape(name)}">{html.escape(name)}: '
        f"{html.escape(model.label or model.name)}</h2>"
    ]
    design = html.escape(res.control.describe())
    if res.resamples is not None:
        sizes = [len(t) for t in res.resamples.train]
        design += (
            f"; {len(res.resamples)} resamples of {min(sizes)}–{max(sizes)} training "
            f"rows; resample hash <code>{res.resamples.hash[:16]}</code>"
        )
    pp = res.final_preprocess.describe() if res.final_preprocess is not None else "none"
    chosen = ", ".join(
        f"{k} = {v:.6g}" if isinstance(v, float) else f"{k} = {v}"
        for k, v in res.best_params.items()
    )
    extra = "".join(
        f"; {k} = {v:.6g} (estimated at fit time)"
        for k, v in res.final_info.items()
        if isinstance(v, float)
    )
    out.append(
        f'<p class="meta">Method <code>{html.escape(model.name)}</code> (engine '
        f"{html.escape(model.engine)}), seed {res.seed}. Resampling: {design}. "
        f"Pre-processing: {html.escape(pp)}.</p>"
        f"<p><b>Chosen:</b> {html.escape(chosen)}{html.escape(extra)}"
        + (
            ""
            if res.scores is None
            else f" — by {html.escape(res.metric)} ({'largest' if res.maximize else 'smallest'}"
            f", rule {html.escape(str(res.control.selection))})"
        )
        + ".</p>"
    )
    if res.scores is None:
        out.append("<p>No resampling (method = none): one candidate fitted on all rows.</p>")
        return "".join(out)
    table = res.results
    cols = (
        list(res.candidates.columns)
        + list(res.metric_names)
        + [f"{m}SD" for m in res.metric_names]
        + ["Resamples"]
        + (["StoppedAfter"] if "StoppedAfter" in res.results.columns else [])
    )
    best_row = table.iloc[[res.best_index]][cols]
    out.append(_table(best_row, left=()))
    figs = []
    varying = [c for c in res.candidates.columns if res.candidates[c].nunique() > 1]
    numeric = [
        c
        for c in varying
        if pd.api.types.is_numeric_dtype(res.candidates[c])
        and not pd.api.types.is_bool_dtype(res.candidates[c])  # plot_tuning: no bool axis
    ]
    if numeric:
        figs.append(
            _img(
                plots.plot_tuning(res),
                f"{name}: resampled {res.metric} across the tuning parameters",
            )
        )
    figs.append(
        _img(
            plots.plot_resample_distribution(res),
            f"{name}: {res.metric} of the chosen candidate per resample",
        )
    )
    out.append(f'<div class="grid">{"".join(figs)}</div>')
    out.append(
        f"<details><summary>All {len(table)} candidates (simplest first)</summary>"
        f"{_table(table[cols], best=res.best_index)}</details>"
    )
    n_res = int(table.attrs["n_resamples"])
    out.extend(_search_section(name, res))
    stopped = getattr(res, "stopped", None) or {}
    if stopped:  # adaptive resampling: candidates stopped as clearly worse than the best
        rule = (res.control.adaptive or {}).get("method")
        why = (
            f"outside the best 1/{(res.control.adaptive or {}).get('eta')} of a rung "
            "(successive halving)"
            if rule == "halving"
            else "as clearly worse than the best"
        )
        out.append(
            f"<p>Adaptive resampling stopped {len(stopped)} of {len(table)} candidates {why} "
            "(column StoppedAfter: the resamples each got before it stopped; marked in the "
            "tuning plot); the choice was made among the others.</p>"
        )
    short = table[(table["Resamples"] < n_res) & ~table.index.isin(list(stopped))]
    info = getattr(res, "search_info", None)
    if info is not None and info.ended_by:  # candidates a budget never reached
        short = short[short["Resamples"] > 0]
    if len(short):
        scored = int(table["Resamples"].iloc[res.best_index])
        out.append(
            f'<p class="warn">{len(short)} of {len(table)} candidates were scored on fewer than '
            f"all {n_res} resamples (column Resamples: their means cover only those); the chosen "
            f"one was scored on {scored} of {n_res}"
            + ("" if scored == n_res else " (incomplete)")
            + (
                ". Only complete candidates could be chosen"
                if not res.control.select_incomplete and int(table["Resamples"].max()) == n_res
                else ""
            )
            + ".</p>"
        )
    if len(res.failures):
        out.append(
            f'<p class="warn">{len(res.failures)} candidate × resample fits failed; '
            f"first error: {html.escape(res.failures['error'].iloc[0])}</p>"
        )
    warned = res.fit_warnings
    if len(warned):
        common = warned["warning"].value_counts()
        out.append(
            f'<p class="warn">{len(warned)} warnings from resampling fits; most common '
            f"({common.iloc[0]}×): {html.escape(common.index[0])}</p>"
        )
    return "".join(out)


def _search_section(name: str, res: Any) -> list[str]:
    """How a search went (budget, candidates scored) and, for a multi-objective search, its
    Pareto front: the table and the front plot."""
    from .. import plots

    info = getattr(res, "search_info", None)
    if info is None:
        return []
    out = [f"<p><b>Search:</b> {html.escape(info.describe())}.</p>"]
    front = res.front
    if front is not None:
        first, second = info.objectives[0], info.objectives[1]
        out.append(
            f"<h3>Pareto front: {html.escape(' vs '.join(info.objectives))}</h3>"
            f"<p>{len(front)} of {len(res.objectives)} candidates are on the front (no other "
            f"is at least as good in every objective and better in one). Chosen: within "
            f"{res.control.tolerance}% of the best {html.escape(first)} on the front, the "
            f"smallest {html.escape(second)}.</p>"
        )
        out.append(_table(front.reset_index(drop=True), left=()))
        out.append(_img(plots.plot_front(res), f"{name}: {first} against {second}"))
    return out


def _comparison_section(cmp: Comparison) -> str:
    from .. import plots
    from ..compare import DIFF_COLUMNS

    comp = cmp.comparison
    out = [
        f"<h2>Comparison: {html.escape(cmp.name)}</h2>",
        f'<p class="meta">Models {html.escape(", ".join(comp.models))} on the same '
        f"{len(comp.resample_names)} resamples (hash "
        f"<code>{comp.resample_hash[:16]}</code>); metrics "
        f"{html.escape(', '.join(comp.metrics))}.</p>",
    ]
    summ = comp.summary().to_frame()
    out.append("<h3>Resampled performance</h3>" + _table(summ, left=("metric", "model")))
    figs = [
        _img(plots.plot_box(comp), "Box-and-whisker plots of the resampled metrics"),
        _img(plots.plot_dot(comp), "Means with 95% confidence intervals"),
    ]
    out.append(f'<div class="grid">{"".join(figs)}</div>')
    for d in cmp.diffs:
        frame = d.to_frame()
        test, adj = frame["test"].iloc[0], frame["adjustment"].iloc[0]
        label = {
            "t": "paired t-test",
            "corrected_t": "Nadeau–Bengio corrected resampled t-test",
        }.get(test, test)
        out.append(f"<h3>Differences: {html.escape(label)}, {html.escape(adj)} adjustment</h3>")
        # the heading names the test and the adjustment; df goes with the test
        cols = [c for c in DIFF_COLUMNS if c not in ("df", "test", "adjustment")]
        out.append(_table(frame[cols], left=("metric", "model1", "model2")))
        out.append(f'<div class="grid">{_img(plots.plot_diff(d), f"Differences ({label})")}</div>')
    return "".join(out)


def renewal_section(r: Mapping[str, Any]) -> str:
    """A retrain's decision (``Renewal.to_dict()`` plus its per-resample ``values`` frame): the
    champion and challenger on the same resamples of the new data, the paired tests, the
    margin, the decision, the bundles and the wall time."""
    better = "higher" if r["maximize"] else "lower"
    verdict = "challenger promoted" if r["promoted"] else "champion kept"
    summary = pd.DataFrame(
        [
            {"": "champion", "run": r["champion_run"], r["metric"]: r["champion"]},
            {"": "challenger", "run": r["challenger_run"], r["metric"]: r["challenger"]},
        ]
    )
    figures = pd.DataFrame(
        [
            {
                "gain": r["gain"],
                "margin": r["margin"],
                "paired t p-value": r["p_value"],
                "corrected t p-value": r["p_value_corrected"],
                "decision": verdict,
                "wall seconds": r["wall_seconds"],
            }
        ]
    )
    out = [
        "<h2>Renewal</h2>",
        f"<p><b>{html.escape(str(r['decision']))}</b></p>",
        f'<p class="meta">{html.escape(str(r["experiment"]))}/{html.escape(str(r["fit"]))}: '
        f"the champion (the stored fit, as it stands) and the challenger (its configuration "
        f"{'tuned again' if r['tuned'] else 'with the champion’s parameters'}, refitted on each "
        f"resample) scored on the same {r['resamples']} resamples of the new data; "
        f"{html.escape(str(r['metric']))}, {better} is better. Gain: the mean per-resample "
        "difference, signed so that positive is better; promoted when gain &gt;= -margin.</p>",
        _table(summary, left=("",)),
        _table(figures, digits=4, left=("decision",)),
    ]
    if r.get("bundle"):
        kept = r.get("previous_bundle")
        line = f"<p>Bundle: <code>{html.escape(str(r['bundle']))}</code>"
        if kept:
            line += f"; the one it replaced kept as <code>{html.escape(str(kept))}</code>"
        out.append(line + "</p>")
    values = r.get("values")
    if isinstance(values, pd.DataFrame) and len(values):
        out.append("<h3>Per resample</h3>" + _table(values, left=("Resample",)))
    return "".join(out)


def leaderboard_section(board: Any) -> str:
    """The leaderboard (``leanfit.ranking.Leaderboard``): its ranked table with failed and
    skipped methods and their reasons, the box-and-dot plot, and the paired tests of the top 5."""
    from ..compare import DIFF_COLUMNS

    budget = "no budget" if board.budget is None else f"a budget of {board.budget:g} s"
    out = [
        "<h2>Leaderboard</h2>",
        f'<p class="meta">{len(board.table)} methods ({html.escape(board.mode)}) ranked by '
        f"{html.escape(board.metric)} ({'higher' if board.maximize else 'lower'} is better), "
        f"all on the same resamples: {html.escape(board.control.describe())}, hash "
        f"<code>{board.resample_hash[:16]}</code>; default grids of tune_length "
        f"{board.tune_length}; seed {board.seed}; {budget}; {board.elapsed:.1f} s in all. "
        "Seconds: fit (resamples and final model) and predict (held-out rows) summed over "
        "workers, and wall clock.</p>",
    ]
    table = board.table.drop(columns=["note"])
    table["rank"] = table["rank"].astype(object).where(table["rank"].notna(), "")
    out.append(_table(table, best=0 if board.ranked else None, left=("method", "params", "status")))
    notes = board.table.loc[board.table["note"] != "", ["method", "status", "note"]]
    if len(notes):
        out.append("<h3>Failed and skipped</h3>" + _table(notes, left=tuple(notes.columns)))
    if board.ranked:
        out.append(f'<div class="grid">{_img(board.plot(), "Per-resample " + board.metric)}</div>')
    if len(board.ranked) >= 2:
        top = min(5, len(board.ranked))
        frame = board.compare(top=top).to_frame()
        cols = [c for c in DIFF_COLUMNS if c not in ("df", "test", "adjustment")]
        out.append(
            f"<h3>Top {top}: paired t-tests, Bonferroni adjustment</h3>"
            + _table(frame[cols], left=("metric", "model1", "model2"))
        )
    return "".join(out)


def compression_section(comp: Any) -> str:
    """A compression (``leanfit.compression.Compressed``): how it chose, its table (the chosen
    candidate highlighted) and the front plot."""
    tol = comp.tolerance if isinstance(comp.tolerance, str) else f"{comp.tolerance:g}"
    which = "smallest" if comp.objective == "size" else "fastest"
    chosen = comp.chosen
    verdict = (
        f"Chosen: <b>{html.escape(chosen.name)}</b> ({html.escape(comp.message)})."
        if chosen is not None
        else f'<span class="warn">Nothing chosen: {html.escape(comp.message)}.</span>'
    )
    out = [
        "<h2>Compression</h2>",
        f'<p class="meta">{len(comp.table)} candidates, each measured the same way on the test '
        f"rows: {html.escape(comp.metric)} ({'higher' if comp.maximize else 'lower'} is "
        "better), fidelity to the original (share of the original's classes, or RMSE against "
        "its predictions), size in bytes (size_ratio: against the original), single-row p50 / "
        "p99 latency in µs and batch rows/s on one thread (x_faster: the original's p50 over "
        f"the candidate's). Tolerance {html.escape(tol)}, objective "
        f"{html.escape(comp.objective)}: the {which} compressed candidate within the tolerance "
        "of the best; a candidate slower than the original is "
        "never chosen for speed.</p>",
        f"<p>{verdict}</p>",
    ]
    table = comp.table.copy()
    best = int(np.flatnonzero(table["chosen"].to_numpy())[0]) if chosen is not None else None
    out.append(_table(table, best=best, left=("name", "technique", "note")))
    for note in comp.notes:
        out.append(f'<p class="warn">{html.escape(note)}</p>')
    out.append(f'<div class="grid">{_img(comp.front_plot(), "Compression front")}</div>')
    return "".join(out)


def ensemble_section(name: str, ens: Any) -> str:
    """An ensemble (``leanfit.fusion.EnsembleResult``): its members and weights, the honest
    estimate beside each member on the same inner folds, and the paired test against the best."""
    t = ens.test
    stored = (ens.store_run or {}).get("run_id")
    out = [
        f'<h2 id="ens-{html.escape(name)}">Ensemble {html.escape(name)}</h2>',
        f'<p class="meta">{html.escape(ens.method)} of {len(ens.names)} models: '
        f"{html.escape(', '.join(ens.names))}; {len(ens.heldout.rows)} held-out rows "
        f"(resamples <code>{ens.heldout.resample_hash[:16]}</code>)"
        + ("" if stored is None else f"; stored as run {int(stored)}")
        + f".</p><p>{html.escape(ens.estimate)}</p>",
    ]
    table = ens.results.reset_index(names="model")
    w = ens.weights
    if w is not None:
        table.insert(1, "weight", [float("nan"), *[float(w[n]) for n in ens.names]])
    out.append(_table(table, best=0, left=("model",)))
    out.append(
        f"<p>{html.escape(ens.metric)}: ensemble − {html.escape(ens.best_member)} (best member) "
        f"= {t['estimate']:.4f} [{t['lower']:.4f}, {t['upper']:.4f}], paired t p = "
        f"{t['p_value']:.4g}, corrected p = {t['p_corrected']:.4g}.</p>"
    )
    return "".join(out)


def _resumed(res: Any) -> str:
    """'' for a fit computed in one go, else how its stored run was resumed (its compute time
    then covers every invocation; its wall time over them all is given too)."""
    run = res.store_run or {}
    if not run.get("resumed"):
        return ""
    wall = res.times.get("wall_total")
    total = "" if wall is None else f", {wall:.2f} s wall in all"
    return f"resumed: {run.get('invocations')} invocations{total}"


def explanation_section(name: str, expl: Any) -> str:
    """An explanation (``lf.explain``'s, or the reason it could not be made, as a string):
    what was explained and how, mean |attribution| per column, the summary and a waterfall."""
    head = f'<h2 id="explain-{html.escape(name)}">Explanations: {html.escape(name)}</h2>'
    if isinstance(expl, str):
        return head + f'<p class="warn">Not explained: {html.escape(expl)}</p>'
    n = len(expl.raw)
    vals = abs(expl.column_values()).mean(axis=0)  # (columns, outputs)
    table = pd.DataFrame(vals, columns=expl.outputs, index=expl.column_names)
    table = table.assign(_all=table.sum(axis=1)).sort_values("_all", ascending=False)
    table = table.drop(columns="_all").head(15).reset_index(names="column")
    notes = "".join(f"<li>{html.escape(x)}</li>" for x in expl.notes)
    first = expl.outputs[0]
    which = "" if len(expl.outputs) == 1 else f" (class {html.escape(str(first))} shown)"
    figs = [
        _img(expl.plot_summary(kind="beeswarm", top=15), "attribution per row and column"),
        _img(expl.plot_waterfall(row=0), "the first row's waterfall"),
    ]
    return (
        head + f"<p>{n} row(s) explained by {html.escape(expl.method)}; the attributions plus the "
        f"base value add up to the model's raw output, {html.escape(expl.output)} "
        f"(largest gap {expl.additivity_error():.1e}).</p>"
        + (f"<ul>{notes}</ul>" if notes else "")
        + "<h3>Mean |attribution| per column</h3>"
        + _table(table, digits=4, left=("column",))
        + f'<h3>Summary and one row{which}</h3><div class="grid">{"".join(figs)}</div>'
    )


def render_report(
    title: str,
    fits: Mapping[str, Any],
    comparisons: Sequence[Comparison] = (),
    notes: Mapping[str, Any] | None = None,
    leaderboard: Any = None,
    compression: Any = None,
    renewal: Mapping[str, Any] | None = None,
    explanations: Mapping[str, Any] | None = None,
    ensembles: Mapping[str, Any] | None = None,
) -> str:
    """The whole report as one HTML string (see ``write_report``)."""
    t0 = time.perf_counter()
    first = next(iter(fits.values()))
    ds = first.dataset
    counts = ""
    if ds.levels:
        n = pd.Series(ds.y_labels).value_counts().reindex(list(ds.levels))
        counts = "; classes " + ", ".join(f"{k}: {v}" for k, v in n.items())
    toc = " · ".join(f'<a href="#fit-{html.escape(k)}">{html.escape(k)}</a>' for k in fits)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">Written {time.strftime("%Y-%m-%d %H:%M:%S")} by {_versions()}.</p>',
        "<h2>Data and design</h2>",
        f"<p>{len(ds.y)} training rows, {len(ds.encoder.feature_names)} predictors, target "
        f"<code>{html.escape(ds.target)}</code> ({ds.mode}){html.escape(counts)}.</p>",
    ]
    for k, v in (notes or {}).items():
        parts.append(f"<p><b>{html.escape(str(k))}:</b> {html.escape(str(v))}</p>")
    parts.append(f"<p>Fits: {toc}</p>")
    timing = pd.DataFrame(
        [
            {
                "fit": k,
                "method": r.method,
                "candidates": len(r.candidates),
                "resamples": 0 if r.resamples is None else len(r.resamples),
                "seconds": r.times.get("everything", float("nan")),
                "compute seconds": r.times.get("compute", float("nan")),
                "resumed": _resumed(r),
            }
            for k, r in fits.items()
        ]
    )
    parts.append(
        "<h3>Timings</h3>"
        + _table(timing, digits=2, left=("fit", "method", "resumed"))
        + '<p class="meta">Seconds: wall clock of the run that produced the fit; compute: '
        "fitting and predicting summed over workers, including task results read back from "
        "the experiment store.</p>"
    )
    if renewal is not None:
        parts.append(renewal_section(renewal))
    if leaderboard is not None:
        parts.append(leaderboard_section(leaderboard))
    if compression is not None:
        parts.append(compression_section(compression))
    for cmp in comparisons:
        parts.append(_comparison_section(cmp))
    for name, ens in (ensembles or {}).items():
        parts.append(ensemble_section(name, ens))
    for name, res in fits.items():
        parts.append(_fit_section(name, res))
    for name, expl in (explanations or {}).items():
        parts.append(explanation_section(name, expl))
    parts.append(f'<p class="meta">Report rendered in {time.perf_counter() - t0:.2f} s.</p>')
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>"
    )


def write_report(
    path: str | Path,
    title: str,
    fits: Mapping[str, Any],
    comparisons: Sequence[Comparison] = (),
    notes: Mapping[str, Any] | None = None,
    leaderboard: Any = None,
    compression: Any = None,
    renewal: Mapping[str, Any] | None = None,
    explanations: Mapping[str, Any] | None = None,
    ensembles: Mapping[str, Any] | None = None,
) -> Path:
    """Write the self-contained HTML report of these fits and comparisons (and a leaderboard's
    section, ``leanfit.ranking.Leaderboard``, a compression's, ``lf.compress``'s result, a
    renewal's, ``leanfit.renewal``, and ensembles, name -> ``EnsembleResult``) to ``path``;
    ``explanations``: a section per ``lf.explain`` result (by name), none by default so reports
    cost nothing more."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    html_text = render_report(
        title,
        fits,
        comparisons,
        notes,
        leaderboard=leaderboard,
        compression=compression,
        renewal=renewal,
        explanations=explanations,
        ensembles=ensembles,
    )
    path.write_text(html_text, encoding="utf-8")
    return path
