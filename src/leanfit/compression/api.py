"""``compress(fit, test=..., tolerance=...)``: compressed forms of a fitted model, all measured the
same way on held-out rows, the accuracy-size-latency front, and the smallest (or fastest) one
within a tolerance of the best.

Candidates come from generators, each ``(name, applies(source), make(source, options))`` in
``GENERATORS``, run in order: each one's ``make`` sees the candidates made before it in
``options["previous"]`` (so quantization applies to students too). ``techniques=`` chooses which
run; a model none of them applies to is refused with the list of which apply to which models.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from leanfit.models.base import CLASSIFICATION

from .candidate import TECHNIQUES, Candidate, Source
from .front import OBJECTIVES, Selection, pareto_front, parse_tolerance, select
from .measure import Timing, measure_all
from .networks import APPLIES_TO, NETWORK_TECHNIQUES, applies_to_networks, network_candidates
from .quantize import CALIBRATION_ROWS, QUANTIZE_TECHNIQUES, is_network_graph, quantized
from .trees import TREE_METHODS, applies_to_trees, tree_candidates

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from leanfit.frame import Dataset

#: student sizes tried by the "students" generator (hidden units per layer)
STUDENT_SIZES: tuple[tuple[int, ...], ...] = ((16,), (32,), (64,), (128,), (128, 128))
#: network methods: their fits' graphs are networks (pruning and quantization apply)
NETWORK_METHODS = ("mlp", "distill_mlp")


class Generator(NamedTuple):
    """One source of candidates: its name, whether it applies to a source, how it makes its
    candidates, the techniques it produces and, in words, the models it applies to."""

    name: str
    applies: Callable[[Source], bool]
    make: Callable[[Source, Mapping[str, Any]], list[Candidate]]
    techniques: tuple[str, ...] = ()
    models: str = ""


# -- what a source is ----------------------------------------------------------------------


def _train_result(model: Any) -> bool:
    from leanfit.tuning.result import TrainResult

    return isinstance(model, TrainResult)


def _distilled(model: Any) -> bool:
    return hasattr(model, "student") and hasattr(model, "teacher") and hasattr(model, "to_onnx")


def is_network(source: Source) -> bool:
    """A torch mlp fit or a distilled mlp student: the sources networks' compressions apply to."""
    m = source.model
    if _distilled(m):
        return bool(m.student.kind == "mlp")
    return _train_result(m) and m.method in NETWORK_METHODS


def _dataset(model: Any) -> Dataset:
    return model.teacher.dataset if _distilled(model) else model.dataset


# -- the generators this module owns ---------------------------------------------------------


def _always(source: Source) -> bool:
    return True


def original_candidate(source: Source) -> Candidate:
    """The uncompressed model: its exported ONNX graph, or its own predict when it has none."""
    from leanfit.export import to_onnx

    from .onnx_candidate import onnx_predictor

    m = source.model
    name = "original"
    try:
        graph = m.to_onnx() if _distilled(m) else to_onnx(m)
    except (NotImplementedError, ValueError, TypeError) as e:
        return _python_original(source, f"no ONNX export ({e}); measured in Python")
    method = f"distilled {m.student.kind}" if _distilled(m) else m.method
    return Candidate(
        name=name,
        technique="original",
        predict=onnx_predictor(graph),
        size_bytes=len(graph),
        settings={"method": method},
        onnx=graph,
    )


def _python_original(source: Source, note: str) -> Candidate:
    """A TrainResult measured through its own predict; its size is the stored model's."""
    from scipy.special import softmax

    from leanfit.distillation.teacher import member_outputs
    from leanfit.store.artifacts import dump_model

    fit = source.model
    size = len(dump_model(fit.final_model)[1])
    if fit.final_preprocess is not None:
        size += len(dump_model(fit.final_preprocess)[1])

    def predict(X: np.ndarray) -> np.ndarray:
        out = member_outputs(fit, np.asarray(X, dtype=float))
        return np.asarray(softmax(out, axis=1) if source.classification else out)

    return Candidate(
        name="original",
        technique="original",
        predict=predict,
        size_bytes=size,
        settings={"method": fit.method},
        note=note,
    )


def _original(source: Source, options: Mapping[str, Any]) -> list[Candidate]:
    return [original_candidate(source)]


