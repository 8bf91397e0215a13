"""Exact path-dependent TreeSHAP for LightGBM boosters, compiled with numba: the values
LightGBM's ``predict(pred_contrib=True)`` gives, several times faster.

LightGBM walks every tree recursively, extending and unwinding a path of weights at every
node (O(leaves x depth^2) per row and tree). Here each leaf is precomputed once: its value,
the unique features on its path and each feature's "zero fraction" z (the share of training
rows that follows the path's splits on that feature: the product of child / parent counts).
For one row, O is the set of those features whose splits the row follows. The Shapley value of
the leaf's game v(S) = value x prod_{j in S} 1[j in O] x prod_{j not in S} z_j is

    phi_i = value x (1[i in O] - z_i) x prod_{j outside O, j != i} z_j
            x sum_{S subset of O \\ {i}} |S|! (d - |S| - 1)! / d! x prod_{j in O\\S, j != i} z_j

and, since |S|! (d-|S|-1)! / d! = integral_0^1 t^|S| (1-t)^(d-1-|S|) dt, the sum is the
integral of (1-t)^(d-1-|T|) prod_{j in T} (t + z_j (1-t)) over [0, 1] (T = O without i): a
polynomial of degree d - 1, which Gauss-Legendre quadrature with ceil(d/2) nodes integrates
exactly (the idea of Linear TreeSHAP, Yu et al., NeurIPS 2022). That is O(depth^2 / 2) per
leaf with no recursion. Features a row does not follow share one value, so they cost O(1).

Categorical splits, linear trees and random-forest mode (averaged trees) are not handled here
(``read_lightgbm`` refuses them); the caller then uses LightGBM's own pred_contrib.
"""

from __future__ import annotations

import functools
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Forest", "available", "model_text", "raw_scores", "read_lightgbm", "shap_values"]

_KEYS = (
    "num_leaves",
    "split_feature",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "leaf_count",
    "internal_count",
)
_DEFAULT_LEFT = 2  # LightGBM's decision_type bit 1 (bits 2-3: the missing-value type)


def available() -> bool:
    """Whether numba (installed with the ``explain`` extra, as shap needs it) can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Forest:
    """A LightGBM model's trees as flat arrays, with every leaf's path precomputed.

    Internal nodes of tree t are ``node_off[t]:node_off[t+1]``, its leaves
    ``leaf_off[t]:leaf_off[t+1]``; a leaf's path edges are ``edge_off[l]:edge_off[l+1]`` (the
    node, local to its tree, whether the edge goes left, and the edge's slot: which of the
    leaf's unique features it splits on) and its unique features and zero fractions the first
    ``leaf_d[l]`` entries of ``slot_feature`` / ``slot_z`` from ``edge_off[l]``."""

    outputs: int
    tree_output: np.ndarray
    node_off: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing: np.ndarray
    default_left: np.ndarray
    leaf_off: np.ndarray
    leaf_value: np.ndarray
    leaf_d: np.ndarray
    edge_off: np.ndarray
    edge_node: np.ndarray
    edge_left: np.ndarray
    edge_slot: np.ndarray
    slot_feature: np.ndarray
    slot_z: np.ndarray
    base: np.ndarray
    max_depth: int


def _numbers(parts: list[str], dtype: Any) -> np.ndarray:
    """The space-separated numbers of every tree's field, as one array of ``dtype``."""
    text = " ".join(p for p in parts if p)
    if not text:
        return np.zeros(0, dtype=dtype)
    return np.fromstring(text, dtype=dtype, sep=" ")


def _fields(text: str) -> tuple[dict[str, list[str]], int]:
    """Each tree's fields of ``_KEYS`` from LightGBM's model text, and trees per round;
    ValueError for categorical splits, linear trees or averaged (random-forest) output.

    LightGBM writes every tree's lines in one order, so each field sits at the same offset
    from its tree's ``Tree=`` line; every line taken is checked to be the field expected."""
    head, _, rest = text.partition("\nTree=")
    if "\naverage_output" in head:  # random-forest mode: LightGBM averages the trees
        raise ValueError("average_output")
    per_round = 1
    for line in head.split("\n"):
        if line.startswith("num_tree_per_iteration="):
            per_round = int(line.split("=", 1)[1])
    lines = ("Tree=" + rest.partition("\nend of trees")[0]).split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("Tree=")]
    first = lines[starts[0] : starts[1] if len(starts) > 1 else len(lines)]
    offset = {line.partition("=")[0]: i for i, line in enumerate(first)}
    out: dict[str, list[str]] = {}
    for key in ("num_cat", *_KEYS, "is_linear"):  # num_cat first: categorical trees differ below
        if key not in offset:
            raise ValueError(f"LightGBM's model text has no {key!r} in its first tree")
        mark = key + "="
        taken = [lines[s + offset[key]] for s in starts]
        if not all(t.startswith(mark) for t in taken):
            raise ValueError(f"LightGBM's trees are not all written alike ({key!r})")
        out[key] = [t[len(mark) :] for t in taken]
        if key in ("num_cat", "is_linear") and any(v != "0" for v in out.pop(key)):
            raise ValueError("categorical splits" if key == "num_cat" else "linear trees")
    return out, per_round


