"""Attributions of one fitted model on encoded rows: the engines' own TreeSHAP (LightGBM,
XGBoost, CatBoost), shap's TreeExplainer for scikit-learn forests, exact linear attributions,
and permutation-sampled Shapley values for every other model.

Every explainer returns values (n, p, K), base values (K,) and the model's raw output (n, K),
where K is 1 for regression and binary classification (the positive class: the second level)
and the number of classes otherwise. ``values.sum(axis=1) + base == raw``: the engines' own
contributions and the linear rule satisfy it exactly, the permutation explainer by
construction (its base is the mean output over the background rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..control import available_cores
from ..frame import Encoder, feature_sources
from ..models.base import CLASSIFICATION, Model
from . import treeshap

__all__ = ["METHODS", "FitParts", "Raw", "applicable", "attribute"]

# The methods lf.explain takes besides "auto"; each applies to the models named in applicable().
METHODS = ("tree", "linear", "permutation")
# pre-processing steps that mix columns: attributions are then in terms of their outputs
MIXING_STEPS = ("pca", "ica", "spatial_sign")


@dataclass(frozen=True)
class FitParts:
    """What explaining a fit needs: the model and its final fit, the pre-processing, the
    encoder of raw columns, the chosen sub-model, the task and the training matrix (encoded,
    before pre-processing) for linear means and permutation backgrounds."""

    model: Model
    fitted: Any
    preprocess: Any
    encoder: Encoder
    sub: dict[str, Any]
    mode: str
    levels: tuple[str, ...]
    background: np.ndarray
    # the LightGBM trees read for the compiled TreeSHAP, per tree count: a server keeps one
    # FitParts, and a TrainResult this dict (its explain_cache), so each reads them once
    forests: dict[int, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class Raw:
    """One explainer's numbers, before they are labelled: values (n, p, K), base (K,), the
    model's raw output (n, K), what that output is, and the explainer used."""

    values: np.ndarray
    base: np.ndarray
    raw: np.ndarray
    output: str
    method: str
    notes: list[str] = field(default_factory=list)
    # only the wanted (row, class) pairs were computed (LightGBM); else every class was
    only_wanted: bool = False


def _engine(fitted: Any) -> str | None:
    """'lightgbm', 'xgboost' or 'catboost' when the fit is that engine's booster."""
    est = getattr(fitted, "est", fitted)
    mod = type(est).__module__.split(".")[0]
    return mod if mod in ("lightgbm", "xgboost", "catboost") else None


def _is_tree_booster(parts: FitParts) -> bool:
    eng = _engine(parts.fitted)
    if eng is None:
        return False
    if eng == "xgboost":  # xgb_linear is a gblinear booster: no trees
        return parts.model.name != "xgb_linear"
    return True


def _sklearn_forest(parts: FitParts) -> bool:
    est = getattr(parts.fitted, "est", None)
    name = type(est).__name__
    module = type(est).__module__
    return module.startswith("sklearn.ensemble") and name in (
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
    )


def _linear_kind(parts: FitParts) -> str | None:
    """'glmnet', 'least_squares' or 'logistic' when the fit is linear in the model matrix."""
    f, name = parts.fitted, parts.model.name
    if not isinstance(f, dict):
        return None
    if name == "glmnet" and {"mu", "sd", "coef", "intercept", "lambdas"} <= set(f):
        return "glmnet"
    if name in ("lm", "glm") and {"coef", "intercept"} <= set(f):
        return "least_squares"
    if name == "glm" and "model" in f:
        return "logistic"
    return None


def applicable(parts: FitParts) -> list[str]:
    """The methods that can explain this fit, best first (permutation always applies)."""
    out = []
    if _is_tree_booster(parts) or _sklearn_forest(parts):
        out.append("tree")
    if _linear_kind(parts) is not None:
        out.append("linear")
    out.append("permutation")
    return out


