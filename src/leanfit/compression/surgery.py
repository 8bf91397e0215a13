"""Surgery on leanfit's torch MLPs: take a network apart, remove whole neurons, factorise layers,
zero small weights, fine-tune, and write the result as an ONNX graph.

A network is held as :class:`NetworkParts`: the input standardisation, a ``torch.nn.Sequential``
body of ``Linear`` layers and activations (a factorised layer is a ``Sequential`` of two
``Linear``), and, for regression, the affine map back to the response's scale. The ONNX graph is
written by hand, node for node what the torch.export exporter writes for these networks
(Sub, Div, Gemm, activation, ..., Softmax), so a compressed graph and the original one differ
only in their matrices; and it takes milliseconds instead of seconds.

PyTorch is imported when this module is imported; only ``compress.networks`` imports it, inside
its functions.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from leanfit.models.base import CLASSIFICATION, REGRESSION
from leanfit.nn.network import Standardize, count_parameters

CRITERIA = ("l1", "l2")


@dataclass
class NetworkParts:
    """A trained MLP taken apart: ``(x - center) / scale``, then ``body`` (logits, or the
    standardised prediction), then ``y * y_scale + y_center`` in regression."""

    center: np.ndarray
    scale: np.ndarray
    body: torch.nn.Sequential
    mode: str
    n_classes: int
    y_center: float = 0.0
    y_scale: float = 1.0

    @property
    def n_inputs(self) -> int:
        return int(np.asarray(self.center).size)

    @property
    def hidden(self) -> tuple[int, ...]:
        """The width of each hidden layer."""
        return tuple(_out_features(m) for m in _linear_slots(self.body)[:-1])

    @property
    def n_parameters(self) -> int:
        """Weights and biases of the body (standardisation and output scaling excluded)."""
        return count_parameters(self.body)

    def with_body(self, body: torch.nn.Sequential) -> NetworkParts:
        return replace(self, body=body)

    def module(self) -> torch.nn.Sequential:
        """The whole network as one torch module in eval mode: raw float32 features to logits
        (classification) or predictions (regression, shape (n, 1))."""
        parts: list[torch.nn.Module] = [Standardize(self.center, self.scale), self.body]
        if self.mode == REGRESSION:
            out = torch.nn.Linear(1, 1)
            with torch.no_grad():
                out.weight.fill_(float(self.y_scale))
                out.bias.fill_(float(self.y_center))
            parts.append(out)
        return torch.nn.Sequential(*parts).eval()


def parts_from_state(
    spec: dict[str, Any],
    mlp_state: dict[str, np.ndarray],
    center: np.ndarray,
    scale: np.ndarray,
    mode: str,
    n_classes: int,
    y_center: float = 0.0,
    y_scale: float = 1.0,
) -> NetworkParts:
    """A ``build_mlp`` network (its spec and state dict) as NetworkParts; its Dropout layers are
    left out (identities in prediction; fine-tuning here does not use dropout)."""
    from leanfit.nn.network import build_mlp

    mlp = build_mlp(**spec)
    mlp.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in mlp_state.items()})
    body = torch.nn.Sequential(*[m for m in mlp if not isinstance(m, torch.nn.Dropout)])
    return NetworkParts(
        np.asarray(center, np.float32),
        np.asarray(scale, np.float32),
        body.eval(),
        mode,
        int(n_classes),
        float(y_center),
        float(y_scale),
    )


# -- structure ---------------------------------------------------------------------------------


def _linear_slots(body: torch.nn.Sequential) -> list[torch.nn.Module]:
    """The body's layers that are a Linear or a factorised Linear (a Sequential of them)."""
    return [m for m in body if isinstance(m, torch.nn.Linear | torch.nn.Sequential)]


def _out_features(m: torch.nn.Module) -> int:
    last = m[-1] if isinstance(m, torch.nn.Sequential) else m
    assert isinstance(last, torch.nn.Linear)
    return int(last.out_features)


def _dense(m: torch.nn.Module) -> torch.nn.Linear:
    if not isinstance(m, torch.nn.Linear):
        raise ValueError("structured pruning works on dense layers; prune before factorising")
    return m


def _linear(W: np.ndarray, b: np.ndarray | None) -> torch.nn.Linear:
    """A Linear layer holding exactly ``W`` (out x in) and ``b``."""
    lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=b is not None)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W, dtype=np.float32)))
        if b is not None:
            lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)))
    return lin


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


