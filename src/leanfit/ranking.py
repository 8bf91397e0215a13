"""A leaderboard: many methods tuned on the same resamples within a wall-time budget, ranked.

PyCaret's ``compare_models`` done caret's way: one ``Control`` with one seed gives every method
the same resamples (their hash is checked before any fit), default grids are sized to the data,
and the top methods are compared with the paired tests of ``leanfit.compare``. A method not
started when the budget ends is listed as skipped, and one that fails keeps its error: nothing
is dropped silently. Every fit keeps its chosen candidate's held-out predictions
(``save_predictions="final"``) for ensembles built from them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .control import Control

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .compare import ModelComparison, ModelDiff
    from .tuning.result import TrainResult
    from .tuning.trainplan import TrainPlan

__all__ = ["FAST", "LEADERBOARD_OPTIONS", "Leaderboard", "leaderboard", "methods_for"]

# Quick methods per task, cheapest first, so a tight budget still ranks a useful set.
_FAST_BOTH = ("knn", "rpart", "pls", "glmnet", "svm_radial", "gbm", "rf", "extra_trees")
FAST: dict[str, tuple[str, ...]] = {
    "classification": ("lda", "nb", *_FAST_BOTH),
    "regression": ("lm", "ridge", "lasso", *_FAST_BOTH),
}
# Engines that are optional installs: the module to look for, and the pip name that brings it.
_ENGINE_MODULES = {
    "lightgbm": ("lightgbm", "lightgbm"),
    "xgboost": ("xgboost", "xgboost"),
    "catboost": ("catboost", "catboost"),
    "glum": ("glum", "glum"),
    "torch": ("torch", "torch"),
    "quantile-forest": ("quantile_forest", "quantile-forest"),
}
# Not a stand-alone learner: needs a teacher (leanfit.distill builds it).
_NOT_STANDALONE = {"distill_mlp": "needs a teacher; lf.distill() trains it"}
# Time and memory grow with the square of the rows: left out of "all" on big data.
_QUADRATIC = ("gaussprocess", "kernel_ridge", "svm_radial", "svm_poly", "svm_radial_cost")
_QUADRATIC_ROWS = 20_000
STATUSES = ("ok", "failed", "skipped")


def _sized(n_rows: int) -> tuple[int, int]:
    """Default (tune_length, CV folds) for ``n_rows``: 3 candidates per parameter and 10 folds on
    small data, fewer as rows grow, so a leaderboard on big data still ends in reasonable time."""
    if n_rows <= 10_000:
        return 3, 10
    if n_rows <= 100_000:
        return 2, 5
    return 1, 3


# Forests grow 100 trees in a leaderboard (scikit-learn's and PyCaret's default) instead of
# randomForest's 500: ranking needs the forest's accuracy, which 100 trees nearly reach, at a
# fifth of the cost (rf and extra_trees took 70 % of a 15-method Sonar board). The fits in
# ``board.fits`` are these; ``options={"rf": {"n_trees": 500}}`` restores the full size.
LEADERBOARD_OPTIONS: dict[str, dict[str, Any]] = {
    "rf": {"n_trees": 100},
    "extra_trees": {"n_trees": 100},
}


def _capped_grid(plan: TrainPlan, cap: int, seed: int, name: str) -> pd.DataFrame | None:
    """At most ``cap`` fit groups of a default grid: a seeded random subset of its groups (random
    search over the grid), each with all its sub-model values, which cost no extra fit. None when
    the grid has ``cap`` groups or fewer."""
    import zlib

    groups = plan.context.groups
    if len(groups) <= cap:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    keep = np.sort(rng.choice(len(groups), size=cap, replace=False))
    rows = sorted(i for g in keep for i in groups[int(g)].candidates)
    return plan.candidates.iloc[rows].reset_index(drop=True)


def _engine_missing(engine: str) -> str | None:
    """Why ``engine`` cannot run here (its module is not installed), else None."""
    spec = _ENGINE_MODULES.get(engine)
    if spec is None or importlib.util.find_spec(spec[0]) is not None:
        return None
    return f"engine {engine!r} is not installed (pip install {spec[1]})"


def methods_for(
    methods: str | Sequence[str], mode: str, n_rows: int = 0
) -> tuple[list[str], dict[str, str]]:
    """The methods to run for a ``mode`` task on ``n_rows`` rows, and those left out with why.

    "fast": the curated quick list for the mode. "all": every registered method supporting the
    mode, less those needing a missing optional engine or a teacher, and the quadratic kernel
    methods above 20 000 rows (each listed with its reason). A list is checked: unknown
    names, repeats, methods without this mode and missing engines are refused before any fit."""
    from .models.base import get_model, registry

    reg = registry()
    if isinstance(methods, str):
        if methods == "fast":
            return list(FAST[mode]), {}
        if methods != "all":
            raise ValueError(
                f"methods={methods!r}: give 'fast', 'all' or a list of method names "
                "(see `leanfit models`)"
            )
        chosen, left = [], {}
        for name, cls in reg.items():
            if mode not in cls.modes:
                continue
            why = _NOT_STANDALONE.get(name) or _engine_missing(cls.engine)
            if why is None and name in _QUADRATIC and n_rows > _QUADRATIC_ROWS:
                why = (
                    f"time and memory grow with rows squared ({n_rows} rows); name it in "
                    "methods= to run it anyway"
                )
            if why is None:
                chosen.append(name)
            else:
                left[name] = why
        return chosen, left
    if not isinstance(methods, Sequence) or not methods:
        raise ValueError("methods: give 'fast', 'all' or a non-empty list of method names")
    names: list[str] = []
    for m in methods:
        if not isinstance(m, str):
            raise TypeError(f"methods: {m!r} is not a method name (a string)")
        try:
            model = get_model(m)
        except ValueError as e:  # unknown: the close names and all of them
            raise ValueError(f"methods: {e}") from None
        names.append(model.name)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"methods: {repeated} named more than once; name each method once")
    wrong = [n for n in names if mode not in reg[n].modes]
    if wrong:
        raise ValueError(
            f"methods {wrong} do not support {mode}; methods that do: "
            f"{', '.join(n for n, c in reg.items() if mode in c.modes)}"
        )
    missing = {n: why for n in names if (why := _engine_missing(reg[n].engine))}
    if missing:
        raise ValueError(
            "methods need engines that are not installed: "
            + "; ".join(f"{n}: {w}" for n, w in missing.items())
        )
    return names, {}


def _check_budget(budget: Any) -> float | None:
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
        raise ValueError(f"budget={budget!r}: give seconds of wall time (a number > 0) or None")
    if not np.isfinite(budget):
        return None
    return float(budget)


def _control_for(
    control: Control | None, mode: str, n_rows: int, seed: int, n_jobs: int | None
) -> Control:
    """The one Control every method shares: the user's (checked) or CV sized to the data; the
    seed fixed, probabilities on for classification, the chosen candidate's predictions kept."""
    if control is None:
        _, folds = _sized(n_rows)
        control = Control(method="cv", number=folds)
    elif not isinstance(control, Control):
        raise TypeError(f"control must be a leanfit.Control, got {type(control).__name__}")
    if control.method in ("none", "oob"):
        raise ValueError(
            f"Control(method={control.method!r}) gives the methods no shared resamples to rank "
            "them on; use cv, repeatedcv, boot or lgocv"
        )
    keep = control.save_predictions
    changes: dict[str, Any] = {
        "seed": seed,
        "save_predictions": keep if keep in (True, "all") else "final",
    }
    if mode == "classification":
        changes["class_probs"] = True
    if n_jobs is not None:
        changes["n_jobs"] = n_jobs
    return dataclasses.replace(control, **changes)