def model_text(booster: Any, count: int) -> str:
    """LightGBM's model text of the first ``count`` rounds, through ``save_model``: it
    serialises once, where ``model_to_string`` serialises twice for a large model."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.txt")
        booster.save_model(path, num_iteration=count)
        with open(path, encoding="utf-8") as fh:
            return fh.read()


def read_lightgbm(booster: Any, count: int) -> Forest:
    """The first ``count`` rounds of a LightGBM booster as a ``Forest``; ValueError if it has
    categorical splits, linear trees or averaged output (random-forest mode)."""
    f, per_round = _fields(model_text(booster, count))
    leaves = _numbers(f["num_leaves"], np.int64)
    inner = np.maximum(leaves - 1, 0)
    node_off = np.concatenate([[0], np.cumsum(inner)]).astype(np.int64)
    leaf_off = np.concatenate([[0], np.cumsum(leaves)]).astype(np.int64)
    decision = _numbers(f["decision_type"], np.int64)
    internal_count = _numbers(f["internal_count"], np.int64).astype(np.float64)
    leaf_count = _numbers(f["leaf_count"], np.int64).astype(np.float64)
    left = _numbers(f["left_child"], np.int64)
    right = _numbers(f["right_child"], np.int64)
    feature = _numbers(f["split_feature"], np.int64)
    leaf_value = _numbers(f["leaf_value"], np.float64)
    k = _kernels()
    depth = k.depths(node_off, leaf_off, left, right)
    edge_off = np.concatenate([[0], np.cumsum(depth)]).astype(np.int64)
    total = int(edge_off[-1])
    edge_node = np.zeros(total, np.int64)
    edge_left = np.zeros(total, np.bool_)
    edge_slot = np.zeros(total, np.int64)
    slot_feature = np.zeros(total, np.int64)
    slot_z = np.zeros(total, np.float64)
    leaf_d = np.zeros(len(leaf_value), np.int64)
    k.paths(
        node_off, leaf_off, left, right, feature, internal_count, leaf_count, edge_off,
        edge_node, edge_left, edge_slot, slot_feature, slot_z, leaf_d,
    )  # fmt: skip
    tree_output = (np.arange(len(leaves)) % per_round).astype(np.int64)
    # each tree's expected value: its leaves weighted by their share of the training rows
    # (a one-leaf tree is its value), summed per output, as LightGBM's bias column
    tree_of_leaf = np.repeat(np.arange(len(leaves)), leaves)
    root = leaf_count[leaf_off[:-1]].copy()  # a one-leaf tree: its leaf holds every row
    split = leaves > 1
    root[split] = internal_count[node_off[:-1][split]]
    share = leaf_count / root[tree_of_leaf]
    expected = np.bincount(tree_of_leaf, weights=share * leaf_value, minlength=len(leaves))
    base = np.bincount(tree_output, weights=expected, minlength=per_round)
    return Forest(
        outputs=per_round,
        tree_output=tree_output,
        node_off=node_off,
        left=left,
        right=right,
        feature=feature,
        threshold=_numbers(f["threshold"], np.float64),
        missing=(decision >> 2) & 3,
        default_left=(decision & _DEFAULT_LEFT) != 0,
        leaf_off=leaf_off,
        leaf_value=leaf_value,
        leaf_d=leaf_d,
        edge_off=edge_off,
        edge_node=edge_node,
        edge_left=edge_left,
        edge_slot=edge_slot,
        slot_feature=slot_feature,
        slot_z=slot_z,
        base=base,
        max_depth=int(depth.max()) if len(depth) else 0,
    )


def _quadrature(max_d: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes on [0, 1] for every count q = 1..ceil(max_d/2) (row q, padded),
    and their weights times (1-t)^m for m = 0..max_d: ``w1t[q, i, m]``."""
    qmax = max(1, (max_d + 1) // 2)
    t = np.zeros((qmax + 1, qmax))
    w1t = np.zeros((qmax + 1, qmax, max_d + 2))
    for q in range(1, qmax + 1):
        x, w = np.polynomial.legendre.leggauss(q)
        t[q, :q] = (x + 1) / 2
        w1t[q, :q, :] = (w / 2)[:, None] * (1 - t[q, :q])[:, None] ** np.arange(max_d + 2)
    return t, w1t


def _over_rows(run: Any, n: int, cores: int) -> None:
    """``run(a, b)`` over row ranges covering 0..n, on ``cores`` threads (the kernels release
    the GIL)."""
    cores = max(1, min(cores, n))
    if cores == 1:
        run(0, n)
        return
    bounds = np.linspace(0, n, min(n, cores * 4) + 1).astype(int)
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(run, bounds[:-1], bounds[1:]))


