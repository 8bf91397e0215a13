"""The self-contained HTML monitoring report: summary, per-column table, distribution plots of the
drifted columns (reference vs current), prediction drift, violations and performance. Images
are PNGs embedded as data URIs and the style sheet is inline (the training report's look)."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np
import pandas as pd

from .drift import NUMERIC

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d2430;
background:#f6f7f9;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:2px solid #dde3ea;padding-bottom:4px;
margin-top:2em}table{border-collapse:collapse;font-size:.86em;margin:.6em 0}
th,td{border:1px solid #dde3ea;padding:3px 8px;text-align:right}
th{background:#eef2f6}td.l,th.l{text-align:left}tr.drift td{background:#fde2e1}
img{max-width:100%;height:auto;border:1px solid #eef2f6;margin:6px 0}
.meta{color:#55606e;font-size:.9em}.grid{display:flex;flex-wrap:wrap;gap:12px}
.grid figure{margin:0;flex:1 1 460px}figcaption{font-size:.85em;color:#55606e}
.bad{color:#a33;font-weight:600}.ok{color:#1b7a3a;font-weight:600}
"""
_REF, _CUR = "#0072B2", "#D55E00"
_MAX_PLOTS = 24
_SAMPLE = 200_000


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _table(df: pd.DataFrame, flag: str | None = None) -> str:
    if df.empty:
        return "<p class='meta'>None.</p>"
    head = "".join(f"<th class='l'>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, row in df.iterrows():
        cls = " class='drift'" if flag and bool(row[flag]) else ""
        cells = "".join(f"<td class='l'>{html.escape(_fmt(v))}</td>" for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return "" if np.isnan(v) else f"{v:.4g}"
    return str(v)


def _sample(s: pd.Series) -> pd.Series:
    s = s.dropna()
    return s.sample(_SAMPLE, random_state=0) if len(s) > _SAMPLE else s


def _plot(name: str, ref: pd.Series, cur: pd.Series, kind: str) -> str:
    """Reference vs current distribution of one column as an embedded PNG."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(
        {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
    ):
        fig = Figure(figsize=(5.2, 2.8), layout="constrained")
        ax = fig.add_subplot()
        r, c = _sample(ref), _sample(cur)
        if kind == NUMERIC:
            a, b = r.to_numpy(dtype=float), c.to_numpy(dtype=float)
            a, b = a[np.isfinite(a)], b[np.isfinite(b)]
            both = np.concatenate([a, b])
            edges = list(np.histogram_bin_edges(both, bins=40)) if both.size else 10
            ax.hist(a, bins=edges, density=True, alpha=0.55, color=_REF, label="reference")
            ax.hist(b, bins=edges, density=True, alpha=0.55, color=_CUR, label="current")
        else:
            p = r.astype(str).value_counts(normalize=True)
            q = c.astype(str).value_counts(normalize=True)
            keys = list(p.add(q, fill_value=0).sort_values(ascending=False).index[:20])
            x = np.arange(len(keys))
            ax.bar(x - 0.2, p.reindex(keys, fill_value=0), 0.4, color=_REF, label="reference")
            ax.bar(x + 0.2, q.reindex(keys, fill_value=0), 0.4, color=_CUR, label="current")
            ax.set_xticks(x, [k[:12] for k in keys], rotation=45 if len(keys) > 6 else 0)
            ax.set_ylabel("share")
        ax.set_title(name, loc="left")
        ax.legend(frameon=False)
        src = _png(fig)
    cap = html.escape(f"{name}: reference vs current")
    return f"<figure><img alt='{cap}' src='{src}'><figcaption>{cap}</figcaption></figure>"


def _plots(res: Any, table: pd.DataFrame, only_drifted: bool) -> str:
    rows = table[table["drifted"]] if only_drifted else table
    figs = [
        _plot(str(r.column), res.reference_data[r.column], res.current_data[r.column], str(r.kind))
        for r in rows.head(_MAX_PLOTS).itertuples()
        if r.column in res.reference_data.columns and r.column in res.current_data.columns
    ]
    more = len(rows) - _MAX_PLOTS
    note = f"<p class='meta'>{more} more not drawn.</p>" if more > 0 else ""
    return f"<div class='grid'>{''.join(figs)}</div>{note}" if figs else "<p class='meta'>None.</p>"


def render(res: Any) -> str:
    """The whole report as one HTML string."""
    verdict = (
        "<span class='bad'>drift detected</span>"
        if res.exit_code
        else "<span class='ok'>no drift</span>"
    )
    summary = (
        f"<p>{verdict} (exit code {res.exit_code}). {res.n_drifted} of {len(res.columns)} columns "
        f"drifted ({res.share_drifted:.0%}; data-set drift at {res.drift_share:.0%}: "
        f"{'yes' if res.dataset_drift else 'no'}). Prediction drift: "
        f"{'yes' if res.prediction_drift else 'no'}. {len(res.violations)} violation(s).</p>"
        f"<p class='meta'>{res.reference_rows} reference rows, {res.current_rows} current rows."
        + (
            f" Not monitored: {html.escape(', '.join(res.ignored_columns))}."
            if res.ignored_columns
            else ""
        )
        + "</p>"
    )
    parts = [
        "<h1>leanfit monitoring report</h1>",
        summary,
        "<h2>Columns</h2>",
        _table(res.columns, "drifted"),
        "<h2>Drifted columns</h2>",
        _plots(res, res.columns, True),
        "<h2>Prediction drift</h2>",
        _table(res.prediction, "drifted"),
        _plots(res, res.prediction.head(1), False) if len(res.prediction) else "",
        "<h2>Violations</h2>",
        _table(res.violations),
        "<h2>Missing values</h2>",
        _table(res.missing),
    ]
    if res.performance is not None:
        counts = ", ".join(f"{k}: {v}" for k, v in (res.labels or {}).items())
        parts += [
            "<h2>Performance</h2>",
            f"<p class='meta'>{html.escape(counts)}</p>",
            _table(res.performance),
        ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>leanfit monitoring report</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>"
    )