@dataclass
class Leaderboard:
    """Methods ranked by their resampled metric on shared resamples (see ``leaderboard``).

    table: one row per method — ranked ones first (``rank`` 1 is best), then failed and
    skipped ones with the error or reason in ``note``. fits: the TrainResult of each method
    that ran (held-out predictions of the chosen candidate kept). metric / maximize: what
    ranks them. control: the shared resampling design. resample_hash: the resamples' hash.
    """

    table: pd.DataFrame
    fits: dict[str, TrainResult]
    metric: str
    maximize: bool
    control: Control
    resample_hash: str
    mode: str
    seed: int
    budget: float | None
    elapsed: float
    tune_length: int
    left_out: dict[str, str] = field(default_factory=dict)  # "all": methods left out, why

    @property
    def ranked(self) -> list[str]:
        """The methods that ran, best first."""
        return list(self.table.loc[self.table["status"] == "ok", "method"])

    @property
    def failed(self) -> pd.DataFrame:
        """Methods whose tuning failed, with their errors."""
        return self.table.loc[self.table["status"] == "failed", ["method", "note"]].reset_index(
            drop=True
        )

    @property
    def skipped(self) -> pd.DataFrame:
        """Methods not run (budget spent, or left out of "all"), with the reason."""
        return self.table.loc[self.table["status"] == "skipped", ["method", "note"]].reset_index(
            drop=True
        )

    def best(self) -> TrainResult:
        """The top method's fit."""
        if not self.ranked:
            raise ValueError("no method finished: see .failed and .skipped")
        return self.fits[self.ranked[0]]

    def per_resample(self, top: int | None = None) -> pd.DataFrame:
        """Resample x method table of the ranking metric (chosen candidates), best first."""
        names = self.ranked[:top] if top else self.ranked
        cols = {}
        for n in names:
            f = self.fits[n]
            assert f.scores is not None and f.resamples is not None
            cols[n] = f.scores.values[:, f.best_index, f.metric_names.index(self.metric)]
        index = pd.Index(list(self.fits[names[0]]._resampled().names) if names else [])
        return pd.DataFrame(cols, index=index.rename("Resample"))

    def resamples(self, top: int = 5) -> ModelComparison:
        """caret's ``resamples`` of the ``top`` methods (at least two must have run)."""
        from .compare import resamples

        if top < 2:
            raise ValueError(f"top={top}: a comparison needs at least 2 methods")
        names = self.ranked[:top]
        if len(names) < 2:
            raise ValueError(
                f"compare needs at least two methods that ran; {len(names)} did "
                f"(failed: {list(self.failed['method'])}, skipped: {list(self.skipped['method'])})"
            )
        return resamples({n: self.fits[n] for n in names})

    def compare(
        self, top: int = 5, test: str = "t", adjustment: str = "bonferroni", **kwargs: Any
    ) -> ModelDiff:
        """Paired tests between the ``top`` methods on the ranking metric (caret's ``diff``):
        ``test`` "t" or "corrected_t" (Nadeau & Bengio), p-values adjusted over the pairs."""
        return self.resamples(top).diff(
            metric=self.metric, test=test, adjustment=adjustment, **kwargs
        )

    def plot(self, top: int | None = None) -> Figure:
        """Box plot with every resample's value as a dot, one row per method, best at the top."""
        from .plots import plot_leaderboard

        wide = self.per_resample(top)
        if wide.shape[1] == 0:
            raise ValueError("no method finished: nothing to plot (see .failed and .skipped)")
        return plot_leaderboard(wide, self.metric, self.maximize)

    def write_report(self, path: str | Path, title: str = "Leaderboard") -> Path:
        """A self-contained HTML report: this leaderboard's section, then each fit's section."""
        from .report import write_report

        if not self.fits:
            raise ValueError("no method finished: nothing to report (see .failed and .skipped)")
        ranked = {n: self.fits[n] for n in self.ranked}
        return write_report(path, title, ranked, leaderboard=self)

    def __repr__(self) -> str:
        budget = "none" if self.budget is None else f"{self.budget:g} s"
        head = (
            f"Leaderboard of {len(self.table)} methods ({self.mode}), ranked by {self.metric} "
            f"({'higher' if self.maximize else 'lower'} is better)\n"
            f"{self.control.describe()}, the same resamples for all (hash "
            f"{self.resample_hash[:16]}); tune_length {self.tune_length}; seed {self.seed}; "
            f"budget {budget}; {self.elapsed:.1f} s\n"
        )
        show = self.table.drop(columns=["note"]).copy()
        with pd.option_context("display.width", 120, "display.max_colwidth", 40):
            text = show.to_string(index=False, float_format=lambda v: f"{v:.4f}")
        notes = [f"  {r.method}: {r.status}: {r.note}" for r in self.table.itertuples() if r.note]
        return head + text + ("\n" + "\n".join(notes) if notes else "")


