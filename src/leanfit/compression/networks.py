"""Network compressions: structured pruning of whole neurons, magnitude pruning and low-rank
factorisation of leanfit's torch MLPs (the ``mlp`` model, distilled students), each fine-tuned
afterwards and shipped as an ONNX graph predicted by ONNX Runtime on one thread.

``network_candidates(source, options)`` returns the :class:`~leanfit.compression.Candidate` list;
``applies_to_networks(source)`` says whether the source holds such a network.

Options (all optional; an unknown key or a bad value is refused, naming it):

- ``techniques``: any of "prune", "magnitude", "lowrank" (default: all three);
- ``ratios`` (0.25, 0.5, 0.75): shares of every hidden layer's neurons removed by "prune";
- ``criterion`` ("l2"): the neuron score, norm of incoming weights (and bias) times norm of
  outgoing weights, "l1" or "l2";
- ``sparsities`` (0.8, 0.9): shares of all weights zeroed by "magnitude" (the smallest in
  absolute value over every weight matrix together);
- ``energies`` (0.8, 0.9, 0.95): "lowrank" keeps, per layer, the smallest rank holding this
  share of the squared singular values; ``ranks`` (None): fixed ranks instead of energies;
- ``epochs`` (5; 0 = no fine-tuning), ``lr`` (1e-3), ``batch_size`` (128): fine-tuning with
  Adam by leanfit's training loop; ``seed`` (the source's): the fine-tuning seed.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np

from .candidate import Candidate, Source

if TYPE_CHECKING:
    import torch

    from .surgery import NetworkParts, Tuning

NETWORK_TECHNIQUES = ("prune", "magnitude", "lowrank")
_DEFAULTS: dict[str, Any] = {
    "techniques": NETWORK_TECHNIQUES,
    "ratios": (0.25, 0.5, 0.75),
    "criterion": "l2",
    "sparsities": (0.8, 0.9),
    "energies": (0.8, 0.9, 0.95),
    "ranks": None,
    "epochs": 5,
    "lr": 1e-3,
    "batch_size": 128,
    "seed": None,
}
NETWORK_OPTIONS = tuple(_DEFAULTS)
APPLIES_TO = (
    "a TrainResult of method 'mlp' or 'distill_mlp', a Distilled from lf.distill() with an "
    "mlp student, or such a Student, with at least one hidden layer and no pre-processing"
)


@dataclass(frozen=True)
class NetworkOptions:
    """The checked options of :func:`network_candidates` (see the module docstring)."""

    techniques: tuple[str, ...]
    ratios: tuple[float, ...]
    criterion: str
    sparsities: tuple[float, ...]
    energies: tuple[float, ...]
    ranks: tuple[int, ...] | None
    epochs: int
    lr: float
    batch_size: int
    seed: int | None


def network_options(options: Mapping[str, Any] | None) -> NetworkOptions:
    """Check ``options`` and fill in the defaults; a ValueError names the key, the value and
    what is valid."""
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ValueError(f"network options must be a mapping, got {type(options).__name__}")
    unknown = sorted(set(options) - set(_DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown network compression option(s) {unknown}: valid ones are "
            f"{', '.join(NETWORK_OPTIONS)}"
        )
    o = {**_DEFAULTS, **options}

    def numbers(key: str, low: float, high: float, high_ok: bool) -> tuple[float, ...]:
        v = o[key]
        vals = [v] if isinstance(v, Real) and not isinstance(v, bool) else v
        bound = f"in (0, {high:g}]" if high_ok else f"strictly between 0 and {high:g}"
        if isinstance(vals, str | bytes) or not isinstance(vals, Sequence | np.ndarray):
            raise ValueError(f"{key}={v!r} must be a number or a list of numbers {bound}")
        out = []
        for x in vals:
            ok = isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))
            if not ok or not (low < float(x) < high or (high_ok and float(x) == high)):
                raise ValueError(f"{key}={v!r}: {x!r} is not a number {bound}")
            out.append(float(x))
        if not out:
            raise ValueError(f"{key}={v!r} is empty: give at least one value {bound}")
        return tuple(dict.fromkeys(out))

    def whole(key: str, low: int) -> int:
        v = o[key]
        if isinstance(v, bool) or not isinstance(v, Integral) or v < low:
            raise ValueError(f"{key}={v!r} must be a whole number >= {low}")
        return int(v)

    techniques = o["techniques"]
    if isinstance(techniques, str):
        techniques = (techniques,)
    bad = [t for t in techniques if t not in NETWORK_TECHNIQUES]
    if bad or not techniques:
        raise ValueError(
            f"techniques={o['techniques']!r}: use some of {', '.join(NETWORK_TECHNIQUES)}"
        )
    if o["criterion"] not in ("l1", "l2"):
        raise ValueError(f"criterion={o['criterion']!r} is not valid: use 'l1' or 'l2'")
    ranks = o["ranks"]
    if ranks is not None:
        seq = [ranks] if isinstance(ranks, Integral) else ranks
        if (
            isinstance(seq, str | bytes)
            or not isinstance(seq, Sequence | np.ndarray)
            or not len(seq)
            or any(isinstance(r, bool) or not isinstance(r, Integral) or r < 1 for r in seq)
        ):
            raise ValueError(f"ranks={ranks!r} must be None or positive whole numbers")
        ranks = tuple(dict.fromkeys(int(r) for r in seq))
    lr = o["lr"]
    if isinstance(lr, bool) or not isinstance(lr, Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr={lr!r} must be a finite number > 0")
    seed = o["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral)):
        raise ValueError(f"seed={seed!r} must be None (the source's seed) or a whole number")
    return NetworkOptions(
        techniques=tuple(dict.fromkeys(techniques)),
        ratios=numbers("ratios", 0.0, 1.0, False),
        criterion=str(o["criterion"]),
        sparsities=numbers("sparsities", 0.0, 1.0, False),
        energies=numbers("energies", 0.0, 1.0, True),
        ranks=ranks,
        epochs=whole("epochs", 0),
        lr=float(lr),
        batch_size=whole("batch_size", 1),
        seed=None if seed is None else int(seed),
    )


# -- what a source holds -------------------------------------------------------------------------


@dataclass
class _Found:
    """The network of a source, and the teacher whose soft targets fine-tune it (if at hand)."""

    parts: NetworkParts
    teacher: Any = None  # leanfit.distillation.Teacher
    T: float = 1.0
    alpha: float = 1.0


def _student_of(model: Any) -> tuple[Any, Any, dict[str, Any]] | None:
    """(student, teacher or None, settings) for a Distilled, a Student or a distill_mlp fit."""
    from leanfit.distillation import Distilled, Student

    if isinstance(model, Distilled):
        return model.student, model.teacher, dict(model.settings)
    if isinstance(model, Student):
        return model, None, {}
    return None


def _why_not(model: Any) -> str | None:
    """None when ``model`` holds a network these compressions apply to, else the reason."""
    from leanfit.distillation.model import DistilledMLP
    from leanfit.models.neural import MLP
    from leanfit.tuning.result import TrainResult

    if isinstance(model, TrainResult):
        if not isinstance(model.model, MLP | DistilledMLP):
            return f"method {model.method!r} is not a network"
        if model.final_model is None:
            return f"the {model.method!r} result has no final model"
        if model.final_preprocess is not None:
            return (
                f"the {model.method!r} result has a pre-processing step that the compressed "
                "network would not include"
            )
        fitted = model.final_model
        if isinstance(fitted, list) and (len(fitted) != 1 or fitted[0].kind != "mlp"):
            return "the distill_mlp fit does not hold one network student"
        spec = fitted[0].spec if isinstance(fitted, list) else fitted.spec
    else:
        found = _student_of(model)
        if found is None:
            return f"a {type(model).__name__} is not a leanfit network"
        if found[0].kind != "mlp":
            return f"a {found[0].kind!r} student is not a network"
        spec = found[0].spec
    if not spec["hidden"]:
        return "the network has no hidden layer (it is a linear model)"
    return None


def applies_to_networks(source: Source) -> bool:
    """Whether pruning, magnitude pruning and low-rank apply to ``source.model``: a torch MLP
    with a hidden layer (see APPLIES_TO)."""
    return why_not_networks(source) is None


def why_not_networks(source: Source) -> str | None:
    """None when the network compressions apply to ``source.model``, else why not (for the
    error that says which compressions apply to which models)."""
    try:
        return _why_not(source.model)
    except ImportError:  # no PyTorch: no torch network either
        return "PyTorch is not installed: pip install 'leanfit[torch]'"


def _found(model: Any) -> _Found:
    from leanfit.models.base import CLASSIFICATION, REGRESSION
    from leanfit.tuning.result import TrainResult

    from .surgery import parts_from_state

    why = _why_not(model)
    if why is not None:
        raise ValueError(f"network compressions do not apply: {why}; they apply to {APPLIES_TO}")
    if isinstance(model, TrainResult) and not isinstance(model.final_model, list):
        fit = model.final_model
        state = fit.states[fit.index([model._sub()])[0]]
        parts = parts_from_state(
            fit.spec, state, fit.center, fit.scale, fit.mode, fit.n_classes,
            fit.y_center if fit.mode == REGRESSION else 0.0,
            fit.y_scale if fit.mode == REGRESSION else 1.0,
        )  # fmt: skip
        return _Found(parts)
    settings: dict[str, Any] = {}
    if isinstance(model, TrainResult):
        student, teacher = model.final_model[0], None
    else:
        found = _student_of(model)
        assert found is not None  # _why_not said so
        student, teacher, settings = found
    mlp = {k[2:]: v for k, v in student.state.items() if k.startswith("1.")}
    regression = student.mode != CLASSIFICATION
    parts = parts_from_state(
        student.spec, mlp, student.state["0.center"], student.state["0.scale"], student.mode,
        student.n_classes if not regression else 0,
        student.y_center if regression else 0.0, student.y_scale if regression else 1.0,
    )  # fmt: skip
    if teacher is None:
        return _Found(parts)
    return _Found(parts, teacher, float(settings.get("T", 1.0)), float(settings.get("alpha", 1.0)))


def network_parts(model: Any) -> NetworkParts:
    """The torch network of an ``mlp`` / ``distill_mlp`` fit, a Distilled or a Student, taken
    apart (standardisation, body, output scaling), e.g. to export or time it as the candidates
    are; ValueError when ``model`` holds no such network."""
    return _found(model).parts


def _tuning(found: _Found, source: Source) -> Tuning:
    """The fine-tuning data and loss.

    A distilled student whose teacher is at hand (a ``Distilled``) is fine-tuned as it was
    trained: the distillation loss with its own T and alpha on the teacher's outputs for the
    training rows, so that the smaller network stays faithful to the teacher (soft targets carry
    more per row than labels). Otherwise (an ``mlp`` fit, a bare Student or a distill_mlp fit,
    whose teacher was refitted per resample and not kept) on the hard labels with the loss the
    network was trained with: cross-entropy, or squared error on the standardised response.
    """
    from leanfit.distillation import distillation_loss
    from leanfit.models.base import CLASSIFICATION
    from leanfit.nn.training import named_loss

    from .surgery import Tuning

    parts = found.parts
    X = np.ascontiguousarray(source.X_train, dtype=np.float32)
    y = np.asarray(source.y_train)
    if len(X) != len(y):
        raise ValueError(f"source.X_train has {len(X)} rows but source.y_train has {len(y)}")
    if X.ndim != 2 or X.shape[1] != parts.n_inputs:
        raise ValueError(
            f"source.X_train has shape {X.shape}; the network takes {parts.n_inputs} columns"
        )
    classif = parts.mode == CLASSIFICATION
    if classif:
        labels = y.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= parts.n_classes):
            raise ValueError(
                f"source.y_train must hold class codes 0..{parts.n_classes - 1}, found "
                f"{int(labels.min())}..{int(labels.max())}"
            )
    else:
        labels = ((y.astype(float) - parts.y_center) / parts.y_scale).astype(np.float32)
    if found.teacher is not None:
        out = np.asarray(found.teacher.outputs(X), dtype=float)
        soft = out if classif else (out.reshape(-1) - parts.y_center) / parts.y_scale
        what = f"the teacher's outputs (distillation loss, T={found.T:g}, alpha={found.alpha:g})"
        return Tuning(
            X,
            (labels, soft.astype(np.float32)),
            distillation_loss(parts.mode, found.T, found.alpha),
            what,
        )
    loss = named_loss("cross_entropy" if classif else "mse")
    return Tuning(X, (labels,), loss, "the training labels")


# -- candidates --------------------------------------------------------------------------------


def _onnx_predictor(onnx_bytes: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """Predictions of the graph by an ONNX Runtime session on one thread, as float64."""
    from leanfit.export.runtime import onnx_predict, onnx_session

    session = onnx_session(onnx_bytes, threads=1)

    def predict(X: np.ndarray) -> np.ndarray:
        return np.asarray(onnx_predict(session, X), dtype=np.float64)

    return predict


def _candidate(
    name: str,
    technique: str,
    onnx_bytes: bytes,
    settings: dict[str, Any],
    note: str,
) -> Candidate:
    return Candidate(
        name=name,
        technique=technique,
        predict=_onnx_predictor(onnx_bytes),
        size_bytes=len(onnx_bytes),
        settings=settings,
        onnx=onnx_bytes,
        note=note,
    )


def network_candidates(source: Source, options: Mapping[str, Any] | None = None) -> list[Candidate]:
    """Structured pruning, magnitude pruning and low-rank candidates of ``source.model``, each
    fine-tuned on ``source.X_train`` / ``y_train`` and shipped as an ONNX graph (see the module
    docstring for the options). Raises ValueError when the model is no such network."""
    o = network_options(options)
    found = _found(source.model)
    tuning = _tuning(found, source)
    seed = int(source.seed if o.seed is None else o.seed)
    return _made(found.parts, tuning, o, seed)


def student_network_candidates(
    student: Any,
    rows: np.ndarray,
    labels: np.ndarray,
    teacher_outputs: np.ndarray,
    T: float,
    alpha: float,
    options: Mapping[str, Any] | None = None,
    *,
    prefix: str = "",
    seed: int = 0,
) -> list[Candidate]:
    """The network compressions of a distilled mlp ``student`` (a chain after distillation:
    e.g. a 256-unit student pruned to 128 units), fine-tuned as the student was trained: the
    distillation loss with its ``T`` and ``alpha`` on its transfer set (``rows``, their hard
    ``labels`` with -1 / NaN on synthetic rows, and ``teacher_outputs``). Candidate names
    start with ``prefix``."""
    from leanfit.distillation import distillation_loss
    from leanfit.models.base import CLASSIFICATION

    from .surgery import Tuning

    o = network_options(options)
    parts = _found(student).parts
    X = np.ascontiguousarray(rows, dtype=np.float32)
    out = np.asarray(teacher_outputs, dtype=float)
    if len(X) != len(out) or len(X) != len(labels):
        raise ValueError(
            f"the transfer set has {len(X)} rows, {len(labels)} labels and {len(out)} teacher "
            "outputs: they must match"
        )
    if parts.mode == CLASSIFICATION:
        targets = (np.asarray(labels, dtype=np.int64), out.astype(np.float32))
    else:
        scaled = (np.asarray(labels, dtype=float) - parts.y_center) / parts.y_scale
        soft = (out.reshape(-1) - parts.y_center) / parts.y_scale
        targets = (scaled.astype(np.float32), soft.astype(np.float32))
    what = f"the student's transfer set (distillation loss, T={T:g}, alpha={alpha:g})"
    tuning = Tuning(X, targets, distillation_loss(parts.mode, T, alpha), what)
    made = _made(parts, tuning, o, int(seed if o.seed is None else o.seed))
    for c in made:
        c.name = f"{prefix}{c.name}"
    return made


def _made(parts: NetworkParts, tuning: Tuning, o: NetworkOptions, seed: int) -> list[Candidate]:
    """Every candidate ``o`` asks for, from one network and its fine-tuning data."""
    out: list[Candidate] = []
    if "prune" in o.techniques:
        out += [_pruned(parts, tuning, o, ratio, seed) for ratio in o.ratios]
    if "magnitude" in o.techniques:
        out += [_magnitude(parts, tuning, o, s, seed) for s in o.sparsities]
    if "lowrank" in o.techniques:
        out += _low_rank(parts, tuning, o, seed)
    return out


def _tuned(
    parts: NetworkParts, body: torch.nn.Sequential, tuning: Tuning, o: NetworkOptions, seed: int
) -> torch.nn.Sequential:
    from .surgery import fine_tune

    return fine_tune(
        parts, body, tuning, epochs=o.epochs, lr=o.lr, batch_size=o.batch_size, seed=seed
    )


def _fine_tuning_note(o: NetworkOptions, tuning: Tuning) -> str:
    if o.epochs == 0:
        return "not fine-tuned"
    return f"fine-tuned {o.epochs} epochs on {tuning.what}"


def _pruned(
    parts: NetworkParts, tuning: Tuning, o: NetworkOptions, ratio: float, seed: int
) -> Candidate:
    """Remove ``ratio`` of every hidden layer's neurons, then fine-tune."""
    from .surgery import network_onnx, prune_neurons

    body, _ = prune_neurons(parts.body, ratio, o.criterion)
    body = _tuned(parts, body, tuning, o, seed)
    small = parts.with_body(body)
    settings = {
        "ratio": ratio,
        "criterion": o.criterion,
        "hidden": small.hidden,
        "parameters": small.n_parameters,
        "epochs": o.epochs,
        "seed": seed,
    }
    note = (
        f"hidden {'x'.join(map(str, parts.hidden))} -> {'x'.join(map(str, small.hidden))} "
        f"(neurons scored by {o.criterion} norm in x out); {_fine_tuning_note(o, tuning)}"
    )
    return _candidate(f"prune {ratio:.0%}", "prune", network_onnx(small, body), settings, note)


