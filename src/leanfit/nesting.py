"""Nested resampling: an honest estimate of the whole tuning procedure (``lf.nested``; the module
is not named "nested", which would shadow the function on the leanfit package).

train()'s resampled estimate of the chosen candidate is optimistic: the same resamples chose it.
Nested resampling wraps the whole of train() in an outer resampling: for each outer resample,
train() tunes on the outer training rows only (its own inner resampling, selection and refit),
and the model it chose is scored once on the outer held-out rows, which took no part in the
choice. The mean of those outer scores estimates how well "tune with this grid, then refit"
does on new rows; the inner estimates of the chosen candidates sit beside it to show the
optimism. Outer folds run one after another; each inner train() runs its tasks on the inner
control's executor (``n_jobs``), so the two levels never compete for workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .control import Control
    from .splits import Resamples
    from .tuning.result import TrainResult

__all__ = ["NestedResult", "nested"]

# outer resampling methods: each gives held-out rows of its own on which one model is scored
_OUTER = ("cv", "repeatedcv", "boot", "lgocv", "group_cv")


@dataclass
class NestedResult:
    """Nested resampling of one model: per outer resample, the candidate the inner train()
    chose, its inner (resampled, optimistic) estimate and its score on the outer held-out rows.

    folds: one row per outer resample: ``Resample``, the chosen tuning parameters, ``inner``
        (the chosen candidate's resampled ``metric`` inside train()), ``outer`` (``metric`` on
        the outer held-out rows), every metric of the summary on those rows (``outer_<name>``),
        ``n_train`` and ``n_test`` rows.
    fits: the TrainResult of each outer resample (its inner tuning and refit).
    """

    method: str
    metric: str
    maximize: bool
    outer_control: Control
    inner_control: Control
    folds: pd.DataFrame
    params: list[str]
    fits: list[TrainResult] = field(repr=False)
    resamples: Resamples | None = field(default=None, repr=False)  # the outer resamples
    seconds: float = 0.0

    @property
    def outer(self) -> tuple[float, float]:
        """(mean, SD) of the metric over the outer held-out sets: the honest estimate."""
        v = self.folds["outer"].to_numpy(dtype=float)
        return float(np.nanmean(v)), float(np.nanstd(v, ddof=1)) if len(v) > 1 else float("nan")

    @property
    def inner(self) -> tuple[float, float]:
        """(mean, SD) over outer resamples of the chosen candidate's inner resampled estimate."""
        v = self.folds["inner"].to_numpy(dtype=float)
        return float(np.nanmean(v)), float(np.nanstd(v, ddof=1)) if len(v) > 1 else float("nan")

    @property
    def chosen(self) -> pd.DataFrame:
        """The spread of the choice: each distinct chosen parameter set, how many outer
        resamples chose it, and the mean outer score of those, most chosen first."""
        if not self.params:
            return pd.DataFrame({"count": [len(self.folds)]})
        table = (
            self.folds.groupby(self.params, dropna=False, sort=True)
            .agg(count=("outer", "size"), outer=("outer", "mean"))
            .reset_index()
        )
        return table.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)

    def __repr__(self) -> str:
        o, osd = self.outer
        i, isd = self.inner
        optimism = i - o if self.maximize else o - i
        lines = [
            f"Nested resampling of {self.method!r}: outer {self.outer_control.describe()}; "
            f"inner {self.inner_control.describe()}",
            "",
            f"{self.metric} on the outer held-out rows (honest):   {o:.4f} (SD {osd:.4f})",
            f"{self.metric} of the chosen candidates inside train(): {i:.4f} (SD {isd:.4f})",
            f"optimism of the inner estimate: {optimism:+.4f}",
            "",
            "Chosen parameters across the outer resamples:",
        ]
        lines.extend("  " + ln for ln in self.chosen.to_string(index=False).splitlines())
        lines.append("")
        lines.append("Per outer resample (.folds):")
        cols = ["Resample", *self.params, "inner", "outer"]
        lines.extend("  " + ln for ln in self.folds[cols].to_string(index=False).splitlines())
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Per outer resample: the inner estimate of the chosen candidate and its outer score,
        joined by a line, with both means; the chosen parameters label each resample."""
        from matplotlib.figure import Figure

        f = self.folds
        fig = Figure(figsize=(7.6, 0.32 * len(f) + 2.2), layout="constrained")
        ax = fig.add_subplot()
        y = np.arange(len(f))[::-1]
        inner, outer = f["inner"].to_numpy(float), f["outer"].to_numpy(float)
        ax.hlines(y, np.minimum(inner, outer), np.maximum(inner, outer), color="0.75", lw=1)
        ax.scatter(inner, y, marker="o", facecolors="none", edgecolors="C0", label="inner")
        ax.scatter(outer, y, marker="o", color="C1", label="outer (held-out)")
        ax.axvline(self.inner[0], color="C0", ls="--", lw=1, label="inner mean")
        ax.axvline(self.outer[0], color="C1", ls="--", lw=1, label="outer mean")
        labels = [
            f"{r}: " + ", ".join(f"{p}={row[p]}" for p in self.params)
            for r, (_, row) in zip(f["Resample"], f.iterrows(), strict=True)
        ]
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlabel(self.metric)
        ax.legend(loc="best", fontsize=8)
        ax.set_title(
            f"{self.method}: nested resampling, {self.metric} inside train() vs held out",
            fontsize=10,
        )
        return fig


def nested(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    outer: Control | None = None,
    control: Control | None = None,
    seed: int | None = None,
    weights: Any = None,
    groups: Any = None,
    **kwargs: Any,
) -> NestedResult:
    """Nested resampling: train() (with ``control`` as its inner resampling) on each outer
    resample's training rows, the chosen model scored on that resample's held-out rows.

    Inputs as train(): a formula with ``data=``, a DataFrame and its target column, or ``X`` and
    ``y``; ``kwargs`` (method, grid, metric, preprocess, ...) go to every inner train().
    ``outer``: the outer resampling (default 5-fold CV): "cv", "repeatedcv", "boot", "lgocv" or
    "group_cv" (with ``groups=``). ``seed`` draws the outer resamples and seeds every inner
    train(). Everything is checked once, before any fit, by planning train() on all rows.
    """
    from .control import Control, make_resamples
    from .models.base import CLASSIFICATION
    from .tuning.train import plan_train, train

    t0 = time.perf_counter()
    outer = outer if outer is not None else Control(method="cv", number=5)
    if not isinstance(outer, Control):
        raise ValueError(f"nested(outer=...) must be a leanfit Control, got {outer!r}")
    if outer.method not in _OUTER or outer.index is not None:
        what = "index=" if outer.index is not None else f"method={outer.method!r}"
        raise ValueError(
            f"nested(outer=Control({what})) cannot be an outer resampling: use one of "
            f"{list(_OUTER)} (each outer held-out set scores one chosen model; the estimate "
            "rules of boot632/optimism_boot, pooled LOOCV, oob and adaptive racing belong to "
            "the inner control=)"
        )
    if kwargs.get("store") is not None:
        raise ValueError("nested() does not store runs: leave store= out")
    control = control if control is not None else Control()
    base = dict(kwargs, weights=weights, groups=groups)
    plan = plan_train(x, y, data=data, control=control, seed=seed, **base)  # checks every input
    ds = plan.dataset
    seed = plan.seed
    labels = ds.y_labels if ds.mode == CLASSIFICATION else ds.y
    g = None if groups is None else np.asarray(groups)
    if outer.method == "group_cv" and g is None:
        raise ValueError("nested(outer=Control(method='group_cv')) needs groups=")
    resamples = make_resamples(outer, labels, seed, g)
    if control.method == "group_cv" and g is None:
        raise ValueError("nested(control=Control(method='group_cv')) needs groups=")
    params = [c for c in plan.candidates.columns if plan.candidates[c].nunique(dropna=False) > 1]
    rows_out: list[dict[str, Any]] = []
    fits: list[TrainResult] = []
    for name, train_rows, test_rows in resamples:
        tr, te = np.asarray(train_rows), np.asarray(test_rows)
        sx, sy, sdata = _subset(x, y, data, tr)
        sub = dict(kwargs)
        if weights is not None:
            sub["weights"] = np.asarray(weights)[tr]
        if groups is not None:
            sub["groups"] = np.asarray(groups)[tr]
        fit = train(sx, sy, data=sdata, control=control, seed=seed, **sub)
        if tuple(fit.dataset.levels) != tuple(ds.levels):
            raise ValueError(
                f"outer resample {name!r}: its training rows hold the classes "
                f"{list(fit.dataset.levels)}, not all of {list(ds.levels)}; use a stratified "
                "outer method (cv, repeatedcv) or more rows"
            )
        scores = _score_heldout(fit, x, data, te, ds, weights, control)
        best = fit.results.iloc[fit.best_index]
        row: dict[str, Any] = {"Resample": name}
        row.update({p: fit.best_params[p] for p in params})
        row["inner"] = float(best[fit.metric])
        row["outer"] = scores[fit.metric]
        row.update({f"outer_{k}": v for k, v in scores.items()})
        row["n_train"], row["n_test"] = len(tr), len(te)
        rows_out.append(row)
        fits.append(fit)
    return NestedResult(
        method=plan.model.name,
        metric=plan.metric,
        maximize=plan.maximize,
        outer_control=outer,
        inner_control=control,
        folds=pd.DataFrame(rows_out),
        params=params,
        fits=fits,
        resamples=resamples,
        seconds=time.perf_counter() - t0,
    )


def _subset(x: Any, y: Any, data: Any, rows: np.ndarray) -> tuple[Any, Any, Any]:
    """train()'s inputs restricted to ``rows`` (positions), in the form they were given."""
    if data is not None:
        return x, y, _take(data, rows)
    if isinstance(x, pd.DataFrame) and isinstance(y, str):
        return _take(x, rows), y, None
    return _take(x, rows), _take(y, rows), None


def _take(a: Any, rows: np.ndarray) -> Any:
    if isinstance(a, pd.DataFrame | pd.Series):
        return a.iloc[rows]
    return np.asarray(a)[rows]


def _score_heldout(
    fit: TrainResult,
    x: Any,
    data: Any,
    rows: np.ndarray,
    ds: Any,
    weights: Any,
    control: Control,
) -> dict[str, float]:
    """Every metric of the inner control's summary for ``fit``'s predictions of ``rows``."""
    from .metrics import summarize

    newdata = _take(data if data is not None else x, rows)
    pred, prob, _ = fit._predict(newdata)
    w = None if weights is None else np.asarray(weights, dtype=float)[rows]
    m = summarize(
        control.summary,
        ds.y[rows],
        pred,
        prob if control.class_probs else None,
        tuple(ds.levels),
        w,
    )
    return {k: float(np.asarray(v, dtype=float).ravel()[0]) for k, v in m.items()}
