"""TrainResult: what train() found — resampled scores, the choice, the final model — and Scores,
the per-resample metrics of every candidate from which all of it is derived (and re-derived by
``update()`` without refitting a single resample)."""

from __future__ import annotations

import copy
import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..control import Control
from ..execute import Context, TaskResult, distinct_warnings, fit_one, predict_group
from ..frame import Dataset, check_missing_rows
from ..metrics import resolve_metric, summarize
from ..models.base import CLASSIFICATION, Model
from ..selection import COUNT, STOPPED, choose
from ..splits import Resamples
from .plan import Task, task_seed

_E632 = 1.0 - np.exp(-1.0)  # 0.632: weight of the out-of-bag estimate in the 632 rule


@dataclass
class Scores:
    """Held-out metrics of every candidate on every resample, plus what produced them."""

    values: np.ndarray  # (resamples, candidates, metrics)
    names: list[str]
    apparent: np.ndarray | None = None  # (candidates, metrics): fitted and scored on all rows
    inbag: np.ndarray | None = None  # optimism bootstrap: scored on the bootstrap rows
    allrows: np.ndarray | None = None  # optimism bootstrap: scored on all original rows
    pooled: np.ndarray | None = None  # LOOCV: (candidates, metrics) of the pooled predictions
    failures: list[dict[str, Any]] = field(default_factory=list)
    warned: list[dict[str, Any]] = field(default_factory=list)  # one entry per fit and warning
    saved: list[tuple[int, tuple[int, ...], np.ndarray, np.ndarray, np.ndarray | None]] = field(
        default_factory=list
    )
    fit_time: float = 0.0
    predict_time: float = 0.0

    @property
    def warned_fits(self) -> int:
        """How many fits raised warnings (``warned`` has an entry per fit and warning)."""
        return len({(w["resample"], w["group"]) for w in self.warned})

    @classmethod
    def empty(cls, n_resamples: int, n_cands: int, names: list[str], method: str) -> Scores:
        """All-missing scores; the 632 and optimism rules also keep apparent/in-bag scores."""
        shape = (n_resamples, n_cands, len(names))
        out = cls(values=np.full(shape, np.nan), names=names)
        if method in ("boot632", "optimism_boot"):
            out.apparent = np.full(shape[1:], np.nan)
        if method == "optimism_boot":
            out.inbag, out.allrows = np.full(shape, np.nan), np.full(shape, np.nan)
        return out

    def add(self, r: TaskResult, ctx: Context, task: Task, control: Control) -> None:
        """Score one task's predictions (vectorised over its candidates) and keep them."""
        group = ctx.groups[r.group]
        cands = list(group.candidates)
        self.fit_time += r.fit_time
        self.predict_time += r.predict_time
        self.warned.extend(r.warned())
        if r.error is not None:
            for c in cands:
                self.failures.append(
                    {"resample": r.resample, "group": r.group, "candidate": c, "error": r.error}
                )
            return
        for ev, pred in r.preds.items():
            rows = task.evals[ev]
            w = None if ctx.weights is None else ctx.weights[rows]
            m = summarize(control.summary, ctx.y[rows], pred, r.probs.get(ev), ctx.levels, w)
            arr = np.column_stack([np.asarray(m[n], dtype=float) for n in self.names])
            if ev == "apparent":
                assert self.apparent is not None  # empty() made it: the rule has apparent fits
                self.apparent[cands] = arr
            else:
                getattr(self, ev)[r.resample, cands] = arr
            keep = control.save_predictions != "none" or control.method == "loocv"
            if ev == "values" and keep:
                self.saved.append((r.resample, tuple(cands), rows, pred, r.probs.get(ev)))

    def pool(self, ctx: Context, control: Control) -> None:
        """Score each candidate on all held-out predictions together (caret's LOOCV rule:
        one-row resamples have no RMSE, R², Kappa or ROC of their own)."""
        self.pooled = np.full(self.values.shape[1:], np.nan)
        by_group: dict[tuple[int, ...], list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]] = {}
        for _, cands, rows, pred, prob in sorted(self.saved, key=lambda e: (e[0], e[1])):
            by_group.setdefault(cands, []).append((rows, pred, prob))
        for cands, parts in by_group.items():
            rows = np.concatenate([p[0] for p in parts])
            pred = np.concatenate([p[1] for p in parts], axis=1)
            prob = None if parts[0][2] is None else np.concatenate([p[2] for p in parts], axis=1)
            w = None if ctx.weights is None else ctx.weights[rows]
            m = summarize(control.summary, ctx.y[rows], pred, prob, ctx.levels, w)
            self.pooled[list(cands)] = np.column_stack(
                [np.asarray(m[n], dtype=float) for n in self.names]
            )

    def counts(self) -> np.ndarray:
        """Per candidate: the resamples it was scored on — its fit did not fail and (outside
        the pooled LOOCV rule, whose one-row resamples may have no metric of their own) some
        metric came out. The ``Resamples`` column of ``TrainResult.results``."""
        scored = np.ones(self.values.shape[:2], dtype=bool)
        if self.pooled is None:
            scored = ~np.all(np.isnan(self.values), axis=2)
        for f in self.failures:
            if f["resample"] >= 0:
                scored[f["resample"], f["candidate"]] = False
        return scored.sum(axis=0).astype(np.int64)

    def apparent_ok(self) -> bool:
        return self.apparent is not None and not np.all(np.isnan(self.apparent))

    def estimates(self) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate: the performance estimate (632 / optimism rules applied) and its SD."""
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing candidates stay NaN
            mean = np.nanmean(self.values, axis=0)
            sd = np.nanstd(self.values, axis=0, ddof=1)
            if self.pooled is not None:
                mean, sd = self.pooled, np.full_like(self.pooled, np.nan)
            elif self.apparent is not None and self.inbag is not None:
                optimism = np.nanmean(self.inbag - self.allrows, axis=0)
                mean = self.apparent - optimism
            elif self.apparent is not None:
                mean = _E632 * mean + (1 - _E632) * self.apparent
        return mean, sd


@dataclass
class TrainResult:
    """The outcome of train(): caret's ``train`` object, with pandas tables.

    results: every candidate (simplest first) with each metric's mean and SD over resamples and,
    last, ``Resamples``: how many resamples it was scored on (fewer where fits failed or racing
    stopped it; ``StoppedAfter`` says which racing stopped).
    best_params / best_index: the chosen candidate. final_model: the engine's model refitted on
    all rows. resample: per-resample metrics of the chosen candidate (all candidates with
    ``return_resamp="all"``). predictions: saved held-out predictions. times: seconds spent.
    fit_warnings / final_warnings: what the resampling fits / the final fit warned about.
    """

    model: Model
    control: Control
    dataset: Dataset
    context: Context
    candidates: pd.DataFrame
    metric: str
    maximize: bool
    seed: int
    resamples: Resamples | None
    scores: Scores | None
    metric_names: list[str]
    best_index: int = -1
    final_model: Any = None
    final_preprocess: Any = None
    final_info: dict[str, Any] = field(default_factory=dict)
    # warnings the final fit raised, "Category: first line" each once (e.g. boosting diverged)
    final_warnings: list[str] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)
    # run id, resumed/computed task counts, notes; "restored": True when rebuilt from a store
    store_run: dict[str, Any] | None = None
    # adaptive resampling: candidate -> resamples it got before the futility analysis stopped it
    stopped: dict[int, int] = field(default_factory=dict)
    # how the search went (tuning/bayes.SearchInfo): its kind, candidates scored, whether a
    # budget ended it; None for a grid or random search without a budget
    search_info: Any = None
    # multi-objective search: every scored candidate's objectives, and ``on_front`` (True on
    # the Pareto front); None otherwise
    objectives: pd.DataFrame | None = None
    # lf.explain's reading of the final model's trees (per tree count), with the model it was
    # read from: repeated explanations of the same final model read its trees once
    explain_cache: tuple[Any, dict[int, Any]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def front(self) -> pd.DataFrame | None:
        """The Pareto front of a multi-objective search: the candidates no other candidate
        beats in every objective, with their parameters and objectives (best metric first)."""
        if self.objectives is None:
            return None
        t = self.objectives
        first = self.search_info.objectives[0]
        up = self.search_info.maximize[0]
        return t[t["on_front"]].drop(columns="on_front").sort_values(first, ascending=not up)

    def _resampled(self) -> Resamples:
        """The resamples, for the paths that run only on a resampled fit (one with scores)."""
        assert self.resamples is not None, "only a resampled fit has scores"
        return self.resamples

    # -- tables ----------------------------------------------------------------------------
    @property
    def method(self) -> str:
        return self.model.name

    @property
    def results(self) -> pd.DataFrame:
        """Every candidate × metric: mean and SD over resamples (caret's ``$results``), then
        ``Resamples``, the number of resamples each candidate was scored on, and, with adaptive
        resampling, ``StoppedAfter``: the resamples after which racing stopped the candidate
        (<NA> for those that raced to the end)."""
        out = self.candidates.copy()
        if self.scores is None:
            return out
        mean, sd = self.scores.estimates()
        for j, n in enumerate(self.metric_names):
            out[n] = mean[:, j]
        for j, n in enumerate(self.metric_names):
            out[f"{n}SD"] = sd[:, j]
        out[COUNT] = self.scores.counts()
        if self.control.adaptive is not None:
            after = pd.array([pd.NA] * len(out), dtype="Int64")
            for c, k in self.stopped.items():
                after[c] = k
            out[STOPPED] = after
        out.attrs["n_resamples"] = len(self._resampled())
        return out

    @property
    def best_params(self) -> dict[str, Any]:
        """The chosen candidate's parameters (caret's ``$bestTune``)."""
        return _row(self.candidates, self.best_index)

    @property
    def resample(self) -> pd.DataFrame | None:
        """Per-resample metrics of the chosen candidate (or all, with return_resamp="all")."""
        if self.scores is None or self.control.return_resamp == "none":
            return None
        names = list(self._resampled().names)
        if self.control.return_resamp == "final":
            df = pd.DataFrame(self.scores.values[:, self.best_index, :], columns=self.metric_names)
            df["Resample"] = names
            return df
        frames = []
        for c in range(len(self.candidates)):
            df = pd.DataFrame(self.scores.values[:, c, :], columns=self.metric_names)
            for k, v in _row(self.candidates, c).items():
                df[k] = v
            df["Resample"] = names
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    @property
    def predictions(self) -> pd.DataFrame | None:
        """Held-out predictions (caret's ``$pred``): one row per held-out row and candidate."""
        if self.scores is None or not self.scores.saved or self.control.save_predictions == "none":
            return None
        only_best = self.control.save_predictions == "final"
        ds, frames = self.dataset, []
        for r, cands, rows, pred, prob in sorted(self.scores.saved, key=lambda s: (s[0], s[1])):
            for s, c in enumerate(cands):
                if only_best and c != self.best_index:
                    continue
                df = pd.DataFrame({"rowIndex": rows})
                if ds.mode == CLASSIFICATION:
                    lv = np.asarray(ds.levels, dtype=object)
                    df["pred"], df["obs"] = lv[pred[s]], lv[ds.y[rows]]
                    if prob is not None:
                        for k, name in enumerate(ds.levels):
                            df[name] = prob[s, :, k]
                else:
                    df["pred"], df["obs"] = pred[s], ds.y[rows]
                for key, v in _row(self.candidates, c).items():
                    df[key] = v
                df["Resample"] = self._resampled().names[r]
                frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else None

    @property
    def failures(self) -> pd.DataFrame:
        """Every failed fit: resample, candidate parameters and the error (never dropped)."""
        rows = []
        for f in self.scores.failures if self.scores else []:
            name = "AllData" if f["resample"] < 0 else self._resampled().names[f["resample"]]
            rows.append(
                {
                    "Resample": name,
                    **_row(self.candidates, f["candidate"]),
                    "error": f["error"].strip().splitlines()[-1],
                    "traceback": f["error"],
                }
            )
        return pd.DataFrame(rows)

    @property
    def fit_warnings(self) -> pd.DataFrame:
        """Warnings raised while fitting and predicting the resamples (on any worker): resample,
        the fit's parameters and the warning, one row per fit and distinct warning."""
        rows = []
        for f in self.scores.warned if self.scores else []:
            name = "AllData" if f["resample"] < 0 else self._resampled().names[f["resample"]]
            params = self.context.groups[f["group"]].params
            rows.append({"Resample": name, **params, "warning": f["warning"]})
        return pd.DataFrame(rows)

    # -- selection -------------------------------------------------------------------------
    def select(
        self, selection: Any = None, metric: str | None = None, maximize: bool | None = None
    ) -> int:
        """The row of ``results`` the selection rule picks (caret's selectionFunction), among
        the candidates scored on every resample unless ``Control(select_incomplete=True)``
        (with adaptive resampling: among the candidates not stopped);
        an ``IncompleteResamplesWarning`` says when that mattered (see ``selection.choose``)."""
        rule = selection if selection is not None else self.control.selection
        metric = metric or self.metric
        maximize = self.maximize if maximize is None else maximize
        if self.stopped:  # adaptive resampling: choose among the candidates not stopped
            table = self.results
            rows = np.array([c for c in range(len(table)) if c not in self.stopped])
            sub = table.iloc[rows].reset_index(drop=True)
            sub.attrs = {**table.attrs, "n_resamples": int(sub[COUNT].max())}
            i = choose(sub, rule, metric, maximize, self.control.select_incomplete, stacklevel=3)
            return int(rows[i])
        return choose(
            self.results, rule, metric, maximize, self.control.select_incomplete, stacklevel=3
        )

    def update(
        self,
        params: dict[str, Any] | None = None,
        selection: Any = None,
        metric: str | None = None,
        maximize: bool | None = None,
    ) -> TrainResult:
        """Re-choose the final candidate (by rule, metric or explicit params) and refit only the
        final model — the resampled scores are reused (caret's ``update.train``)."""
        new = copy.copy(self)
        new.times = dict(self.times)
        if metric is not None:
            metric = resolve_metric(
                metric,
                self.metric_names,
                summary=self.control.summary,
                mode=self.dataset.mode,
                n_classes=len(self.dataset.levels),
                unknown=f"metric {metric!r} is not in the results; available: {self.metric_names}",
            )
            new.metric = metric
            if maximize is None:
                from ..metrics import maximize_default

                maximize = maximize_default(metric)
        if maximize is not None:
            new.maximize = bool(maximize)
        if selection is not None:
            new.control = dataclasses.replace(self.control, selection=selection)
        if params is not None:
            idx = _find_candidate(self.candidates, self.model, params)
        elif self.scores is None:
            raise ValueError(
                "a model fitted with Control(method='none') has no resamples to "
                "re-select from; pass params="
            )
        else:
            idx = new.select()
        return fit_final(new, idx)

    # -- prediction ------------------------------------------------------------------------
    def _predict(self, newdata: Any) -> tuple[np.ndarray, np.ndarray | None, Any]:
        if self.final_model is None and (self.store_run or {}).get("restored"):
            why = "; ".join((self.store_run or {}).get("notes") or ()) or "it was not stored"
            raise ValueError(f"this result was restored without its final model ({why})")
        X = self.dataset.encoder.transform(newdata, mark_unseen=self.final_preprocess is not None)
        check_missing_rows(
            self.dataset.encoder,
            X,
            takes_missing=self.model.takes_missing,
            preprocess=self.final_preprocess,
            who=f"method {self.method!r}",
        )
        index = newdata.index if isinstance(newdata, pd.DataFrame) else None
        sub = self._sub()
        ctx = (
            dataclasses.replace(self.context, class_probs=True)
            if (self.dataset.mode == CLASSIFICATION and self.model.probabilities)
            else self.context
        )
        pred, prob = predict_group(ctx, self.final_preprocess, self.final_model, X, [sub])
        return pred[0], (None if prob is None else prob[0]), index

    def predict(self, newdata: Any) -> pd.Series:
        """Predicted classes (or values) for new rows, with the training pre-processing."""
        t0 = time.perf_counter()
        pred, _, index = self._predict(newdata)
        if self.dataset.mode == CLASSIFICATION:
            pred = pd.Categorical.from_codes(pred, categories=list(self.dataset.levels))
        self.times["prediction"] = time.perf_counter() - t0
        return pd.Series(pred, index=index, name=self.dataset.target)

    def predict_proba(self, newdata: Any) -> pd.DataFrame:
        """Class probabilities for new rows: one column per class level."""
        if self.dataset.mode != CLASSIFICATION or not self.model.probabilities:
            raise ValueError(f"method {self.method!r} on this target gives no class probabilities")
        _, prob, index = self._predict(newdata)
        return pd.DataFrame(prob, columns=list(self.dataset.levels), index=index)

    def _sub(self) -> dict[str, Any]:
        row = _row(self.candidates, self.best_index)
        return {p: row[p] for p in self.model.submodel if p in row}

    # -- display ---------------------------------------------------------------------------
    def __repr__(self) -> str:
        from .display import format_train

        return format_train(self)


def fit_final(res: TrainResult, index: int) -> TrainResult:
    """Refit candidate ``index`` on all training rows (fresh pre-processing on all rows too)."""
    from ..pools import one_thread
    from .plan import fit_groups

    t0 = time.perf_counter()
    res.best_index = int(index)
    row = res.candidates.iloc[[index]].reset_index(drop=True)
    group = fit_groups(res.model, row)[0]
    all_rows = np.arange(len(res.dataset.y))
    with one_thread(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pp, fitted = fit_one(res.context, all_rows, group, task_seed(res.seed, -2, 0))
    res.final_warnings = distinct_warnings(caught)
    for w in caught:  # still shown as they were before being recorded
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    res.final_model, res.final_preprocess = fitted, pp
    res.final_info = res.model.describe_fit(fitted)
    res.times["final"] = time.perf_counter() - t0
    return res


def _row(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    """Row ``i`` as plain Python values, each column keeping its own type (ints stay ints)."""
    return frame.iloc[[i]].to_dict("records")[0]


def _find_candidate(cands: pd.DataFrame, model: Model, params: dict[str, Any]) -> int:
    aliases = model.alias_map()
    params = {aliases.get(k, k): v for k, v in params.items()}
    unknown = [k for k in params if k not in cands.columns]
    if unknown:
        raise ValueError(f"{unknown} are not parameters of {model.name!r}: {list(cands.columns)}")
    mask = np.ones(len(cands), dtype=bool)
    for k, v in params.items():
        mask &= cands[k].to_numpy() == v
    hits = np.flatnonzero(mask)
    if len(hits) == 0:
        raise ValueError(f"no candidate has {params}; update() can only pick a tuned candidate")
    return int(hits[0])