def students_apply(source: Source) -> bool:
    """Students learn from a fit giving class probabilities (or any regression fit), or from a
    distilled student's teacher."""
    m = source.model
    if _distilled(m):
        return True
    if not _train_result(m) or m.final_model is None:
        return False
    return bool(not source.classification or m.model.probabilities)


def _students(source: Source, options: Mapping[str, Any]) -> list[Candidate]:
    """Students of several sizes distilled from the source as ``lf.distill`` does (its MUNGE
    transfer set, T / alpha loss, Adam with a cosine schedule), the transfer set built and
    labelled by the teacher once for all sizes; one candidate each (its ONNX graph)."""
    from leanfit.distillation.api import (
        _fit_student,
        _source_rows,
        _StudentSpec,
        _transfer_set,
        check_settings,
    )
    from leanfit.distillation.teacher import Teacher
    from leanfit.distillation.transfer import check_transfer_size
    from leanfit.nn.training import TrainOptions

    from .onnx_candidate import onnx_predictor

    m = source.model
    teach = Teacher.of(m.teacher if _distilled(m) else m)
    T = float(options.get("student_T", 4.0))
    alpha = float(options.get("student_alpha", 0.1))
    multiple = float(options.get("student_multiple", 4.0))
    train_options = TrainOptions(
        optimizer="adam",
        lr=2e-3,
        batch_size=256,
        epochs=int(options.get("student_epochs", 30)),
        schedule="cosine",
        device="cpu",
        num_threads=int(options.get("num_threads", 1)),
    )
    check_settings(student="mlp", augment_with="munge", T=T, alpha=alpha, options=train_options)
    X, y = _source_rows(teach, options.get("data"))
    k = teach.n_classes if source.classification else 1
    check_transfer_size(len(X), X.shape[1], k, multiple)
    Xa, t_out, labels = _transfer_set(teach, X, y, "munge", multiple, source.seed)
    out = []
    for hidden in options.get("student_sizes", STUDENT_SIZES):
        spec = _StudentSpec(
            student="mlp",
            hidden=tuple(int(h) for h in hidden),
            activation="relu",
            dropout=0.0,
            options=train_options,
            seed=source.seed,
            progress=False,
            tree_depth=8,
            l2=0.0,
        )
        st = _fit_student(spec, teach, Xa, labels, t_out, len(X), T, alpha)
        graph = _student_graph(st)
        size = "x".join(str(h) for h in spec.hidden)
        out.append(
            Candidate(
                name=f"student {size}",
                technique="student",
                predict=onnx_predictor(graph),
                size_bytes=len(graph),
                settings={"hidden": list(spec.hidden), "parameters": st.n_parameters},
                onnx=graph,
                origin=StudentOrigin(st, Xa, labels, t_out, T, alpha),
            )
        )
    return out


def _student_graph(student: Any) -> bytes:
    """A distilled mlp student's graph as the network compressions write theirs (standardisation
    folded into the first layer), so a student and its pruned or quantized forms differ only in
    what was compressed; the student's own export where that does not apply."""
    from .networks import network_parts

    try:
        parts = network_parts(student)
    except (ValueError, ImportError):
        return bytes(student.to_onnx())
    from .surgery import network_onnx

    return network_onnx(parts, parts.body)


@dataclass
class StudentOrigin:
    """A student made by the "students" generator with its transfer set: what chained
    compressions (pruning the student) fine-tune on."""

    student: Any
    rows: np.ndarray
    labels: np.ndarray
    teacher_outputs: np.ndarray
    T: float
    alpha: float


#: hidden-neuron shares the chained pruning removes from each student
STUDENT_PRUNE_RATIOS = (0.5,)


def _pruned_students(source: Source, options: Mapping[str, Any]) -> list[Candidate]:
    """Structured pruning chained after distillation: every student made before (its
    ``origin``) loses ``student_prune_ratios`` of its hidden neurons and is fine-tuned on its
    own transfer set with the distillation loss; e.g. "student 256 prune 50%" (128 units)."""
    from .networks import student_network_candidates

    ratios = options.get("student_prune_ratios", STUDENT_PRUNE_RATIOS)
    net_options: dict[str, Any] = {"techniques": ("prune",), "ratios": ratios}
    for ours, theirs in (("finetune_epochs", "epochs"), ("finetune_lr", "lr")):
        if ours in options:
            net_options[theirs] = options[ours]
    out: list[Candidate] = []
    for c in options.get("previous", ()):
        origin = c.origin
        if not isinstance(origin, StudentOrigin) or c.technique != "student":
            continue
        out += student_network_candidates(
            origin.student,
            origin.rows,
            origin.labels,
            origin.teacher_outputs,
            origin.T,
            origin.alpha,
            net_options,
            prefix=f"{c.name} ",
            seed=source.seed,
        )
    return out


