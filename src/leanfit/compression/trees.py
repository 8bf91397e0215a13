"""Tree-ensemble compressions: fewer trees and compiled prediction.

Fewer trees: the final model's first k trees, with k taken from the sub-model profile that
training already computed (the resampled metric at every tree count of the grid, at the chosen
candidate's other parameters), so nothing is refitted and the user sees why each k was offered.
Compiled: the trees turned into C by treelite + tl2cgen and built with the system's compiler;
kept only where its single-row prediction measures faster than the engine's own.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..export import to_onnx
from ..export.runtime import onnx_predict, onnx_session
from ..models.base import CLASSIFICATION
from ..tuning.result import TrainResult
from .candidate import Candidate, Source
from .compiled import CompiledTrees, compile_trees, single_row_us

__all__ = ["TREE_METHODS", "applies_to_trees", "tree_candidates", "tree_profile"]

#: The methods whose fits hold tree ensembles this module compresses.
TREE_METHODS = ("gbm", "lightgbm", "xgb_tree", "rf")
_OPTIONS = ("trees", "compile", "quantize")


def applies_to_trees(source: Source) -> bool:
    """Whether ``source`` is a fitted tree ensemble (a TrainResult of a TREE_METHODS method)."""
    res = source.model
    return (
        isinstance(res, TrainResult) and res.method in TREE_METHODS and res.final_model is not None
    )


def _count_key(res: TrainResult) -> str | None:
    """The sub-model axis that counts trees (None for rf, whose tree count is an option)."""
    return res.model.submodel[0] if res.model.submodel else None


def _n_trees(res: TrainResult) -> int:
    """How many trees (boosting iterations) the final model predicts with."""
    key = _count_key(res)
    if key is None:
        return len(res.final_model.est.estimators_)
    return int(res._sub()[key])


def tree_profile(res: TrainResult) -> pd.DataFrame:
    """The resampled metric at each tree count with the chosen candidate's other parameters.

    The rows of ``res.results`` that differ from the chosen candidate only in the tree count,
    sorted by count: what training already measured, which the fewer-trees candidates are taken
    from. Empty for rf (one forest size per fit) and for a fit that was not resampled.
    """
    key = _count_key(res)
    if key is None or res.scores is None:
        return pd.DataFrame()
    table = res.results
    best = table.iloc[res.best_index]
    others = [c for c in res.candidates.columns if c != key]
    same = np.ones(len(table), dtype=bool)
    for c in others:
        same &= (table[c] == best[c]).to_numpy()
    cols = [key, res.metric, f"{res.metric}SD", "Resamples"]
    return table.loc[same, cols].sort_values(key).reset_index(drop=True)


def _check_options(options: Mapping[str, Any], n: int) -> dict[str, Any]:
    """The options with defaults: ``trees`` (tree counts, default from the profile), ``compile``
    ("full", "all", "none" or a list of counts), ``quantize`` (tl2cgen's integer thresholds)."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValueError(f"tree compression options {unknown} unknown; valid: {list(_OPTIONS)}")
    out = {"trees": None, "compile": "full", "quantize": True, **options}
    trees = out["trees"]
    if trees is not None:
        bad = [
            t
            for t in trees
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= t <= n
        ]
        if bad or not len(trees):
            raise ValueError(
                f"options['trees'] = {trees!r}: give tree counts between 1 and {n} (the final "
                "model's trees)"
            )
        out["trees"] = sorted({int(t) for t in trees})
    comp = out["compile"]
    if isinstance(comp, str):
        if comp not in ("full", "all", "none"):
            raise ValueError(
                f"options['compile'] = {comp!r}: 'full', 'all', 'none' or a list of tree counts"
            )
    elif not all(isinstance(t, (int, np.integer)) and 1 <= t <= n for t in comp):
        raise ValueError(f"options['compile'] = {comp!r}: tree counts between 1 and {n}")
    return out


def _default_counts(res: TrainResult, n: int) -> list[int]:
    """Counts below the final model's from its profile; rf (no profile): n/2, n/4, ... >= 1."""
    profile = tree_profile(res)
    key = _count_key(res)
    if key is not None and len(profile):
        return sorted({int(k) for k in profile[key] if int(k) < n})
    counts: list[int] = []
    k = n // 2
    while k >= 1 and len(counts) < 6:
        counts.append(k)
        k //= 2
    return sorted(counts)


def _truncated_forest(res: TrainResult, k: int) -> Any:
    """rf's fit holding only its first ``k`` trees (a shallow copy: the trees are shared)."""
    fitted = copy.copy(res.final_model)
    est = copy.copy(fitted.est)
    est.estimators_ = est.estimators_[:k]
    est.n_estimators = k
    fitted.est = est
    return fitted


def _onnx_at(res: TrainResult, k: int) -> bytes:
    """The final model's first ``k`` trees as an ONNX graph on the model matrix."""
    key = _count_key(res)
    if key is not None:
        return to_onnx(res, sub={key: k})
    return to_onnx((res.model, _truncated_forest(res, k), {}))


def _as_outputs(out: np.ndarray, classification: bool) -> np.ndarray:
    """Probabilities (n, K) (a binary model's one column widened) or values (n,)."""
    out = np.asarray(out, dtype=float)
    if not classification:
        return out.reshape(len(out))
    if out.ndim == 1 or out.shape[1] == 1:
        p1 = out.reshape(len(out))
        return np.column_stack([1.0 - p1, p1])
    return out


def _preprocessed(res: TrainResult, predict: Callable[[np.ndarray], np.ndarray]) -> Any:
    """``predict`` behind the fit's own pre-processing, when it has one."""
    pp = res.final_preprocess
    if pp is None:
        return predict
    return lambda X: predict(pp.transform(np.asarray(X, dtype=float)))


def _fewer_trees(
    res: TrainResult, k: int, profile: pd.DataFrame, classification: bool
) -> Candidate:
    """The first ``k`` trees, predicted by ONNX Runtime on one thread."""
    onnx = _onnx_at(res, k)
    session = onnx_session(onnx, threads=1)
    settings: dict[str, Any] = {"n_trees": k}
    key = _count_key(res)
    if key is not None and len(profile):
        row = profile[profile[key] == k]
        if len(row):
            settings[f"resampled {res.metric}"] = float(row[res.metric].iloc[0])
    return Candidate(
        name=f"{res.method}, first {k} trees",
        technique="fewer_trees",
        predict=lambda X: _as_outputs(onnx_predict(session, X), classification),
        size_bytes=len(onnx),
        settings=settings,
        onnx=onnx,
    )


def _compiled(
    res: TrainResult, k: int, rows: np.ndarray, quantize: bool, classification: bool
) -> Candidate | None:
    """The first ``k`` trees compiled; None (with a warning giving the figures) when it does
    not predict a single row faster than the engine's own predict of the same trees."""
    key = _count_key(res)
    if key is not None:
        sub = {**res._sub(), key: k}
        engine_fit = res.final_model
    else:
        sub = {}
        engine_fit = _truncated_forest(res, k)
    lib: CompiledTrees = compile_trees(res.method, engine_fit, k if key else None, quantize)
    X = rows if res.final_preprocess is None else res.final_preprocess.transform(rows)
    model = res.model

    def engine_rows(x: np.ndarray) -> Any:  # the engine's own predict of the same trees
        if classification:
            return model.predict_proba(engine_fit, x, [sub])
        return model.predict(engine_fit, x, [sub])

    compiled_us = single_row_us(lib.predict, X)
    engine_us = single_row_us(engine_rows, X)
    if compiled_us >= engine_us:
        warnings.warn(
            f"compiled {res.method} ({k} trees) dropped: {compiled_us:.1f} us per row against "
            f"{engine_us:.1f} us for the engine's own predict (single row, one thread)",
            UserWarning,
            stacklevel=3,
        )
        return None
    return Candidate(
        name=f"{res.method}, {k} trees compiled (tl2cgen)",
        technique="compiled",
        predict=_preprocessed(res, lambda x: _as_outputs(lib.predict(x), classification)),
        size_bytes=lib.size_bytes,
        settings={
            "n_trees": k,
            "compiler": "treelite + tl2cgen (gcc)",
            "quantize": quantize,
            "single-row us (compiled / engine)": (round(compiled_us, 2), round(engine_us, 2)),
        },
        note=f"{engine_us / compiled_us:.1f}x faster than the engine's predict on one row",
    )


def tree_candidates(source: Source, options: Mapping[str, Any]) -> list[Candidate]:
    """Fewer-trees candidates (ONNX, from the profile) and compiled ones (kept where faster)."""
    res = source.model
    if not applies_to_trees(source):
        raise ValueError(f"tree compressions apply to fits of {list(TREE_METHODS)}")
    n = _n_trees(res)
    opts = _check_options(options, n)
    counts = opts["trees"] if opts["trees"] is not None else _default_counts(res, n)
    profile = tree_profile(res)
    classification = res.dataset.mode == CLASSIFICATION
    out = []
    if res.final_preprocess is None:
        out = [_fewer_trees(res, k, profile, classification) for k in counts if k < n]
    else:
        warnings.warn(
            f"fewer-trees candidates skipped: the {res.method} fit has pre-processing "
            f"({list(res.final_preprocess.steps)}), which its ONNX graph on the model matrix does "
            "not include",
            UserWarning,
            stacklevel=2,
        )
    comp = opts["compile"]
    to_compile = (
        []
        if comp == "none"
        else [n]
        if comp == "full"
        else sorted({*counts, n})
        if comp == "all"
        else sorted({int(t) for t in comp})
    )
    rows = np.asarray(source.X_train[: min(len(source.X_train), 200)], dtype=float)
    for k in to_compile:
        made = _compiled(res, k, rows, bool(opts["quantize"]), classification)
        if made is not None:
            out.append(made)
    return out