# -- structured pruning ------------------------------------------------------------------------


def neuron_scores(body: torch.nn.Sequential, criterion: str = "l2") -> list[np.ndarray]:
    """Each hidden neuron's importance: the norm (``criterion`` "l1" or "l2") of its incoming
    weights and bias times the norm of its outgoing weights. A neuron whose outgoing weights are
    all zero scores 0: removing it changes nothing downstream."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion={criterion!r} is not valid: use one of {', '.join(CRITERIA)}")
    order = 1 if criterion == "l1" else 2
    slots = [_dense(m) for m in _linear_slots(body)]
    scores = []
    for lin, nxt in zip(slots[:-1], slots[1:], strict=True):
        w_in = _numpy(lin.weight)
        if lin.bias is not None:
            w_in = np.hstack([w_in, _numpy(lin.bias)[:, None]])
        incoming = np.linalg.norm(w_in, ord=order, axis=1)
        outgoing = np.linalg.norm(_numpy(nxt.weight), ord=order, axis=0)
        scores.append(incoming * outgoing)
    return scores


def kept_count(width: int, ratio: float) -> int:
    """Neurons a layer of ``width`` keeps when ``ratio`` of them are removed (at least one)."""
    return max(1, width - int(math.floor(ratio * width + 0.5)))


def prune_neurons(
    body: torch.nn.Sequential, ratio: float, criterion: str = "l2"
) -> tuple[torch.nn.Sequential, list[np.ndarray]]:
    """Remove ``ratio`` of every hidden layer's neurons, the lowest-scoring by
    :func:`neuron_scores` (ties: the later neuron goes): the layer keeps those rows of its
    weight matrix and bias, the next layer those columns. Returns the new, smaller body and the
    kept neurons' indices per hidden layer."""
    scores = neuron_scores(body, criterion)
    slots = [_dense(m) for m in _linear_slots(body)]
    keep = [np.sort(np.argsort(-s, kind="stable")[: kept_count(len(s), ratio)]) for s in scores]
    new_slots: list[torch.nn.Linear] = []
    for i, lin in enumerate(slots):
        W = _numpy(lin.weight)
        b = None if lin.bias is None else _numpy(lin.bias)
        if i > 0:
            W = W[:, keep[i - 1]]
        if i < len(keep):
            W = W[keep[i]]
            b = None if b is None else b[keep[i]]
        new_slots.append(_linear(W, b))
    return _rebuild(body, new_slots), keep


def _rebuild(body: torch.nn.Sequential, slots: Sequence[torch.nn.Module]) -> torch.nn.Sequential:
    """``body`` with its linear slots replaced, in order, by ``slots`` (activations copied)."""
    it = iter(slots)
    layers = [
        next(it) if isinstance(m, torch.nn.Linear | torch.nn.Sequential) else copy.deepcopy(m)
        for m in body
    ]
    return torch.nn.Sequential(*layers).eval()


# -- low rank ----------------------------------------------------------------------------------


