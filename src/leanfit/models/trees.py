"""Single trees, bagging and forests (see the model contract in base.py).

``rpart`` grows one CART tree (scikit-learn) and prunes it itself, Breiman's weakest-link way, to
every requested ``cp``: caret's sub-model trick (one fit, ``prune.rpart`` per cp). The risk that
is pruned is rpart's: the misclassified weight for classification, the sum of squares for
regression, and ``cp`` is relative to the root's risk, so cp tables and grids match R's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from leanfit.models.base import (
    CLASSIFICATION,
    REGRESSION,
    Model,
    Param,
    TrainingData,
    expand_grid,
    fitted_as,
)
from leanfit.models.space import integer


def var_seq(p: int, classification: bool, length: int) -> list[int]:
    """caret's ``var_seq``: the mtry values of its forest grids (an even 2..p sequence, floored),
    none above p (caret's would ask for mtry 2 of a single predictor)."""
    if p <= 1:
        return [1]
    if length == 1:
        return [int(np.floor(np.sqrt(p)))] if classification else [max(p // 3, 1)]
    if p <= length:
        seq = np.floor(np.linspace(2, p, p))
    elif p < 500:
        seq = np.floor(np.linspace(2, p, length))
    else:  # R: 2^seq(1, log(p, base = 2), length = len)
        seq = np.floor(2.0 ** np.linspace(1, np.log(p) / np.log(2), length))
    return list(dict.fromkeys(int(v) for v in seq))


def expand_proba(proba: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Spread an engine's probability columns over all K classes (a resample can lack some)."""
    classes = np.asarray(classes).astype(int)
    if proba.shape[-1] == n_classes and np.array_equal(classes, np.arange(n_classes)):
        return proba
    out = np.zeros(proba.shape[:-1] + (n_classes,))
    out[..., classes] = proba
    return out


def _random_state(seed: int) -> int:
    """A seed scikit-learn accepts (0 .. 2**32 - 1)."""
    return int(seed) % (2**32)


def _target(data: TrainingData) -> np.ndarray:
    """Class codes as ints for classifiers, floats for regressors."""
    return data.y.astype(int) if data.mode == CLASSIFICATION else data.y.astype(float)


@dataclass
class EngineFit:
    """A fitted engine object plus what the contract needs that the engine does not keep."""

    est: Any
    mode: str
    n_classes: int = 0
    # (predictions, rows without any) out of bag, for engines that do not keep their bootstrap
    # samples (rf's sklearnex engine); None: the engine computes them itself (see _oob)
    oob: tuple[np.ndarray, np.ndarray] | None = None


def _tile(a: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
    """One prediction repeated for every sub (models without sub-model parameters)."""
    return np.repeat(a[None], len(subs), axis=0)


def _oob_counts(est: Any, n: int) -> np.ndarray:
    """How many members left each training row out of their bootstrap sample."""
    inbag = np.zeros(n, dtype=np.intp)
    for rows in est.estimators_samples_:
        inbag[np.unique(rows)] += 1
    return len(est.estimators_samples_) - inbag


def _oob(fit: EngineFit, subs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-bag predictions of a bagged scikit-learn ensemble (forest or bagging)."""
    # A row that every member drew (about exp(-members) of the rows) has no out-of-bag prediction:
    # NaN for regression, uniform probabilities (so class 0) for classification.
    est = fit.est
    if not est.oob_score:
        raise ValueError(
            "out-of-bag predictions were not asked for when this ensemble was fitted "
            "(TrainingData(oob=True), as Control(method='oob') does)"
        )
    if fit.mode != CLASSIFICATION:
        raw = np.asarray(est.oob_prediction_, dtype=float).reshape(-1)
    else:
        raw = np.asarray(est.oob_decision_function_, dtype=float)
        raw = expand_proba(np.nan_to_num(raw, nan=0.0), est.classes_, fit.n_classes)
    return _oob_result(fit, (raw, _oob_counts(est, len(raw)) == 0), subs)


class _SklearnEnsemble(Model):
    """Shared fit/predict of scikit-learn forests and bagging (no name: not registered)."""

    def _estimator(self, data: TrainingData, params: dict[str, Any], seed: int) -> Any:
        raise NotImplementedError

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> EngineFit:
        import warnings

        est = self._estimator(data, params, seed)
        with warnings.catch_warnings():
            # Rows that no member left out: _oob handles them, scikit-learn warns about them.
            warnings.filterwarnings("ignore", "Some inputs do not have OOB scores")
            warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
            est.fit(data.X, _target(data), sample_weight=data.weights)
        return EngineFit(est, data.mode, data.n_classes)

    def predict(self, fitted: EngineFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        if fitted.mode == CLASSIFICATION:
            return self.predict_proba(fitted, X, subs).argmax(axis=2)
        return _tile(np.asarray(fitted.est.predict(X), dtype=float), subs)

    def predict_proba(
        self, fitted: EngineFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        p = expand_proba(fitted.est.predict_proba(X), fitted.est.classes_, fitted.n_classes)
        return _tile(p, subs)

    def importance(self, fitted: EngineFit, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """Mean decrease in impurity (scikit-learn's normalised impurity importance)."""
        return np.asarray(fitted.est.feature_importances_, dtype=float)


def _mtry(params: dict[str, Any], p: int) -> int:
    """mtry as scikit-learn's max_features: a count of at most p. train() refuses a larger one
    before fitting; one only a resample's pre-processing made too large is fitted as p, with a
    ParamLimitWarning recorded against the fit."""
    mtry = int(params["mtry"])
    if mtry > p:
        fitted_as("mtry", mtry, p, f"{p} columns after pre-processing")
        return p
    return mtry


MTRY = Param(
    "mtry",
    "int",
    1,
    100000,
    label="#Randomly Selected Predictors",
    aliases=("max_features",),
    at_most="predictors",
)


class RF(_SklearnEnsemble):
    """Breiman's random forest (caret's ``rf``), fitted by scikit-learn's RandomForest*.

    500 trees on bootstrap samples of all rows (randomForest's ntree; change with
    ``RF(options={"n_trees": ...})``), ``mtry`` predictors drawn at each split, nodes of at most
    1 (classification) or 5 (regression) rows left unsplit — randomForest's nodesize (option
    ``nodesize``). Class probabilities average the trees' leaf frequencies (randomForest counts
    votes). Out-of-bag predictions come from the same fit (``Control(method="oob")``), computed
    only under that control. ``options={"engine": "sklearnex"}`` grows the trees with
    scikit-learn-intelex instead (see ``_fit_sklearnex``).
    """

    name = "rf"
    # QRF reads "quantile" instead of "engine"
    option_names: ClassVar[tuple[str, ...] | None] = ("n_trees", "nodesize", "engine")
    label = "Random Forest"
    engine = "sklearn"
    tags: ClassVar[tuple[str, ...]] = (
        "random forest",
        "ensemble",
        "bagging",
        "tree-based",
        "implicit feature selection",
    )
    params = (MTRY,)
    complexity_order = (("mtry", True),)
    space = MappingProxyType({"mtry": integer(1, 64)})  # capped at the predictors
    takes_weights = True
    takes_missing = True
    supports_oob = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: mtry = var_seq(p, classification, len)."""
        p = data.X.shape[1]
        return pd.DataFrame({"mtry": var_seq(p, data.mode == CLASSIFICATION, length)})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret: unique(sample(1:p, len, replace = TRUE))."""
        p = data.X.shape[1]
        return pd.DataFrame({"mtry": np.unique(rng.integers(1, p + 1, length))})

    def check_task(self, mode: str, n_classes: int) -> None:
        """The engine option names a known engine, and that engine is installed."""
        engine = self.options.get("engine", "sklearn")
        if engine not in RF_ENGINES:
            raise ValueError(
                f"{self.name}: options['engine'] must be one of {list(RF_ENGINES)}, not {engine!r}"
            )
        if engine == "sklearnex":
            _sklearnex_forests()

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> EngineFit:
        if self.options.get("engine", "sklearn") == "sklearnex":
            return _fit_sklearnex(data, self._forest(data, params, seed))
        return super().fit(data, params, subs, seed)

    def _estimator(self, data: TrainingData, params: dict[str, Any], seed: int) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        engine = RandomForestClassifier if data.mode == CLASSIFICATION else RandomForestRegressor
        return engine(
            **self._forest(data, params, seed),
            oob_score=data.oob,  # costs ~9% of a fit: only when asked for
        )

    def _forest(self, data: TrainingData, params: dict[str, Any], seed: int) -> dict[str, Any]:
        """randomForest's settings as scikit-learn forest arguments."""
        return {
            "n_estimators": int(self.options.get("n_trees", 500)),
            "max_features": _mtry(params, data.X.shape[1]),
            # randomForest's nodesize: nodes with at most that many rows are not split
            # (their children may be smaller), i.e. scikit-learn's min_samples_split - 1
            "min_samples_split": int(
                self.options.get("nodesize", 1 if data.mode == CLASSIFICATION else 5)
            )
            + 1,
            "bootstrap": True,
            "n_jobs": 1,
            "random_state": _random_state(seed),
        }

    def oob_predict(
        self, fitted: EngineFit, subs: list[dict[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if fitted.oob is not None:  # the sklearnex engine's, kept at fit time
            return _oob_result(fitted, fitted.oob, subs)
        return _oob(fitted, subs)


# -- rf on scikit-learn-intelex (options={"engine": "sklearnex"}) -----------------------------

RF_ENGINES = ("sklearn", "sklearnex")


def _sklearnex_forests() -> tuple[Any, Any]:
    """scikit-learn-intelex's forest classes, or an error naming the extra that installs them."""
    try:
        from sklearnex.ensemble import RandomForestClassifier, RandomForestRegressor
    except ImportError as e:
        raise ImportError(
            "rf: options['engine'] = 'sklearnex' needs scikit-learn-intelex "
            f"({e}); install it with: pip install 'leanfit[fast-rf]'"
        ) from e
    return RandomForestClassifier, RandomForestRegressor


def _fit_sklearnex(data: TrainingData, forest: dict[str, Any]) -> EngineFit:
    """Grow rf's forest with scikit-learn-intelex, then keep it as a scikit-learn forest.

    oneDAL grows the trees (histogram splits, at most 256 bins per predictor; with case weights
    or missing values sklearnex itself falls back to scikit-learn). Its trees are converted at
    once into scikit-learn trees inside a scikit-learn RandomForest, so a fit predicts, stores
    and restores exactly as any scikit-learn forest (no oneDAL object reaches skops, which
    aborts on them), and a class probability is the share of tree votes, as randomForest's.
    The out-of-bag predictions, which need the bootstrap samples that only oneDAL knew, are
    kept beside it.
    """
    import warnings

    classifier, regressor = _sklearnex_forests()
    cls = data.mode == CLASSIFICATION
    y = _target(data)
    # A regression row that no tree left out gets an out-of-bag prediction of exactly 0 from
    # oneDAL; fitting y + shift (>= 1 everywhere) makes 0 impossible for every other row.
    shift = 0.0 if cls else float(1.0 - np.min(y))
    est = (classifier if cls else regressor)(**forest, oob_score=data.oob)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Some inputs do not have OOB scores")
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        est.fit(data.X, y + shift if shift else y, sample_weight=data.weights)
    oob = None
    if data.oob:
        raw = np.asarray(est.oob_decision_function_ if cls else est.oob_prediction_, dtype=float)
        raw = raw.reshape(len(y), -1) if cls else raw.reshape(-1)
        if cls:
            unseen = ~(np.nan_to_num(raw, nan=0.0).sum(axis=1) > 0)
            raw = expand_proba(np.nan_to_num(raw, nan=0.0), est.classes_, data.n_classes)
        else:
            unseen = ~(np.nan_to_num(raw, nan=0.0) != 0)
            raw = raw - shift
        oob = (raw, unseen)
    return EngineFit(_sklearn_shell(est, forest, cls, shift), data.mode, data.n_classes, oob)


def _sklearn_shell(est: Any, forest: dict[str, Any], cls: bool, shift: float) -> Any:
    """A fitted scikit-learn RandomForest holding ``est``'s trees (as scikit-learn trees)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    trees = list(est.estimators_)  # oneDAL's trees converted (about 1 s per 500 large trees)
    shell = (RandomForestClassifier if cls else RandomForestRegressor)(**forest)
    shell.estimator_ = (DecisionTreeClassifier if cls else DecisionTreeRegressor)()
    shell.estimators_ = trees
    shell.n_features_in_ = est.n_features_in_
    shell.n_outputs_ = 1
    if cls:
        shell.classes_ = est.classes_
        shell.n_classes_ = est.n_classes_
    for tree in trees:
        if shift:  # leaf means of y + shift back to means of y
            tree.tree_.value[:] -= shift
        # scikit-learn's own trees keep their random_state; these were grown by oneDAL
        tree.random_state = None
    return shell


def _oob_result(
    fit: EngineFit, oob: tuple[np.ndarray, np.ndarray], subs: list[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-bag predictions from (raw predictions, rows no member left out): NaN for those
    rows in regression, uniform probabilities (so class 0) in classification."""
    raw, unseen = oob
    if fit.mode != CLASSIFICATION:
        pred = raw.astype(float, copy=True)
        pred[unseen] = np.nan
        return _tile(pred, subs), None
    prob = raw.astype(float, copy=True)
    prob[unseen] = 1.0 / fit.n_classes
    prob = prob / prob.sum(axis=1, keepdims=True)
    return _tile(prob.argmax(axis=1), subs), _tile(prob, subs)


class QRF(RF):
    """Quantile regression forest (Meinshausen; caret's ``qrf``), fitted by quantile-forest.

    rf's forest (500 trees, ``mtry``, nodesize 5; the same options), but each leaf keeps its
    training responses, so a prediction is a conditional quantile: the median, as caret's
    ``predict(..., what = 0.5)``, or ``QRF(options={"quantile": 0.9})``. Robust to outlying
    responses. Regression only, without out-of-bag scoring.
    """

    name = "qrf"
    option_names = ("n_trees", "nodesize", "quantile")
    label = "Quantile Random Forest"
    engine = "quantile-forest"
    modes = (REGRESSION,)
    tags = (
        "random forest",
        "ensemble",
        "bagging",
        "implicit feature selection",
        "quantile regression",
        "robust model",
    )
    takes_missing = False
    supports_oob = False

    def _estimator(self, data: TrainingData, params: dict[str, Any], seed: int) -> Any:
        from quantile_forest import RandomForestQuantileRegressor

        return RandomForestQuantileRegressor(**self._forest(data, params, seed))

    def check_task(self, mode: str, n_classes: int) -> None:
        """The quantile option is a probability."""
        q = self.options.get("quantile", 0.5)
        if not (isinstance(q, (int, float)) and 0.0 <= q <= 1.0):
            raise ValueError(f"qrf: options['quantile'] must be a number in [0, 1], not {q!r}")

    def predict(self, fitted: EngineFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        q = float(self.options.get("quantile", 0.5))
        return _tile(np.asarray(fitted.est.predict(X, quantiles=q), dtype=float), subs)


class ExtraTrees(_SklearnEnsemble):
    """Extremely randomised trees (caret's ``extraTrees``), fitted by scikit-learn's ExtraTrees*.

    500 trees on all rows (no bootstrap, so no out-of-bag rows; ``options={"n_trees": ...}``),
    one random cut per candidate predictor (extraTrees' ``numRandomCuts = 1``; scikit-learn has
    no other), ``mtry`` candidate predictors per split and leaves of at least ``min_node_size``
    rows.
    """

    name = "extra_trees"
    option_names = ("n_trees",)
    label = "Random Forest by Randomization"
    engine = "sklearn"
    tags = ("random forest", "ensemble", "tree-based", "implicit feature selection")
    params = (
        MTRY,
        Param(
            "min_node_size",
            "int",
            1,
            100000,
            label="Minimal Node Size",
            aliases=("min.node.size", "nodesize", "min_samples_leaf"),
        ),
    )
    complexity_order = (("mtry", True), ("min_node_size", False))
    takes_weights = True
    takes_missing = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """mtry = caret's var_seq(p, classification, len); min node size 1 / 5 (caret's ranger)."""
        p = data.X.shape[1]
        cls = data.mode == CLASSIFICATION
        return expand_grid(mtry=var_seq(p, cls, length), min_node_size=1 if cls else 5)

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """mtry from 1..p (caret) and min node size from 1..min(20, n) (caret's ranger)."""
        n, p = data.X.shape
        return pd.DataFrame(
            {
                "mtry": rng.integers(1, p + 1, length),
                "min_node_size": rng.integers(1, min(20, n) + 1, length),
            }
        )

    def _estimator(self, data: TrainingData, params: dict[str, Any], seed: int) -> Any:
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        engine = ExtraTreesClassifier if data.mode == CLASSIFICATION else ExtraTreesRegressor
        return engine(
            n_estimators=int(self.options.get("n_trees", 500)),
            max_features=_mtry(params, data.X.shape[1]),
            min_samples_leaf=int(params["min_node_size"]),
            bootstrap=False,
            n_jobs=1,
            random_state=_random_state(seed),
        )


class TreeBag(_SklearnEnsemble):
    """Bagged CART (caret's ``treebag``, after ipred): 25 unpruned trees on bootstrap samples.

    Trees are grown as ipred grows them (``minsplit = 2, cp = 0``, depth at most 30); class
    probabilities average the trees' leaf frequencies. ``options={"n_bags": ...}`` changes the
    number of trees. Out-of-bag predictions come from the same fit, under ``Control(method="oob")``.
    """

    name = "treebag"
    option_names = ("n_bags",)
    label = "Bagged CART"
    engine = "sklearn"
    tags = ("tree-based", "ensemble", "bagging")
    params = ()
    takes_weights = True
    takes_missing = True
    supports_oob = True

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """No tuning parameters: one candidate."""
        return pd.DataFrame(index=[0])

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """No tuning parameters: one candidate."""
        return pd.DataFrame(index=[0])

    def _estimator(self, data: TrainingData, params: dict[str, Any], seed: int) -> Any:
        from sklearn.ensemble import BaggingClassifier, BaggingRegressor
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        cls = data.mode == CLASSIFICATION
        tree = (DecisionTreeClassifier if cls else DecisionTreeRegressor)(max_depth=30)
        return (BaggingClassifier if cls else BaggingRegressor)(
            estimator=tree,
            n_estimators=int(self.options.get("n_bags", 25)),
            bootstrap=True,
            oob_score=data.oob,  # costs ~9% of a fit: only when asked for
            n_jobs=1,
            random_state=_random_state(seed),
        )

    def importance(self, fitted: EngineFit, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """The trees' impurity importances, averaged (caret averages the trees' rpart varImp)."""
        est = fitted.est
        out = np.zeros(est.n_features_in_)
        for tree, cols in zip(est.estimators_, est.estimators_features_, strict=True):
            out[cols] += tree.feature_importances_
        return out / len(est.estimators_)

    def oob_predict(
        self, fitted: EngineFit, subs: list[dict[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        return _oob(fitted, subs)


# -- CART with rpart's cost-complexity pruning ------------------------------------------------


def weakest_link(
    left: np.ndarray, right: np.ndarray, r_node: np.ndarray, active: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Breiman's weakest-link pruning sequence: (node, effective alpha) in pruning order."""
    # scikit-learn's _cost_complexity_prune step for step (same sums in the same order, ties to the
    # lowest node id), so with its impurity as risk it prunes as ccp_alpha does. r_node: node risks
    # (any common scale); active: internal nodes kept (default all; others are leaves).
    n = len(left)
    internal = left != -1 if active is None else (left != -1) & active
    parent = np.full(n, -1, dtype=np.intp)
    reach = np.zeros(n, dtype=bool)
    reach[0] = True
    for i in range(n):  # parents always precede their children in scikit-learn's node ids
        if reach[i] and internal[i]:
            parent[left[i]] = parent[right[i]] = i
            reach[left[i]] = reach[right[i]] = True
    internal &= reach
    r_branch = np.zeros(n)
    n_leaves = np.zeros(n, dtype=np.intp)
    for leaf in np.flatnonzero(reach & ~internal):
        r_branch[leaf] = cur = r_node[leaf]
        j = int(leaf)
        while j != 0:
            j = int(parent[j])
            r_branch[j] += cur
            n_leaves[j] += 1
    candidate = internal.copy()
    in_subtree = reach.copy()
    nodes: list[int] = []
    alphas: list[float] = []
    while candidate[0]:
        idx = np.flatnonzero(candidate)
        a = (r_node[idx] - r_branch[idx]) / (n_leaves[idx] - 1)
        k = int(np.argmin(a))
        node = int(idx[k])
        nodes.append(node)
        alphas.append(float(a[k]))
        stack = [node]
        while stack:
            j = stack.pop()
            if not in_subtree[j]:
                continue
            candidate[j] = in_subtree[j] = False
            if internal[j]:
                stack.extend((int(left[j]), int(right[j])))
        in_subtree[node] = True
        pruned = n_leaves[node] - 1
        n_leaves[node] = 0
        diff = r_node[node] - r_branch[node]
        r_branch[node] = r_node[node]
        j = int(parent[node])
        while j != -1:
            n_leaves[j] -= pruned
            r_branch[j] += diff
            j = int(parent[j])
    return np.array(nodes, dtype=np.intp), np.array(alphas, dtype=float)


@dataclass
class CartFit:
    """One grown (unpruned) tree and its weakest-link sequence: every cp is scored from it."""

    est: Any  # the scikit-learn DecisionTree*, grown without pruning
    mode: str
    values: np.ndarray  # (nodes, K) class probabilities or (nodes,) means
    r_node: np.ndarray  # node risk (rpart's risk, or the impurity if asked), see _node_risk
    depth: np.ndarray  # node depths (root 0)
    steps: np.ndarray  # internal nodes in weakest-link order
    rel_alpha: np.ndarray  # their complexities relative to the root risk, running maximum

    @property
    def left(self) -> np.ndarray:
        return self.est.tree_.children_left

    @property
    def right(self) -> np.ndarray:
        return self.est.tree_.children_right


def _relative(alphas: np.ndarray, r_root: float) -> np.ndarray:
    """Complexities relative to the root's risk (rpart's cp scale), made non-decreasing."""
    if alphas.size == 0:
        return alphas
    rel = alphas / r_root if r_root > 0 else np.zeros_like(alphas)
    return np.maximum.accumulate(rel)


def _node_risk(
    est: Any, X: np.ndarray, y: np.ndarray, w: np.ndarray | None, risk: str
) -> np.ndarray:
    """rpart's node risks (misclassified weight or weighted SSE), or the impurity if asked."""
    # Classification counts come from exact class sums over the training rows, so splits that
    # misclassify no fewer rows get complexity exactly 0. Only ratios to the root's risk matter;
    # SSE and impurity are on scikit-learn's r_node scale (divided by the total weight).
    t = est.tree_
    wn = t.weighted_n_node_samples
    if risk == "impurity" or not hasattr(est, "classes_"):
        return wn * t.impurity / wn[0]
    path = est.decision_path(X)
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    onehot = (y[:, None] == np.asarray(est.classes_)[None, :]) * w[:, None]
    counts = np.asarray(path.T @ onehot)
    return counts.sum(axis=1) - counts.max(axis=1)


def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Depth of every node (root 0); parents precede children in scikit-learn's node ids."""
    depth = np.zeros(len(left), dtype=np.intp)
    for i in range(len(left)):
        if left[i] != -1:
            depth[left[i]] = depth[right[i]] = depth[i] + 1
    return depth


def grow_cart(
    data: TrainingData,
    seed: int,
    min_split: int = 20,
    min_bucket: int = 7,
    max_depth: int = 30,
    risk: str = "rpart",
) -> CartFit:
    """Grow rpart's tree (minsplit, minbucket, maxdepth) unpruned and find its pruning sequence."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = data.mode == CLASSIFICATION
    est = (DecisionTreeClassifier if cls else DecisionTreeRegressor)(
        min_samples_split=int(min_split),
        min_samples_leaf=int(min_bucket),
        max_depth=int(max_depth),
        random_state=_random_state(seed),
    )
    y = _target(data)
    est.fit(data.X, y, sample_weight=data.weights)
    t = est.tree_
    if cls:
        v = t.value[:, 0, :]
        values = expand_proba(v / v.sum(axis=1, keepdims=True), est.classes_, data.n_classes)
    else:
        values = t.value[:, 0, 0].copy()
    r_node = _node_risk(est, data.X, y, data.weights, risk)
    steps, alphas = weakest_link(t.children_left, t.children_right, r_node)
    return CartFit(
        est=est,
        mode=data.mode,
        values=values,
        r_node=r_node,
        depth=_node_depths(t.children_left, t.children_right),
        steps=steps,
        rel_alpha=_relative(alphas, float(r_node[0])),
    )


def cp_table(fit: CartFit) -> pd.DataFrame:
    """rpart's cptable: CP (decreasing) and the number of splits of the tree pruned at that CP."""
    cps = sorted(set(fit.rel_alpha.tolist()) | {0.0}, reverse=True)
    n_internal = int((fit.left != -1).sum())
    nsplit = []
    for cp in cps:
        m = int(np.searchsorted(fit.rel_alpha, cp, side="right"))
        nsplit.append(n_internal - _n_removed(fit, fit.steps[:m]))
    return pd.DataFrame({"CP": cps, "nsplit": nsplit})


def _n_removed(fit: CartFit, collapsed: np.ndarray) -> int:
    """Internal nodes gone when the nodes ``collapsed`` become leaves."""
    rep = _representatives(fit.left, fit.right, fit.depth, collapsed)
    internal = fit.left != -1
    return int((internal & ((rep != np.arange(len(rep))) | _mask(len(rep), collapsed))).sum())


def _mask(n: int, nodes: np.ndarray) -> np.ndarray:
    """A boolean mask of length n, True at ``nodes``."""
    m = np.zeros(n, dtype=bool)
    m[nodes] = True
    return m


def _representatives(
    left: np.ndarray, right: np.ndarray, depth: np.ndarray, collapsed: np.ndarray
) -> np.ndarray:
    """For every node, the node whose value it predicts with: its highest collapsed ancestor."""
    n = len(left)
    rep = np.arange(n)
    stop = _mask(n, collapsed)  # a collapsed node, or one below a collapsed node
    internal = np.flatnonzero(left != -1)
    for d in range(int(depth.max()) + 1 if n else 0):
        par = internal[depth[internal] == d]
        if par.size == 0:
            continue
        target = np.where(stop[par], rep[par], -1)
        for child in (left[par], right[par]):
            rep[child] = np.where(target >= 0, target, child)
            stop[child] |= stop[par]
    return rep


def _pruned_rep(fit: CartFit, cp: float, maxdepth: int | None = None) -> np.ndarray:
    """Node representatives of the tree truncated at ``maxdepth`` and pruned at ``cp``."""
    if maxdepth is None or maxdepth >= int(fit.depth.max()):
        steps, rel = fit.steps, fit.rel_alpha
        cut = np.empty(0, dtype=np.intp)
    else:
        internal = fit.left != -1
        cut = np.flatnonzero(internal & (fit.depth == maxdepth))
        steps, alphas = weakest_link(fit.left, fit.right, fit.r_node, fit.depth < maxdepth)
        rel = _relative(alphas, float(fit.r_node[0]))
    m = int(np.searchsorted(rel, cp, side="right"))
    return _representatives(fit.left, fit.right, fit.depth, np.concatenate([steps[:m], cut]))


def _cart_importance(fit: CartFit, rep: np.ndarray) -> np.ndarray:
    """Weighted impurity decrease summed over the splits kept in the pruned tree, per column."""
    t = fit.est.tree_
    kept = np.flatnonzero((fit.left != -1) & (rep == np.arange(len(rep))))
    kept = kept[rep[fit.left[kept]] == fit.left[kept]]  # its split survives pruning
    wn, imp = t.weighted_n_node_samples, t.impurity
    lc, rc = fit.left[kept], fit.right[kept]
    gain = wn[kept] * imp[kept] - wn[lc] * imp[lc] - wn[rc] * imp[rc]
    return np.bincount(t.feature[kept], weights=gain, minlength=fit.est.n_features_in_)


class _Cart(Model):
    """Shared prediction of the pruned-CART models (no name: not registered)."""

    engine = "sklearn"
    tags = ("tree-based", "implicit feature selection")
    takes_weights = True
    takes_missing = True

    def _reps(self, fitted: CartFit, subs: list[dict[str, Any]]) -> list[np.ndarray]:
        """Per sub, every node's representative in that sub's pruned tree."""
        raise NotImplementedError

    def _grow(self, data: TrainingData, seed: int, max_depth: int | None = None) -> CartFit:
        """rpart.control's minsplit, minbucket (round(minsplit / 3)) and maxdepth, from options."""
        o = self.options
        min_split = int(o.get("minsplit", 20))
        return grow_cart(
            data,
            seed,
            min_split=min_split,
            min_bucket=int(o.get("minbucket", max(round(min_split / 3), 1))),
            max_depth=int(o.get("maxdepth", 30)) if max_depth is None else max_depth,
            risk=str(o.get("risk", "rpart")),
        )

    def _table(self, data: TrainingData) -> pd.DataFrame:
        """caret's initial fit for the grids: rpart(cp = 0) on all rows, its cp table."""
        return cp_table(self._grow(data, seed=0))

    def _values(self, fitted: CartFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        """Each row's pruned-leaf value per sub: (S, n, K) probabilities or (S, n) means."""
        leaf = fitted.est.apply(X)
        return np.stack([fitted.values[rep[leaf]] for rep in self._reps(fitted, subs)])

    def predict(self, fitted: CartFit, X: np.ndarray, subs: list[dict[str, Any]]) -> np.ndarray:
        out = self._values(fitted, X, subs)
        return out.argmax(axis=2) if fitted.mode == CLASSIFICATION else out

    def predict_proba(
        self, fitted: CartFit, X: np.ndarray, subs: list[dict[str, Any]]
    ) -> np.ndarray:
        return self._values(fitted, X, subs)

    def importance(self, fitted: CartFit, subs: list[dict[str, Any]]) -> np.ndarray | None:
        """Impurity decrease over the splits of the pruned tree (first sub)."""
        return _cart_importance(fitted, self._reps(fitted, subs[:1])[0])


class RPart(_Cart):
    """CART tuned by the complexity parameter (caret's ``rpart``): one tree, pruned per cp.

    The tree is grown as rpart grows it (``minsplit = 20``, ``minbucket = 7``, depth at most 30;
    options ``minsplit``, ``minbucket``, ``maxdepth``) by scikit-learn, unpruned, and then pruned
    to each ``cp`` by weakest-link cost-complexity pruning on rpart's risk (misclassified weight,
    or the sum of squares) relative to the root's: a split survives when its complexity is above
    cp, as in ``prune.rpart``. ``options={"risk": "impurity"}`` prunes on scikit-learn's impurity
    instead (then cp is ``ccp_alpha`` divided by the root's impurity). Surrogate splits are not
    used: missing values go where scikit-learn sent them in training.
    """

    name = "rpart"
    option_names = ()
    label = "CART"
    params = (Param("cp", "float", 0.0, 1.0, label="Complexity Parameter"),)
    submodel = ("cp",)
    complexity_order = (("cp", False),)

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: the cp=0 tree's len largest cp-table CPs (an even CP sequence if fewer)."""
        cps = self._table(data)["CP"].to_numpy()
        if len(cps) < length:
            return pd.DataFrame({"cp": np.linspace(cps.min(), cps.max(), length)})
        return pd.DataFrame({"cp": cps[:length]})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret: unique(sample(cptable CP values, len, replace = TRUE))."""
        cps = self._table(data)["CP"].to_numpy()
        return pd.DataFrame({"cp": np.unique(rng.choice(cps, length))})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> CartFit:
        """Grow once; every cp is a pruning of this tree."""
        return self._grow(data, seed)

    def _reps(self, fitted: CartFit, subs: list[dict[str, Any]]) -> list[np.ndarray]:
        return [_pruned_rep(fitted, float(s["cp"])) for s in subs]


class RPart2(_Cart):
    """CART tuned by the maximum depth (caret's ``rpart2``): one tree, truncated per depth.

    Grown as ``rpart`` is, to the largest requested depth; each smaller depth is that tree cut at
    the depth (a depth-limited tree grows the same nodes) and then pruned at rpart's default
    ``cp = 0.01`` (option ``cp``), as ``rpart(maxdepth = d)`` does.
    """

    name = "rpart2"
    option_names = ("cp",)
    label = "CART"
    params = (Param("maxdepth", "int", 1, 30, label="Max Tree Depth", aliases=("max_depth",)),)
    submodel = ("maxdepth",)
    complexity_order = (("maxdepth", True),)

    def default_grid(self, data: TrainingData, length: int) -> pd.DataFrame:
        """caret: the cp table's split counts between 1 and 30 (first ``len``) as depths."""
        ns = self._table(data)["nsplit"].to_numpy()
        ns = ns[(ns > 0) & (ns <= 30)]
        return pd.DataFrame({"maxdepth": ns[:length].astype(int)})

    def random_grid(
        self, data: TrainingData, length: int, rng: np.random.Generator
    ) -> pd.DataFrame:
        """caret: unique(sample(those split counts, len, replace = TRUE))."""
        ns = self._table(data)["nsplit"].to_numpy()
        ns = ns[(ns > 0) & (ns <= 30)]
        if ns.size == 0:
            ns = np.array([1])
        return pd.DataFrame({"maxdepth": np.unique(rng.choice(ns, length)).astype(int)})

    def fit(
        self, data: TrainingData, params: dict[str, Any], subs: list[dict[str, Any]], seed: int
    ) -> CartFit:
        """Grow once to the deepest requested depth."""
        return self._grow(data, seed, max_depth=max(int(s["maxdepth"]) for s in subs))

    def _reps(self, fitted: CartFit, subs: list[dict[str, Any]]) -> list[np.ndarray]:
        cp = float(self.options.get("cp", 0.01))
        return [_pruned_rep(fitted, cp, int(s["maxdepth"])) for s in subs]
