"""``ensemble()``: combine trained models from their stored held-out predictions, with an honest
estimate: the combiner is resampled (an inner k-fold over the held-out rows) so that no row is
scored by a combiner whose weights or meta-model were chosen on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..compare import t_test
from ..control import Control
from ..metrics import maximize_default, summarize
from ..models.base import CLASSIFICATION
from ..splits import kfold, partition
from ..tuning.result import TrainResult
from .combine import Vote, Weighted, caruana_weights, check_loss, optimal_weights
from .members import HeldOut, check_members, held_out, named_fits
from .stack import Stacked, default_meta_control, fit_stack, meta_held_out

METHODS = ("caruana", "average", "vote", "stack", "blend")
Combiner = Weighted | Vote | Stacked


@dataclass(frozen=True)
class Spec:
    """How the combiner is fitted (checked before anything is computed)."""

    method: str
    weights: str
    loss: str
    iterations: int
    bags: int
    bag_fraction: float
    meta: Any
    meta_control: Control | None
    meta_args: dict[str, Any]
    blend_p: float
    seed: int


def fit_combiner(spec: Spec, ho: HeldOut, rows: np.ndarray) -> Combiner:
    """Fit the combiner on held-out rows ``rows`` (positions in ``ho``) only."""
    P, y = ho.P[:, rows], ho.y[rows]
    m = P.shape[0]
    if spec.method == "vote":
        return Vote()
    if spec.method == "average":
        if spec.weights == "equal":
            return Weighted(np.full(m, 1.0 / m))
        return Weighted(optimal_weights(P, y, spec.loss))
    if spec.method == "caruana":
        w = caruana_weights(
            P, y, spec.loss, spec.iterations, spec.bags, spec.bag_fraction, spec.seed
        )
        return Weighted(w)
    return fit_stack(
        P, y, ho.names, ho.levels, spec.meta, spec.meta_control, spec.meta_args, spec.seed
    )


def _outputs(ho: HeldOut, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(pred, prob) for summarize(): classes from probabilities, or the predictions."""
    if ho.classification:
        return np.argmax(Q, axis=-1), Q
    return Q, None


def _score(
    summary: Any, ho: HeldOut, rows: np.ndarray, ens: np.ndarray, names: list[str]
) -> dict[str, np.ndarray]:
    """Metrics of the ensemble (first) and every member on ``rows``: name -> (1 + members,)."""
    Q = np.concatenate([ens[None], ho.P[:, rows]], axis=0)
    pred, prob = _outputs(ho, Q)
    out = summarize(summary, ho.y[rows], pred, prob, ho.levels)
    return {k: np.asarray(out[k], dtype=float) for k in names}