def transformed(parts: FitParts, X: np.ndarray) -> np.ndarray:
    """The matrix the model sees: the encoded rows after the fit's pre-processing."""
    return np.asarray(parts.preprocess.transform(X) if parts.preprocess is not None else X, float)


def feature_names(parts: FitParts) -> tuple[list[str], list[str], list[str]]:
    """(model columns, the original column each comes from, notes saying how they map)."""
    enc, pp = parts.encoder, parts.preprocess
    names = list(enc.feature_names)
    sources = feature_sources(enc)
    notes: list[str] = []
    if enc.formula is not None:
        notes.append(
            "the formula's terms (interactions, poly, ...) are attributed as the terms "
            "themselves, not split over the columns they read"
        )
    elif enc.categorical:
        notes.append(
            "the dummy columns of each factor are summed back to the factor "
            f"({', '.join(c for c, _ in enc.categorical)})"
        )
    if pp is None:
        return names, sources, notes
    steps = [s for s in getattr(pp, "steps", ()) if s in MIXING_STEPS]
    out_names = [str(n) for n in pp.output_names_]
    if steps:
        notes.append(
            f"the pre-processing step(s) {steps} mix columns: attributions are of what the "
            f"model sees ({', '.join(out_names[:5])}{', ...' if len(out_names) > 5 else ''}), "
            "not of the original columns"
        )
        return out_names, out_names, notes
    kept = [int(k) for k in pp.kept_]
    if len(kept) < len(names):
        gone = [names[k] for k in range(len(names)) if k not in set(kept)]
        notes.append(f"columns removed by pre-processing get no attribution: {gone}")
    if getattr(pp, "steps", ()):
        notes.append(
            f"column-wise pre-processing ({', '.join(pp.steps)}) is attributed to the "
            "original columns"
        )
    return [names[k] for k in kept], [sources[k] for k in kept], notes


# -- per-method explainers -----------------------------------------------------------------


def _positive(parts: FitParts) -> str:
    return parts.levels[1] if len(parts.levels) > 1 else parts.levels[0]


def _count(parts: FitParts) -> int:
    """The number of trees (rounds) the chosen candidate uses from the final fit."""
    model: Any = parts.model
    wanted = int(parts.sub[model.submodel[0]]) if model.submodel else 10**9
    return int(model._fitted_count(parts.fitted, wanted))


def _margins(parts: FitParts, Z: np.ndarray) -> np.ndarray:
    """The boosting model's own raw output (n, K): margins, or predictions in regression."""
    model: Any = parts.model
    if parts.mode == CLASSIFICATION:
        raw = np.asarray(model._scores(parts.fitted, Z, [parts.sub], margin=True)[0], float)
    else:
        raw = np.asarray(model.predict(parts.fitted, Z, [parts.sub])[0], float)
    return raw[:, None] if raw.ndim == 1 else raw


def _output_name(parts: FitParts, margin: str) -> str:
    if parts.mode != CLASSIFICATION:
        return "prediction"
    if len(parts.levels) == 2:
        return f"{margin} of {_positive(parts)!r}"
    return f"{margin} per class"


