"""Between-model comparison on shared resamples: caret's ``resamples``, ``diff``, ``summary`` and
``modelCor``, with the same numbers (paired t-tests, Bonferroni/Holm p-values, caret's widened
Bonferroni intervals) plus the Nadeau & Bengio corrected resampled t-test.

Models are compared resample by resample, so they must have been resampled on the same rows: the
``Resamples`` content hash of every model is checked (caret accepts mismatched splits silently).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .tuning.result import TrainResult

__all__ = ["ComparisonSummary", "ModelComparison", "ModelDiff", "resamples"]

TESTS: tuple[str, ...] = ("t", "corrected_t")
ADJUSTMENTS: tuple[str, ...] = ("bonferroni", "holm", "none")
STATISTICS: tuple[str, ...] = ("Min.", "1st Qu.", "Median", "Mean", "3rd Qu.", "Max.", "NA's")
DIFF_COLUMNS: tuple[str, ...] = (
    "metric",
    "model1",
    "model2",
    "estimate",
    "lower",
    "upper",
    "statistic",
    "df",
    "p_value",
    "p_adjusted",
    "test",
    "adjustment",
)
_DIGITS = 4  # caret's summary.diff.resamples: max(3, getOption("digits") - 3)


# -- the comparison ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ModelComparison:
    """Per-resample metrics of several models on the same resamples (caret's ``resamples``).

    ``values`` has caret's wide layout: a "Resample" column, then one ``"model~metric"`` column
    per model and metric. ``n_train`` / ``n_test`` are the row counts of each resample (used by
    the corrected t-test); ``dropped`` lists, per model, the metrics left out because not every
    model has them.
    """

    models: tuple[str, ...]
    metrics: tuple[str, ...]
    values: pd.DataFrame
    resample_hash: str
    resample_names: tuple[str, ...]
    n_train: np.ndarray | None = None
    n_test: np.ndarray | None = None
    dropped: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_values(
        cls,
        values: pd.DataFrame,
        n_train: Any = None,
        n_test: Any = None,
        resample_hash: str = "fixture",
    ) -> ModelComparison:
        """Build a comparison from caret's wide layout (``resamps$values``), e.g. R's numbers."""
        names = (
            values["Resample"].astype(str).tolist()
            if "Resample" in values.columns
            else [str(i) for i in values.index]
        )
        per_model: dict[str, list[str]] = {}
        for col in values.columns:
            if col == "Resample":
                continue
            if "~" not in str(col):
                raise ValueError(f"column {col!r} is not named 'model~metric' (caret's layout)")
            model, metric = str(col).split("~", 1)
            per_model.setdefault(model, []).append(metric)
        models = _check_names(tuple(per_model))
        if len(models) < 2:
            raise ValueError(f"compare needs at least two models, got {list(models)}")
        metrics, dropped = _shared_metrics(per_model, None)
        blocks = {m: {k: values[f"{m}~{k}"].to_numpy(float) for k in metrics} for m in models}
        J = len(names)
        return cls(
            models=models,
            metrics=metrics,
            values=_wide(names, models, metrics, blocks),
            resample_hash=str(resample_hash),
            resample_names=tuple(names),
            n_train=_sizes(n_train, J, "n_train"),
            n_test=_sizes(n_test, J, "n_test"),
            dropped=dropped,
        )

    # -- tables ---------------------------------------------------------------------------
    def column(self, model: str, metric: str) -> np.ndarray:
        """One model's per-resample values of one metric."""
        return self.values[f"{model}~{metric}"].to_numpy(float)

    def long(self) -> pd.DataFrame:
        """Long table with columns Resample, model, metric, value (what plots are drawn from)."""
        J = len(self.resample_names)
        frames = [
            pd.DataFrame(
                {
                    "Resample": list(self.resample_names),
                    "model": [m] * J,
                    "metric": [k] * J,
                    "value": self.column(m, k),
                }
            )
            for m in self.models
            for k in self.metrics
        ]
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> ComparisonSummary:
        """Per metric and model: quartiles, mean and missing count (caret's summary.resamples)."""
        stats = {}
        for k in self.metrics:
            rows = [_five_numbers(self.column(m, k)) for m in self.models]
            stats[k] = pd.DataFrame(rows, index=list(self.models), columns=list(STATISTICS))
            stats[k]["NA's"] = stats[k]["NA's"].astype(int)
        return ComparisonSummary(
            models=self.models,
            metrics=self.metrics,
            n_resamples=len(self.resample_names),
            statistics=stats,
        )

    def model_cor(self, metric: str) -> pd.DataFrame:
        """Pearson correlation of the models' resampled values of ``metric`` (caret's modelCor);
        resamples missing for one of a pair are left out of that pair only."""
        (metric,) = self._check_metrics(metric)
        df = pd.DataFrame({m: self.column(m, metric) for m in self.models})
        return df.corr(method="pearson")

    # -- tests ----------------------------------------------------------------------------
    def diff(
        self,
        metric: str | Sequence[str] | None = None,
        test: str = "t",
        adjustment: str = "bonferroni",
        conf_level: float = 0.95,
    ) -> ModelDiff:
        """Pairwise differences x_i - x_j (i before j) per metric, tested for a zero mean.

        test="t" is caret's paired t-test; "corrected_t" the Nadeau & Bengio (2003) resampled
        t-test, whose variance uses 1/J + n_test/n_train instead of 1/J because resamples overlap.
        P-values are adjusted within each metric over its pairs. As in caret's diff.resamples,
        Bonferroni also widens every interval to level 1 - (1 - conf_level) / pairs; Holm and
        "none" leave the intervals at conf_level.
        """
        metrics = self._check_metrics(metric)
        if test not in TESTS:
            raise ValueError(f"unknown test {test!r}; valid tests: {list(TESTS)}")
        if adjustment not in ADJUSTMENTS:
            raise ValueError(f"unknown adjustment {adjustment!r}; valid: {list(ADJUSTMENTS)}")
        if not 0.0 < float(conf_level) < 1.0:
            raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
        if test == "corrected_t" and (self.n_train is None or self.n_test is None):
            raise ValueError("test='corrected_t' needs n_train and n_test (the resample sizes)")
        pairs = [(a, b) for i, a in enumerate(self.models) for b in self.models[i + 1 :]]
        ci_level = float(conf_level)
        if adjustment == "bonferroni":
            ci_level = 1.0 - (1.0 - ci_level) / len(pairs)
        rows, difs = [], {}
        for k in metrics:
            d = {f"{a}.diff.{b}": self.column(a, k) - self.column(b, k) for a, b in pairs}
            difs[k] = pd.DataFrame(d, index=pd.Index(list(self.resample_names), name="Resample"))
            tests = [self._test(x, test, ci_level) for x in d.values()]
            p_adj = p_adjust(np.array([t["p_value"] for t in tests]), adjustment)
            for (a, b), t, pa in zip(pairs, tests, p_adj, strict=True):
                rows.append(
                    {
                        "metric": k,
                        "model1": a,
                        "model2": b,
                        **t,
                        "p_adjusted": pa,
                        "test": test,
                        "adjustment": adjustment,
                    }
                )
        table = pd.DataFrame(rows, columns=list(DIFF_COLUMNS))
        return ModelDiff(
            models=self.models,
            metrics=metrics,
            test=test,
            adjustment=adjustment,
            conf_level=float(conf_level),
            ci_level=ci_level,
            table=table,
            differences=difs,
        )

    def _test(self, d: np.ndarray, test: str, level: float) -> dict[str, float]:
        """One paired test of the differences ``d`` (missing resamples dropped)."""
        ok = ~np.isnan(d)
        factor = None
        if test == "corrected_t":
            assert self.n_train is not None and self.n_test is not None  # diff() checked them
            ratio = float(np.mean(self.n_test[ok]) / np.mean(self.n_train[ok])) if ok.any() else 0
            factor = 1.0 / max(int(ok.sum()), 1) + ratio
        return t_test(d[ok], level, factor)

    def _check_metrics(self, metric: str | Sequence[str] | None) -> tuple[str, ...]:
        """The requested metrics, each checked against the shared ones."""
        if metric is None:
            return self.metrics
        wanted = (metric,) if isinstance(metric, str) else tuple(metric)
        unknown = [m for m in wanted if m not in self.metrics]
        if unknown or not wanted:
            raise ValueError(f"unknown metric(s) {unknown}; available: {list(self.metrics)}")
        return wanted

    def __repr__(self) -> str:
        """caret's print.resamples: models, number of resamples, metrics."""
        lines = [
            f"Models: {', '.join(self.models)}",
            f"Number of resamples: {len(self.resample_names)}",
            f"Performance metrics: {', '.join(self.metrics)}",
        ]
        lines += [f"Dropped from {m}: {', '.join(v)}" for m, v in self.dropped.items() if v]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class ComparisonSummary:
    """Per metric, a table (models x Min., quartiles, Mean, Max., NA's) of resampled values."""

    models: tuple[str, ...]
    metrics: tuple[str, ...]
    n_resamples: int
    statistics: dict[str, pd.DataFrame]

    def to_frame(self) -> pd.DataFrame:
        """Long table: metric, model, then the seven statistics."""
        frames = []
        for k in self.metrics:
            df = self.statistics[k].copy()
            df.insert(0, "model", df.index)
            df.insert(0, "metric", k)
            frames.append(df.reset_index(drop=True))
        return pd.concat(frames, ignore_index=True)

    def __repr__(self) -> str:
        """caret's print.summary.resamples: header, then one table per metric."""
        lines = [
            f"Models: {', '.join(self.models)}",
            f"Number of resamples: {self.n_resamples}",
            "",
        ]
        for k in self.metrics:
            tab = self.statistics[k]
            cols = [_format_real(tab[c].to_numpy(float), 7) for c in tab.columns]
            cells = [[col[i] for col in cols] for i in range(len(tab))]
            lines.append(k)
            lines += _matrix_lines(list(tab.index), list(tab.columns), cells, right=True)
            lines.append("")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class ModelDiff:
    """Pairwise tests between models (caret's ``diff.resamples`` and its summary).

    ``table`` has one row per metric and pair; ``differences`` the per-resample differences of
    each metric (columns ``"a.diff.b"``, as caret's ``$difs``). ``ci_level`` is the confidence
    level the intervals were computed at (``conf_level`` widened by Bonferroni, as in caret).
    """

    models: tuple[str, ...]
    metrics: tuple[str, ...]
    test: str
    adjustment: str
    conf_level: float
    ci_level: float
    table: pd.DataFrame
    differences: dict[str, pd.DataFrame]

    def to_frame(self) -> pd.DataFrame:
        """One row per metric and pair: estimate, interval, statistic, df, raw/adjusted p."""
        return self.table.copy()

    def matrix(self, metric: str) -> pd.DataFrame:
        """Square table of ``metric``: estimates above the diagonal, adjusted p-values below."""
        if metric not in self.metrics:
            raise ValueError(f"unknown metric {metric!r}; available: {list(self.metrics)}")
        p = len(self.models)
        out = np.full((p, p), np.nan)
        pos = {m: i for i, m in enumerate(self.models)}
        for r in self.table[self.table["metric"] == metric].itertuples():
            i, j = pos[r.model1], pos[r.model2]
            out[i, j], out[j, i] = r.estimate, r.p_adjusted
        return pd.DataFrame(out, index=list(self.models), columns=list(self.models))

    def __repr__(self) -> str:
        """caret's print.summary.diff.resamples, with the same number formatting."""
        call = (
            f"diff(resamples({', '.join(self.models)}), test={self.test!r}, "
            f"adjustment={self.adjustment!r}, conf_level={self.conf_level:g})"
        )
        lines = ["", "Call:", call, ""]
        if self.adjustment != "none":
            lines.append(f"p-value adjustment: {self.adjustment}")
        lines += [
            "Upper diagonal: estimates of the difference",
            "Lower diagonal: p-value for H0: difference = 0",
            "",
        ]
        p = len(self.models)
        upper = [(i, j) for i in range(p) for j in range(p) if i < j]
        lower = [(i, j) for j in range(p) for i in range(p) if i > j]  # R's lower.tri order
        for k in self.metrics:
            mat = self.matrix(k).to_numpy()
            cells = [[""] * p for _ in range(p)]
            est = _format_real(np.array([mat[c] for c in upper]), _DIGITS)
            pvs = _format_pval(np.array([mat[c] for c in lower]), _DIGITS)
            for (i, j), s in [*zip(upper, est, strict=True), *zip(lower, pvs, strict=True)]:
                cells[i][j] = s
            lines.append(k)
            lines += _matrix_lines(list(self.models), list(self.models), cells, right=False)
            lines.append("")
        return "\n".join(lines)


# -- building from TrainResults ------------------------------------------------------------------
def named_results(
    models: Mapping[str, TrainResult] | Sequence[TrainResult], what: str
) -> tuple[list[str], list[TrainResult]]:
    """Names and TrainResults (at least two): a mapping names them; a sequence takes each
    result's method name, made unique as R's make.unique does ("gbm", "gbm.1")."""
    from .tuning.result import TrainResult

    if isinstance(models, Mapping):
        names, fits = [str(k) for k in models], list(models.values())
    elif isinstance(models, Sequence) and not isinstance(models, str):
        fits = list(models)
        names = _make_unique([getattr(f, "method", type(f).__name__) for f in fits])
    else:
        raise TypeError("models must be a mapping of name -> TrainResult or a sequence of them")
    if len(fits) < 2:
        raise ValueError(f"{what} needs at least two models, got {len(fits)}")
    _check_names(tuple(names))
    for name, fit in zip(names, fits, strict=True):
        if not isinstance(fit, TrainResult):
            raise TypeError(f"model {name!r} is a {type(fit).__name__}, not a TrainResult")
    return names, fits


def resamples(
    models: Mapping[str, TrainResult] | Sequence[TrainResult],
    metrics: Sequence[str] | None = None,
) -> ModelComparison:
    """Collect the chosen candidate's per-resample metrics of each model (caret's resamples).

    A mapping names the models; a sequence takes each result's method name (made unique as R's
    make.unique does: "gbm", "gbm.1"). All models must share the same resamples (same hash).
    Metrics not computed by every model are left out with a warning; ``metrics`` picks some.
    """
    names, fits = named_results(models, "compare")
    for name, fit in zip(names, fits, strict=True):
        if fit.scores is None or fit.resamples is None:
            raise ValueError(
                f"model {name!r} was fitted with Control(method='none'): it has no resamples "
                "to compare"
            )
        if fit.resamples.method == "loocv":
            raise ValueError(
                f"model {name!r} used leave-one-out CV, which is not compatible with "
                "resamples(): only one resampling estimate is available"
            )
        if fit.best_index < 0:
            raise ValueError(f"model {name!r} has no chosen candidate (best_index is unset)")
    ref_name, ref = names[0], fits[0].resamples
    assert ref is not None  # every fit was checked to have resamples above
    for name, fit in zip(names[1:], fits[1:], strict=True):
        other = fit.resamples
        assert other is not None
        if other.hash != ref.hash:
            raise ValueError(
                f"models {ref_name!r} and {name!r} were resampled on different rows "
                f"(resample hashes {ref.hash[:16]}... and {other.hash[:16]}...): "
                "train them with the same seed and Control (or Control(index=...))"
            )
    per_model = {n: list(f.metric_names) for n, f in zip(names, fits, strict=True)}
    shared, dropped = _shared_metrics(per_model, metrics)
    blocks = {}
    for n, f in zip(names, fits, strict=True):
        assert f.scores is not None  # every fit was checked to have scores above
        vals = np.asarray(f.scores.values[:, f.best_index, :], dtype=float)
        blocks[n] = {k: vals[:, f.metric_names.index(k)] for k in shared}
    return ModelComparison(
        models=tuple(names),
        metrics=shared,
        values=_wide(list(ref.names), tuple(names), shared, blocks),
        resample_hash=ref.hash,
        resample_names=tuple(ref.names),
        n_train=np.array([len(t) for t in ref.train], dtype=float),
        n_test=np.array([len(t) for t in ref.test], dtype=float),
        dropped=dropped,
    )


def _shared_metrics(
    per_model: Mapping[str, Sequence[str]], wanted: Sequence[str] | None
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Metrics every model has (first model's order) and, per model, the ones left out."""
    first = next(iter(per_model.values()))
    shared = tuple(k for k in first if all(k in v for v in per_model.values()))
    dropped = {m: tuple(k for k in v if k not in shared) for m, v in per_model.items()}
    dropped = {m: v for m, v in dropped.items() if v}
    if wanted is not None:
        wanted = (wanted,) if isinstance(wanted, str) else tuple(wanted)
        unknown = [k for k in wanted if k not in shared]
        if unknown or not wanted:
            raise ValueError(
                f"unknown metric(s) {unknown}; available (computed by every model): {list(shared)}"
            )
        return wanted, dropped
    if not shared:
        raise ValueError(
            "the models share no metric: "
            + "; ".join(f"{m}: {list(v)}" for m, v in per_model.items())
        )
    if dropped:
        warnings.warn(
            "some metrics were not computed by every model and are left out: "
            + "; ".join(f"{list(v)} from {m!r}" for m, v in dropped.items()),
            stacklevel=3,
        )
    return shared, dropped


def _wide(
    names: Sequence[str],
    models: tuple[str, ...],
    metrics: tuple[str, ...],
    blocks: Mapping[str, Mapping[str, np.ndarray]],
) -> pd.DataFrame:
    """caret's wide layout: Resample, then model~metric columns, model by model."""
    cols: dict[str, Any] = {"Resample": list(names)}
    for m in models:
        for k in metrics:
            cols[f"{m}~{k}"] = np.asarray(blocks[m][k], dtype=float)
    return pd.DataFrame(cols)


def _check_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Model names must be unique, non-empty and free of '~' (the column separator)."""
    bad = [n for n in names if not n or "~" in n]
    if bad:
        raise ValueError(f"model names must be non-empty and contain no '~': {bad}")
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique: {list(names)}")
    return names


def _make_unique(names: Sequence[str]) -> list[str]:
    """R's make.unique: repeats get ".1", ".2", ... (skipping names already taken)."""
    seen: set[str] = set(names)
    out: list[str] = []
    count: dict[str, int] = {}
    for n in names:
        if n not in out:
            out.append(n)
            continue
        k = count.get(n, 0)
        while True:
            k += 1
            cand = f"{n}.{k}"
            if cand not in seen:
                break
        count[n] = k
        seen.add(cand)
        out.append(cand)
    return out


def _sizes(v: Any, J: int, what: str) -> np.ndarray | None:
    """Resample sizes as a float array of length J (a scalar is repeated)."""
    if v is None:
        return None
    arr = np.broadcast_to(np.asarray(v, dtype=float), (J,)).copy()
    if np.any(arr < 0) or np.any(np.isnan(arr)):
        raise ValueError(f"{what} must be non-negative sizes, got {v!r}")
    return arr


def _five_numbers(x: np.ndarray) -> list[float]:
    """R's summary(): min, type-7 quartiles, mean, max of the non-missing values, and NA count."""
    ok = x[~np.isnan(x)]
    n_na = int(x.size - ok.size)
    if ok.size == 0:
        return [np.nan] * 6 + [n_na]
    q = np.quantile(ok, [0.0, 0.25, 0.5, 0.75, 1.0])
    return [q[0], q[1], q[2], float(np.mean(ok)), q[3], q[4], n_na]


# -- statistics ----------------------------------------------------------------------------------
def t_test(
    d: np.ndarray, conf_level: float = 0.95, factor: float | None = None
) -> dict[str, float]:
    """One-sample t-test of mean(d) = 0 as R's t.test; ``factor`` replaces 1/n in the variance of
    the mean (Nadeau & Bengio's 1/J + n_test/n_train). Degenerate inputs give NaNs, not errors."""
    from scipy import stats

    n = int(d.size)
    est = float(np.mean(d)) if n else np.nan
    if n < 2:
        nan = np.nan
        df0 = float(n - 1) if n else nan
        return {
            "estimate": est,
            "lower": nan,
            "upper": nan,
            "statistic": nan,
            "df": df0,
            "p_value": nan,
        }
    var = float(np.var(d, ddof=1))
    se = math.sqrt((1.0 / n if factor is None else factor) * var)
    df = float(n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se if se > 0 else (np.nan if est == 0 else math.copysign(np.inf, est))
    p = float(2.0 * stats.t.sf(abs(t), df)) if not np.isnan(t) else np.nan
    q = float(stats.t.ppf(1.0 - (1.0 - conf_level) / 2.0, df))
    lo, hi = est - q * se, est + q * se
    return {
        "estimate": est,
        "lower": lo,
        "upper": hi,
        "statistic": float(t),
        "df": df,
        "p_value": p,
    }


def p_adjust(p: np.ndarray, method: str) -> np.ndarray:
    """R's p.adjust for "bonferroni", "holm" and "none": NaNs stay NaN and do not count."""
    p = np.asarray(p, dtype=float)
    if method not in ADJUSTMENTS:
        raise ValueError(f"unknown adjustment {method!r}; valid: {list(ADJUSTMENTS)}")
    out = p.copy()
    ok = ~np.isnan(p)
    n = int(ok.sum())
    if method == "none" or n == 0:
        return out
    q = p[ok]
    if method == "bonferroni":
        out[ok] = np.minimum(1.0, n * q)
        return out
    order = np.argsort(q, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((n - np.arange(n)) * q[order]))
    res = np.empty(n)
    res[order] = adj
    out[ok] = res
    return out


# -- R-style number formatting -------------------------------------------------------------------
def _sig(x: float, digits: int) -> tuple[int, int, bool]:
    """R's scientific(): (exponent, significant digits needed, negative) of x to ``digits``."""
    if x == 0:
        return 0, 1, False
    mant, exp = f"{abs(x):.{digits - 1}e}".split("e")
    nsig = max(len(mant.replace(".", "").rstrip("0")), 1)
    return int(exp), nsig, x < 0


def _format_real(x: np.ndarray, digits: int) -> list[str]:
    """R's format() of a numeric vector: common fixed or scientific notation, common width."""
    x = np.asarray(x, dtype=float)
    fin = [v for v in x if np.isfinite(v)]
    if not fin:
        return ["NA" if np.isnan(v) else ("Inf" if v > 0 else "-Inf") for v in x]
    parts = [_sig(float(v), digits) for v in fin]
    neg = int(any(p[2] for p in parts))
    rgt = max(max(p[1] - (p[0] + 1) for p in parts), 0)
    mxsl = max(int(p[2]) + max(p[0] + 1, 1) for p in parts)
    w_fixed = mxsl + rgt + (rgt != 0)
    mxns = max(p[1] for p in parts)
    e = 2 if max(p[0] for p in parts) >= 100 or min(p[0] for p in parts) <= -99 else 1
    d_sci = mxns - 1
    w_sci = neg + (d_sci > 0) + d_sci + 4 + e
    fixed = w_fixed <= w_sci

    def one(v: float) -> str:
        if np.isnan(v):
            return "NA"
        if not np.isfinite(v):
            return "Inf" if v > 0 else "-Inf"
        return f"{v:.{rgt}f}" if fixed else f"{v:.{d_sci}e}"

    out = [one(float(v)) for v in x]
    w = max(len(s) for s in out)
    return [s.rjust(w) for s in out]


def _format_pval(p: np.ndarray, digits: int) -> list[str]:
    """R's format.pval: fixed for p >= 1e-4, scientific below, "< 2.2e-16" under machine eps."""
    eps = float(np.finfo(float).eps)
    p = np.asarray(p, dtype=float)
    out = ["NA"] * p.size
    ok = [i for i in range(p.size) if not np.isnan(p[i])]
    is0 = [i for i in ok if p[i] < eps]
    rest = [i for i in ok if p[i] >= eps]
    if rest:
        v = p[rest]
        expo = np.floor(np.log10(np.where(v > 0, v, 1e-50)))
        fixp = (expo >= -3) | ((expo == -4) & (digits > 1))
        for mask in (fixp, ~fixp):
            idx = [rest[k] for k in np.flatnonzero(mask)]
            for i, s in zip(idx, _format_real(p[idx], digits), strict=True):
                out[i] = s
    if is0:
        dig = max(1, digits - 2)
        if rest:
            nc = max(len(out[i]) for i in rest)
            if dig > 1 and dig + 6 > nc:
                dig = max(1, nc - 7)
            sep = "" if dig == 1 and nc <= 6 else " "
        else:
            sep = "" if dig == 1 else " "
        tiny = "<" + sep + _format_real(np.array([eps]), dig)[0]
        for i in is0:
            out[i] = tiny
    return out


def _matrix_lines(
    rows: Sequence[str], cols: Sequence[str], cells: Sequence[Sequence[str]], right: bool
) -> list[str]:
    """Lines of R's print() of a matrix: left-justified row names, columns one space apart."""
    rw = max(len(r) for r in rows)
    widths = [
        max(len(c), *(len(cells[i][j]) for i in range(len(rows)))) for j, c in enumerate(cols)
    ]

    def just(s: str, w: int) -> str:
        return s.rjust(w) if right else s.ljust(w)

    lines = [" " * rw + "".join(" " + just(c, w) for c, w in zip(cols, widths, strict=True))]
    for i, r in enumerate(rows):
        body = "".join(" " + just(s, w) for s, w in zip(cells[i], widths, strict=True))
        lines.append((r.ljust(rw) + body).rstrip())
    return [lines[0].rstrip(), *lines[1:]]