def raw_scores(forest: Forest, X: np.ndarray, cores: int) -> np.ndarray:
    """The model's raw output (n, K) on rows ``X``: each output's trees summed in order, as
    LightGBM's ``predict(raw_score=True)``."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    out = np.zeros((len(X), forest.outputs))
    kernel = _kernels().raw
    f = forest

    def run(a: int, b: int) -> None:
        kernel(
            X, out, a, b, f.tree_output, f.node_off, f.leaf_off, f.left, f.right, f.feature,
            f.threshold, f.missing, f.default_left, f.leaf_value,
        )  # fmt: skip

    _over_rows(run, len(X), cores)
    return out


def shap_values(forest: Forest, X: np.ndarray, want: np.ndarray | None, cores: int) -> np.ndarray:
    """TreeSHAP values (n, p, K) of rows ``X`` (n, p); where ``want`` (n, K) is given, only the
    marked (row, output) pairs are computed (the rest stay 0). Rows are split over ``cores``
    threads."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, p = X.shape
    mask = np.ones((n, forest.outputs), np.bool_) if want is None else want.astype(np.bool_)
    out = np.zeros((n, p, forest.outputs))
    t, w1t = _quadrature(forest.max_depth)
    kernel = _kernels().rows
    f = forest
    widest = max(int(np.diff(f.node_off).max()), 1)

    def run(a: int, b: int) -> None:
        kernel(
            X, mask, out, a, b, f.tree_output, f.node_off, f.feature, f.threshold, f.missing,
            f.default_left, f.leaf_off, f.leaf_value, f.leaf_d, f.edge_off, f.edge_node,
            f.edge_left, f.edge_slot, f.slot_feature, f.slot_z, t, w1t, widest,
            max(f.max_depth, 1),
        )  # fmt: skip

    _over_rows(run, n, cores)
    return out


# The kernels, written as plain Python and compiled by numba on first use (cached on disk).


def _depths(node_off: Any, leaf_off: Any, left: Any, right: Any) -> Any:
    """Each leaf's depth (edges from the root)."""
    depth = np.zeros(leaf_off[-1], np.int64)
    for t in range(len(node_off) - 1):
        g, lg = node_off[t], leaf_off[t]
        ni = node_off[t + 1] - g
        node_depth = np.zeros(max(ni, 1), np.int64)
        for i in range(ni):  # a parent always precedes its children in LightGBM's numbering
            for child in (left[g + i], right[g + i]):
                if child >= 0:
                    node_depth[child] = node_depth[i] + 1
                else:
                    depth[lg + ~child] = node_depth[i] + 1
    return depth


def _paths(
    node_off: Any, leaf_off: Any, left: Any, right: Any, feature: Any, internal_count: Any,
    leaf_count: Any, edge_off: Any, edge_node: Any, edge_left: Any, edge_slot: Any,
    slot_feature: Any, slot_z: Any, leaf_d: Any,
) -> None:  # fmt: skip
    """Fill every leaf's path edges and unique features with their zero fractions."""
    for t in range(len(node_off) - 1):
        g, lg = node_off[t], leaf_off[t]
        ni = node_off[t + 1] - g
        parent = np.full(max(ni, 1), -1, np.int64)
        went_left = np.zeros(max(ni, 1), np.bool_)
        leaf_parent = np.full(leaf_off[t + 1] - lg, -1, np.int64)
        leaf_left = np.zeros(leaf_off[t + 1] - lg, np.bool_)
        for i in range(ni):
            for side in range(2):
                child = left[g + i] if side == 0 else right[g + i]
                if child >= 0:
                    parent[child] = i
                    went_left[child] = side == 0
                else:
                    leaf_parent[~child] = i
                    leaf_left[~child] = side == 0
        for j in range(leaf_off[t + 1] - lg):
            leaf = lg + j
            e0 = edge_off[leaf]
            e = e0
            d = 0
            node = leaf_parent[j]
            is_left = leaf_left[j]
            child_count = leaf_count[leaf]
            while node >= 0:
                f = feature[g + node]
                s = 0
                while s < d and slot_feature[e0 + s] != f:
                    s += 1
                if s == d:
                    slot_feature[e0 + d] = f
                    slot_z[e0 + d] = 1.0
                    d += 1
                slot_z[e0 + s] *= child_count / internal_count[g + node]
                edge_node[e] = node
                edge_left[e] = is_left
                edge_slot[e] = s
                e += 1
                child_count = internal_count[g + node]
                is_left = went_left[node]
                node = parent[node]
            leaf_d[leaf] = d