def _split_contrib(c: np.ndarray, p: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Engine contributions with the bias last, (n, p+1) or (n, K*(p+1)) or (n, K, p+1), as
    values (n, p, K) and per-row bias (n, K)."""
    c = np.asarray(c, dtype=float)
    if c.ndim == 2 and k > 1:
        c = c.reshape(len(c), k, p + 1)
    if c.ndim == 2:
        c = c[:, None, :]
    return np.transpose(c[:, :, :p], (0, 2, 1)), c[:, :, p]


def _lightgbm_class_models(booster: Any, count: int, classes: list[int]) -> dict[int, Any]:
    """One LightGBM booster per class in ``classes``, holding only that class's trees among the
    first ``count`` rounds, so that pred_contrib walks 1/K of a K-class model's trees.

    LightGBM stores a multiclass model's trees round by round, class by class (tree i belongs
    to class i % num_tree_per_iteration); a class's trees alone, read back as a one-output
    model, give that class's raw margin and exactly its TreeSHAP values (TreeSHAP adds up tree
    by tree)."""
    import lightgbm as lgb

    k_all = booster.num_model_per_iteration()
    text = treeshap.model_text(booster, count)
    head, _, rest = text.partition("\nTree=")
    trees, _, tail = rest.partition("\nend of trees")
    blocks = trees.split("\nTree=")
    if len(blocks) != count * k_all:
        raise RuntimeError(
            f"LightGBM's model text has {len(blocks)} trees, expected {count} rounds x {k_all}"
        )
    header = []
    for line in head.split("\n"):
        key = line.split("=", 1)[0]
        if key in ("num_class", "num_tree_per_iteration"):
            line = f"{key}=1"
        elif key == "objective":
            line = "objective=regression"  # raw output = the sum of the trees
        elif key == "tree_sizes":  # optional (it speeds up loading); it changes with the trees
            continue
        header.append(line)
    out = {}
    for k in classes:
        mine = [b.split("\n", 1)[1] for b in blocks[k::k_all]]
        body = "\n".join(f"Tree={j}\n{b}" for j, b in enumerate(mine))
        model = "\n".join(header) + "\n" + body + "\nend of trees" + tail
        out[k] = lgb.Booster(model_str=model)
    return out


def _lightgbm_some_classes(
    parts: FitParts, Z: np.ndarray, count: int, want: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """LightGBM's TreeSHAP of the (row, class) pairs ``want`` (n, K) marks, each class's rows
    through that class's trees only; values (n, p, K) and bias (K,), NaN where not wanted."""
    n, p = Z.shape
    k_all = want.shape[1]
    values = np.full((n, p, k_all), np.nan)
    bias = np.full(k_all, np.nan)
    classes = [k for k in range(k_all) if want[:, k].any()]
    models = _lightgbm_class_models(parts.fitted, count, classes)
    for k in classes:
        rows = np.flatnonzero(want[:, k])
        c = np.asarray(
            models[k].predict(Z[rows], pred_contrib=True, num_threads=available_cores()), float
        )
        values[rows, :, k] = c[:, :p]
        bias[k] = float(c[0, p])
    return values, bias


Want = np.ndarray | str | None


def _resolve_want(want: Want, raw: np.ndarray) -> np.ndarray | None:
    """``want`` as an (n, K) mask: "predicted" marks each row's class of largest output."""
    if not isinstance(want, str):
        return want
    mask = np.zeros(raw.shape, dtype=bool)
    mask[np.arange(len(raw)), np.argmax(raw, axis=1)] = True
    return mask


def _lightgbm_forest(parts: FitParts, count: int) -> treeshap.Forest | None:
    """The booster's trees for leanfit's compiled TreeSHAP (read once per FitParts), or None
    where LightGBM's own pred_contrib must do (numba not installed; categorical splits, linear
    trees or averaged random-forest output, which the compiled one does not handle)."""
    if not treeshap.available():
        return None
    if count not in parts.forests:
        try:
            parts.forests[count] = treeshap.read_lightgbm(parts.fitted, count)
        except ValueError:
            parts.forests[count] = None
    return parts.forests[count]