def low_rank_factors(W: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Truncated SVD of ``W`` (m x n): ``B`` (m x r) and ``A`` (r x n) with ``B @ A`` the best
    rank-r approximation (Eckart-Young), each factor taking the square root of the singular
    values."""
    U, s, Vt = np.linalg.svd(np.asarray(W, dtype=np.float64), full_matrices=False)
    r = int(rank)
    if not 1 <= r <= len(s):
        raise ValueError(f"rank={rank!r} must be in 1..{len(s)} for a {W.shape} matrix")
    root = np.sqrt(s[:r])
    return (U[:, :r] * root).astype(np.float32), (root[:, None] * Vt[:r]).astype(np.float32)


def energy_rank(W: np.ndarray, energy: float) -> int:
    """The smallest rank keeping ``energy`` of the squared singular values (Frobenius norm)."""
    s = np.linalg.svd(np.asarray(W, dtype=np.float64), compute_uv=False)
    share = np.cumsum(s**2) / max(float(np.sum(s**2)), 1e-300)
    return min(int(np.searchsorted(share, energy - 1e-12)) + 1, len(s))


def pays_off(m: int, n: int, rank: int) -> bool:
    """A rank-r factorisation of an m x n matrix has fewer weights: r (m + n) < m n."""
    return rank * (m + n) < m * n


def factorise(
    body: torch.nn.Sequential, rank_of: Callable[[np.ndarray], int]
) -> tuple[torch.nn.Sequential, list[int | None]]:
    """Each dense layer W (m x n) whose rank ``rank_of(W)`` pays off becomes two layers,
    ``Linear(n, r, bias=False)`` then ``Linear(r, m)`` (holding the bias); the others are kept.
    Returns the new body and each layer's rank (None where it was kept whole)."""
    slots: list[torch.nn.Module] = []
    ranks: list[int | None] = []
    for lin in _linear_slots(body):
        lin = _dense(lin)
        W = _numpy(lin.weight)
        r = int(rank_of(W))
        m, n = W.shape
        if not pays_off(m, n, r):
            slots.append(copy.deepcopy(lin))
            ranks.append(None)
            continue
        B, A = low_rank_factors(W, r)
        b = None if lin.bias is None else _numpy(lin.bias)
        slots.append(torch.nn.Sequential(_linear(A, None), _linear(B, b)))
        ranks.append(r)
    return _rebuild(body, slots), ranks


# -- magnitude pruning -------------------------------------------------------------------------


def magnitude_prune(body: torch.nn.Sequential, sparsity: float) -> torch.nn.Sequential:
    """A copy of ``body`` with ``sparsity`` of all its weights, the smallest in absolute value
    over every weight matrix together, masked to zero by ``torch.nn.utils.prune``'s global L1
    pruning; the masks stay in place (fine-tuning keeps them) until :func:`make_permanent`.

    Global rather than per layer: a layer on few inputs (the first, on standardised features)
    has larger weights and keeps more of them. On Letter (2 x 256, 90 %, 10 epochs of
    fine-tuning) global pruning kept 94.0 % test accuracy, per-layer pruning 88.1 %."""
    from torch.nn.utils import prune

    out = copy.deepcopy(body)
    weights = [(m, "weight") for m in out.modules() if isinstance(m, torch.nn.Linear)]
    prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, amount=float(sparsity))
    return out


def make_permanent(body: torch.nn.Sequential) -> torch.nn.Sequential:
    """Fold the pruning masks into the weights (plain Linear layers again)."""
    from torch.nn.utils import prune

    for m in body.modules():
        if isinstance(m, torch.nn.Linear) and prune.is_pruned(m):
            prune.remove(m, "weight")
    return body


# -- fine-tuning -------------------------------------------------------------------------------


@dataclass
class Tuning:
    """What fine-tuning fits: rows, targets and the loss on the body's outputs (logits, or the
    standardised response)."""

    X: np.ndarray
    targets: tuple[np.ndarray, ...]
    loss: Any  # leanfit.nn.training.LossFn
    what: str  # how the targets were chosen, for notes