def quantize_applies(source: Source) -> bool:
    """int8 / fp16 apply to network graphs: the source's own, or students made from it."""
    return is_network(source) or students_apply(source)


def _quantize(source: Source, options: Mapping[str, Any]) -> list[Candidate]:
    bases = [c for c in options.get("previous", ()) if is_network_graph(c.onnx)]
    return quantized(
        bases,
        source.X_train,
        set(options.get("techniques", QUANTIZE_TECHNIQUES)),
        calibration=int(options.get("calibration_rows", CALIBRATION_ROWS)),
        seed=source.seed,
    )


#: every source of candidates, run in this order (networks' and trees' generators sit between
#: "original" and "students"; quantization comes last so it sees every network made before it)
def _trees(source: Source, options: Mapping[str, Any]) -> list[Candidate]:
    mine = {k: options[k] for k in ("trees", "compile") if k in options}
    if "compiled" not in options.get("techniques", ("compiled",)):
        mine["compile"] = "none"  # compiling is the slow part: only when asked for
    return tree_candidates(source, mine)


#: compress()'s option -> network_candidates' option of the same meaning
_NETWORK_KEYS = {
    "prune_ratios": "ratios",
    "prune_criterion": "criterion",
    "sparsities": "sparsities",
    "lowrank_energies": "energies",
    "lowrank_ranks": "ranks",
    "finetune_epochs": "epochs",
    "finetune_lr": "lr",
}


def _networks(source: Source, options: Mapping[str, Any]) -> list[Candidate]:
    mine = {theirs: options[ours] for ours, theirs in _NETWORK_KEYS.items() if ours in options}
    techniques = tuple(t for t in NETWORK_TECHNIQUES if t in options.get("techniques", ()))
    return network_candidates(source, {**mine, "techniques": techniques, "seed": source.seed})


GENERATORS: tuple[Generator, ...] = (
    Generator("original", _always, _original, ("original",), "every model"),
    Generator(
        "networks",
        applies_to_networks,
        _networks,
        NETWORK_TECHNIQUES,
        "networks: " + APPLIES_TO,
    ),
    Generator(
        "trees",
        applies_to_trees,
        _trees,
        ("fewer_trees", "compiled"),
        f"tree ensembles: {', '.join(TREE_METHODS)} fits",
    ),
    Generator(
        "students",
        students_apply,
        _students,
        ("student",),
        "classification fits with class probabilities, regression fits, distilled students",
    ),
    Generator(
        "student_pruning",
        students_apply,
        _pruned_students,
        ("prune",),
        "the mlp students made here (structured pruning chained after distillation)",
    ),
    Generator(
        "quantize",
        quantize_applies,
        _quantize,
        QUANTIZE_TECHNIQUES,
        f"network graphs: {', '.join(NETWORK_METHODS)} fits, distilled mlp students, and the "
        "students made here",
    ),
)

#: options the generators above read, with what each must be
OPTION_KEYS = {
    "student_sizes": "a list of hidden-layer sizes, e.g. [[16], [64], [128, 128]]",
    "student_epochs": "a positive integer",
    "student_T": "a temperature > 0",
    "student_alpha": "a number in [0, 1]",
    "student_multiple": "a number >= 0 (synthetic rows per training row)",
    "calibration_rows": "a positive integer (training rows calibrating int8 static)",
    "num_threads": "a positive integer (threads training the students)",
    "trees": "tree counts of the fewer-trees candidates (default: the sub-model profile's)",
    "compile": "which tree counts to compile: 'full', 'all', 'none' or a list of counts",
    "prune_ratios": "fractions of hidden neurons to remove, each in (0, 1)",
    "student_prune_ratios": "fractions of each student's hidden neurons removed by the pruning "
    "chained after distillation, each in (0, 1) (default [0.5])",
    "prune_criterion": "'l1' or 'l2' (the norm scoring a neuron)",
    "sparsities": "fractions of weights zeroed by magnitude pruning, each in (0, 1)",
    "lowrank_energies": "shares of each layer's squared singular values kept, each in (0, 1]",
    "lowrank_ranks": "ranks of the low-rank layers (instead of energies)",
    "finetune_epochs": "epochs of fine-tuning after pruning or low rank (0: none)",
    "finetune_lr": "the fine-tuning learning rate (> 0)",
}