def _tree_engine(parts: FitParts, Z: np.ndarray, want: Want = None) -> Raw:
    """The engine's own TreeSHAP on every core; ``want`` (n, K) or "predicted", when given,
    marks the (row, class) pairs wanted: LightGBM then walks only the wanted classes' trees,
    the other engines compute every class (the rest is set to NaN afterwards)."""
    eng = _engine(parts.fitted)
    count = _count(parts)
    p = Z.shape[1]
    forest = _lightgbm_forest(parts, count) if eng == "lightgbm" else None
    raw = (
        _margins(parts, Z) if forest is None else treeshap.raw_scores(forest, Z, available_cores())
    )
    k = raw.shape[1]
    margin = "log-odds" if k == 1 else "raw margin (before softmax)"
    output = _output_name(parts, margin)
    mask = _resolve_want(want, raw)
    if forest is not None:
        values = treeshap.shap_values(forest, Z, mask, available_cores())
        some = mask is not None and k > 1
        how = "TreeSHAP (exact, path-dependent, as LightGBM's pred_contrib) compiled by numba"
        if some:
            how += " on each wanted class's trees only"
        return Raw(values, forest.base, raw, output, how, only_wanted=some)
    if eng == "lightgbm" and mask is not None and k > 1:
        values, base = _lightgbm_some_classes(parts, Z, count, mask)
        how = "LightGBM's TreeSHAP (predict(pred_contrib=True)) on each wanted class's trees only"
        return Raw(values, base, raw, output, how, only_wanted=True)
    if eng == "lightgbm":
        c = parts.fitted.predict(
            Z, pred_contrib=True, num_iteration=count, num_threads=available_cores()
        )
        how = "LightGBM's TreeSHAP (predict(pred_contrib=True))"
    elif eng == "xgboost":
        import xgboost as xgb

        dm = xgb.DMatrix(Z, missing=np.nan, nthread=available_cores())
        booster = parts.fitted.est.copy()  # the fit keeps its one thread
        booster.set_param({"nthread": available_cores()})
        c = booster.predict(dm, pred_contribs=True, iteration_range=(0, count))
        how = "XGBoost's TreeSHAP (predict(pred_contribs=True))"
    else:
        from catboost import Pool

        m = parts.fitted.est
        if count < m.tree_count_:
            m = m.copy()
            m.shrink(ntree_end=count)
        c = m.get_feature_importance(Pool(Z), type="ShapValues", thread_count=available_cores())
        how = "CatBoost's TreeSHAP (get_feature_importance(type='ShapValues'))"
    values, bias = _split_contrib(c, p, k)
    return Raw(values, bias.mean(axis=0), raw, output, how)


def _shap() -> Any:
    try:
        import shap
    except ImportError as e:
        raise ImportError(
            "this explanation needs the shap library: pip install 'leanfit[explain]'"
        ) from e
    return shap


def _class_columns(parts: FitParts, prob: np.ndarray, classes: Any) -> np.ndarray:
    """(n, K_est) per-class numbers of an estimator seeing ``classes`` as (n, K) in level
    order (absent classes 0), reduced to the positive class for two levels."""
    k = len(parts.levels)
    out = np.zeros(prob.shape[:-1] + (k,))
    out[..., np.asarray(classes, dtype=int)] = prob
    return out[..., 1:2] if k == 2 else out


def _tree_forest(parts: FitParts, Z: np.ndarray) -> Raw:
    shap = _shap()
    est = parts.fitted.est
    explainer = shap.TreeExplainer(est)
    vals = np.asarray(explainer.shap_values(Z, check_additivity=False), dtype=float)
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if parts.mode == CLASSIFICATION:
        if vals.ndim == 2:
            vals = vals[:, :, None]
        values = _class_columns(parts, vals, est.classes_)
        base = _class_columns(parts, base, est.classes_)
        raw = _class_columns(parts, np.asarray(est.predict_proba(Z), float), est.classes_)
        out = _output_name(parts, "probability")
    else:
        values = vals.reshape(len(Z), Z.shape[1], 1)
        raw = np.asarray(est.predict(Z), float)[:, None]
        out = "prediction"
    how = "shap's TreeExplainer (path-dependent TreeSHAP)"
    return Raw(values, base.reshape(-1), raw, out, how)