def _rows(
    X: Any, want: Any, out: Any, a: int, b: int, tree_output: Any, node_off: Any, feature: Any,
    threshold: Any, missing: Any, default_left: Any, leaf_off: Any, leaf_value: Any, leaf_d: Any,
    edge_off: Any, edge_node: Any, edge_left: Any, edge_slot: Any, slot_feature: Any,
    slot_z: Any, t_nodes: Any, w1t: Any, widest: int, max_d: int,
) -> None:  # fmt: skip
    """TreeSHAP of rows a..b into ``out`` (see the module's docstring for the formula)."""
    goes_left = np.zeros(widest, np.bool_)
    follows = np.zeros(max_d, np.bool_)
    prod = np.zeros(t_nodes.shape[1])
    for r in range(a, b):
        for tree in range(len(node_off) - 1):
            k = tree_output[tree]
            if not want[r, k]:
                continue
            g = node_off[tree]
            for i in range(node_off[tree + 1] - g):  # LightGBM's NumericalDecision
                x = X[r, feature[g + i]]
                m = missing[g + i]
                if np.isnan(x) and m != 2:
                    x = 0.0
                if (m == 1 and -1e-35 <= x <= 1e-35) or (m == 2 and np.isnan(x)):
                    goes_left[i] = default_left[g + i]
                else:
                    goes_left[i] = x <= threshold[g + i]
            for leaf in range(leaf_off[tree], leaf_off[tree + 1]):
                d = leaf_d[leaf]
                v = leaf_value[leaf]
                if d == 0 or v == 0.0:
                    continue
                e0 = edge_off[leaf]
                for s in range(d):
                    follows[s] = True
                for e in range(e0, edge_off[leaf + 1]):
                    if goes_left[edge_node[e]] != edge_left[e]:
                        follows[edge_slot[e]] = False
                q = (d + 1) // 2
                for i in range(q):
                    prod[i] = 1.0
                n_in = 0
                outside = 1.0  # the product of the zero fractions of features not followed
                for s in range(d):
                    z = slot_z[e0 + s]
                    if follows[s]:
                        n_in += 1
                        for i in range(q):
                            prod[i] *= t_nodes[q, i] + z * (1.0 - t_nodes[q, i])
                    else:
                        outside *= z
                scale = v * outside
                not_followed = 0.0
                if n_in < d:
                    acc = 0.0
                    for i in range(q):
                        acc += w1t[q, i, d - 1 - n_in] * prod[i]
                    not_followed = -scale * acc
                for s in range(d):
                    f = slot_feature[e0 + s]
                    if follows[s]:
                        z = slot_z[e0 + s]
                        acc = 0.0
                        for i in range(q):
                            acc += (
                                w1t[q, i, d - n_in]
                                * prod[i]
                                / (t_nodes[q, i] + z * (1.0 - t_nodes[q, i]))
                            )
                        out[r, f, k] += scale * (1.0 - z) * acc
                    else:
                        out[r, f, k] += not_followed


def _raw(
    X: Any, out: Any, a: int, b: int, tree_output: Any, node_off: Any, leaf_off: Any, left: Any,
    right: Any, feature: Any, threshold: Any, missing: Any, default_left: Any, leaf_value: Any,
) -> None:  # fmt: skip
    """Rows a..b's raw output into ``out``: each tree's reached leaf, added in tree order."""
    for r in range(a, b):
        for tree in range(len(node_off) - 1):
            g = node_off[tree]
            node = 0 if node_off[tree + 1] > g else -1
            while node >= 0:  # LightGBM's NumericalDecision
                x = X[r, feature[g + node]]
                m = missing[g + node]
                if np.isnan(x) and m != 2:
                    x = 0.0
                if (m == 1 and -1e-35 <= x <= 1e-35) or (m == 2 and np.isnan(x)):
                    go_left = default_left[g + node]
                else:
                    go_left = x <= threshold[g + node]
                node = left[g + node] if go_left else right[g + node]
            out[r, tree_output[tree]] += leaf_value[leaf_off[tree] + ~node]


@dataclass(frozen=True)
class _Kernels:
    depths: Any
    paths: Any
    rows: Any
    raw: Any


@functools.cache
def _kernels() -> _Kernels:
    """The kernels compiled by numba (once per process; numba caches the machine code on disk)."""
    import numba

    def jit(fn: Any) -> Any:
        return numba.njit(cache=True, nogil=True)(fn)

    return _Kernels(jit(_depths), jit(_paths), jit(_rows), jit(_raw))