@dataclass(eq=False)
class EnsembleResult:
    """An ensemble of trained models and its honest estimate.

    resample: per inner fold, the ensemble's and every member's metrics on the same rows.
    results: their means and SDs. optimistic: the ensemble scored on the rows that fitted it
    (for contrast only). test: the paired t-test of ensemble minus its best single member on
    the inner folds (``p_corrected``: Nadeau & Bengio's corrected test). estimate: how the
    estimate was made.
    """

    method: str
    members: dict[str, TrainResult]
    combiner: Combiner
    heldout: HeldOut
    metric: str
    maximize: bool
    metric_names: list[str]
    resample: pd.DataFrame
    optimistic: dict[str, float]
    best_member: str
    test: dict[str, float]
    estimate: str
    settings: dict[str, Any] = field(default_factory=dict)
    # where it is stored (run_id, experiment, name), once saved or restored
    store_run: dict[str, Any] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return self.heldout.names

    @property
    def weights(self) -> pd.Series | None:
        """Each member's weight in the average (caruana, average), or None (vote, stack)."""
        if isinstance(self.combiner, Weighted):
            return pd.Series(self.combiner.weights, index=list(self.names), name="weight")
        return None

    @property
    def meta_model(self) -> TrainResult | None:
        """The stacking / blending meta-model (a TrainResult on the member columns)."""
        return self.combiner.meta if isinstance(self.combiner, Stacked) else None

    @property
    def results(self) -> pd.DataFrame:
        """Per model (ensemble first): each metric's mean and SD over the inner folds."""
        g = self.resample.groupby("model", sort=False)[self.metric_names]
        sd = g.std(ddof=1).rename(columns=lambda c: f"{c}SD")
        out = pd.concat([g.mean(), sd], axis=1)
        return out.loc[["ensemble", *self.names]]

    @property
    def dataset(self) -> Any:
        """The training data the members share (their first member's Dataset)."""
        return next(iter(self.members.values())).dataset

    @property
    def mode(self) -> str:
        return str(self.heldout.mode)

    def to_onnx(self, *, raw_inputs: bool = False, double: bool = False) -> bytes:
        """The whole ensemble (members plus combiner) as one ONNX graph: input "X" (the model
        matrix), or one input per raw column with ``raw_inputs=True`` (float64 numerics with
        ``double=True``); output "probabilities" [N, K] or "prediction" [N]."""
        from .onnx import ensemble_onnx

        return ensemble_onnx(self, raw_inputs=raw_inputs, double=double)

    @classmethod
    def restored(
        cls, store: Any, run_id: int, members: dict[str, TrainResult], info: dict[str, Any]
    ) -> EnsembleResult:
        """The stored ensemble ``run_id`` (``info``: its ``store.run`` record) from its members
        restored from their runs; ``leanfit.restore.restore_ensemble`` is the way in."""
        from .persist import load_ensemble

        return cls(**load_ensemble(store, run_id, members, info))

    def save(self, store: Any, name: str, experiment: str | None = None) -> int:
        """Store this ensemble in the experiment ``store`` as run (``experiment``, ``name``) —
        its members' run ids, weights or meta-model, and estimate, without pickle — so that
        ``leanfit.restore.restore_ensemble`` brings it back without refitting. Every member must
        be a stored run of ``store``; ``experiment`` defaults to the first member's. Returns
        the run id."""
        from .persist import save_ensemble

        if experiment is None:
            first = next(iter(self.members.values()))
            experiment = str((first.store_run or {}).get("experiment") or "default")
        run_id = save_ensemble(store, self, experiment, name)
        self.store_run = {"run_id": run_id, "experiment": experiment, "name": name}
        return run_id

    # -- prediction ----------------------------------------------------------------------
    def _members_on(self, newdata: Any) -> np.ndarray:
        """The members' final models on new rows, laid out as the held-out predictions."""
        ho, parts = self.heldout, []
        for name, has_prob in zip(self.names, ho.has_prob, strict=True):
            fit = self.members[name]
            if not ho.classification:
                parts.append(fit.predict(newdata).to_numpy(dtype=float))
            elif has_prob:
                parts.append(fit.predict_proba(newdata)[list(ho.levels)].to_numpy(dtype=float))
            else:
                codes = fit.predict(newdata).cat.codes.to_numpy()
                parts.append(np.eye(len(ho.levels))[codes])
        return np.stack(parts)

    def _combine(self, newdata: Any) -> tuple[np.ndarray, Any]:
        index = newdata.index if isinstance(newdata, pd.DataFrame) else None
        return self.combiner.apply(self._members_on(newdata)), index

    def predict(self, newdata: Any) -> pd.Series:
        """The ensemble's classes (most probable) or values for new rows."""
        Q, index = self._combine(newdata)
        target = next(iter(self.members.values())).dataset.target
        if self.heldout.classification:
            codes = np.argmax(Q, axis=1)
            pred = pd.Categorical.from_codes(codes, categories=list(self.heldout.levels))
            return pd.Series(pred, index=index, name=target)
        return pd.Series(Q, index=index, name=target)

    def predict_proba(self, newdata: Any) -> pd.DataFrame:
        """The ensemble's class probabilities (vote: each class's share of the votes)."""
        if not self.heldout.classification:
            raise ValueError("predict_proba is for classification; this ensemble regresses")
        Q, index = self._combine(newdata)
        return pd.DataFrame(Q, columns=list(self.heldout.levels), index=index)

    def __repr__(self) -> str:
        lines = [
            f"Ensemble ({self.method}) of {len(self.names)} models: {', '.join(self.names)}",
            f"Held-out rows: {len(self.heldout.rows)} "
            f"(resamples {self.heldout.resample_hash[:12]})",
        ]
        w = self.weights
        if w is not None:
            lines.append("Weights: " + ", ".join(f"{k} {v:.3f}" for k, v in w.items() if v > 0))
        lines += ["", self.estimate, "", self.results.to_string(float_format="%.4f"), ""]
        t = self.test
        lines.append(
            f"{self.metric}: ensemble - {self.best_member} = {t['estimate']:.4f} "
            f"[{t['lower']:.4f}, {t['upper']:.4f}], paired t p = {t['p_value']:.4g} "
            f"(corrected p = {t['p_corrected']:.4g})"
        )
        opt = self.optimistic.get(self.metric, np.nan)
        lines.append(f"Optimistic {self.metric} (scored on the rows that fitted it): {opt:.4f}")
        return "\n".join(lines)