def _linear_coefs(parts: FitParts) -> tuple[np.ndarray, np.ndarray, str]:
    """Coefficients (p, K) and intercepts (K,) on the model's input columns, and the output."""
    f, kind = parts.fitted, _linear_kind(parts)
    if kind == "least_squares":
        coef = np.asarray(f["coef"], float).reshape(-1, 1)
        return coef, np.atleast_1d(np.asarray(f["intercept"], float)), "prediction"
    if kind == "glmnet":
        i = int(np.argmin(np.abs(f["lambdas"] - float(parts.sub["lambda"]))))
        beta = np.asarray(f["coef"][i], float) / np.asarray(f["sd"], float)[:, None]
        icpt = np.asarray(f["intercept"][i], float) - np.asarray(f["mu"], float) @ beta
        if parts.mode == CLASSIFICATION and len(parts.levels) > 2:
            return beta, icpt, "raw margin (before softmax) per class"
        return beta, icpt, _output_name(parts, "log-odds")
    m = f["model"]  # logistic regression (scikit-learn)
    coef, icpt = np.asarray(m.coef_, float).T, np.asarray(m.intercept_, float)
    if len(parts.levels) == 2:
        return coef, icpt, _output_name(parts, "log-odds")
    full_c = np.zeros((coef.shape[0], len(parts.levels)))
    full_i = np.full(len(parts.levels), -np.inf)
    full_c[:, f["classes"]], full_i[f["classes"]] = coef, icpt
    return full_c, full_i, "raw margin (before softmax) per class"


def _linear_output(parts: FitParts, Z: np.ndarray) -> np.ndarray:
    """The linear model's raw output computed by the model itself (n, K)."""
    f, kind, model = parts.fitted, _linear_kind(parts), parts.model
    if kind == "least_squares":
        return np.asarray(model.predict(f, Z, [parts.sub])[0], float)[:, None]
    if kind == "glmnet":
        eta: Any = model._eta  # type: ignore[attr-defined]
        return np.asarray(eta(f, Z, [parts.sub])[0], float)
    dec = np.asarray(f["model"].decision_function(Z), float)
    if dec.ndim == 1:
        return dec[:, None]
    out = np.full((len(Z), len(parts.levels)), -np.inf)
    out[:, f["classes"]] = dec
    return out


def _linear(parts: FitParts, Z: np.ndarray, background: np.ndarray) -> Raw:
    coef, icpt, output = _linear_coefs(parts)
    mean = np.nanmean(background, axis=0)
    values = (Z - mean)[:, :, None] * coef[None, :, :]
    base = icpt + mean @ coef
    how = "linear: coefficient x (value - training mean)"
    return Raw(values, base, _linear_output(parts, Z), output, how)


def _model_output(parts: FitParts) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """The model's prediction function on the matrix it sees: probabilities (of the positive
    class for two levels) or values, as (n, K)."""
    model, fitted, sub = parts.model, parts.fitted, [parts.sub]
    if parts.mode != CLASSIFICATION:
        return (
            lambda Z: np.asarray(model.predict(fitted, Z, sub)[0], float).reshape(len(Z), 1)
        ), "prediction"
    if not model.probabilities:
        raise ValueError(
            f"method {model.name!r} gives no class probabilities, so it has no output to explain"
        )

    def f(Z: np.ndarray) -> np.ndarray:
        prob = np.asarray(model.predict_proba(fitted, Z, sub)[0], float)
        return prob[:, 1:2] if len(parts.levels) == 2 else prob

    return f, _output_name(parts, "probability")