def leaderboard(
    x: Any,
    y: Any = None,
    *,
    data: Any = None,
    methods: str | Sequence[str] = "fast",
    control: Control | None = None,
    budget: float | None = None,
    metric: str | None = None,
    tune_length: int | None = None,
    max_fits: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    preprocess: Any = None,
    task: str | None = None,
    n_jobs: int | None = None,
    seed: int | None = None,
    echo: Callable[[str], None] | None = None,
) -> Leaderboard:
    """Tune many methods on the same resamples and rank them (PyCaret's ``compare_models``).

    Inputs as ``train``: ``leaderboard(df, "Class")``, ``leaderboard("Class ~ .", data=df)``
    or ``X, y``. ``methods``: "fast" (quick methods for the task), "all" (every method that
    supports the task and whose engine is installed) or a list of names. ``control``: the
    shared resampling (default 10-fold CV, fewer folds above 10 000 rows); its seed is set to
    ``seed`` so every method gets the same resamples. ``tune_length`` default: 3 (2 above
    10 000 rows, 1 above 100 000). ``max_fits``: model fits per resample for one method
    (default: ``tune_length``): a default grid needing more fit groups (xgb_tree's caret grid
    has 36 at tune_length 3) is a seeded random subset of them, each keeping its sub-model
    values (boosting rounds, lambdas), which are free. ``options``: per method, its model
    options (default ``LEADERBOARD_OPTIONS``: forests of 100 trees; give ``{"rf": {"n_trees":
    500}}`` for caret's size). ``budget``: wall seconds from the call; methods run in
    order (the first always) and one not started when the budget is spent is skipped, listed
    with the reason (a running one finishes). A method that fails is listed with its error.
    ``preprocess``: steps for every method; when None and the predictors have missing values,
    each method that cannot take them gets ``median_impute`` (PyCaret imputes by default too),
    said in its ``note``. ``echo`` gets a line per method.
    """
    from .encodings import DuplicateRowsWarning
    from .models.base import get_model
    from .tuning.train import plan_train, run_plan

    t0 = time.perf_counter()
    limit = _check_budget(budget)
    if tune_length is not None and (
        isinstance(tune_length, bool) or not isinstance(tune_length, int) or tune_length < 1
    ):
        raise ValueError(f"tune_length={tune_length!r} must be a positive integer")
    if seed is None:
        seed = control.seed if control is not None and control.seed is not None else None
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))
    # the data are checked once, before anything is fitted: a one-candidate plan that fits nothing
    with warnings.catch_warnings():  # the first method's plan says it, with the real Control
        warnings.simplefilter("ignore", DuplicateRowsWarning)
        probe = plan_train(
            x,
            y,
            data=data,
            method="rpart",
            control=Control(method="none"),
            tune_length=1,
            task=task,
        )
    mode, n_rows = probe.dataset.mode, len(probe.dataset.y)
    names, left_out = methods_for(methods, mode, n_rows)
    impute = preprocess is None and bool(np.isnan(probe.dataset.X).any())
    size, _ = _sized(n_rows)
    tl = tune_length or size
    cap = tl if max_fits is None else max_fits
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ValueError(f"max_fits={max_fits!r} must be a positive integer")
    if options is not None and not isinstance(options, Mapping):
        raise ValueError(f"options must map method names to their options, got {options!r}")
    unknown = sorted(set(options or {}) - set(names))
    if unknown:
        raise ValueError(f"options: {unknown} are not among the methods run: {names}")
    opts = {
        n: {**LEADERBOARD_OPTIONS.get(n, {}), **dict((options or {}).get(n, {}))} for n in names
    }
    ctl = _control_for(control, mode, n_rows, seed, n_jobs)
    say = echo or (lambda line: None)

    plans: dict[str, TrainPlan] = {}
    rows: dict[str, dict[str, Any]] = {}
    imputed: set[str] = set()  # methods given median_impute: the data have missing values
    for name in names:  # every plan before any fit: settings errors surface now
        if impute and not get_model(name).takes_missing:
            imputed.add(name)
        args = {
            "data": data,
            "method": name,
            "control": ctl,
            "tune_length": tl,
            "preprocess": ["median_impute"] if name in imputed else preprocess,
            "metric": metric,
            "seed": seed,
            "task": task,
            "options": opts[name] or None,
        }
        try:
            with warnings.catch_warnings():  # data warnings once, not once per method
                if plans or rows:
                    warnings.simplefilter("ignore", DuplicateRowsWarning)
                plan = plan_train(x, y, **args)
                grid = _capped_grid(plan, cap, seed, name)
                if grid is not None:
                    plan = plan_train(x, y, **{**args, "grid": grid})
            plans[name] = plan
        except Exception as e:  # a method that cannot be planned here: recorded, not raised
            rows[name] = _row(name, "failed", f"{type(e).__name__}: {_first_line(e)}")
    if not plans:
        raise ValueError(
            "no method could be planned: " + "; ".join(f"{n}: {r['note']}" for n, r in rows.items())
        )
    first = next(iter(plans.values()))
    assert first.resamples is not None  # "none" and "oob" were refused above
    ref_hash = first.resamples.hash
    for name, plan in plans.items():
        assert plan.resamples is not None
        if plan.resamples.hash != ref_hash:  # a bug if ever: the rankings would not be paired
            raise RuntimeError(
                f"method {name!r} got resamples {plan.resamples.hash[:16]}..., not the shared "
                f"{ref_hash[:16]}..."
            )
    rank_metric, maximize = first.metric, first.maximize

    fits: dict[str, TrainResult] = {}
    started = 0
    for i, name in enumerate(names):
        if name not in plans:
            say(f"[{i + 1}/{len(names)}] {name}: failed to plan: {rows[name]['note']}")
            continue
        spent = time.perf_counter() - t0
        if limit is not None and started and spent >= limit:
            rows[name] = _row(
                name,
                "skipped",
                f"not started: the budget of {limit:g} s was spent ({spent:.1f} s elapsed)",
            )
            say(f"[{i + 1}/{len(names)}] {name}: skipped (budget spent)")
            continue
        t_fit = time.perf_counter()
        started += 1
        try:
            res = run_plan(plans[name], t_fit)
        except Exception as e:
            rows[name] = _row(name, "failed", f"{type(e).__name__}: {_first_line(e)}")
            say(f"[{i + 1}/{len(names)}] {name}: failed: {rows[name]['note']}")
            continue
        fits[name] = res
        rows[name] = _fit_row(name, res, rank_metric)
        if name in imputed:
            rows[name]["note"] = _IMPUTED
        say(
            f"[{i + 1}/{len(names)}] {name}: {rank_metric} {rows[name][rank_metric]:.4f} "
            f"({time.perf_counter() - t_fit:.1f} s)"
        )
    for name, why in left_out.items():
        rows[name] = _row(name, "skipped", why)
    table = _rank(list(rows.values()), rank_metric, maximize)
    return Leaderboard(
        table=table,
        fits={n: fits[n] for n in table["method"] if n in fits},
        metric=rank_metric,
        maximize=maximize,
        control=ctl,
        resample_hash=ref_hash,
        mode=mode,
        seed=seed,
        budget=limit,
        elapsed=time.perf_counter() - t0,
        tune_length=tl,
        left_out=left_out,
    )


