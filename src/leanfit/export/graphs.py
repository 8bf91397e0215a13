"""Hand-built ONNX graphs for models no converter covers: linear, discriminant, kernel, knn.

Each builder reads a fitted model's own numbers (coefficients, class means, eigenvectors, training
rows) and writes the arithmetic of its ``predict`` / ``predict_proba`` as ONNX operators, in
float64 inside the graph (the input is cast up, the output down), so the graph agrees with leanfit
to float32 output precision. Every builder returns ``(model proto, output name, class codes)`` for
``leanfit.export.onnx._finalize``; the dispatch table is ``onnx._CONVERTERS``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from .onnx import CLASSIFICATION, OPSET, _Converted, _Spec

__all__ = [
    "affine",
    "discriminant",
    "gaussprocess",
    "kernel_ridge",
    "knn",
    "naive_bayes",
]


class _Graph:
    """A small builder: constants, nodes, one float32 input ``X`` [N, p]."""

    def __init__(self, p: int) -> None:
        self.p = p
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def _fresh(self, stem: str) -> str:
        self._n += 1
        return f"_lf_{stem}_{self._n}"

    def const(self, value: Any, dtype: Any = np.float64) -> str:
        from onnx import numpy_helper

        name = self._fresh("c")
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        from onnx import helper

        out = self._fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def x(self) -> str:
        """The input as float64."""
        from onnx import TensorProto

        return self.op("Cast", "X", to=TensorProto.DOUBLE)

    def standardized(self, x: str, center: Any = None, scale: Any = None) -> str:
        if center is not None:
            x = self.op("Sub", x, self.const(np.asarray(center, dtype=float)))
        if scale is not None:
            x = self.op("Div", x, self.const(np.asarray(scale, dtype=float)))
        return x

    def sq_dist(self, x: str, rows: np.ndarray) -> str:
        """Squared Euclidean distances [N, n] to fixed rows, as ||x||^2 + ||r||^2 - 2 x r'."""
        rows = np.asarray(rows, dtype=float)
        xx = self.op("ReduceSum", self.op("Mul", x, x), self.const([1], np.int64), keepdims=1)
        cross = self.op("MatMul", x, self.const(rows.T))
        d2 = self.op(
            "Sub",
            self.op("Add", xx, self.const((rows**2).sum(axis=1)[None, :])),
            self.op("Mul", self.const(2.0), cross),
        )
        return self.op("Max", d2, self.const(0.0))

    def head(self, eta: str, link: str) -> str:
        """Probabilities from scores: "logistic" (one column), "softmax", or values."""
        if link == "logistic":
            p1 = self.op("Sigmoid", eta)
            return self.op("Concat", self.op("Sub", self.const(1.0), p1), p1, axis=1)
        if link == "softmax":
            return self.op("Softmax", eta, axis=1)
        return eta

    def model(self, out: str, name: str) -> tuple[Any, str]:
        """The ModelProto computing ``out`` (cast to float32)."""
        from onnx import TensorProto, helper

        final = self.op("Cast", out, to=TensorProto.FLOAT)
        graph = helper.make_graph(
            self.nodes,
            name,
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", self.p])],
            [helper.make_tensor_value_info(final, TensorProto.FLOAT, None)],
            self.inits,
        )
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        return proto, final


def _sub_value(model: Any, sub: dict[str, Any], key: str) -> Any:
    if key not in sub:
        raise ValueError(f"exporting {model.name!r} needs its sub-model value {key!r}")
    return sub[key]


# -- linear models: scores = standardize(X) @ W + b, then a link ----------------------------------