def fine_tune(
    parts: NetworkParts,
    body: torch.nn.Sequential,
    tuning: Tuning,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> torch.nn.Sequential:
    """Train ``body`` (in place, behind the fixed standardisation) for ``epochs`` with Adam by
    leanfit's training loop, on one CPU thread: seed-deterministic. 0 epochs leaves it as is."""
    if epochs == 0:
        return body.eval()
    from leanfit.nn.training import TrainOptions, train_network

    net = torch.nn.Sequential(Standardize(parts.center, parts.scale), body)
    options = TrainOptions(
        optimizer="adam",
        lr=float(lr),
        batch_size=int(batch_size),
        epochs=int(epochs),
        device="cpu",
        num_threads=1,
    )
    train_network(net, tuning.X, tuning.targets, tuning.loss, options, int(seed))
    return body.eval()


# -- ONNX --------------------------------------------------------------------------------------

_ACTIVATION_OPS: dict[type, tuple[str, Callable[[Any], dict[str, float]]]] = {
    torch.nn.ReLU: ("Relu", lambda m: {}),
    torch.nn.Tanh: ("Tanh", lambda m: {}),
    torch.nn.Sigmoid: ("Sigmoid", lambda m: {}),
    torch.nn.ELU: ("Elu", lambda m: {"alpha": float(m.alpha)}),
    torch.nn.LeakyReLU: ("LeakyRelu", lambda m: {"alpha": float(m.negative_slope)}),
}


#: the centring is folded into the first layer's bias only while max |center / scale| is at most
#: this: ``W' x - W' c`` in float32 loses about ``eps32 * max|c / s|`` relative precision to
#: cancellation (Glass's Si, centred at 72.6 with sd 0.77, would cost 1.5e-5 in probability)
FOLD_CENTER_LIMIT = 16.0


def folded_first_layer(
    parts: NetworkParts, body: torch.nn.Sequential, *, center: bool = True
) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """The standardisation ``(x - center) / scale`` folded into the first layer: for a dense
    first layer ``W x' + b``, ``W' = W / scale`` (column by column) and ``b' = b - W' center``;
    for a factorised one ``B (A x') + b``, ``A' = A / scale`` and ``b' = b - B A' center``.
    ``center=False`` folds the scale only (the graph keeps its ``x - center``).
    Returns ``{id(linear): (weight, bias)}`` for the Linear layers that change (float64
    arithmetic, stored as float32)."""
    first = _linear_slots(body)[0]
    centre = np.asarray(parts.center, dtype=np.float64) if center else None
    scale = np.asarray(parts.scale, dtype=np.float64)
    lins = list(first) if isinstance(first, torch.nn.Sequential) else [first]
    head, tail = lins[0], lins[-1]
    assert isinstance(head, torch.nn.Linear) and isinstance(tail, torch.nn.Linear)
    A = head.weight.detach().double().numpy() / scale[None, :]
    shift = A @ centre if centre is not None else np.zeros(A.shape[0])
    for lin in lins[1:]:
        assert isinstance(lin, torch.nn.Linear)
        shift = lin.weight.detach().double().numpy() @ shift
    out: dict[int, tuple[np.ndarray, np.ndarray | None]] = {
        id(lin): (_numpy(lin.weight), None if lin.bias is None else _numpy(lin.bias))
        for lin in lins
        if isinstance(lin, torch.nn.Linear)
    }
    out[id(head)] = (A.astype(np.float32), out[id(head)][1])
    W, b = out[id(tail)]
    bias = np.zeros(tail.out_features) if b is None else b.astype(np.float64)
    out[id(tail)] = (W, (bias - shift).astype(np.float32))
    return out


def network_onnx(
    parts: NetworkParts, body: torch.nn.Sequential, name: str = "leanfit", *, fold: bool = True
) -> bytes:
    """``body`` behind the standardisation as an ONNX graph under leanfit's export contract:
    input "X" float32 [N, p]; output "probabilities" (softmax of the logits) or "prediction".

    ``fold`` (default): the standardisation folded into the first layer's weights and bias
    (:func:`folded_first_layer`), so the graph has no Sub / Div nodes and no center / scale
    tensors: two nodes fewer per call, and int8 quantization then covers the whole input map.
    Where some ``|center / scale|`` exceeds ``FOLD_CENTER_LIMIT`` only the scale is folded and
    the graph keeps its Sub (float32 cancellation). ``fold=False`` writes both nodes as the
    torch exporter does."""
    from onnx import TensorProto, helper, numpy_helper

    from leanfit.export.onnx import OPSET, _finalize, _Spec

    nodes: list[Any] = []
    inits: dict[str, Any] = {}

    def const(a: np.ndarray, label: str) -> str:
        if label not in inits:  # a shared scalar (GELU's) is stored once
            inits[label] = numpy_helper.from_array(np.ascontiguousarray(a, np.float32), label)
        return label

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        out = f"t{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    cur = "X"
    folded: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    offset = np.abs(np.asarray(parts.center, np.float64) / np.asarray(parts.scale, np.float64))
    fold_center = fold and float(offset.max(initial=0.0)) <= FOLD_CENTER_LIMIT
    if not fold_center:
        cur = node("Sub", [cur, const(parts.center, "center")])
    if fold:
        folded = folded_first_layer(parts, body, center=fold_center)
    else:
        cur = node("Div", [cur, const(parts.scale, "scale")])
    linears = [m for m in body.modules() if isinstance(m, torch.nn.Linear)]
    layer = 0
    for m in body.modules():
        if isinstance(m, torch.nn.Linear):
            W, b = folded.get(id(m), (_numpy(m.weight), None if m.bias is None else _numpy(m.bias)))
            inputs = [cur, const(W, f"W{layer}")]
            if b is not None:
                inputs.append(const(b, f"b{layer}"))
            cur = node("Gemm", inputs, transB=1)
            layer += 1
        elif isinstance(m, torch.nn.GELU):
            if m.approximate != "none":
                raise NotImplementedError("only the exact (erf) GELU is exported")
            half = node("Mul", [cur, const(np.array(0.5, np.float32), "half")])
            scaled = node("Div", [cur, const(np.array(math.sqrt(2.0), np.float32), "sqrt2")])
            erf = node("Erf", [scaled])
            cur = node("Mul", [half, node("Add", [erf, const(np.array(1.0, np.float32), "one")])])
        elif type(m) in _ACTIVATION_OPS:
            op, attrs = _ACTIVATION_OPS[type(m)]
            cur = node(op, [cur], **attrs(m))
        elif not isinstance(m, torch.nn.Sequential | torch.nn.Dropout | torch.nn.Identity):
            raise NotImplementedError(f"no ONNX operator for the layer {type(m).__name__}")
    assert layer == len(linears)
    if parts.mode == CLASSIFICATION:
        cur = node("Softmax", [cur], axis=1)
        k = int(parts.n_classes)
    else:
        cur = node("Mul", [cur, const(np.array(parts.y_scale, np.float32), "y_scale")])
        cur = node("Add", [cur, const(np.array(parts.y_center, np.float32), "y_center")])
        k = 0
    p = parts.n_inputs
    width = k if parts.mode == CLASSIFICATION else 1
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", p])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["N", width])],
        initializer=list(inits.values()),
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    classes = np.arange(k) if parts.mode == CLASSIFICATION else None
    return _finalize(proto, cur, _Spec(parts.mode, p, k, name), classes)


def sparse_onnx(onnx_bytes: bytes, max_density: float = 1.0 / 3.0) -> bytes:
    """The graph with each weight matrix holding at most ``max_density`` nonzeros stored as an
    ONNX sparse initializer (COO: float32 values and int64 flat indices, 12 bytes per nonzero
    against 4 per dense entry). ONNX Runtime densifies them when it loads the graph: the file
    is smaller, the computation the same."""
    import onnx
    from onnx import helper, numpy_helper

    proto = onnx.load_from_string(onnx_bytes)
    g = proto.graph
    keep, sparse = [], []
    for t in g.initializer:
        a = numpy_helper.to_array(t)
        if a.ndim == 2 and a.size and np.count_nonzero(a) <= max_density * a.size:
            flat = a.ravel()
            nz = np.flatnonzero(flat)
            values = numpy_helper.from_array(flat[nz].astype(a.dtype), t.name)
            indices = numpy_helper.from_array(nz.astype(np.int64), f"{t.name}_indices")
            sparse.append(helper.make_sparse_tensor(values, indices, list(a.shape)))
        else:
            keep.append(t)
    del g.initializer[:]
    g.initializer.extend(keep)
    g.sparse_initializer.extend(sparse)
    onnx.checker.check_model(proto)
    return bytes(proto.SerializeToString())


def weight_matrices(onnx_bytes: bytes) -> dict[str, tuple[int, ...]]:
    """Name and shape of every 2-D initializer (dense or sparse) of a graph."""
    import onnx

    g = onnx.load_from_string(onnx_bytes).graph
    out = {t.name: tuple(int(d) for d in t.dims) for t in g.initializer if len(t.dims) == 2}
    for st in g.sparse_initializer:
        out[st.values.name] = tuple(int(d) for d in st.dims)
    return out


# -- a numpy forward pass (timing the sparse format against the dense one) -----------------------


def numpy_layers(body: torch.nn.Sequential) -> list[tuple[np.ndarray, np.ndarray | None, str]]:
    """(W, b, activation after it or "") per Linear of a dense body, for numpy forward passes."""
    out: list[tuple[np.ndarray, np.ndarray | None, str]] = []
    for m in body.modules():
        if isinstance(m, torch.nn.Linear):
            out.append((_numpy(m.weight), None if m.bias is None else _numpy(m.bias), ""))
        elif isinstance(m, torch.nn.ReLU) and out:
            W, b, _ = out[-1]
            out[-1] = (W, b, "relu")
        elif not isinstance(m, torch.nn.Sequential) and out:
            W, b, _ = out[-1]
            out[-1] = (W, b, type(m).__name__)
    return out


def numpy_forward(
    layers: Sequence[tuple[Any, np.ndarray | None, str]], x: np.ndarray
) -> np.ndarray:
    """One forward pass of a column vector through (W, b, activation) layers; W may be a dense
    array or a scipy sparse matrix. Activations other than ReLU are applied by torch's rule."""
    h = x
    for W, b, act in layers:
        h = W @ h
        if b is not None:
            h = h + b[:, None]
        if act == "relu":
            np.maximum(h, 0.0, out=h)
        elif act:
            h = getattr(torch.nn, act)()(torch.from_numpy(np.ascontiguousarray(h))).numpy()
    return h
