"""Control: caret's ``trainControl`` — how train() resamples, scores and selects.

A frozen dataclass validated on creation, so a bad setting fails before any fitting starts.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import splits
from .metrics import SUMMARIES

METHODS = (
    "boot",
    "boot632",
    "optimism_boot",
    "cv",
    "repeatedcv",
    "loocv",
    "lgocv",
    "group_cv",
    "timeslice",
    "oob",
    "none",
)
# caret's adaptive resampling (racing): the resampling of the plain method, with futility stops.
ADAPTIVE = {"adaptive_cv": "cv", "adaptive_boot": "boot", "adaptive_lgocv": "lgocv"}
ADAPTIVE_DEFAULTS: dict[str, Any] = {
    "min": 5,
    "alpha": 0.05,
    "method": "gls",
    "complete": True,
    "eta": 3,
    "free": False,
}
RACING_RULES = ("gls", "BT", "halving")
SAMPLING = ("down", "up", "smote")
_ALIASES = {"LOOCV": "loocv", "LGOCV": "lgocv", "optimism.boot": "optimism_boot"}
SELECTIONS = ("best", "one_se", "oneSE", "tolerance")
# Searches guided by an Optuna sampler, with their samplers (the first is the default).
SAMPLERS = {"bayes": ("tpe", "gp", "cmaes", "random"), "genetic": ("nsga2",)}
SEARCHES = ("grid", "random", *SAMPLERS)
# What a multi-objective search can measure per candidate besides the metrics (lower is better).
COSTS = ("fit_time", "predict_time", "size")
_DEFAULT_NUMBER = {"boot": 25, "boot632": 25, "optimism_boot": 25, "lgocv": 25}


@dataclass(frozen=True)
class Control:
    """How train() resamples, scores and selects (caret's ``trainControl``).

    method: "boot" (caret's default, 25 bootstrap samples), "boot632", "optimism_boot", "cv",
        "repeatedcv", "loocv", "lgocv", "group_cv" (needs ``groups=`` in train), "timeslice",
        "oob" (bagged models and forests: one fit per candidate on all rows, scored on each
        row's out-of-bag prediction), "none" (fit one candidate, no resampling), or caret's
        adaptive resampling "adaptive_cv" (k-fold, repeated with ``repeats``),
        "adaptive_boot", "adaptive_lgocv": candidates clearly worse than the best after
        ``adaptive["min"]`` resamples stop being fitted (see ``adaptive``).
    adaptive: settings of the adaptive methods (caret's ``adaptive`` list): ``min`` resamples
        every candidate gets (default 5), ``alpha`` of the one-sided futility test (0.05),
        ``method`` "gls" (a linear model of the metric on candidate with resamples as blocks;
        each candidate against the current best), "BT" (Bradley-Terry on win/loss counts) or
        "halving" (successive halving: rungs of ``min`` resamples, after each rung only the
        best ``ceil(n / eta)`` of the n candidates still racing go on; ``alpha`` unused),
        ``complete`` (True: the last survivor gets every remaining resample), ``eta`` (halving's
        reduction factor, > 1, default 3), ``free`` (default False; True: a candidate that
        costs no extra fitting is never stopped: one of a fit group still fitted for another
        candidate whose sub-model value is at most the largest one racing there, e.g. fewer
        n.trees; the choice is then made on more resamples).
    number: folds (cv, repeatedcv, group_cv; default 10) or resamples (boot*, lgocv; default 25).
    repeats: repetitions of k-fold for "repeatedcv". Caret's trap: leaving it unset in caret
        silently gives ONE repeat, so "repeatedcv" equals "cv". leanfit keeps that default for
        compatibility but warns when repeatedcv is used without ``repeats``.
    p: training fraction for "lgocv".
    initial_window, horizon, fixed_window, skip: rolling-origin settings for "timeslice".
    index / index_out: user-given training rows per resample (and held-out rows; default the
        complement) — overrides ``method``'s own splitting, as caret's ``index``.
    class_probs: compute class probabilities (needed for ROC, logLoss, ...).
    summary: "default" (Accuracy, Kappa / RMSE, Rsquared, MAE), "two_class" (ROC, Sens, Spec),
        "pr" (AUC, Precision, Recall, F), "log_loss", "multi_class", or a callable
        ``f(data: DataFrame, levels) -> dict`` like caret's summaryFunction.
    selection: "best", "one_se", "tolerance" (1.5 %), or a callable
        ``f(results, metric, maximize) -> row position`` on the simplest-first results table.
        one_se needs a resampled SD: it is refused with loocv and oob (pooled, no SD).
    select_incomplete: let selection choose a candidate scored on fewer resamples than others
        (some of its fits failed). By default only candidates scored on every resample compete
        (the best-covered ones when none is); either way a warning names the candidate.
    search: "grid", "random" (tune_length random candidates), "bayes" (Bayesian optimisation
        on Optuna: candidates drawn from a search space, each resampled in full, the sampler
        told its mean metric) or "genetic" (Optuna's NSGA-II: tournament selection, crossover
        and mutation over the same space). The space is the model's default (``Model.space``)
        updated by ``train(..., space={...})``; bayes and genetic need ``budget`` or ``time``.
    budget: the most candidates (trials) to score, for any search. Grid and random searches
        score their candidates simplest first, a whole fit group at a time (its sub-model
        candidates come free), so they may score a few more. Never 0.
    time: a wall-time budget in seconds, for any search: no new batch of fits starts after it;
        the fits in flight finish and are recorded (the time may be overshot by one batch).
        ``fit.search_info`` says whether a budget ended the search and how many candidates
        were scored. Results with a time budget depend on the machine's speed.
    sampler: bayes: "tpe" (default), "gp", "cmaes" or "random"; genetic: "nsga2" (default).
    sampler_options: keyword arguments for the Optuna sampler (e.g. ``{"population_size":
        10}`` for nsga2, ``{"n_startup_trials": 5}`` for tpe); its seed is leanfit's.
    batch: candidates asked of the sampler at once and resampled together (default 4). The
        sampler is told a whole batch's results before it is asked for the next, so the
        candidates depend on the seed and ``batch`` only, never on ``n_jobs`` or timing.
    objectives: multi-objective search (bayes or genetic): the metric first, then any of
        "fit_time" (mean seconds per resample fit), "predict_time" (seconds per held-out
        row), "size" (mean bytes of the resample fits' model and pre-processing as the store
        and bundles serialise them) or other metrics, e.g. ``["ROC", "size"]``. The result
        has the Pareto front (``fit.front``) and chooses the candidate within ``tolerance``
        percent of the best metric on the front that is smallest in the next objective.
    tolerance: percent of the best metric a multi-objective choice may give up (default 1.5).
    return_resamp: "final" (per-resample metrics of the chosen candidate), "all", or "none".
    save_predictions: False/"none", True/"all" (every candidate), or "final".
    seed: seed for resampling and every fit (train(seed=...) overrides it).
    verbose: show a progress bar over tasks.
    n_jobs: worker processes (1 = in-process). Results are identical for any n_jobs.
    executor: "local" (this process; when n_jobs > 1 and the first tasks show the work
        outweighs starting workers, this process computing beside n_jobs - 1 local workers from
        the moment they start), "processes" (every task in n_jobs local
        worker processes, at least one, without that timing probe) or "dask": a Dask cluster at
        ``scheduler`` (e.g. "tcp://10.0.0.5:8786"), or a local Dask cluster of n_jobs processes
        when no scheduler is given (needs the ``dask`` extra). Results are the same either way.
    sampling: class-imbalance sampling "down", "up" or "smote", applied to each resample's
        training rows only (after pre-processing, never to held-out rows) and to the final fit.
    duplicates: "keep" (default) or "drop": rows repeating an earlier row (predictors and
        outcome) are dropped from each resample's training rows (and from the final fit's rows)
        before pre-processing; held-out rows are never dropped. train() always warns with the
        count of repeated rows and of repeated predictors with conflicting outcomes.
    """

    method: str = "boot"
    number: int | None = None
    repeats: int | None = None
    p: float = 0.75
    initial_window: int | None = None
    horizon: int = 1
    fixed_window: bool = True
    skip: int = 0
    index: Sequence[Sequence[int]] | None = None
    index_out: Sequence[Sequence[int]] | None = None
    class_probs: bool = False
    summary: str | Callable[..., Any] = "default"
    selection: str | Callable[..., int] = "best"
    select_incomplete: bool = False
    search: str = "grid"
    return_resamp: str = "final"
    save_predictions: bool | str = False
    seed: int | None = None
    verbose: bool = False
    n_jobs: int = 1
    sampling: str | None = None
    duplicates: str = "keep"
    executor: str = "local"
    scheduler: str | None = None
    adaptive: Mapping[str, Any] | None = None
    budget: int | None = None
    time: float | None = None
    sampler: str | None = None
    sampler_options: Mapping[str, Any] | None = None
    batch: int = 4
    objectives: Sequence[str] | None = None
    tolerance: float = 1.5

    def __post_init__(self) -> None:
        method = _ALIASES.get(self.method, self.method)
        object.__setattr__(self, "method", method)
        if method not in METHODS and method not in ADAPTIVE:
            raise ValueError(
                f"Control(method={self.method!r}) is not one of {list(METHODS) + list(ADAPTIVE)}"
            )
        if self.adaptive is not None and method not in ADAPTIVE:
            raise ValueError(
                f"Control(adaptive=...) is for the adaptive methods {list(ADAPTIVE)}, not "
                f"method={method!r}"
            )
        if method in ADAPTIVE:
            object.__setattr__(self, "adaptive", self._check_adaptive())
        if self.number is not None and (not isinstance(self.number, int) or self.number < 1):
            raise ValueError(f"Control(number={self.number!r}) must be a positive integer")
        if (
            method in ("cv", "repeatedcv", "group_cv")
            and self.number is not None
            and (self.number < 2)
        ):
            raise ValueError(f"Control(number={self.number}) must be >= 2 folds for {method}")
        if self.repeats is not None and (not isinstance(self.repeats, int) or self.repeats < 1):
            raise ValueError(f"Control(repeats={self.repeats!r}) must be a positive integer")
        if method == "repeatedcv" and self.repeats is None and self.index is None:
            warnings.warn(
                "Control(method='repeatedcv') without repeats= uses 1 repeat (caret's default), "
                "which is plain 10-fold CV; pass repeats=10 for the usual design",
                UserWarning,
                stacklevel=3,
            )
        if not 0 < self.p < 1:
            raise ValueError(f"Control(p={self.p}) must be strictly between 0 and 1")
        if method == "timeslice" and self.index is None and not self.initial_window:
            raise ValueError("Control(method='timeslice') needs initial_window=")
        if isinstance(self.summary, str) and self.summary not in SUMMARIES:
            raise ValueError(
                f"Control(summary={self.summary!r}) is not one of {list(SUMMARIES)} or a callable"
            )
        if isinstance(self.selection, str) and self.selection not in SELECTIONS:
            raise ValueError(
                f"Control(selection={self.selection!r}) is not one of {list(SELECTIONS)} "
                "or a callable"
            )
        if self.selection in ("one_se", "oneSE") and method in ("loocv", "oob"):
            raise ValueError(
                f"Control(selection={self.selection!r}) needs the SD of resampled scores, and "
                f"method={method!r} scores pooled predictions with no SD; use selection='best' "
                "or 'tolerance', or a method with several resamples such as method='cv'"
            )
        if not isinstance(self.select_incomplete, bool):
            raise ValueError(
                f"Control(select_incomplete={self.select_incomplete!r}) must be True or False"
            )
        self._check_search()
        if self.return_resamp not in ("final", "all", "none"):
            raise ValueError(
                f"Control(return_resamp={self.return_resamp!r}) must be 'final', 'all' or 'none'"
            )
        named: dict[bool | str, str] = {True: "all", False: "none"}
        sp = named.get(self.save_predictions, self.save_predictions)
        if sp not in ("all", "final", "none"):
            raise ValueError(
                f"Control(save_predictions={self.save_predictions!r}) must be True, False, "
                "'all', 'final' or 'none'"
            )
        object.__setattr__(self, "save_predictions", sp)
        if not isinstance(self.n_jobs, int) or self.n_jobs == 0 or self.n_jobs < -1:
            raise ValueError(f"Control(n_jobs={self.n_jobs!r}) must be a positive int or -1")
        if self.sampling is not None and self.sampling not in SAMPLING:
            raise ValueError(
                f"Control(sampling={self.sampling!r}) is not one of {list(SAMPLING)} or None"
            )
        if self.duplicates not in ("keep", "drop"):
            raise ValueError(
                f"Control(duplicates={self.duplicates!r}) must be 'keep' (fit on every row) or "
                "'drop' (drop repeated rows from each resample's training rows)"
            )
        if self.executor not in ("local", "processes", "dask"):
            raise ValueError(
                f"Control(executor={self.executor!r}) must be 'local', 'processes' or 'dask'"
            )
        if self.scheduler is not None and self.executor != "dask":
            raise ValueError("Control(scheduler=...) is for executor='dask'")
        if self.index_out is not None and self.index is None:
            raise ValueError("Control(index_out=...) needs index= as well")

    def _check_search(self) -> None:
        """The search and its budget settings, each checked and named."""
        if self.search not in SEARCHES:
            raise ValueError(f"Control(search={self.search!r}) must be one of {list(SEARCHES)}")
        b = self.budget
        if b is not None and (isinstance(b, bool) or not isinstance(b, int) or b < 1):
            raise ValueError(
                f"Control(budget={b!r}) must be a positive number of candidates (trials) to "
                "score, or None for no limit"
            )
        t = self.time
        if t is not None and (
            isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t < float("inf")
        ):
            raise ValueError(f"Control(time={t!r}) must be a positive number of seconds or None")
        guided = self.search in SAMPLERS
        if guided and b is None and t is None:
            raise ValueError(
                f"Control(search={self.search!r}) needs a budget: budget= (candidates to try) "
                "and/or time= (seconds)"
            )
        for name in ("sampler", "sampler_options", "objectives"):
            if getattr(self, name) is not None and not guided:
                raise ValueError(
                    f"Control({name}=...) is for search='bayes' or 'genetic', not "
                    f"search={self.search!r}"
                )
        if self.batch != 4 and not guided:
            raise ValueError(
                f"Control(batch={self.batch!r}) is for search='bayes' or 'genetic', not "
                f"search={self.search!r}"
            )
        if guided:
            if self.sampler is None:
                object.__setattr__(self, "sampler", SAMPLERS[self.search][0])
            if self.sampler not in SAMPLERS[self.search]:
                raise ValueError(
                    f"Control(sampler={self.sampler!r}) is not a sampler of search="
                    f"{self.search!r}; valid: {list(SAMPLERS[self.search])}"
                )
            if self.adaptive is not None:
                raise ValueError(
                    f"Control(search={self.search!r}) resamples every candidate in full; it "
                    f"cannot be combined with method={self.method!r} (racing)"
                )
            if self.method == "none":
                raise ValueError(
                    f"Control(search={self.search!r}) needs resampling to score candidates; "
                    "method='none' has none"
                )
        bt = self.batch
        if isinstance(bt, bool) or not isinstance(bt, int) or bt < 1:
            raise ValueError(f"Control(batch={bt!r}) must be a positive integer")
        if self.sampler_options is not None and not isinstance(self.sampler_options, Mapping):
            raise ValueError(f"Control(sampler_options={self.sampler_options!r}) must be a mapping")
        obj = self.objectives
        if obj is not None:
            if isinstance(obj, str) or len(obj) < 2 or not all(isinstance(o, str) for o in obj):
                raise ValueError(
                    f"Control(objectives={obj!r}) must list at least 2 names: the metric first, "
                    f"then e.g. {list(COSTS)}"
                )
            if len(set(obj)) < len(obj):
                raise ValueError(f"Control(objectives={list(obj)}) names an objective twice")
            if self.sampler == "cmaes":
                raise ValueError(
                    "Control(sampler='cmaes') optimises one objective; for objectives= use "
                    "'tpe', 'gp' or search='genetic'"
                )
            object.__setattr__(self, "objectives", tuple(obj))
        tol = self.tolerance
        if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 <= tol < 100:
            raise ValueError(f"Control(tolerance={tol!r}) must be a percent in [0, 100)")

    def _check_adaptive(self) -> dict[str, Any]:
        """The adaptive settings with caret's defaults filled in, each checked and named."""
        given = dict(self.adaptive or {})
        unknown = [k for k in given if k not in ADAPTIVE_DEFAULTS]
        if unknown:
            raise ValueError(
                f"Control(adaptive=...) has unknown setting(s) {unknown}; valid: "
                f"{list(ADAPTIVE_DEFAULTS)}"
            )
        out = {**ADAPTIVE_DEFAULTS, **given}
        low = out["min"]
        if isinstance(low, bool) or not isinstance(low, int) or low < 2:
            raise ValueError(
                f"Control(adaptive={{'min': {low!r}}}) must be an integer >= 2 (the resamples "
                "every candidate gets before the futility analysis)"
            )
        alpha = out["alpha"]
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
            raise ValueError(
                f"Control(adaptive={{'alpha': {alpha!r}}}) must be strictly between 0 and 1"
            )
        if out["method"] not in RACING_RULES:
            raise ValueError(
                f"Control(adaptive={{'method': {out['method']!r}}}) must be 'gls', 'BT' or "
                "'halving'"
            )
        eta = out["eta"]
        if isinstance(eta, bool) or not isinstance(eta, int | float) or not eta > 1:
            raise ValueError(
                f"Control(adaptive={{'eta': {eta!r}}}) must be a number > 1 (halving keeps the "
                "best 1/eta of the candidates after each rung)"
            )
        if "eta" in given and out["method"] != "halving":
            raise ValueError(
                f"Control(adaptive={{'eta': {eta!r}}}) is for method='halving', not "
                f"method={out['method']!r}"
            )
        for flag in ("complete", "free"):
            if not isinstance(out[flag], bool):
                raise ValueError(
                    f"Control(adaptive={{{flag!r}: {out[flag]!r}}}) must be True or False"
                )
        total = (
            len(self.index)
            if self.index is not None
            else self.folds * ((self.repeats or 1) if self.method == "adaptive_cv" else 1)
        )
        if low >= total:
            raise ValueError(
                f"Control(adaptive={{'min': {low}}}) must be fewer than the {total} resamples of "
                f"method={self.method!r}: with min >= resamples nothing is left to race; raise "
                "number=/repeats= or lower min"
            )
        return out

    @property
    def base_method(self) -> str:
        """The resampling behind the method: an adaptive method's plain counterpart."""
        if self.method == "adaptive_cv":
            return "repeatedcv" if self.repeats else "cv"
        return ADAPTIVE.get(self.method, self.method)

    @property
    def folds(self) -> int:
        """The effective ``number`` with caret's defaults filled in."""
        return self.number or _DEFAULT_NUMBER.get(self.base_method, 10)

    @property
    def workers(self) -> int:
        """Worker processes to start: n_jobs, -1 meaning every core; at most the cores this
        process may use, unless the work goes to a Dask scheduler elsewhere."""
        cores = available_cores()
        if self.n_jobs == -1:
            return cores
        return self.n_jobs if self.scheduler is not None else min(self.n_jobs, cores)

    def resample_sizes(self, n: int) -> tuple[int, int]:
        """(resamples, held-out rows per resample) for ``n`` rows, counted without drawing them
        (held-out rows are estimated for the bootstrap); refuses more folds than rows."""
        m, k = self.base_method, self.folds
        if self.index is not None:
            return len(self.index), n
        if m in ("cv", "repeatedcv", "group_cv") and k > n:
            raise ValueError(
                f"Control(number={k}) asks for {k} folds, but the data has only {n} rows"
            )
        if m in ("cv", "group_cv"):
            return k, -(-n // k)
        if m == "repeatedcv":
            return k * (self.repeats or 1), -(-n // k)
        if m in ("boot", "boot632", "optimism_boot"):
            return k, int(0.368 * n) + 1  # rows a bootstrap sample leaves out: about n / e
        if m == "lgocv":
            return k, n - int(self.p * n)
        if m == "loocv":
            return n, 1
        if m == "oob":
            return 1, n
        if m == "timeslice":
            window = self.initial_window or 0
            return len(range(window, n - self.horizon + 1, self.skip + 1)), self.horizon
        return 0, 0

    def describe(self) -> str:
        """caret's one-line description of the resampling design."""
        k, r = self.folds, self.repeats or 1
        if self.adaptive is not None:
            a = self.adaptive
            test = f"alpha {a['alpha']}" if a["method"] != "halving" else f"eta {a['eta']}"
            racing = (
                f"; min {a['min']}, {test}, {a['method']}{', complete' if a['complete'] else ''}"
            )
            plain = dataclasses.replace(self, method=self.base_method, adaptive=None)
            return f"{plain.describe()} with adaptive resampling ({racing[2:]})"
        if self.index is not None:
            return f"User-given resamples ({len(self.index)} resamples)"
        return {
            "boot": f"Bootstrapped ({k} reps)",
            "boot632": f"Bootstrapped (632 rule, {k} reps)",
            "optimism_boot": f"Optimism-corrected bootstrap ({k} reps)",
            "cv": f"Cross-Validated ({k} fold)",
            "repeatedcv": f"Cross-Validated ({k} fold, repeated {r} times)",
            "loocv": "Leave-One-Out Cross-Validation",
            "lgocv": f"Repeated Train/Test Splits Estimated ({k} reps, {self.p:.0%})",
            "group_cv": f"Grouped Cross-Validation ({k} fold)",
            "timeslice": "Rolling Forecasting Origin Resampling",
            "oob": "Out of Bag Resampling",
            "none": "None",
        }[self.method]


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    import os

    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def make_resamples(
    control: Control, y: np.ndarray, seed: int | None, groups: np.ndarray | None = None
) -> splits.Resamples:
    """Draw the resamples the control asks for; identical for every model given the same seed."""
    n = len(y)
    if control.index is not None:
        return splits.from_indices(control.index, n, index_out=control.index_out)
    m, k = control.base_method, control.folds
    if m in ("boot", "boot632", "optimism_boot"):
        return splits.bootstrap(y, number=k, seed=seed)
    if m == "cv":
        return splits.kfold(y, k=k, seed=seed)
    if m == "repeatedcv":
        return splits.repeated_kfold(y, k=k, repeats=control.repeats or 1, seed=seed)
    if m == "loocv":
        return splits.loocv(n)
    if m == "lgocv":
        return splits.lgocv(y, number=k, p=control.p, seed=seed)
    if m == "group_cv":
        if groups is None:
            raise ValueError("Control(method='group_cv') needs train(..., groups=...)")
        return splits.group_kfold(groups, k=k, seed=seed)
    if m == "oob":
        rows = np.arange(n)
        return splits.from_indices([rows], n, index_out=[rows], names=["OOB"])
    if m == "timeslice":
        assert control.initial_window is not None  # Control requires it without an index
        return splits.time_slices(
            n,
            initial_window=control.initial_window,
            horizon=control.horizon,
            fixed_window=control.fixed_window,
            skip=control.skip,
        )
    raise ValueError(f"no resamples for Control(method={m!r})")