def _orders(p: int, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Column orders: every one when there are at most ``permutations`` (exact Shapley
    values), else ``permutations`` random ones in antithetic pairs (an order and its reverse)."""
    import itertools
    import math

    if math.factorial(p) <= permutations:
        return np.array(list(itertools.permutations(range(p))), dtype=np.int64).reshape(-1, p)
    half = [rng.permutation(p) for _ in range((permutations + 1) // 2)]
    return np.array([o for h in half for o in (h, h[::-1])][:permutations], dtype=np.int64)


def _permutation(
    parts: FitParts, Z: np.ndarray, background: np.ndarray, permutations: int, seed: int
) -> Raw:
    """Interventional Shapley values by permutation sampling: along each column order, the
    columns take the row's values one by one over the background rows, and each column gets
    the change in the mean output. The changes add up to output(row) - mean output(background)
    exactly, whatever the orders."""
    if permutations < 1:
        raise ValueError(f"permutations={permutations} must be at least 1")
    f, output = _model_output(parts)
    n, p = Z.shape
    m = len(background)
    rng = np.random.default_rng(seed)
    orders = _orders(p, permutations, rng)
    base_out = f(background)
    k = base_out.shape[1]
    base = base_out.mean(axis=0)
    values = np.zeros((n, p, k))
    raw = f(Z)
    # step masks: after step s of an order, its first s columns come from the row
    steps = np.zeros((len(orders), p, p), dtype=bool)
    for o, order in enumerate(orders):
        for s_ in range(p):
            steps[o, s_, order[: s_ + 1]] = True
    masks = steps.reshape(-1, p)  # (orders*p, p)
    per = max(1, int(4_000_000 // max(p * m * p, 1)))  # orders per model call (memory)
    for i in range(n):
        outs = []
        for a in range(0, len(orders), per):
            mk = masks[a * p : (a + per) * p]
            block = np.where(mk[:, None, :], Z[i][None, None, :], background[None, :, :])
            outs.append(f(block.reshape(-1, p)).reshape(-1, p, m, k).mean(axis=2))
        out = np.concatenate(outs, axis=0)
        prev = np.concatenate([np.broadcast_to(base, (len(orders), 1, k)), out[:, :-1]], axis=1)
        delta = out - prev  # (orders, step, k): the step's column gains this much
        for o, order in enumerate(orders):
            values[i, order] += delta[o]
    values /= len(orders)
    exact = len(orders) == np.prod(np.arange(1, p + 1), dtype=float)
    how = (
        f"permutation Shapley values ({'all ' if exact else ''}{len(orders)} column orders, "
        f"{m} background rows)"
    )
    return Raw(values, base, raw, output, how)


def _keep_wanted(r: Raw, want: Want) -> Raw:
    """NaN in the values and raw output of the (row, class) pairs not wanted."""
    mask = _resolve_want(want, r.raw)
    if mask is None or mask.all():
        return r
    r.values = np.where(mask[:, None, :], r.values, np.nan)
    r.raw = np.where(mask, r.raw, np.nan)
    return r


def attribute(
    parts: FitParts,
    Z: np.ndarray,
    method: str,
    *,
    background_rows: int = 100,
    permutations: int = 10,
    seed: int = 0,
    want: Want = None,
) -> Raw:
    """Attributions of the rows ``Z`` (the matrix the model sees) by ``method`` ("auto",
    "tree", "linear" or "permutation"); ``want`` (n, K) or "predicted" (each row's class of
    largest output), when given, marks the (row, output) pairs wanted and the others are NaN
    (LightGBM skips their trees; the other explainers compute every output)."""
    can = applicable(parts)
    if method == "auto":
        method = can[0]
    elif method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {['auto', *METHODS]}")
    elif method not in can:
        raise ValueError(
            f"method={method!r} cannot explain a {parts.model.name!r} fit; these can: {can}"
        )
    if method == "tree":
        if _is_tree_booster(parts):
            return _keep_wanted(_tree_engine(parts, Z, want), want)
        return _keep_wanted(_tree_forest(parts, Z), want)
    bg = transformed(parts, parts.background)
    if method == "linear":
        return _keep_wanted(_linear(parts, Z, bg), want)
    if len(bg) > background_rows:
        rng = np.random.default_rng(seed)
        bg = bg[np.sort(rng.choice(len(bg), background_rows, replace=False))]
    return _keep_wanted(_permutation(parts, Z, bg, permutations, seed), want)