_IMPUTED = (
    "preprocess=['median_impute'] added: the predictors have missing values and this method "
    "cannot take them (give preprocess= to choose the steps yourself)"
)


def _first_line(e: BaseException) -> str:
    lines = [s for s in str(e).strip().splitlines() if s.strip()]
    return lines[-1] if lines else ""


def _row(name: str, status: str, note: str) -> dict[str, Any]:
    return {"method": name, "status": status, "note": note}


def _fit_row(name: str, res: TrainResult, metric: str) -> dict[str, Any]:
    """One ranked row: the chosen candidate's mean and SD, its resample count and the seconds
    spent fitting (resamples and final model) and predicting held-out rows."""
    results = res.results
    best = results.iloc[res.best_index]
    scores = res.scores
    assert scores is not None
    return {
        "method": name,
        "status": "ok",
        metric: float(best[metric]),
        f"{metric}SD": float(best[f"{metric}SD"]),
        "resamples": int(best["Resamples"]),
        "candidates": len(res.candidates),
        "fit_s": scores.fit_time + res.times.get("final", 0.0),
        "predict_s": scores.predict_time,
        "wall_s": res.times.get("everything", float("nan")),
        "params": ", ".join(f"{k}={_fmt(v)}" for k, v in res.best_params.items()),
        "note": "",
    }


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):.4g}"
    return str(v)


def _rank(rows: list[dict[str, Any]], metric: str, maximize: bool) -> pd.DataFrame:
    """Ran methods by the metric (best first; ties by fewer fit seconds), then failed, then
    skipped ones; ``rank`` numbers the ran ones."""
    cols = [
        "rank",
        "method",
        metric,
        f"{metric}SD",
        "resamples",
        "candidates",
        "fit_s",
        "predict_s",
        "wall_s",
        "params",
        "status",
        "note",
    ]
    ok = [r for r in rows if r["status"] == "ok"]
    ok.sort(
        key=lambda r: (
            not np.isfinite(r[metric]),  # a metric that is NaN ranks last
            -r[metric] if maximize else r[metric],
            r["fit_s"],
        )
    )
    rest = [r for r in rows if r["status"] == "failed"] + [
        r for r in rows if r["status"] == "skipped"
    ]
    table = pd.DataFrame(ok + rest, columns=cols)
    table["rank"] = pd.array([i + 1 for i in range(len(ok))] + [pd.NA] * len(rest), dtype="Int64")
    table["note"] = table["note"].fillna("")
    table["params"] = table["params"].fillna("")
    return table