def _lr(est: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """scikit-learn LogisticRegression: (W, b, link) of its predict_proba."""
    W = np.asarray(est.coef_, dtype=float).T
    b = np.asarray(est.intercept_, dtype=float)
    return W, b, ("logistic" if W.shape[1] == 1 else "softmax")


def _xgb_linear(fitted: Any, sub: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, str]:
    """xgboost's gblinear booster: weights and biases from its JSON model, plus base score."""
    count = int(sub.get("nrounds", max(fitted.est)))
    if count not in fitted.est:
        raise ValueError(f"xgb_linear was fitted for nrounds {sorted(fitted.est)}, not {count}")
    booster = fitted.est[count]
    raw = json.loads(bytes(booster.save_raw("json")).decode())
    learner = raw["learner"]
    weights = np.asarray(learner["gradient_booster"]["model"]["weights"], dtype=float)
    p = int(booster.num_features())
    k = len(weights) // (p + 1)
    weights = weights.reshape(p + 1, k)
    W, b = weights[:p], weights[p].copy()
    base = float(np.asarray(json.loads(learner["learner_model_param"]["base_score"])).ravel()[0])
    objective = learner["objective"]["name"]
    if objective == "binary:logistic":
        b += math.log(base / (1.0 - base))
        return W, b, "logistic"
    if objective == "multi:softprob":
        return W, b, "softmax"  # a base score common to all classes cancels in the softmax
    if objective == "reg:squarederror":
        return W, b + base, "identity"
    raise NotImplementedError(f"xgb_linear objective {objective!r} is not exported")


def affine(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """Linear and generalised linear models, PLS / PCR and nearest shrunken centroids."""
    name = model.name
    center: Any = None
    scale: Any = None
    classes: np.ndarray | None = None
    link = "identity"
    if isinstance(fitted, dict) and "constant" in fitted:
        raise NotImplementedError(f"this {name!r} fit saw one class only: nothing to export")
    if name in ("lm", "glm") and "coef" in fitted:
        W, b = np.asarray(fitted["coef"], float)[:, None], np.array([fitted["intercept"]], float)
    elif name == "glm":
        W, b, link = _lr(fitted["model"])
        classes = np.asarray(fitted["classes"], dtype=int)
    elif name == "multinom":
        center, scale = fitted["mu"], fitted["sd"]
        W, b, link = _lr(fitted["model"])
        classes = np.asarray(fitted["model"].classes_, dtype=int)
    elif name == "glmnet":
        center, scale = fitted["mu"], fitted["sd"]
        lam = float(_sub_value(model, sub, "lambda"))
        i = int(np.argmin(np.abs(fitted["lambdas"] - lam)))
        W, b = np.asarray(fitted["coef"][i], float), np.asarray(fitted["intercept"][i], float)
        if fitted["mode"] == CLASSIFICATION:
            link = "logistic" if fitted["k"] == 2 else "softmax"
            if link == "logistic":
                W, b = W[:, :1], b[:1]
    elif name in ("lasso", "enet", "lars", "lars2", "ridge"):
        path = fitted["path"] if name == "ridge" else fitted
        W = path.original(model._coefs(fitted, [sub]))
        center, b = path.meanx, np.array([path.mu], float)
    elif name in ("pls", "pcr"):
        top = fitted.coefs.shape[0]
        W = fitted.coefs[min(int(_sub_value(model, sub, "ncomp")), top) - 1]
        center, b = fitted.x_mean, np.asarray(fitted.y_mean, float)
        link = "softmax" if fitted.mode == CLASSIFICATION else "identity"
    elif name in ("huber", "quantile_reg", "bayes_ridge"):
        center, scale = fitted.center, fitted.scale
        W = np.asarray(fitted.estimator.coef_, float)[:, None]
        b = np.atleast_1d(np.asarray(fitted.estimator.intercept_, float))
    elif name == "xgb_linear":
        W, b, link = _xgb_linear(fitted, sub)
    elif name == "pam":
        c = fitted.shrunk(float(_sub_value(model, sub, "threshold")))
        present = np.isfinite(fitted.log_prior)
        center, scale, link = fitted.overall, fitted.sd, "softmax"
        W = c[:, present]
        b = (-0.5 * (c**2).sum(axis=0) + fitted.log_prior)[present]
        classes = np.flatnonzero(present)
    else:
        raise NotImplementedError(f"no linear graph for method {name!r}")
    if spec.mode == CLASSIFICATION and classes is None:
        classes = np.arange(spec.n_classes)
    g = _Graph(spec.n_features)
    x = g.x()
    if name == "xgb_linear":  # xgboost's linear booster skips missing values: they add 0
        x = g.op("Where", g.op("IsNaN", x), g.const(0.0), x)
    z = g.standardized(x, center, scale)
    eta = g.op("Add", g.op("MatMul", z, g.const(W)), g.const(b))
    proto, out = g.model(g.head(eta, link), spec.name)
    return proto, out, classes


# -- Gaussian discriminants: score_k = c_k - ||(x - m_k) M_k||^2 / 2, softmax ----------------------


def _gaussian_scores(
    g: _Graph, x: str, means: np.ndarray, mats: list[np.ndarray], consts: np.ndarray
) -> str:
    """Per-class log scores [N, K] for class means, whitening matrices and constants."""
    K, p = len(mats), means.shape[1]
    B = np.concatenate(mats, axis=1)  # (p, K * q)
    q = mats[0].shape[1]
    off = np.concatenate([means[k] @ mats[k] for k in range(K)])
    z = g.op("Sub", g.op("MatMul", x, g.const(B)), g.const(off))
    sq = g.op("Reshape", g.op("Mul", z, z), g.const([-1, K, q], np.int64))
    maha = g.op("ReduceSum", sq, g.const([2], np.int64), keepdims=0)
    del p
    return g.op("Sub", g.const(consts), g.op("Mul", g.const(0.5), maha))


def _rda_factors(
    fit: Any, gamma: float, lam: float
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """RDA's (present classes, whitening matrices, constants) at one (gamma, lambda), as
    ``leanfit.models.discriminant.rda_discriminants`` computes its discriminant scores."""
    from ..models.discriminant import _floor_eigenvalues

    p = fit.means.shape[1]
    log_prior = np.log(np.where(fit.present, fit.class_n, 1.0) / fit.total_n)
    pooled_eigs = np.linalg.eigvalsh(fit.pooled / fit.total_n)
    fallback = float(pooled_eigs.max()) if pooled_eigs.max() > 0 else 1.0
    present = np.flatnonzero(fit.present)
    mats, consts = [], []
    for k in present:
        denom = (1.0 - lam) * fit.class_n[k] + lam * fit.total_n
        A = ((1.0 - lam) * fit.scatter[k] + lam * fit.pooled) / denom
        vals, vecs = np.linalg.eigh(A)
        vals = np.clip(vals, 0.0, None)
        ev = _floor_eigenvalues((1.0 - gamma) * vals + gamma * float(np.trace(A)) / p, fallback)
        mats.append(vecs / np.sqrt(ev))
        consts.append(log_prior[k] - 0.5 * np.log(ev).sum())
    return present, mats, np.asarray(consts)


def discriminant(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """lda, qda (GaussianFit) and rda (its statistics at the chosen gamma and lambda)."""
    if hasattr(fitted, "scatter"):  # RDAFit
        gamma = float(_sub_value(model, sub, "gamma"))
        present, mats, consts = _rda_factors(fitted, gamma, float(_sub_value(model, sub, "lambda")))
    else:
        present = np.flatnonzero(np.isfinite(fitted.log_prior))
        mats = [fitted.vecs[k] / np.sqrt(fitted.vals[k]) for k in present]
        consts = np.array(
            [fitted.log_prior[k] - 0.5 * np.log(fitted.vals[k]).sum() for k in present]
        )
    g = _Graph(spec.n_features)
    scores = _gaussian_scores(g, g.x(), fitted.means[present], mats, consts)
    proto, out = g.model(g.head(scores, "softmax"), spec.name)
    return proto, out, present


def naive_bayes(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """naive_bayes / nb: Gaussian or kernel class densities, zero densities set to 0.001."""
    from ..models.discriminant import THRESHOLD

    present = np.flatnonzero(np.isfinite(fitted.log_prior))
    g = _Graph(spec.n_features)
    x = g.x()
    half_log_2pi = 0.5 * math.log(2.0 * math.pi)
    columns = []
    if fitted.usekernel:
        for j in range(spec.n_features):
            one = g.const([1], np.int64)
            columns.append(
                g.op("Slice", x, g.const([j], np.int64), g.const([j + 1], np.int64), one)
            )
    cols = []
    for k in present:
        if not fitted.usekernel:
            z = g.op("Div", g.op("Sub", x, g.const(fitted.means[k])), g.const(fitted.sds[k]))
            logd = g.op(
                "Sub",
                g.op("Mul", g.const(-0.5), g.op("Mul", z, z)),
                g.const(np.log(fitted.sds[k]) + half_log_2pi),
            )
        else:
            pts, bw = np.asarray(fitted.points[k], float), np.asarray(fitted.bandwidths[k], float)
            parts = []  # column by column: memory [N, n_k], not [N, n_k, p]
            for j in range(pts.shape[1]):
                z = g.op("Div", g.op("Sub", columns[j], g.const(pts[None, :, j])), g.const(bw[j]))
                logpdf = g.op("Mul", g.const(-0.5), g.op("Mul", z, z))
                lse = g.op("ReduceLogSumExp", logpdf, g.const([1], np.int64), keepdims=1)
                parts.append(lse)
            lse_all = g.op("Concat", *parts, axis=1) if len(parts) > 1 else parts[0]
            logd = g.op("Sub", lse_all, g.const(np.log(len(pts) * bw) + half_log_2pi))
        is_ninf = g.op("IsInf", logd, detect_positive=0)
        logd = g.op("Where", is_ninf, g.const(math.log(THRESHOLD)), logd)
        total = g.op("ReduceSum", logd, g.const([1], np.int64), keepdims=1)
        cols.append(g.op("Add", total, g.const(fitted.log_prior[k])))
    scores = g.op("Concat", *cols, axis=1) if len(cols) > 1 else cols[0]
    proto, out = g.model(g.head(scores, "softmax"), spec.name)
    return proto, out, present


# -- kernel models: exp(-sigma ||x - r||^2) against the training rows ------------------------------


def gaussprocess(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """gaussprocess: RBF posterior mean (regression) or the binary Laplace classifier."""
    g = _Graph(spec.n_features)
    xs = g.standardized(g.x(), fitted.center, fitted.scale)

    def kernel(rows: np.ndarray) -> str:
        d2 = g.sq_dist(xs, rows)
        return g.op("Exp", g.op("Mul", g.const(-float(fitted.sigma)), d2))

    if spec.mode != CLASSIFICATION:
        f = g.op("MatMul", kernel(fitted.X), g.const(np.asarray(fitted.alpha, float)[:, None]))
        out = g.op("Add", g.op("Mul", f, g.const(fitted.y_scale)), g.const(fitted.y_center))
        proto, name = g.model(out, spec.name)
        return proto, name, None
    if fitted.constant_class is not None:
        raise NotImplementedError("this gaussprocess fit saw one class only: nothing to export")
    classes = sorted({c for i, j, _, _ in fitted.pairs for c in (i, j)})
    pos = {c: k for k, c in enumerate(classes)}
    half = g.const(np.full((1, 1), 0.5))
    r = {(a, b): half for a in range(len(classes)) for b in range(len(classes)) if a != b}
    for i, j, rows, dual in fitted.pairs:
        f = g.op("MatMul", kernel(fitted.X[rows]), g.const(np.asarray(dual, float)[:, None]))
        p_ij = g.op("Sigmoid", f)  # r[i, j] = P(class i | i or j), [N, 1]
        r[pos[i], pos[j]], r[pos[j], pos[i]] = p_ij, g.op("Sub", g.const(1.0), p_ij)
    if len(classes) == 2:
        probs = g.op("Concat", r[0, 1], r[1, 0], axis=1)
    else:
        probs = _couple_minpair(g, r, len(classes))
    proto, name = g.model(probs, spec.name)
    return proto, name, np.array(classes)


def _couple_minpair(g: _Graph, r: dict[tuple[int, int], str], K: int) -> str:
    """kernlab's minpair coupling (``leanfit.models.kernel.couple_minpair``) unrolled for K
    classes: Q y = 1 solved by Gaussian elimination on [N, 1] entries, p = y / sum(y).

    Q = sum over pairs of v v' (v_i = r[j, i], v_j = -r[i, j]) is positive definite for three or
    more classes, so elimination needs no pivoting; p equals the bordered system's solution.
    """
    Q = [[""] * K for _ in range(K)]
    for a in range(K):
        for b in range(K):
            if a != b:
                Q[a][b] = g.op("Neg", g.op("Mul", r[b, a], r[a, b]))
        squares = [g.op("Mul", r[b, a], r[b, a]) for b in range(K) if b != a]
        Q[a][a] = g.op("Sum", *squares)
    y = [g.const(np.ones((1, 1))) for _ in range(K)]
    for k in range(K):
        for i in range(k + 1, K):
            f = g.op("Div", Q[i][k], Q[k][k])
            for j in range(k + 1, K):
                Q[i][j] = g.op("Sub", Q[i][j], g.op("Mul", f, Q[k][j]))
            y[i] = g.op("Sub", y[i], g.op("Mul", f, y[k]))
    x: list[str] = [""] * K
    for i in reversed(range(K)):
        acc = y[i]
        for j in range(i + 1, K):
            acc = g.op("Sub", acc, g.op("Mul", Q[i][j], x[j]))
        x[i] = g.op("Div", acc, Q[i][i])
    sol = g.op("Concat", *x, axis=1)
    return g.op("Div", sol, g.op("ReduceSum", sol, g.const([1], np.int64), keepdims=1))


def kernel_ridge(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """kernel_ridge: k(x, X) times the dual weights at the chosen alpha."""
    g = _Graph(spec.n_features)
    xs = g.standardized(g.x(), fitted.center, fitted.scale)
    K = g.op("Exp", g.op("Mul", g.const(-float(fitted.gamma)), g.sq_dist(xs, fitted.X)))
    dual = fitted.dual(float(_sub_value(model, sub, "alpha")))
    f = g.op("MatMul", K, g.const(dual[:, None]))
    out = g.op("Add", g.op("Mul", f, g.const(fitted.y_scale)), g.const(fitted.y_center))
    proto, name = g.model(out, spec.name)
    return proto, name, None


def svm_regression(fitted: Any, spec: _Spec) -> _Converted:
    """eps-SVR (SVMFit): sum of dual weights times the kernel at the support vectors, in float64
    (libsvm's own float32 operator drifts by ~1e-5 relative over hundreds of vectors)."""
    est = fitted.estimator
    sv = np.asarray(est.support_vectors_, dtype=float)
    gamma = float(est._gamma)
    g = _Graph(spec.n_features)
    xs = g.standardized(g.x(), fitted.center, fitted.scale)
    if est.kernel == "rbf":
        K = g.op("Exp", g.op("Mul", g.const(-gamma), g.sq_dist(xs, sv)))
    elif est.kernel in ("linear", "poly"):
        K = g.op("MatMul", xs, g.const(sv.T))
        if est.kernel == "poly":
            base = g.op("Add", g.op("Mul", g.const(gamma), K), g.const(float(est.coef0)))
            K = g.op("Pow", base, g.const(float(est.degree)))
    else:
        raise NotImplementedError(f"an SVR with kernel {est.kernel!r} is not exported")
    f = g.op("Add", g.op("MatMul", K, g.const(np.asarray(est.dual_coef_, float).T)),
             g.const(np.asarray(est.intercept_, float)))  # fmt: skip
    out = g.op("Add", g.op("Mul", f, g.const(fitted.y_scale)), g.const(fitted.y_center))
    proto, name = g.model(out, spec.name)
    return proto, name, None


# -- k nearest neighbours: every training row within the k-th distance votes -----------------------


def knn(model: Any, fitted: Any, sub: dict[str, Any], spec: _Spec) -> _Converted:
    """knn: vote fractions (or the mean response) of the k nearest rows and all tied with the
    k-th, distances computed directly as leanfit does (so identical rows tie exactly)."""
    from onnx import TensorProto

    n = len(fitted.y)
    k = max(1, min(int(_sub_value(model, sub, "k")), n))
    g = _Graph(spec.n_features)
    # Summed column by column: memory stays [N, n] (not [N, n, p]) and identical rows, or
    # integer-valued columns, tie exactly as in leanfit's direct computation.
    x, train = g.x(), np.asarray(fitted.X, float)
    d2 = ""
    for j in range(train.shape[1]):
        col = g.op("Slice", x, g.const([j], np.int64), g.const([j + 1], np.int64),
                   g.const([1], np.int64))  # fmt: skip
        diff = g.op("Sub", col, g.const(train[None, :, j]))
        sq = g.op("Mul", diff, diff)
        d2 = g.op("Add", d2, sq) if d2 else sq
    from onnx import helper

    vals = g._fresh("topk")
    g.nodes.append(
        helper.make_node(
            "TopK", [d2, g.const([k], np.int64)], [vals, g._fresh("idx")], largest=0, sorted=1
        )
    )
    kth = g.op("Slice", vals, g.const([k - 1], np.int64), g.const([k], np.int64),
               g.const([1], np.int64))  # fmt: skip
    mask = g.op("Cast", g.op("LessOrEqual", d2, kth), to=TensorProto.DOUBLE)
    voters = g.op("ReduceSum", mask, g.const([1], np.int64), keepdims=1)
    if spec.mode == CLASSIFICATION:
        onehot = np.eye(spec.n_classes)[np.asarray(fitted.y, dtype=int)]
        out = g.op("Div", g.op("MatMul", mask, g.const(onehot)), voters)
        classes: np.ndarray | None = np.arange(spec.n_classes)
    else:
        ys = np.asarray(fitted.y, float)[:, None]
        out, classes = g.op("Div", g.op("MatMul", mask, g.const(ys)), voters), None
    proto, name = g.model(out, spec.name)
    return proto, name, classes