# -- the result --------------------------------------------------------------------------


@dataclass
class Compressed:
    """Every candidate measured on the test rows, the front, and the chosen one (or None).

    ``table``: one row per candidate: name, technique, the metric (Accuracy or RMSE) with
    Kappa / ROC or Rsquared, fidelity to the original, size in bytes and ``size_ratio``
    (candidate / original), single-row ``p50_us`` / ``p99_us``, ``x_faster`` (original p50 /
    candidate p50), batch ``rows_per_s``, ``on_front``, ``chosen`` and a note.
    """

    table: pd.DataFrame
    candidates: list[Candidate]
    metric: str
    maximize: bool
    tolerance: float | str
    objective: str
    selection: Selection
    source: Source = field(repr=False)
    dataset: Dataset = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> Candidate | None:
        """The chosen candidate, or None when none is within the tolerance."""
        i = self.selection.index
        return None if i is None else self.candidates[i]

    @property
    def message(self) -> str:
        return self.selection.message

    def front_plot(self) -> Figure:
        """Metric against size (log scale), every candidate a point, the front joined and the
        chosen one ringed."""
        from leanfit.plots.compression import plot_front

        return plot_front(self.table, self.metric, self.maximize)

    def save(self, path: str | Path) -> Path:
        """Write the chosen model: an ONNX file, or a bundle when ``path`` ends in ``.lfb``
        (``leanfit.bundle.load_bundle`` reads it back; its input is the raw columns)."""
        chosen = self.chosen
        if chosen is None:
            raise ValueError(f"nothing to save: {self.message}")
        if chosen.onnx is None:
            raise ValueError(
                f"the chosen candidate {chosen.name!r} has no ONNX graph to save ({chosen.note})"
            )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".lfb":
            from leanfit.bundle import save_bundle

            return save_bundle(self, path)
        path.write_bytes(chosen.onnx)
        return path

    def __repr__(self) -> str:
        cols = [
            c
            for c in (
                "name",
                "technique",
                self.metric,
                "fidelity",
                "size_bytes",
                "size_ratio",
                "p50_us",
                "p99_us",
                "x_faster",
                "rows_per_s",
                "on_front",
                "chosen",
            )
            if c in self.table
        ]
        tol = self.tolerance if isinstance(self.tolerance, str) else f"{self.tolerance:g}"
        head = (
            f"Compressed: {len(self.table)} candidates measured on the test rows, {self.metric} "
            f"({'higher' if self.maximize else 'lower'} is better), tolerance {tol}, objective "
            f"{self.objective}"
        )
        lines = [head, "", self.table[cols].to_string(index=False, float_format=_fmt), ""]
        chosen = self.chosen
        lines.append(
            f"chosen: {chosen.name} ({self.message})"
            if chosen is not None
            else f"chosen: nothing ({self.message})"
        )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


# -- checks ------------------------------------------------------------------------------


def _applies_to() -> str:
    return "; ".join(
        f"{', '.join(g.techniques)} -> {g.models}" for g in GENERATORS if g.name != "original"
    )


def resolve_techniques(techniques: Sequence[str] | None, source: Source) -> set[str]:
    """The techniques to run ("original" always), checked: an unknown name is refused with the
    valid ones; a request none of whose techniques applies to this model is refused with which
    techniques apply to which models. Generator names ("students", "quantize") stand for all
    their techniques."""
    known = {t for g in GENERATORS for t in g.techniques}
    by_generator = {g.name: set(g.techniques) for g in GENERATORS}
    applicable = {t for g in GENERATORS if g.applies(source) for t in g.techniques}
    if techniques is None:
        wanted = set(applicable)
    else:
        if isinstance(techniques, str):
            techniques = [techniques]
        wanted = set()
        for t in techniques:
            if t in by_generator:
                wanted |= by_generator[t]
            elif t in known:
                wanted.add(str(t))
            else:
                offered = ", ".join(f"{k} ({TECHNIQUES[k]})" for k in sorted(known))
                raise ValueError(
                    f"unknown compression technique {t!r}; valid: {offered}; or a generator "
                    f"name: {', '.join(by_generator)}"
                )
    if not is_network(source) and not ({"student"} & wanted & applicable):
        applicable -= set(QUANTIZE_TECHNIQUES)  # int8 / fp16 need a network: none would exist
        # pruning students needs students; what else prunes this model (none here) stays
        others = {t for g in GENERATORS if g.name != "student_pruning" and g.applies(source)
                  for t in g.techniques}  # fmt: skip
        applicable -= {"prune"} - others
    asked = wanted - {"original"}
    runnable = asked & applicable
    if not runnable:
        what = _describe(source.model)
        asked_text = ", ".join(sorted(asked)) if asked else "none besides the original"
        raise ValueError(
            f"no compression applies to this model ({what}) among the techniques asked "
            f"({asked_text}); which apply to which models: {_applies_to()}"
        )
    return runnable | {"original"}