def ensemble(
    fits: Mapping[str, TrainResult] | Sequence[TrainResult],
    method: str = "caruana",
    *,
    weights: str = "optimise",
    loss: str | None = None,
    iterations: int = 50,
    bags: int = 1,
    bag_fraction: float = 0.5,
    meta: Any = "glmnet",
    meta_control: Control | None = None,
    meta_args: dict[str, Any] | None = None,
    blend_p: float = 0.5,
    inner: int = 10,
    nested: bool = False,
    metric: str | None = None,
    seed: int = 0,
) -> EnsembleResult:
    """Combine trained models from their stored held-out predictions; no member is refitted.

    method: "caruana" (greedy selection with replacement, ``iterations`` steps, ``bags`` bags
    of ``bag_fraction`` of the members), "average" (``weights="optimise"``: on the simplex,
    minimising ``loss``, or "equal"), "vote" (majority of the predicted classes), "stack" (the
    ``meta`` method trained with train() on the member columns, tuned by ``meta_control``,
    default 5-fold CV) or "blend" (the meta-model trained on a ``blend_p`` share of the rows).
    ``loss``: Brier (default), logLoss or Accuracy; RMSE (default) or MAE for regression.
    Members need ``Control(save_predictions="final")`` (or "all") and the same resamples.

    The estimate is honest: ``inner``-fold CV over the held-out rows fits the combiner on k-1
    folds and scores it on the k-th (blend: the meta-model scored on the rows outside its
    share), beside every member on the same folds, with a paired test against the best one.
    Stacking tunes its meta-model on those same inner folds in one train() call (each row
    scored by a meta-model fitted without it; its settings chosen on the folds, as train()
    chooses every member's); ``nested=True`` re-tunes it inside every inner fold instead
    (``meta_control``'s resampling), a fully nested estimate at about (folds + 1)x the cost.
    """
    names, members = named_fits(fits)
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {list(METHODS)}")
    check_members(names, members)
    ref = members[0]
    classification = ref.dataset.mode == CLASSIFICATION
    if method == "vote" and not classification:
        raise ValueError("method='vote' needs a classification target; use 'average' here")
    if weights in ("optimize",):
        weights = "optimise"
    if weights not in ("optimise", "equal"):
        raise ValueError(f"weights={weights!r} must be 'optimise' or 'equal'")
    for name, value, low in (("iterations", iterations, 1), ("bags", bags, 1), ("inner", inner, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}={value!r} must be a whole number >= {low}")
    for name, frac in (("bag_fraction", bag_fraction), ("blend_p", blend_p)):
        if not 0.0 < float(frac) < 1.0 + (name == "bag_fraction"):
            top = "1]" if name == "bag_fraction" else "1)"
            raise ValueError(f"{name}={frac!r} must be in (0, {top}")
    if meta_control is not None and not isinstance(meta_control, Control):
        raise TypeError(
            f"meta_control must be a leanfit Control, got {type(meta_control).__name__}"
        )
    summary = ref.control.summary
    metric = metric or ref.metric
    if metric not in ref.metric_names:
        raise ValueError(
            f"metric={metric!r} is not computed by model {names[0]!r}: {ref.metric_names}"
        )
    maximize = ref.maximize if metric == ref.metric else maximize_default(metric)
    ho = held_out(names, members)
    loss_name = check_loss(loss, classification, all(ho.has_prob))
    if method == "average" and weights == "optimise" and loss_name == "Accuracy":
        raise ValueError("loss='Accuracy' cannot be optimised smoothly: use 'Brier' or 'logLoss'")
    n = len(ho.rows)
    if not isinstance(nested, bool):
        raise ValueError(f"nested={nested!r} must be True or False")
    shared = method == "stack" and not nested
    method_key = "stack" if method == "blend" else method
    spec = Spec(
        method=method_key,
        weights=weights,
        loss=loss_name,
        iterations=iterations,
        bags=bags,
        bag_fraction=float(bag_fraction),
        meta=meta,
        meta_control=meta_control,
        meta_args=dict(meta_args or {}),
        blend_p=float(blend_p),
        seed=int(seed),
    )
    strat = ho.y
    if method == "blend":
        fit_rows = np.asarray(partition(strat, p=blend_p, seed=seed))
        rest = np.setdiff1d(np.arange(n), fit_rows)
        k = min(inner, len(rest))
        if k < 2:
            raise ValueError(f"blend_p={blend_p} leaves {len(rest)} rows to score the blend on")
        combiner = fit_combiner(spec, ho, fit_rows)
        folds = [(fit_rows, rest[te]) for te in kfold(strat[rest], k=k, seed=seed).test]
        estimate = (
            f"Honest estimate: the meta-model was trained on {len(fit_rows)} of the {n} "
            f"held-out rows (blend_p={blend_p}) and scored on the other {len(rest)}, in {k} "
            "folds, beside each member on the same rows."
        )
    else:
        if inner > n:
            raise ValueError(f"inner={inner} folds is more than the {n} held-out rows")
        cv = kfold(strat, k=inner, seed=seed)
        folds = list(zip(cv.train, cv.test, strict=True))
        if shared:  # the meta-model's own resampling is the inner CV: one train() call
            base = meta_control or default_meta_control(classification, seed)
            spec = replace(
                spec,
                meta_control=replace(
                    base,
                    method="cv",
                    number=inner,
                    index=[[int(i) for i in tr] for tr, _ in folds],
                    index_out=[[int(i) for i in te] for _, te in folds],
                    save_predictions="final",
                    class_probs=classification or base.class_probs,
                    adaptive=None,
                ),
            )
        combiner = fit_combiner(spec, ho, np.arange(n))
        fitted = (
            "nothing is fitted"
            if method == "vote" or (method == "average" and weights == "equal")
            else "the meta-model is tuned by train() on these folds: each fold's rows are "
            "scored by the meta-model fitted on the other folds, at the settings chosen over "
            "the folds, as every member's estimate is made"
            if shared
            else "the meta-model is re-tuned and refitted on k-1 folds and scored on the k-th"
            if method == "stack"
            else "the combiner is refitted on k-1 folds and scored on the k-th"
        )
        estimate = (
            f"Honest estimate: {inner}-fold CV over the {n} held-out rows ({fitted}), "
            "beside each member on the same folds; no base model is refitted."
        )
    frames = []
    metric_names = list(ref.metric_names)
    inner_out = (
        meta_held_out(combiner.meta, n, len(ho.levels))
        if shared and isinstance(combiner, Stacked)
        else None
    )
    for f, (tr, te) in enumerate(folds):
        if inner_out is not None:
            out = inner_out[np.asarray(te)]
        else:
            comb = combiner if method == "blend" else fit_combiner(spec, ho, np.asarray(tr))
            out = comb.apply(ho.P[:, te])
        scores = _score(summary, ho, np.asarray(te), out, metric_names)
        df = pd.DataFrame(scores)
        df.insert(0, "model", ["ensemble", *names])
        df.insert(0, "Resample", f"Inner{f + 1:0{len(str(len(folds)))}d}")
        frames.append(df)
    resample = pd.concat(frames, ignore_index=True)
    all_rows = np.arange(n)
    opt = _score(summary, ho, all_rows, combiner.apply(ho.P), metric_names)
    optimistic = {k: float(v[0]) for k, v in opt.items()}
    wide = resample.pivot(index="Resample", columns="model", values=metric)
    means = wide[list(names)].mean()
    best = str(means.idxmax() if maximize else means.idxmin())
    d = (wide["ensemble"] - wide[best]).to_numpy(float)
    d = d[~np.isnan(d)]
    test = t_test(d)
    n_tr = float(np.mean([len(tr) for tr, _ in folds]))
    n_te = float(np.mean([len(te) for _, te in folds]))
    corrected = t_test(d, factor=1.0 / max(len(d), 1) + n_te / n_tr)
    test["p_corrected"] = corrected["p_value"]
    return EnsembleResult(
        method=method,
        members=dict(zip(names, members, strict=True)),
        combiner=combiner,
        heldout=ho,
        metric=metric,
        maximize=maximize,
        metric_names=metric_names,
        resample=resample,
        optimistic=optimistic,
        best_member=best,
        test=test,
        estimate=estimate,
        settings={
            "loss": loss_name,
            "weights": weights,
            "iterations": iterations,
            "bags": bags,
            "bag_fraction": bag_fraction,
            "blend_p": blend_p,
            "inner": inner,
            "nested": nested,
            "seed": seed,
            "meta": (
                (meta if isinstance(meta, str) else str(getattr(meta, "name", meta)))
                if method in ("stack", "blend")
                else None
            ),
            "meta_args": dict(meta_args or {}),
        },
    )
