"""Boosted trees. ``gbm`` keeps R gbm's parameters and semantics on LightGBM (much faster)."""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .base import CLASSIFICATION, FitWarning, Model, Param, TrainingData, expand_grid
from .space import integer, loguniform, uniform
from .trees import EngineFit, expand_proba


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _leaves(length: int) -> list[int]:
    """Leaf counts 3, 7, 15, 31, ... (2^(d+1) - 1 for d = 1..len; LightGBM's default is 31)."""
    return [2 ** (i + 1) - 1 for i in range(1, length + 1)]


def _multiples(step: int, length: int) -> list[int]:
    """Iteration counts step, 2 * step, ..., length * step (caret's boosting grids)."""
    return [step * i for i in range(1, length + 1)]


def _log_uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    """``n`` draws uniform on the log scale between ``low`` and ``high``."""
    return np.exp(rng.uniform(np.log(low), np.log(high), n))


def _random_leaves(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` leaf counts 2..256, uniform on the log scale."""
    return np.round(_log_uniform(rng, 2, 256, n)).astype(int).clip(2, 256)


def _margins(raw: np.ndarray, n_classes: int) -> np.ndarray | None:
    """Stacked margins (S, n) binary or (S, n, K), or None when the engine saw fewer classes
    than the task has (its margins would not line up with the class codes)."""
    if raw.ndim == 2:
        return raw if n_classes == 2 else None
    return raw if raw.shape[2] == n_classes else None


def _link(raw: np.ndarray) -> np.ndarray:
    """Raw scores, (n,) binary or (n, K) multiclass, as (n, K) probabilities."""
    if raw.ndim == 1:
        p1 = _sigmoid(raw)
        return np.stack([1.0 - p1, p1], axis=1)
    return _softmax(raw)


class StagedBoosting(Model):
    """A boosting model whose one fit scores every count of its sub-model axis (trees, rounds).

    ``fit`` trains to the largest count the subs ask for; a smaller count is scored from the
    first trees of that fit. The outputs are probabilities (S, n, K) in classification, values
    (S, n) in regression, one per sub, each distinct count scored once. An engine supplies what
    differs: ``_fitted_count`` (the count a fit can score for a requested one) and
    ``_score_at`` (its outputs at one count), or ``_score_counts`` when one pass over the trees
    scores all counts; ``has_margins`` says whether ``predict_raw`` gives margins.
    """

    has_margins: ClassVar[bool] = True

    def _counts(self, subs: list[dict[str, Any]]) -> list[int]:
        """The requested counts of the sub-model axis, one per sub."""
        return [int(s[self.submodel[0]]) for s in subs]

    def _fitted_count(self, fitted: Any, count: int) -> int:
        """The count ``fitted`` scores for a requested one (fewer when it has fewer trees)."""
        raise NotImplementedError

    def _score_at(self, fitted: Any, X: np.ndarray, count: int, margin: bool) -> np.ndarray:
        """Outputs (n, K) or (n,) after ``count`` trees; the margins before the link with
        ``margin``."""
        raise NotImplementedError

    def _score_counts(
        self, fitted: Any, X: np.ndarray, counts: list[int], margin: bool
    ) -> dict[int, np.ndarray]:
        """Outputs at each of the distinct ``counts``; by default each scored on its own."""
        return {c: self._score_at(fitted, X, c, margin) for c in counts}

    def _classifies(self, fitted: Any) -> bool:
        """Whether ``fitted`` is a classifier (its outputs are probabilities)."""
        return bool(fitted.mode == CLASSIFICATION)

    def _first_count(self, fitted: Any, subs: list[dict[str, Any]]) -> int:
        """The first sub's count as the fit scores it (importance is of the first sub's trees)."""
        return self._fitted_count(fitted, self._counts(subs)[0])

    def _scores(
        self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]], margin: bool = False
    ) -> np.ndarray:
        """Probabilities (S, n, K) or values (S, n), or the margins before the link with
        ``margin``; one per sub's count."""
        counts = [self._fitted_count(fitted, c) for c in self._counts(subs)]
        got = self._score_counts(fitted, X, list(dict.fromkeys(counts)), margin)
        return np.stack([got[c] for c in counts])

    def predict(self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        if self._classifies(fitted):
            return self.predict_proba(fitted, X, subs).argmax(axis=2)
        return self._scores(fitted, X, subs)

    def predict_proba(self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        return self._scores(fitted, X, subs)

    def predict_raw(
        self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray | None:
        """Margins before the logistic / softmax link, one per sub's count (None in
        regression, for engines without margins, or when the fit saw fewer classes)."""
        if not self.has_margins or not self._classifies(fitted):
            return None
        return _margins(self._scores(fitted, X, subs, margin=True), fitted.n_classes)

    # -- divergence ------------------------------------------------------------------------
    # What to change when a fit diverges, in this model's own terms (its options or grid).
    divergence_fix: ClassVar[str] = "use a smaller learning rate"

    def _divergence_fix(self, mode: str) -> str:
        """What to change, for a ``mode`` task."""
        return self.divergence_fix

    def _training_scores(
        self, fitted: Any, X: np.ndarray, counts: list[int]
    ) -> dict[int, tuple[np.ndarray | None, np.ndarray]]:
        """(raw scores or None, probabilities or values) at each count, on rows ``X``."""
        if self.has_margins and self._classifies(fitted):
            raw = self._score_counts(fitted, X, counts, margin=True)
            return {c: (r, _link(r)) for c, r in raw.items()}
        out = self._score_counts(fitted, X, counts, margin=False)
        return {c: (None, o) for c, o in out.items()}

    def check_fit(self, fitted: Any, data: TrainingData, subs: list[dict[str, Any]]) -> None:
        """Warn when the fit diverged on its own training rows at any requested count."""
        counts = sorted({self._fitted_count(fitted, c) for c in self._counts(subs)})
        with np.errstate(all="ignore"):
            scores = self._training_scores(fitted, data.X, counts)
            for c in counts:
                raw, out = scores[c]
                why = divergence(raw, out, data, c)
                if why:
                    warnings.warn(
                        f"{self.name} diverged on its training rows by {self.submodel[0]} = {c}: "
                        f"{why}; {self._divergence_fix(data.mode)}",
                        FitWarning,
                        stacklevel=2,
                    )
                    return


def divergence(
    raw: np.ndarray | None, out: np.ndarray, data: TrainingData, count: int
) -> str | None:
    """Why a boosting fit after ``count`` iterations looks diverged on its training rows, or None.

    ``raw``: its raw scores (None when the engine has none), ``out``: its probabilities (n, K)
    or predicted values (n,). Diverged: non-finite scores; raw scores beyond
    max(1000, 10 x count) (a sane fit moves a score by at most about one unit per iteration);
    in classification, training accuracy below the majority-class rate minus 1% with a log loss
    worse than the class frequencies' own; in regression, a training error above the target's
    variance (worse than predicting the mean).
    """
    if raw is not None:
        if not np.isfinite(raw).all():
            return "its raw scores are not finite"
        top = float(np.abs(raw).max(initial=0.0))
        if top > max(1000.0, 10.0 * count):
            return f"its raw scores reached {top:.1e} (more than max(1000, 10 x {count}))"
    if not np.isfinite(out).all():
        return "its predictions are not finite"
    w = np.ones(len(data.y)) if data.weights is None else np.asarray(data.weights, dtype=float)
    w = w / w.sum()
    if data.mode != CLASSIFICATION:
        y = data.y.astype(float)
        var = float(w @ (y - w @ y) ** 2)
        mse = float(w @ (out - y) ** 2)
        if mse > 1.01 * var + 1e-12:
            return f"its training MSE {mse:.4g} is above the target's variance {var:.4g}"
        return None
    y = data.y.astype(int)
    freq = np.bincount(y, weights=w, minlength=out.shape[1])
    majority = float(freq.max())
    acc = float(w @ (out.argmax(axis=1) == y))
    loss = float(w @ -np.log(np.clip(out[np.arange(len(y)), y], 1e-15, 1.0)))
    prior = float(-(freq[freq > 0] * np.log(freq[freq > 0])).sum())
    if acc < majority - 0.01 and loss > prior:
        return (
            f"its training accuracy {acc:.3f} is below the majority-class rate {majority:.3f} "
            f"and its log loss {loss:.3g} above the class frequencies' {prior:.3g}"
        )
    return None


# -- LightGBM: gbm and lightgbm ------------------------------------------------------------------


def _lgb_objective(data: TrainingData) -> dict[str, Any]:
    """LightGBM's binary, multiclass or regression objective by the task."""
    if data.mode != CLASSIFICATION:
        return {"objective": "regression"}
    k = data.n_classes
    return {"objective": "binary"} if k == 2 else {"objective": "multiclass", "num_class": k}


class LightGBMBoosting(StagedBoosting):
    """What ``gbm`` and ``lightgbm`` share: a bare LightGBM ``Booster`` as the fit, trained
    deterministically, and scored at every count from one pass over its trees."""

    prefix_submodels = True  # deterministic boosting: the first k trees of any longer fit

    def _threads(self) -> int:
        return int(self.options.get("num_threads", 1))

    def _train(
        self,
        data: TrainingData,
        tree_params: dict[str, Any],
        subs: list[dict[str, Any]],
        seed: int,
    ) -> Any:
        """A booster trained to the subs' largest count with ``tree_params`` between the
        objective and the fixed settings (threads, determinism, seed)."""
        import lightgbm as lgb

        p = {
            **_lgb_objective(data),
            **tree_params,
            "num_threads": self._threads(),
            "deterministic": True,
            "force_col_wise": True,
            "feature_pre_filter": False,
            "seed": int(seed) % (2**31 - 1),
            "verbose": -1,
        }
        ds = lgb.Dataset(
            data.X,
            label=data.y,
            weight=data.weights,
            params={"verbose": -1, "feature_pre_filter": False},
        )
        n = max(self._counts(subs))
        return lgb.train(p, ds, num_boost_round=n, keep_training_booster=True)

    def _classifies(self, booster: Any) -> bool:
        return bool(booster.params["objective"] != "regression")

    def _fitted_count(self, booster: Any, count: int) -> int:
        return min(count, booster.num_trees() // booster.num_model_per_iteration())

    def _score_counts(
        self, booster: Any, X: np.ndarray, counts: list[int], margin: bool
    ) -> dict[int, np.ndarray]:
        """Raw scores at each count from one pass: each stretch of trees is scored once and
        added on; probabilities through the link unless ``margin`` or in regression."""
        raw: dict[int, np.ndarray] = {}
        total, done = 0.0, 0
        for c in sorted(counts):
            if c > done:
                total = total + booster.predict(
                    X,
                    raw_score=True,
                    start_iteration=done,
                    num_iteration=c - done,
                    num_threads=self._threads(),
                )
                done = c
            raw[c] = np.array(total, dtype=float, copy=True)
        if margin or not self._classifies(booster):
            return raw
        return {c: _link(r) for c, r in raw.items()}

    def predict_raw(self, booster: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Raw scores at every requested tree count (the predictions themselves in
        regression), from one pass over the trees."""
        return self._scores(booster, X, subs, margin=True)


class GBM(LightGBMBoosting):
    """Stochastic gradient boosting with R gbm's semantics, fitted by LightGBM.

    ``interaction_depth`` is the number of splits per tree (a tree grown best-first with
    depth + 1 leaves, as gbm does), ``n_minobsinnode`` the minimum rows per leaf (LightGBM counts
    rows from hessian sums, so under Bernoulli loss a leaf can hold slightly fewer), and each tree
    sees a random half of the rows (gbm's ``bag.fraction = 0.5``; LightGBM draws each row with
    that probability rather than exactly half; change it with
    ``GBM(options={"bag_fraction": ...})``). Bernoulli / multinomial / Gaussian loss by mode.
    Sub-model: one fit with the largest ``n_trees`` scores every smaller tree count.

    Unlike R gbm, classification puts an L2 penalty of 1 on leaf values (option ``lambda_l2``;
    0 in regression): without it a leaf of confidently fitted rows holding one misfit row of a
    rare class gets a value of ~1/hessian, the scores explode and accuracy falls with more trees.
    Options ``min_sum_hessian`` (1e-3) and ``max_delta_step`` (0: none) are LightGBM's. Case
    weights are scaled to mean 1 so that these defaults mean the same with weights.
    """

    name = "gbm"
    option_names = ("bag_fraction", "num_threads", "lambda_l2", "min_sum_hessian", "max_delta_step")
    label = "Stochastic Gradient Boosting"
    engine = "lightgbm"
    tags = ("tree-based", "boosting", "ensemble", "implicit feature selection")
    params = (
        Param("n_trees", "int", 1, 10000, label="# Boosting Iterations", aliases=("n.trees",)),
        Param(
            "interaction_depth",
            "int",
            1,
            50,
            label="Max Tree Depth",
            aliases=("interaction.depth",),
        ),
        Param("shrinkage", "float", 0.001, 0.6, log=True, label="Shrinkage"),
        Param(
            "n_minobsinnode",
            "int",
            1,
            100,
            label="Min. Terminal Node Size",
            aliases=("n.minobsinnode",),
        ),
    )
    submodel = ("n_trees",)
    space = MappingProxyType(
        {
            "n_trees": integer(50, 1500, log=True),
            "interaction_depth": integer(1, 10),
            "shrinkage": loguniform(0.005, 0.3),
            "n_minobsinnode": integer(5, 30),
        }
    )
    complexity_order = (
        ("n_trees", True),
        ("interaction_depth", True),
        ("shrinkage", True),
        ("n_minobsinnode", False),
    )
    takes_weights = True
    takes_missing = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: depth 1..len, trees 50..50*len, shrinkage 0.1, min node 10."""
        return expand_grid(
            interaction_depth=list(range(1, length + 1)),
            n_trees=_multiples(50, length),
            shrinkage=0.1,
            n_minobsinnode=10,
        )

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret: trees 1..5000, depth 1..10, shrinkage U(0.001, 0.6), min node 5..25."""
        return pd.DataFrame(
            {
                "n_trees": rng.integers(1, 5001, length),
                "interaction_depth": rng.integers(1, 11, length),
                "shrinkage": rng.uniform(0.001, 0.6, length),
                "n_minobsinnode": rng.integers(5, 26, length),
            }
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> Any:
        bag = float(self.options.get("bag_fraction", 0.5))
        tree_params = {
            "learning_rate": float(params["shrinkage"]),
            "num_leaves": int(params["interaction_depth"]) + 1,
            "max_depth": -1,
            "min_data_in_leaf": int(params["n_minobsinnode"]),
            "min_gain_to_split": 0.0,
            "bagging_fraction": bag,
            "bagging_freq": 1 if bag < 1 else 0,
            **self._penalties(data.mode),
        }
        if data.weights is not None and data.weights.mean() > 0:  # hessian sums in row units
            data = dataclasses.replace(data, weights=data.weights / data.weights.mean())
        return self._train(data, tree_params, subs, seed)

    def _penalties(self, mode: str) -> dict[str, float]:
        """LightGBM's leaf-value settings: the options, else L2 1 in classification (0 in
        regression), min hessian 1e-3 (LightGBM's default; 0 crashes and slows LightGBM)."""
        l2 = 1.0 if mode == CLASSIFICATION else 0.0
        return {
            "lambda_l2": float(self.options.get("lambda_l2", l2)),
            "min_sum_hessian_in_leaf": float(self.options.get("min_sum_hessian", 1e-3)),
            "max_delta_step": float(self.options.get("max_delta_step", 0.0)),
        }

    def check_options(self) -> None:
        """Unknown option names, and option values out of range, before anything is fitted."""
        super().check_options()
        ranges = {
            "bag_fraction": (0.0, False, 1.0, "in (0, 1]"),
            "lambda_l2": (0.0, True, None, ">= 0"),
            "min_sum_hessian": (0.0, False, None, "> 0"),
            "max_delta_step": (0.0, True, None, ">= 0 (0: no limit)"),
        }
        for name, (low, closed, high, valid) in ranges.items():
            if name not in self.options:
                continue
            v = self.options[name]
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(float(v))
            ok = ok and (v >= low if closed else v > low) and (high is None or v <= high)
            if not ok:
                raise ValueError(f"gbm: option {name!r} must be a number {valid}, got {v!r}")

    def _divergence_fix(self, mode: str) -> str:
        l2 = self._penalties(mode)["lambda_l2"]
        if l2 < 1:
            return (
                "set options={'lambda_l2': 1} (an L2 penalty on leaf values) or a smaller shrinkage"
            )
        return (
            f"set a larger options={{'lambda_l2': {10 * l2:g}}}, "
            "options={'max_delta_step': 1} or a smaller shrinkage"
        )

    def importance(self, fitted: Any, subs: list[dict[str, Any]]) -> np.ndarray:
        """Total gain of each column's splits (gbm's relative influence, unscaled)."""
        return fitted.feature_importance(importance_type="gain")


# -- scikit-learn: adaboost and hist_gbm ----------------------------------------------------------


class SklearnBoosting(StagedBoosting):
    """What ``adaboost`` and ``hist_gbm`` share: an ``EngineFit`` around a scikit-learn
    ensemble, scored at every count from one walk over its staged predictions (no margins)."""

    has_margins = False

    def _stages(self, fitted: Any, X: np.ndarray) -> Iterator[np.ndarray]:
        """The engine's staged probabilities (classification) or values, one per iteration."""
        raise NotImplementedError

    def _score_counts(
        self, fitted: Any, X: np.ndarray, counts: list[int], margin: bool
    ) -> dict[int, np.ndarray]:
        """Outputs at each count, walking the stages no further than the largest."""
        est = fitted.est
        cls = fitted.mode == CLASSIFICATION
        want, got = set(counts), {}
        for i, p in enumerate(self._stages(fitted, X), start=1):
            if i in want:
                got[i] = expand_proba(p, est.classes_, fitted.n_classes) if cls else p
                if len(got) == len(want):
                    break
        return got


class AdaBoost(SklearnBoosting):
    """AdaBoost.M1 (caret's ``AdaBoost.M1``, after adabag) by scikit-learn's SAMME.

    Each round fits a tree of depth ``max_depth`` to the re-weighted rows and gives it the vote
    ``learning_rate * (log((1 - err) / err) + log(K - 1))``: for two classes, adabag's "Freund"
    coefficient at learning rate 1 and its "Breiman" coefficient at 0.5 (adabag resamples the
    rows by their weights; scikit-learn re-weights them). Class probabilities are scikit-learn's
    (a softmax of the normalised votes). Boosting stops early when a tree fits the weighted rows
    perfectly; larger counts then score the trees there are. Sub-model: one fit with the largest
    ``n_estimators`` scores every smaller count.
    """

    name = "adaboost"
    option_names = ()
    divergence_fix = "use a smaller learning_rate or max_depth"
    label = "AdaBoost.M1"
    engine = "sklearn"
    modes = (CLASSIFICATION,)
    tags = ("tree-based", "ensemble", "boosting", "implicit feature selection")
    params = (
        Param("n_estimators", "int", 1, 10000, label="#Trees", aliases=("mfinal", "iter")),
        Param("max_depth", "int", 1, 30, label="Max Tree Depth", aliases=("maxdepth",)),
        Param(
            "learning_rate", "float", 0.001, 10.0, log=True, label="Learning Rate", aliases=("nu",)
        ),
    )
    submodel = ("n_estimators",)
    complexity_order = (("n_estimators", True), ("max_depth", True), ("learning_rate", True))
    takes_weights = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: trees 50..50*len x depth 1..len; learning rate 1 / 0.5 for its coefficients."""
        return expand_grid(
            n_estimators=_multiples(50, length),
            max_depth=list(range(1, length + 1)),
            learning_rate=[1.0, 0.5],
        )

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret: trees 1..100, depth 1..30; learning rate U(0.001, 1) for the coefficient type."""
        return pd.DataFrame(
            {
                "n_estimators": rng.integers(1, 101, length),
                "max_depth": rng.integers(1, 31, length),
                "learning_rate": rng.uniform(0.001, 1.0, length),
            }
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> Any:
        from sklearn.ensemble import AdaBoostClassifier
        from sklearn.tree import DecisionTreeClassifier

        if data.mode != CLASSIFICATION:
            raise ValueError("adaboost is a classification model")
        est = AdaBoostClassifier(
            estimator=DecisionTreeClassifier(max_depth=int(params["max_depth"])),
            n_estimators=max(self._counts(subs)),
            learning_rate=float(params["learning_rate"]),
            random_state=int(seed) % (2**32),
        )
        est.fit(data.X, data.y.astype(int), sample_weight=data.weights)
        return EngineFit(est, data.mode, data.n_classes)

    def _fitted_count(self, fitted: Any, count: int) -> int:
        return min(count, len(fitted.est.estimators_))

    def _stages(self, fitted: Any, X: np.ndarray) -> Iterator[np.ndarray]:
        return fitted.est.staged_predict_proba(X)

    def importance(self, fitted: Any, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """The trees' impurity importances weighted by their votes (first sub's trees)."""
        est = fitted.est
        k = self._first_count(fitted, subs)
        w = est.estimator_weights_[:k]
        imp = np.stack([t.feature_importances_ for t in est.estimators_[:k]])
        return (w[:, None] * imp).sum(axis=0) / max(w.sum(), 1e-300)

    def describe_fit(self, fitted: Any) -> dict[str, Any]:
        """Trees actually fitted, when boosting stopped before the asked-for count."""
        est = fitted.est
        n = len(est.estimators_)
        return {"trees_fitted": n} if n < est.n_estimators else {}


class HistGBM(SklearnBoosting):
    """scikit-learn's histogram gradient boosting (LightGBM-style trees grown leaf-wise).

    Log loss (binary or multinomial) or squared error by mode, no early stopping, no subsampling
    (so the seed changes nothing on small data). Runs on one OpenMP thread. Sub-model: one fit
    with the largest ``max_iter`` scores every smaller count (staged predictions).
    """

    name = "hist_gbm"
    option_names = ()
    divergence_fix = "set l2_regularization = 1 in the grid, or a smaller learning_rate"
    label = "Histogram-Based Gradient Boosting"
    engine = "sklearn"
    tags = ("tree-based", "boosting", "ensemble", "implicit feature selection")
    params = (
        Param("max_iter", "int", 1, 100000, label="# Boosting Iterations"),
        Param(
            "learning_rate",
            "float",
            0.0001,
            1.0,
            log=True,
            label="Learning Rate",
            aliases=("shrinkage",),
        ),
        Param("max_leaf_nodes", "int", 2, 100000, label="Max Leaves"),
        Param("min_samples_leaf", "int", 1, 100000, label="Min. Leaf Size"),
        Param("l2_regularization", "float", 0.0, 1e6, label="L2 Regularization"),
    )
    submodel = ("max_iter",)
    complexity_order = (
        ("max_iter", True),
        ("max_leaf_nodes", True),
        ("learning_rate", True),
        ("min_samples_leaf", False),
        ("l2_regularization", False),
    )
    takes_weights = True
    takes_missing = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """Leaves 3, 7, 15, ... x iterations 50..50*len x learning rate 0.05, 0.1; defaults else."""
        return expand_grid(
            max_leaf_nodes=_leaves(length),
            max_iter=_multiples(50, length),
            learning_rate=[0.05, 0.1],
            min_samples_leaf=20,
            l2_regularization=0.0,
        )

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Log-uniform iterations, leaves, learning rate; uniform leaf size; L2 10^U(-5, 1)."""
        return pd.DataFrame(
            {
                "max_iter": rng.integers(10, 1001, length),
                "learning_rate": _log_uniform(rng, 0.005, 0.5, length),
                "max_leaf_nodes": _random_leaves(rng, length),
                "min_samples_leaf": rng.integers(2, 51, length),
                "l2_regularization": 10.0 ** rng.uniform(-5, 1, length),
            }
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        from ..pools import one_thread

        cls = data.mode == CLASSIFICATION
        est = (HistGradientBoostingClassifier if cls else HistGradientBoostingRegressor)(
            max_iter=max(self._counts(subs)),
            learning_rate=float(params["learning_rate"]),
            max_leaf_nodes=int(params["max_leaf_nodes"]),
            min_samples_leaf=int(params["min_samples_leaf"]),
            l2_regularization=float(params["l2_regularization"]),
            early_stopping=False,
            random_state=int(seed) % (2**32),
        )
        y = data.y.astype(int) if cls else data.y.astype(float)
        with one_thread("openmp"):
            est.fit(data.X, y, sample_weight=data.weights)
        return EngineFit(est, data.mode, data.n_classes)

    def _fitted_count(self, fitted: Any, count: int) -> int:
        return min(count, fitted.est.n_iter_)

    def _stages(self, fitted: Any, X: np.ndarray) -> Iterator[np.ndarray]:
        est = fitted.est
        return (
            est.staged_predict_proba(X) if fitted.mode == CLASSIFICATION else est.staged_predict(X)
        )

    def _score_counts(
        self, fitted: Any, X: np.ndarray, counts: list[int], margin: bool
    ) -> dict[int, np.ndarray]:
        """The staged walk on one OpenMP thread."""
        from ..pools import one_thread

        with one_thread("openmp"):
            return super()._score_counts(fitted, X, counts, margin)

    def _training_scores(
        self, fitted: Any, X: np.ndarray, counts: list[int]
    ) -> dict[int, tuple[np.ndarray | None, np.ndarray]]:
        """Raw scores from the staged decision function, probabilities through its link (the
        same as scikit-learn's), in one walk; values in regression."""
        from ..pools import one_thread

        if fitted.mode != CLASSIFICATION:
            return super()._training_scores(fitted, X, counts)
        est, want = fitted.est, set(counts)
        out: dict[int, tuple[np.ndarray | None, np.ndarray]] = {}
        with one_thread("openmp"):
            for i, raw in enumerate(est.staged_decision_function(X), start=1):
                if i in want:
                    raw = np.asarray(raw, dtype=float)
                    out[i] = (raw, expand_proba(_link(raw), est.classes_, fitted.n_classes))
                    if len(out) == len(want):
                        break
        return out

    def importance(self, fitted: Any, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """Split gains per column over the first sub's iterations (None if sklearn's changed)."""
        est = fitted.est
        k = self._first_count(fitted, subs)
        out = np.zeros(est.n_features_in_)
        try:
            for per_class in est._predictors[:k]:
                for tree in per_class:
                    nodes = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
                    np.add.at(out, nodes["feature_idx"].astype(int), nodes["gain"])
        except (AttributeError, KeyError, ValueError):
            return None
        return out


class LightGBM(LightGBMBoosting):
    """LightGBM with its own parameter names (leaf-wise trees, ``num_leaves`` per tree).

    Binary / multiclass log loss or L2 regression by mode; ``feature_fraction`` of the columns
    per tree and ``bagging_fraction`` of the rows per tree (drawn anew every tree when below 1);
    one thread, deterministic. Sub-model: one fit with the largest ``n_estimators`` scores every
    smaller count (the same staged scoring as ``gbm``). A grid may leave out every parameter
    but ``n_estimators`` and ``num_leaves``: the others default to LightGBM's own defaults.
    """

    name = "lightgbm"
    option_names = ("num_threads",)
    divergence_fix = (
        "set lambda_l2 = 1 in the grid (an L2 penalty on leaf values), or a smaller learning_rate"
    )
    label = "LightGBM"
    engine = "lightgbm"
    tags = ("tree-based", "boosting", "ensemble", "implicit feature selection")
    params = (
        Param(
            "n_estimators",
            "int",
            1,
            100000,
            label="# Boosting Iterations",
            aliases=("num_iterations", "num_boost_round", "nrounds"),
        ),
        Param("num_leaves", "int", 2, 131072, label="Max Leaves"),
        Param(
            "learning_rate",
            "float",
            0.0001,
            1.0,
            log=True,
            label="Learning Rate",
            aliases=("eta", "shrinkage"),
            default=0.1,
        ),
        Param(
            "min_child_samples",
            "int",
            1,
            100000,
            label="Min. Leaf Size",
            aliases=("min_data_in_leaf",),
            default=20,
        ),
        Param(
            "feature_fraction",
            "float",
            0.01,
            1.0,
            label="Fraction of Columns per Tree",
            aliases=("colsample_bytree",),
            default=1.0,
        ),
        Param(
            "bagging_fraction",
            "float",
            0.01,
            1.0,
            label="Fraction of Rows per Tree",
            aliases=("subsample",),
            default=1.0,
        ),
        Param(
            "lambda_l1",
            "float",
            0.0,
            1e6,
            label="L1 Regularization",
            aliases=("reg_alpha",),
            default=0.0,
        ),
        Param(
            "lambda_l2",
            "float",
            0.0,
            1e6,
            label="L2 Regularization",
            aliases=("reg_lambda",),
            default=0.0,
        ),
    )
    submodel = ("n_estimators",)
    space = MappingProxyType(
        {
            "n_estimators": integer(50, 1000, log=True),
            "num_leaves": integer(8, 256, log=True),
            "learning_rate": loguniform(0.01, 0.3),
            "min_child_samples": integer(5, 100, log=True),
            "feature_fraction": uniform(0.4, 1.0),
            "bagging_fraction": uniform(0.5, 1.0),
            "lambda_l1": 0.0,
            "lambda_l2": loguniform(1e-3, 10.0),
        }
    )
    complexity_order = (
        ("n_estimators", True),
        ("num_leaves", True),
        ("learning_rate", True),
        ("min_child_samples", False),
        ("lambda_l2", False),
        ("lambda_l1", False),
    )
    takes_weights = True
    takes_missing = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """Leaves 3, 7, 15, ... x trees 50..50*len x learning rate 0.05, 0.1; defaults else."""
        return expand_grid(
            num_leaves=_leaves(length),
            n_estimators=_multiples(50, length),
            learning_rate=[0.05, 0.1],
            min_child_samples=20,
            feature_fraction=1.0,
            bagging_fraction=1.0,
            lambda_l1=0.0,
            lambda_l2=0.0,
        )

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Trees, leaves, learning rate log-uniform; leaf size, fractions, penalties random."""
        return pd.DataFrame(
            {
                "n_estimators": rng.integers(10, 1001, length),
                "num_leaves": _random_leaves(rng, length),
                "learning_rate": _log_uniform(rng, 0.005, 0.5, length),
                "min_child_samples": rng.integers(2, 51, length),
                "feature_fraction": rng.uniform(0.3, 1.0, length),
                "bagging_fraction": rng.uniform(0.3, 1.0, length),
                "lambda_l1": 10.0 ** rng.uniform(-5, 1, length),
                "lambda_l2": 10.0 ** rng.uniform(-5, 1, length),
            }
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> Any:
        bag = float(params["bagging_fraction"])
        tree_params = {
            "learning_rate": float(params["learning_rate"]),
            "num_leaves": int(params["num_leaves"]),
            "max_depth": -1,
            "min_data_in_leaf": int(params["min_child_samples"]),
            "feature_fraction": float(params["feature_fraction"]),
            "bagging_fraction": bag,
            "bagging_freq": 1 if bag < 1 else 0,
            "lambda_l1": float(params["lambda_l1"]),
            "lambda_l2": float(params["lambda_l2"]),
        }
        return self._train(data, tree_params, subs, seed)

    def importance(self, fitted: Any, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """Total split gain per column over the first sub's trees."""
        k = int(subs[0]["n_estimators"])
        return np.asarray(fitted.feature_importance("gain", iteration=k), dtype=float)


def _xgb_objective(data: TrainingData) -> dict[str, Any]:
    """caret's xgboost objectives: binary:logistic, multi:softprob or reg:squarederror."""
    if data.mode != CLASSIFICATION:
        return {"objective": "reg:squarederror"}
    if data.n_classes == 2:
        return {"objective": "binary:logistic"}
    return {"objective": "multi:softprob", "num_class": data.n_classes}


def _xgb_dmatrix(data: TrainingData) -> Any:
    """The training rows as an xgboost DMatrix (NaN = missing, one thread)."""
    import xgboost as xgb

    return xgb.DMatrix(data.X, label=data.y, weight=data.weights, missing=np.nan, nthread=1)


def _xgb_output(mode: str, pred: np.ndarray) -> np.ndarray:
    """One xgboost prediction as (n,) values or (n, K) probabilities."""
    pred = np.asarray(pred, dtype=float)
    if mode != CLASSIFICATION:
        return pred
    if pred.ndim == 2:  # softprob rows sum to 1 in float32 only
        return pred / pred.sum(axis=1, keepdims=True)
    return np.stack([1.0 - pred, pred], axis=1)


def _xgb_importance(booster: Any, p: int, kind: str) -> np.ndarray:
    """xgboost's per-feature scores (features named f0, f1, ...) as a length-p array."""
    out = np.zeros(p)
    for name, value in booster.get_score(importance_type=kind).items():
        out[int(name[1:])] = np.abs(np.asarray(value, dtype=float)).sum()
    return out


class XGBTree(StagedBoosting):
    """XGBoost trees with caret's ``xgbTree`` parameters and objectives.

    Logistic, softprob or squared-error objective by mode; histogram tree method (option
    ``tree_method``), one thread, seeded; xgboost's L2 penalty 1 and no step limit (options
    ``lambda``, ``max_delta_step``). Sub-model: one fit with the largest ``nrounds`` scores
    every smaller count (``iteration_range``; the first rounds of a longer fit are the shorter
    fit, subsampling draws included).
    """

    name = "xgb_tree"
    option_names = ("tree_method", "lambda", "max_delta_step")
    divergence_fix = (
        "set options={'max_delta_step': 1} or a larger options={'lambda': 10} (xgboost's L2 "
        "penalty, 1 by default), or a smaller eta"
    )
    label = "eXtreme Gradient Boosting"
    engine = "xgboost"
    tags = ("tree-based", "boosting", "ensemble", "implicit feature selection")
    params = (
        Param("nrounds", "int", 1, 100000, label="# Boosting Iterations"),
        Param("max_depth", "int", 1, 100, label="Max Tree Depth"),
        Param("eta", "float", 1e-6, 1.0, log=True, label="Shrinkage"),
        Param("gamma", "float", 0.0, 1e6, label="Minimum Loss Reduction"),
        Param("colsample_bytree", "float", 0.01, 1.0, label="Subsample Ratio of Columns"),
        Param("min_child_weight", "float", 0.0, 1e6, label="Minimum Sum of Instance Weight"),
        Param("subsample", "float", 0.01, 1.0, label="Subsample Percentage"),
    )
    submodel = ("nrounds",)
    space = MappingProxyType(
        {
            "nrounds": integer(50, 1000, log=True),
            "max_depth": integer(1, 10),
            "eta": loguniform(0.01, 0.3),
            "gamma": uniform(0.0, 5.0),
            "colsample_bytree": uniform(0.4, 1.0),
            "min_child_weight": loguniform(0.5, 20.0),
            "subsample": uniform(0.5, 1.0),
        }
    )
    complexity_order = (
        ("nrounds", True),
        ("max_depth", True),
        ("eta", True),
        ("gamma", True),
        ("colsample_bytree", True),
        ("min_child_weight", True),
    )
    takes_weights = True
    takes_missing = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: depth, rounds, eta 0.3/0.4, colsample 0.6/0.8, subsample seq(0.5, 1)."""
        return expand_grid(
            max_depth=list(range(1, length + 1)),
            nrounds=_multiples(50, length),
            eta=[0.3, 0.4],
            gamma=0.0,
            colsample_bytree=[0.6, 0.8],
            min_child_weight=1.0,
            subsample=np.linspace(0.5, 1.0, length) if length > 1 else [0.5],
        )

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret's xgbTree random search ranges."""
        return pd.DataFrame(
            {
                "nrounds": rng.integers(1, 1001, length),
                "max_depth": rng.integers(1, 11, length),
                "eta": rng.uniform(0.001, 0.6, length),
                "gamma": rng.uniform(0.0, 10.0, length),
                "colsample_bytree": rng.uniform(0.3, 0.7, length),
                "min_child_weight": rng.integers(0, 21, length).astype(float),
                "subsample": rng.uniform(0.25, 1.0, length),
            }
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> Any:
        import xgboost as xgb

        p = {
            **_xgb_objective(data),
            "eta": float(params["eta"]),
            "max_depth": int(params["max_depth"]),
            "gamma": float(params["gamma"]),
            "colsample_bytree": float(params["colsample_bytree"]),
            "min_child_weight": float(params["min_child_weight"]),
            "subsample": float(params["subsample"]),
            "tree_method": str(self.options.get("tree_method", "hist")),
            "lambda": float(self.options.get("lambda", 1.0)),  # xgboost's defaults
            "max_delta_step": float(self.options.get("max_delta_step", 0.0)),
            "nthread": 1,
            "seed": int(seed) % (2**31 - 1),
            "verbosity": 0,
        }
        n = max(self._counts(subs))
        booster = xgb.train(p, _xgb_dmatrix(data), num_boost_round=n)
        return EngineFit(booster, data.mode, data.n_classes)

    def _fitted_count(self, fitted: Any, count: int) -> int:
        return min(count, fitted.est.num_boosted_rounds())

    def _score_at(self, fitted: Any, X: np.ndarray, count: int, margin: bool) -> np.ndarray:
        kind = "margin" if margin else "value"
        pred = fitted.est.inplace_predict(
            X, iteration_range=(0, count), predict_type=kind, missing=np.nan
        )
        return np.asarray(pred, dtype=float) if margin else _xgb_output(fitted.mode, pred)

    def importance(self, fitted: Any, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """Total split gain per column over the first sub's rounds (caret: xgb.importance Gain)."""
        b = fitted.est
        k = self._first_count(fitted, subs)
        return _xgb_importance(b[0:k], int(b.num_features()), "total_gain")


class XGBLinear(StagedBoosting):
    """XGBoost's linear booster with caret's ``xgbLinear`` parameters (elastic-net boosting).

    Logistic, softprob or squared-error objective by mode, one thread, seeded. Sub-model: the fit
    trains to each requested ``nrounds`` in turn, continuing the same booster, and keeps a copy
    at each count (the linear booster cannot score a prefix of its rounds).
    """

    name = "xgb_linear"
    option_names = ()
    divergence_fix = "use a larger lambda or a smaller eta"
    label = "eXtreme Gradient Boosting"
    engine = "xgboost"
    tags = (
        "linear classifier",
        "linear regression",
        "L1 regularization",
        "L2 regularization",
        "boosting",
        "ensemble",
        "implicit feature selection",
    )
    params = (
        Param("nrounds", "int", 1, 100000, label="# Boosting Iterations"),
        Param("lambda", "float", 0.0, 1e6, label="L2 Regularization"),
        Param("alpha", "float", 0.0, 1e6, label="L1 Regularization"),
        Param("eta", "float", 1e-6, 10.0, label="Learning Rate"),
    )
    submodel = ("nrounds",)
    complexity_order = (("nrounds", True), ("alpha", True), ("lambda", True))
    takes_weights = True
    takes_missing = True
    has_margins = False

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: lambda, alpha c(0, 10^seq(-1, -4, length = len - 1)), 50..50*len rounds."""
        pen = [0.0, *(10.0 ** np.linspace(-1, -4, length - 1))] if length > 1 else [0.0]
        return expand_grid(
            {"lambda": pen, "alpha": pen},
            nrounds=_multiples(50, length),
            eta=0.3,
        )

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret: lambda and alpha 10^U(-5, 0), rounds 1..100, eta U(0, 3)."""
        return pd.DataFrame(
            {
                "nrounds": rng.integers(1, 101, length),
                "lambda": 10.0 ** rng.uniform(-5, 0, length),
                "alpha": 10.0 ** rng.uniform(-5, 0, length),
                "eta": rng.uniform(0.0, 3.0, length),
            }
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> Any:
        import xgboost as xgb

        p = {
            **_xgb_objective(data),
            "booster": "gblinear",
            "lambda": float(params["lambda"]),
            "alpha": float(params["alpha"]),
            "eta": float(params["eta"]),
            "nthread": 1,
            "seed": int(seed) % (2**31 - 1),
            "verbosity": 0,
        }
        dm = _xgb_dmatrix(data)
        boosters: dict[int, Any] = {}
        booster, done = None, 0
        for c in sorted(set(self._counts(subs))):
            booster = xgb.train(p, dm, num_boost_round=c - done, xgb_model=booster)
            boosters[c], done = booster.copy(), c
        return EngineFit(boosters, data.mode, data.n_classes)

    def _booster(self, fitted: Any, count: int) -> Any:
        """The booster kept at ``count`` rounds (only the fitted subs' counts are kept)."""
        if count not in fitted.est:
            raise ValueError(f"xgb_linear was fitted for nrounds {sorted(fitted.est)}, not {count}")
        return fitted.est[count]

    def _fitted_count(self, fitted: Any, count: int) -> int:
        return count  # only the fitted subs' counts are kept: _booster says so for any other

    def _score_counts(
        self, fitted: Any, X: np.ndarray, counts: list[int], margin: bool
    ) -> dict[int, np.ndarray]:
        """Each count's booster on one DMatrix of ``X``."""
        import xgboost as xgb

        dm = xgb.DMatrix(X, missing=np.nan, nthread=1)  # gblinear has no inplace_predict
        return {c: _xgb_output(fitted.mode, self._booster(fitted, c).predict(dm)) for c in counts}

    def importance(self, fitted: Any, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """|coefficient| per column, summed over classes (caret: xgb.importance Weight)."""
        b = self._booster(fitted, self._first_count(fitted, subs))
        return _xgb_importance(b, int(b.num_features()), "weight")


class CatBoost(StagedBoosting):
    """CatBoost (oblivious trees of depth ``depth``) with its own parameter names.

    Logloss, MultiClass or RMSE by mode; CatBoost's default bootstrap, one thread, seeded, no
    files written. Sub-model: one fit with the largest ``iterations`` scores every smaller count
    (``ntree_end``; the first trees of a longer fit are the shorter fit).
    """

    name = "catboost"
    option_names = ()
    divergence_fix = "use a larger l2_leaf_reg or a smaller learning_rate"
    label = "CatBoost"
    engine = "catboost"
    tags = ("tree-based", "boosting", "ensemble", "implicit feature selection")
    params = (
        Param(
            "iterations",
            "int",
            1,
            100000,
            label="# Boosting Iterations",
            aliases=("n_estimators", "num_boost_round"),
        ),
        Param("depth", "int", 1, 16, label="Tree Depth", aliases=("max_depth",)),
        Param(
            "learning_rate", "float", 0.0001, 1.0, log=True, label="Learning Rate", aliases=("eta",)
        ),
        Param("l2_leaf_reg", "float", 0.0, 1e6, label="L2 Regularization", aliases=("reg_lambda",)),
    )
    submodel = ("iterations",)
    complexity_order = (
        ("iterations", True),
        ("depth", True),
        ("learning_rate", True),
        ("l2_leaf_reg", False),
    )
    takes_weights = True
    takes_missing = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """Depth 2, 4, 6, ... x iterations 100..100*len; learning rate 0.1, L2 penalty 3."""
        return expand_grid(
            depth=sorted({min(2 * i, 16) for i in range(1, length + 1)}),
            iterations=_multiples(100, length),
            learning_rate=0.1,
            l2_leaf_reg=3.0,
        )

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Iterations 10..1000, depth 1..10; learning rate 0.005..0.5, L2 0.01..30 (log scale)."""
        return pd.DataFrame(
            {
                "iterations": rng.integers(10, 1001, length),
                "depth": rng.integers(1, 11, length),
                "learning_rate": _log_uniform(rng, 0.005, 0.5, length),
                "l2_leaf_reg": _log_uniform(rng, 0.01, 30.0, length),
            }
        )

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> Any:
        from catboost import CatBoost as Engine
        from catboost import Pool

        if data.mode != CLASSIFICATION:
            loss: dict[str, Any] = {"loss_function": "RMSE"}
        elif data.n_classes == 2:
            loss = {"loss_function": "Logloss"}
        else:
            loss = {"loss_function": "MultiClass", "classes_count": data.n_classes}
        model = Engine(
            {
                **loss,
                "iterations": max(self._counts(subs)),
                "depth": int(params["depth"]),
                "learning_rate": float(params["learning_rate"]),
                "l2_leaf_reg": float(params["l2_leaf_reg"]),
                "random_seed": int(seed) % (2**31 - 1),
                "thread_count": 1,
                "verbose": False,
                "allow_writing_files": False,
            }
        )
        y = data.y.astype(int) if data.mode == CLASSIFICATION else data.y.astype(float)
        model.fit(Pool(data.X, label=y, weight=data.weights))
        return EngineFit(model, data.mode, data.n_classes)

    def _fitted_count(self, fitted: Any, count: int) -> int:
        return min(count, fitted.est.tree_count_)

    def _score_at(self, fitted: Any, X: np.ndarray, count: int, margin: bool) -> np.ndarray:
        """Probabilities or values, or CatBoost's raw formula values (margins) with ``margin``."""
        proba = fitted.mode == CLASSIFICATION and not margin
        kind = "Probability" if proba else "RawFormulaVal"
        pred = np.asarray(
            fitted.est.predict(X, prediction_type=kind, ntree_end=count, thread_count=1),
            dtype=float,
        )
        if proba and pred.ndim == 2:
            pred = pred / pred.sum(axis=1, keepdims=True)
        return pred

    def importance(self, fitted: Any, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """CatBoost's PredictionValuesChange importance of the first sub's trees."""
        m = fitted.est
        k = self._first_count(fitted, subs)
        if k < m.tree_count_:
            m = m.copy()
            m.shrink(ntree_end=k)
        return np.asarray(m.get_feature_importance(type="PredictionValuesChange"), dtype=float)