def _magnitude(
    parts: NetworkParts, tuning: Tuning, o: NetworkOptions, sparsity: float, seed: int
) -> Candidate:
    """Zero ``sparsity`` of the weights (smallest magnitudes overall), fine-tune with the mask
    held, and ship the graph with sparse initializers where that file is smaller than the
    dense one (else the dense graph); the note gives both sizes and a CSR-vs-dense timing."""
    from .surgery import magnitude_prune, make_permanent, network_onnx, sparse_onnx

    body = make_permanent(_tuned(parts, magnitude_prune(parts.body, sparsity), tuning, o, seed))
    small = parts.with_body(body)
    dense = network_onnx(small, body)
    sparse = sparse_onnx(dense)
    shipped = sparse if len(sparse) < len(dense) else dense
    zeros, per_layer = _zero_share(body)
    csr_us, dense_us = _csr_timing(body, parts)
    ort = _ort_timing(sparse, dense, tuning.X)
    form = "sparse initializers (COO)" if shipped is sparse else "dense (zeros stored)"
    note = (
        f"{zeros:.0%} of weights zero (per layer {'/'.join(f'{z:.0%}' for z in per_layer)}); "
        f"shipped as ONNX with {form}: {len(shipped):,} bytes "
        f"(dense ONNX {len(dense):,} bytes, {len(dense) / len(sparse):.2f}x the sparse form; "
        f"dense ONNX zip-compressed {len(zlib.compress(dense, 9)):,} bytes). ONNX Runtime "
        "densifies sparse initializers on load: single-row p50 "
        f"{ort['sparse_us']:.1f} us sparse-initializer graph vs {ort['dense_us']:.1f} us dense, "
        f"batch {ort['sparse_rows_s']:,.0f} vs {ort['dense_rows_s']:,.0f} rows/s. "
        f"scipy CSR single-row forward {csr_us:.1f} us vs dense numpy {dense_us:.1f} us "
        f"({dense_us / csr_us:.2f}x speed-up; one thread, quick timings); "
        f"{_fine_tuning_note(o, tuning)}"
    )
    settings = {
        "sparsity": sparsity,
        "zero_share": zeros,
        "layer_zero_shares": per_layer,
        "format": "sparse" if shipped is sparse else "dense",
        "dense_bytes": len(dense),
        "sparse_bytes": len(sparse),
        "csr_us": csr_us,
        "dense_us": dense_us,
        **{f"ort_{k}": v for k, v in ort.items()},
        "epochs": o.epochs,
        "seed": seed,
    }
    return _candidate(f"magnitude {sparsity:.0%}", "magnitude", shipped, settings, note)


