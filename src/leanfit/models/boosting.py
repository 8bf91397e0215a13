"""Boosted trees. ``gbm`` keeps R gbm's parameters and semantics on LightGBM (much faster)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import CLASSIFICATION, Model, Param, TrainingData, expand_grid


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class GBM(Model):
    """Stochastic gradient boosting with R gbm's semantics, fitted by LightGBM.

    ``interaction_depth`` is the number of splits per tree (a tree grown best-first with
    depth + 1 leaves, as gbm does), ``n_minobsinnode`` the minimum rows per leaf (LightGBM counts
    rows from hessian sums, so under Bernoulli loss a leaf can hold slightly fewer), and each tree
    sees a random half of the rows (gbm's ``bag.fraction = 0.5``; LightGBM draws each row with
    that probability rather than exactly half; change it with
    ``GBM(options={"bag_fraction": ...})``). Bernoulli / multinomial / Gaussian loss by mode.
    Sub-model: one fit with the largest ``n_trees`` scores every smaller tree count.
    """

    name = "gbm"
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
            n_trees=[50 * i for i in range(1, length + 1)],
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
        import lightgbm as lgb

        n_trees = max(int(s["n_trees"]) for s in subs)
        if data.mode == CLASSIFICATION:
            k = data.n_classes
            objective = (
                {"objective": "binary"} if k == 2 else {"objective": "multiclass", "num_class": k}
            )
        else:
            objective = {"objective": "regression"}
        bag = float(self.options.get("bag_fraction", 0.5))
        p = {
            **objective,
            "learning_rate": float(params["shrinkage"]),
            "num_leaves": int(params["interaction_depth"]) + 1,
            "max_depth": -1,
            "min_data_in_leaf": int(params["n_minobsinnode"]),
            "min_sum_hessian_in_leaf": 1e-3,  # LightGBM's default; 0 crashes and slows LightGBM
            "min_gain_to_split": 0.0,
            "lambda_l2": 0.0,
            "bagging_fraction": bag,
            "bagging_freq": 1 if bag < 1 else 0,
            "num_threads": int(self.options.get("num_threads", 1)),
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
        return lgb.train(p, ds, num_boost_round=n_trees, keep_training_booster=True)

    def _raw(self, booster: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Raw scores at every requested tree count from one pass over the trees."""
        counts = [int(s["n_trees"]) for s in subs]
        order = np.argsort(counts, kind="stable")
        out: list[np.ndarray] = [np.empty(0)] * len(counts)
        total, done = 0.0, 0
        for i in order:
            c = min(counts[i], booster.num_trees() // booster.num_model_per_iteration())
            if c > done:
                total = total + booster.predict(
                    X,
                    raw_score=True,
                    start_iteration=done,
                    num_iteration=c - done,
                    num_threads=int(self.options.get("num_threads", 1)),
                )
                done = c
            out[i] = np.array(total, dtype=float, copy=True)
        return np.stack(out)

    def predict(self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        if fitted.params["objective"] == "regression":
            return self._raw(fitted, X, subs)
        return self.predict_proba(fitted, X, subs).argmax(axis=2)

    def predict_proba(self, fitted: Any, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        raw = self._raw(fitted, X, subs)
        if fitted.params["objective"] == "binary":
            p1 = 1.0 / (1.0 + np.exp(-raw))
            return np.stack([1.0 - p1, p1], axis=2)
        return _softmax(raw)