def _describe(model: Any) -> str:
    if _distilled(model):
        return f"a distilled {model.student.kind} student"
    if _train_result(model):
        return f"a {model.method} fit ({model.dataset.mode})"
    return type(model).__name__


def _check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` checked before any work: every key one of ``OPTION_KEYS`` (a misspelt key
    would otherwise be ignored without a word), sizes and counts valid."""
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a mapping, got {type(options).__name__}")
    unknown = sorted(str(k) for k in options if k not in OPTION_KEYS)
    if unknown:
        raise ValueError(f"unknown compress option(s) {unknown}; valid: {sorted(OPTION_KEYS)}")
    out = dict(options)
    if "student_sizes" in out:
        sizes = out["student_sizes"]
        try:
            out["student_sizes"] = [
                tuple(int(h) for h in ([s] if isinstance(s, int) else s)) for s in sizes
            ]
        except (TypeError, ValueError):
            raise ValueError(
                f"options student_sizes: {OPTION_KEYS['student_sizes']}, got {sizes!r}"
            ) from None
        if not out["student_sizes"] or any(not s or min(s) < 1 for s in out["student_sizes"]):
            raise ValueError(
                f"options student_sizes: {OPTION_KEYS['student_sizes']} (every size >= 1), "
                f"got {sizes!r}"
            )
    for key in ("student_epochs", "calibration_rows", "num_threads"):
        if key in out and (isinstance(out[key], bool) or int(out[key]) != out[key] or out[key] < 1):
            raise ValueError(f"options {key}: {OPTION_KEYS[key]}, got {out[key]!r}")
    return out


def _source(fit: Any, data: Any, seed: int) -> tuple[Source, Dataset]:
    """What compression starts from: the model, its training rows (the fit's own, or ``data``
    encoded by its recipe), target codes and levels."""
    if _distilled(fit):
        ds = fit.teacher.dataset
    elif _train_result(fit):
        if fit.final_model is None:
            raise ValueError(f"the {fit.method!r} fit has no final model to compress")
        ds = fit.dataset
    else:
        raise TypeError(
            f"compress() takes a fitted model (lf.train's result) or a distilled student "
            f"(lf.distill's result), got {type(fit).__name__}"
        )
    if data is None:
        X, y = np.asarray(ds.X, dtype=np.float32), np.asarray(ds.y)
    else:
        X, y = _rows(ds, data, "data")
    levels = list(ds.levels) if ds.mode == CLASSIFICATION else None
    return Source(fit, np.ascontiguousarray(X, dtype=np.float32), y, levels, seed), ds


def _rows(ds: Dataset, frame: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Model-matrix rows and target codes (or values) of a DataFrame with the fit's columns."""
    from leanfit.frame import to_pandas

    frame = to_pandas(frame)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{what} must be a DataFrame with the fit's predictor columns and the target "
            f"{ds.target!r}, got {type(frame).__name__}"
        )
    missing = [c for c in ds.encoder.columns if c not in frame.columns]
    if ds.target not in frame.columns:
        missing.append(ds.target)
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {missing} of the fit (it needs the predictors "
            f"{list(ds.encoder.columns)} and the target {ds.target!r})"
        )
    X = np.asarray(ds.encoder.transform(frame), dtype=float)
    bad = np.isnan(X).any(axis=1)
    if bad.any():
        raise ValueError(
            f"{what} has missing predictor values in {int(bad.sum())} row(s) (first at "
            f"position {int(np.flatnonzero(bad)[0])}); compressed models take complete rows: "
            "impute or drop them"
        )
    y = frame[ds.target]
    if y.isna().any():
        raise ValueError(f"{what} has {int(y.isna().sum())} missing value(s) in {ds.target!r}")
    if ds.mode != CLASSIFICATION:
        return X, y.to_numpy(dtype=float)
    values = y.astype("string")
    unknown = sorted(set(values.unique()) - set(ds.levels))
    if unknown:
        raise ValueError(
            f"{what} has class(es) {unknown} the fit was not trained on "
            f"(its classes: {list(ds.levels)})"
        )
    codes = {lev: i for i, lev in enumerate(ds.levels)}
    return X, np.array([codes[v] for v in values], dtype=np.int64)


# -- the entry point ---------------------------------------------------------------------


def compress(
    fit: Any,
    test: Any,
    *,
    tolerance: float | str = 0.01,
    objective: str = "size",
    techniques: Sequence[str] | None = None,
    data: Any = None,
    options: Mapping[str, Any] | None = None,
    seed: int = 0,
    n_single: int = 2_000,
    batch_size: int = 1_024,
    batch_repeats: int = 20,
    progress: bool = False,
) -> Compressed:
    """Compress ``fit`` (lf.train's result or lf.distill's) every applicable way, measure every
    candidate on ``test`` (a DataFrame with the fit's columns and target, rows the fit never
    saw), and choose the smallest (``objective="size"``) or fastest (``"latency"``) candidate
    whose metric is within ``tolerance`` of the best: a number is an absolute difference (0.01
    = one point of accuracy, or 0.01 of RMSE), a string such as "2%" is relative to the best
    metric (caret's ``tolerance``). A candidate slower than the original is never chosen for
    speed. When none qualifies, nothing is chosen and the result says so.

    ``techniques``: which to run (default: all that apply): "original" is always measured;
    see ``leanfit.compression.TECHNIQUES``, or generator names ("students", "quantize").
    ``data``: the training rows (DataFrame with the target) when the fit does not keep them,
    used to distil students and calibrate static int8, never to measure. ``options``: settings
    of the generators (``OPTION_KEYS``: student sizes and epochs, calibration rows).
    ``n_single`` single-row calls, ``batch_repeats`` batches of ``batch_size`` rows time each
    candidate on one thread.
    """
    from leanfit.distillation.api import _overlap
    from leanfit.export.onnx import _need

    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    parse_tolerance(tolerance)
    timing = Timing(n_single=n_single, batch_size=batch_size, batch_repeats=batch_repeats)
    opts = _check_options(options or {})
    if test is None:
        raise ValueError("compress() needs test rows (test=): every candidate is measured there")
    _need("onnxruntime")  # names the extra to install before anything is built
    _need("onnx")
    source, ds = _source(fit, data, seed)
    wanted = resolve_techniques(techniques, source)
    X_test, y_test = _rows(ds, test, "test")
    shared = _overlap(source.X_train.astype(float), X_test.astype(np.float32).astype(float))
    notes = []
    if shared:
        msg = (
            f"{shared} of {len(X_test)} test rows are identical to training rows; they are "
            "scored too, so the figures are optimistic"
        )
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)
    if data is not None:
        opts["data"] = data
    candidates: list[Candidate] = []
    for gen in GENERATORS:
        techs = wanted & set(gen.techniques)
        if not techs or not gen.applies(source):
            continue
        if progress:
            print(f"compress: {gen.name} ({', '.join(sorted(techs))})", flush=True)
        made = gen.make(source, {**opts, "techniques": techs, "previous": tuple(candidates)})
        candidates += [c for c in made if c.technique in techs]
    table = measure_all(candidates, X_test, y_test, source.classification, timing, latency=True)
    metric = "Accuracy" if source.classification else "RMSE"
    maximize = source.classification
    table["on_front"] = pareto_front(
        table[metric].to_numpy(), table["size_bytes"].to_numpy(), table["p50_us"].to_numpy(),
        maximize,
    )  # fmt: skip
    sel = select(table, metric, maximize, tolerance, objective)
    table["chosen"] = np.arange(len(table)) == (-1 if sel.index is None else sel.index)
    table = table[[c for c in table.columns if c != "note"] + ["note"]]
    if sel.index is None:
        warnings.warn(sel.message, stacklevel=2)
    return Compressed(
        table=table,
        candidates=candidates,
        metric=metric,
        maximize=maximize,
        tolerance=tolerance,
        objective=objective,
        selection=sel,
        source=source,
        dataset=ds,
        notes=notes,
    )