def _ort_timing(sparse: bytes, dense: bytes, X: np.ndarray) -> dict[str, float]:
    """A quick one-thread ONNX Runtime timing of the sparse-initializer and the dense graph
    (p50 of 300 single rows, median rows/s of 256-row batches); the full measurement of the
    shipped candidate is the compression's common one."""
    from leanfit.export.runtime import measure_latency

    rows = X[: min(len(X), 256)]
    out: dict[str, float] = {}
    for name, graph in (("sparse", sparse), ("dense", dense)):
        lat = measure_latency(graph, rows, n_single=300, warmup=50, batch_size=256, batch_repeats=5)
        out[f"{name}_us"] = lat.single_p50_us
        out[f"{name}_rows_s"] = lat.batch_rows_per_s
    return out


def _zero_share(body: torch.nn.Sequential) -> tuple[float, list[float]]:
    """The share of zero weights, overall and per weight matrix."""
    import torch

    ws = [m.weight for m in body.modules() if isinstance(m, torch.nn.Linear)]
    zeros = [int((w == 0).sum()) for w in ws]
    per = [z / w.numel() for z, w in zip(zeros, ws, strict=True)]
    return sum(zeros) / sum(w.numel() for w in ws), per


def _csr_timing(
    body: torch.nn.Sequential, parts: NetworkParts, repeats: int = 300
) -> tuple[float, float]:
    """Median single-row forward time (µs) with scipy CSR weights and with dense numpy weights,
    on one BLAS thread."""
    import scipy.sparse
    from threadpoolctl import threadpool_limits

    from .surgery import numpy_forward, numpy_layers

    layers = numpy_layers(body)
    csr = [(scipy.sparse.csr_matrix(W), b, a) for W, b, a in layers]
    x = np.zeros((parts.n_inputs, 1), dtype=np.float32)

    def median_us(ls: Sequence[tuple[Any, np.ndarray | None, str]]) -> float:
        numpy_forward(ls, x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            numpy_forward(ls, x)
            times.append(time.perf_counter_ns() - t0)
        return float(np.median(times)) / 1e3

    with threadpool_limits(1):
        return median_us(csr), median_us(layers)


def _low_rank(parts: NetworkParts, tuning: Tuning, o: NetworkOptions, seed: int) -> list[Candidate]:
    """Truncated SVD of each dense layer at each energy level (or fixed rank) where it has
    fewer weights, then fine-tuning; levels giving the same ranks are made once, and levels
    where no layer pays off make no candidate."""
    from .surgery import energy_rank, factorise, network_onnx

    def fixed(r: int) -> Callable[[np.ndarray], int]:
        return lambda W: min(r, *W.shape)

    def share(e: float) -> Callable[[np.ndarray], int]:
        return lambda W: energy_rank(W, e)

    levels: list[tuple[str, dict[str, Any], Callable[[np.ndarray], int]]]
    if o.ranks is not None:
        levels = [(f"rank {r}", {"rank": r}, fixed(r)) for r in o.ranks]
    else:
        levels = [(f"{e:.0%} energy", {"energy": e}, share(e)) for e in o.energies]
    out: list[Candidate] = []
    seen: set[tuple[int | None, ...]] = set()
    for label, level, rank_of in levels:
        body, ranks = factorise(parts.body, rank_of)
        key = tuple(ranks)
        if all(r is None for r in ranks) or key in seen:
            continue
        seen.add(key)
        body = _tuned(parts, body, tuning, o, seed)
        small = parts.with_body(body)
        shown = ", ".join("full" if r is None else str(r) for r in ranks)
        settings = {
            **level,
            "ranks": list(ranks),
            "parameters": small.n_parameters,
            "epochs": o.epochs,
            "seed": seed,
        }
        note = (
            f"layer ranks {shown} ({parts.n_parameters:,} -> {small.n_parameters:,} "
            f"parameters); {_fine_tuning_note(o, tuning)}"
        )
        out.append(
            _candidate(f"lowrank {label}", "lowrank", network_onnx(small, body), settings, note)
        )
    return out
