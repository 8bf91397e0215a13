"""The bundle file: one zip (``.lfb``) holding a manifest (JSON) and its parts, each part's
SHA-256 in the manifest and checked before anything in it is parsed; no pickle anywhere.

Parts: ``model.onnx`` when the fit exports to ONNX and the graph reproduces the fit's own
predictions on the reference rows (checked when saving), else ``model.bin`` (+
``preprocess.bin``) in the experiment store's format (engine format or skops, loaded back only
through the store's exact trust list); ``reference.parquet``, a bounded seeded sample of the raw
training predictors with the bundle's prediction and the target.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import platform
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .. import __version__
from ..frame import Encoder
from ..models.base import CLASSIFICATION, REGRESSION, get_model
from .runner import OnnxRunner, PythonRunner, Runner
from .schema import FACTOR, NUMERIC, ColumnSpec, Schema

if TYPE_CHECKING:
    from ..tuning.trainplan import TrainPlan

__all__ = ["FORMAT", "FORMAT_VERSION", "Bundle", "BundleError", "load_bundle", "save_bundle"]

FORMAT = "leanfit-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REFERENCE_ROWS = 10_000
_IMPUTE_STEPS = ("knn_impute", "bag_impute", "median_impute")
# ONNX must reproduce the fit: classes identical, probabilities / predictions this close
PROB_TOL = 1e-5
REG_RTOL = 1e-5


class BundleError(ValueError):
    """A bundle that cannot be written, or one that is refused when loaded (damaged, altered,
    untrusted, or of a format this leanfit does not read)."""


# ---------------------------------------------------------------------------------------------
# the loaded bundle


@dataclass
class Bundle:
    """A loaded bundle: the schema to check new rows, the model to predict them, the reference
    sample and training metrics for monitoring, and what made it (``info``)."""

    schema: Schema
    mode: str
    classes: list[str] | None
    target: str
    metrics: dict[str, Any]
    info: dict[str, Any]
    runner: Runner = field(repr=False)
    _reference: bytes = field(repr=False, default=b"")
    _reference_fmt: str = "parquet"
    # the fit's own model and pre-processing, loaded on first use (explanations need the
    # engine model, not its ONNX graph); None with the reason when the bundle lacks them
    _python: Callable[[], PythonRunner] | None = field(repr=False, default=None)
    _python_missing: str = ""
    _python_loaded: PythonRunner | None = field(repr=False, default=None)

    def python_fit(self) -> PythonRunner:
        """The fit's own final model, pre-processing, encoder and chosen sub-model (what
        explanations need: the engine model itself, not its ONNX graph). Raises a
        ``BundleError`` saying why when the bundle does not hold them."""
        if isinstance(self.runner, PythonRunner):
            return self.runner
        if self._python_loaded is None:
            if self._python is None:
                raise BundleError(self._python_missing or "this bundle holds no Python fit")
            self._python_loaded = self._python()
        return self._python_loaded

    @property
    def reference(self) -> pd.DataFrame:
        """The bounded, seeded sample of raw training predictors, with the bundle's
        ``prediction`` on them and the target column."""
        if self._reference_fmt == "csv":
            dtypes = {c.name: str for c in self.schema.columns if c.kind == FACTOR}
            return pd.read_csv(io.BytesIO(self._reference), dtype=dtypes)
        return pd.read_parquet(io.BytesIO(self._reference))

    @property
    def runtime(self) -> str:
        """ "onnx" or "python": what computes the predictions."""
        return str(self.info.get("runtime"))

    def validate(
        self, data: pd.DataFrame | list[dict[str, Any]] | dict[str, Any], extra: str = "reject"
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``Schema.validate``: (clean rows, rejects with a ``reason``)."""
        return self.schema.validate(data, extra=extra)

    def predict(self, data: pd.DataFrame | list[dict[str, Any]]) -> pd.DataFrame:
        """Predictions for rows that all pass the schema (columns beyond the predictors, such as
        the target, are ignored): ``prediction`` and, for classification, ``prob_<class>``.
        Rows that fail are refused with their reasons (``validate`` splits them off)."""
        clean, rejects = self.schema.validate(data, extra="ignore")
        if len(rejects):
            shown = "; ".join(f"row {i}: {r}" for i, r in rejects["reason"].head(3).items())
            raise BundleError(
                f"{len(rejects)} of {len(rejects) + len(clean)} row(s) fail the bundle's schema "
                f"({shown}); split them off with .validate()"
            )
        return self.predict_clean(clean)

    def predict_clean(self, clean: pd.DataFrame) -> pd.DataFrame:
        """Predictions for rows ``validate`` passed (index kept)."""
        if len(clean) == 0:
            return self._frame(np.empty(0), np.empty((0, len(self.classes or []))), clean.index)
        pred, prob = self.runner.run(clean)
        return self._frame(pred, prob, clean.index)

    def _frame(self, pred: np.ndarray, prob: np.ndarray | None, index: Any) -> pd.DataFrame:
        if self.mode != CLASSIFICATION:
            return pd.DataFrame({"prediction": np.asarray(pred, dtype=float)}, index=index)
        classes = np.asarray(self.classes, dtype=object)
        out = {"prediction": classes[np.asarray(pred, dtype=np.int64)]}
        if prob is not None and self.info.get("probabilities", True):
            for k, c in enumerate(classes):
                out[f"prob_{c}"] = np.asarray(prob[:, k], dtype=float)
        return pd.DataFrame(out, index=index)


# ---------------------------------------------------------------------------------------------
# saving


def save_bundle(
    fit: Any,
    path: str | Path,
    *,
    data: pd.DataFrame | None = None,
    reference_rows: int = REFERENCE_ROWS,
    seed: int = 0,
    explain: bool = False,
) -> Path:
    """Write a fitted result (a ``TrainResult``, an ensemble from ``lf.ensemble``, a distilled
    student from ``distill`` or ``lf.compress``'s chosen model) to one bundle file (``.lfb``);
    returns its path. An ensemble is bundled as its one ONNX graph (members plus combiner).

    ``data``: the raw training frame, when the reference sample should keep it exactly as given
    (by default the raw columns are decoded from the fit's own model matrix: the same values).
    ``reference_rows``: at most this many training rows (a seeded sample) are kept for drift.
    ``explain``: also keep the fit's own model and pre-processing (engine format or skops)
    beside an ONNX graph, so explanations (``leanfit serve``'s ``?explain=true``) can run; a
    TrainResult only.
    """
    from ..tuning.result import TrainResult

    if isinstance(fit, TrainResult):
        parts, man, predictor = _from_train_result(fit)
        dataset = fit.dataset
        if explain and "model.bin" not in parts:
            raise BundleError(
                f"explain=True needs the {fit.method!r} fit's own model in the bundle, and "
                f"{man.get('python_note', 'it cannot be stored')}"
            )
    elif explain:
        raise BundleError(
            f"explain=True keeps a TrainResult's own model; a {type(fit).__name__} has none "
            "to explain with"
        )
    elif hasattr(fit, "combiner") and hasattr(fit, "members") and hasattr(fit, "to_onnx"):
        parts, man, predictor = _from_ensemble(fit)
        dataset = fit.dataset
    elif hasattr(fit, "student") and hasattr(fit, "teacher") and hasattr(fit, "to_onnx"):
        parts, man, predictor = _from_distilled(fit)
        dataset = fit.teacher.dataset
    elif hasattr(fit, "chosen") and hasattr(fit, "candidates") and hasattr(fit, "dataset"):
        parts, man, predictor = _from_compressed(fit)
        dataset = fit.dataset
    else:
        raise BundleError(
            f"save_bundle() takes a TrainResult, an ensemble (lf.ensemble()'s result), a "
            f"distilled student (distill()'s result) or a compression (compress()'s), got "
            f"{type(fit).__name__}"
        )
    encoder: Encoder = dataset.encoder
    if encoder.formula is not None and man["kind"] != "train_result":
        raise BundleError(
            f"this {man['kind']}'s formula '~ {encoder.formula.rhs}' builds terms (interactions, "
            "poly, log, I(), C(), - 1) that its one ONNX graph cannot express; bundle its "
            "members one by one, or train them on a plain formula ('y ~ .')"
        )
    raw = _raw_frame(dataset, data)
    if encoder.formula is not None:
        parts["formula.json"] = _formula_part(encoder, raw)
    schema = _schema(raw, encoder, man.pop("_handles_missing"))
    n = len(raw)
    take = np.arange(n)
    if n > reference_rows:
        take = np.sort(
            np.random.default_rng(seed).choice(n, size=int(reference_rows), replace=False)
        )
    ref = raw.iloc[take].reset_index(drop=True)
    mode, classes = dataset.mode, (list(dataset.levels) if dataset.mode == CLASSIFICATION else None)
    man.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        schema=schema.to_json(),
        encoder={
            "columns": list(encoder.columns),
            "categorical": [[c, list(lv)] for c, lv in encoder.categorical],
            "feature_names": list(encoder.feature_names),
            **({"formula": "formula.json"} if encoder.formula is not None else {}),
        },
        target=dataset.target,
        mode=mode,
        classes=classes,
    )
    # the runtime: ONNX when it reproduces the fit on the reference rows, else the Python fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want_pred, want_prob = predictor(ref)
    runner: Runner | None = None
    if "model.onnx" in parts:
        onnx_runner = _onnx_runner(parts["model.onnx"], encoder, mode, classes)
        why = _parity(onnx_runner, ref, want_pred, want_prob, mode)
        if why is None:
            runner = onnx_runner
            man["runtime"] = "onnx"
            if explain:  # the fit itself too, for explanations only
                man["explain"] = True
            else:
                for name in ("model.bin", "preprocess.bin"):  # one model per bundle: the one run
                    parts.pop(name, None)
                man.pop("python", None)
            man["onnx_inputs"] = "raw" if onnx_runner.raw else "X"
        else:
            del parts["model.onnx"]
            man["onnx_note"] = f"ONNX graph not used: {why}"
    if runner is None:
        if "model.bin" not in parts:
            raise BundleError(
                "cannot bundle this fit: "
                + man.get("onnx_note", "it has no ONNX export and no Python fallback")
            )
        man["runtime"] = "python"
    ref_pred = want_pred
    if mode == CLASSIFICATION:
        ref["prediction"] = np.asarray(classes, dtype=object)[np.asarray(ref_pred, dtype=np.int64)]
    else:
        ref["prediction"] = np.asarray(ref_pred, dtype=float)
    ref[dataset.target] = np.asarray(dataset.y_labels)[take]
    parts["reference.parquet"] = _parquet(ref)
    man["reference_rows"] = len(ref)
    man["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    man["versions"] = _versions(man.get("engine"))
    man["parts"] = {name: hashlib.sha256(b).hexdigest() for name, b in parts.items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(MANIFEST, json.dumps(man, indent=1, default=_json_default))
        for name, b in parts.items():
            z.writestr(name, b)
    tmp.replace(path)
    return path


def _from_train_result(fit: Any) -> tuple[dict[str, bytes], dict[str, Any], Any]:
    """Parts, manifest entries and the fit's own predictor for a TrainResult."""
    from ..export import to_onnx
    from ..store.artifacts import dump_model
    from ..tuning.persist import data_fingerprint

    if fit.final_model is None:
        raise BundleError(
            f"the {fit.method!r} result has no final model to bundle (train with a final fit)"
        )
    parts: dict[str, bytes] = {}
    notes = []
    graph = None
    export: Any = to_onnx  # raw_inputs= is a newer keyword: older exporters raise TypeError
    formula = fit.dataset.encoder.formula
    if formula is not None:  # formulaic builds its terms in Python; a graph does not
        notes.append(
            f"formula '~ {formula.rhs}': its terms are built by formulaic (stored as JSON), "
            "which an ONNX graph does not express; the Python fit is bundled"
        )
    for kw in ({"raw_inputs": True}, {}) if formula is None else ():
        try:
            graph = export(fit, **kw)
            if kw:  # float64 inputs: float32 would round values leanfit computes with
                from ..export.pipeline import double_inputs

                graph = double_inputs(graph)
            break
        except (TypeError, NotImplementedError, ValueError, ImportError) as e:
            notes.append(f"to_onnx({', '.join(f'{k}={v}' for k, v in kw.items())}): {e}")
    if graph is not None:
        parts["model.onnx"] = graph
    python_note = None
    try:
        registered = get_model(fit.method)
        if type(registered) is not type(fit.model):
            raise ValueError("not a registered leanfit model")
        fmt, blob = dump_model(fit.final_model)
        parts["model.bin"] = blob
        pp_fmt = None
        if fit.final_preprocess is not None:
            pp_fmt, pp_blob = dump_model(fit.final_preprocess)
            parts["preprocess.bin"] = pp_blob
    except ValueError as e:  # UnsafeModelError is one
        python_note = f"the Python fit cannot be stored without pickle: {e}"
    if graph is None and python_note is not None:
        raise BundleError(
            f"cannot bundle the {fit.method!r} result: {python_note}; " + "; ".join(notes)
        )
    mode = fit.dataset.mode
    steps = list(getattr(fit.final_preprocess, "steps", ()) or ())
    man: dict[str, Any] = {
        "kind": "train_result",
        "method": fit.method,
        "engine": fit.model.engine,
        "options": dict(fit.model.options),
        "best_params": fit.best_params,
        "sub": fit._sub(),
        "preprocess_steps": steps,
        "metrics": _metrics(fit),
        "metric": fit.metric,
        "fingerprint": data_fingerprint(cast("TrainPlan", fit)),  # uses only .context
        "probabilities": bool(mode == CLASSIFICATION and fit.model.probabilities),
        "onnx_export_notes": notes if graph is None else [],
        "_handles_missing": bool(fit.model.takes_missing or set(steps) & set(_IMPUTE_STEPS)),
    }
    if "model.bin" in parts:
        man["python"] = {"model_format": fmt, "preprocess_format": pp_fmt}
    if python_note:
        man["python_note"] = python_note

    def predictor(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        pred, prob, _ = fit._predict(frame)
        return pred, (prob if man["probabilities"] else None)

    return parts, man, predictor


def _from_ensemble(fit: Any) -> tuple[dict[str, bytes], dict[str, Any], Any]:
    """Parts, manifest entries and the ensemble's own predictor for an ensemble (duck-typed:
    bundle sits below fusion): its one ONNX graph, on raw inputs when every member exports them,
    else on the model matrix."""
    from ..tuning.persist import data_fingerprint

    notes = []
    graph = None
    for kw in ({"raw_inputs": True, "double": True}, {}):
        try:
            graph = fit.to_onnx(**kw)
            break
        except (TypeError, NotImplementedError, ValueError, ImportError) as e:
            notes.append(f"to_onnx({', '.join(f'{k}={v}' for k, v in kw.items())}): {e}")
    if graph is None:
        raise BundleError(
            "cannot bundle this ensemble: it is bundled as one ONNX graph and it does not "
            "export (" + "; ".join(notes) + ")"
        )
    members = list(fit.members.values())
    mode = fit.dataset.mode
    res = fit.results
    row = res.loc["ensemble"] if "ensemble" in res.index else None
    metrics = {} if row is None else {str(k): _num(v) for k, v in row.items()}
    handles = all(
        m.model.takes_missing
        or set(getattr(m.final_preprocess, "steps", ()) or ()) & set(_IMPUTE_STEPS)
        for m in members
    )
    man: dict[str, Any] = {
        "kind": "ensemble",
        "method": f"ensemble ({fit.method})",
        "engine": None,
        "best_params": {
            "members": {name: m.method for name, m in fit.members.items()},
            "weights": None if fit.weights is None else fit.weights.to_dict(),
            **dict(fit.settings),
        },
        "metrics": metrics,
        "metric": fit.metric,
        "fingerprint": data_fingerprint(cast("TrainPlan", members[0])),
        "probabilities": mode == CLASSIFICATION,
        "onnx_export_notes": notes,
        "_handles_missing": bool(handles),
    }

    def predictor(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        if mode != CLASSIFICATION:
            return fit.predict(frame).to_numpy(dtype=float), None
        prob = fit.predict_proba(frame).to_numpy(dtype=float)
        return fit.predict(frame).cat.codes.to_numpy(), prob

    return {"model.onnx": graph}, man, predictor


def _from_distilled(fit: Any) -> tuple[dict[str, bytes], dict[str, Any], Any]:
    """Parts, manifest entries and the student's own predictor for a distilled student: its
    ONNX graph on the model matrix (a student has no pre-processing)."""
    from ..tuning.persist import data_fingerprint

    try:
        graph = fit.to_onnx()
    except (TypeError, NotImplementedError, ValueError, ImportError) as e:
        raise BundleError(
            f"cannot bundle this {fit.student.kind!r} student: it does not export to ONNX ({e}); "
            "only students that export (network students) are bundled"
        ) from e
    ds = fit.teacher.dataset
    mode = ds.mode
    man: dict[str, Any] = {
        "kind": "distilled",
        "method": f"distilled {fit.student.kind}",
        "engine": "torch",
        "best_params": dict(fit.settings),
        "metrics": {k: _num(v) for k, v in (fit.figures or {}).items()},
        "teacher": getattr(fit.teacher, "name", None),
        "probabilities": mode == CLASSIFICATION,
        # the teacher's training data, hashed as the store hashes it
        "fingerprint": data_fingerprint(cast("TrainPlan", fit.teacher.members[0])),
        "_handles_missing": False,
    }

    def predictor(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        X = fit._X(frame)
        if mode == CLASSIFICATION:
            prob = np.asarray(fit.student.predict_proba(X), dtype=float)
            return np.asarray(fit.student.predict(X)), prob
        return np.asarray(fit.student.predict(X), dtype=float), None

    return {"model.onnx": graph}, man, predictor


def _from_compressed(fit: Any) -> tuple[dict[str, bytes], dict[str, Any], Any]:
    """Parts, manifest entries and predictor for ``lf.compress``'s chosen candidate: its ONNX
    graph on the model matrix (int8, fp16, a student...), predicting as it was measured."""
    from ..tuning.persist import data_fingerprint

    chosen = fit.chosen
    if chosen is None or chosen.onnx is None:
        why = "nothing was chosen" if chosen is None else f"{chosen.name!r} has no ONNX graph"
        raise BundleError(f"cannot bundle this compression: {why}")
    ds = fit.dataset
    mode = ds.mode
    row = fit.table.loc[fit.table["chosen"]].iloc[0]
    model = fit.source.model
    first = model.teacher.members[0] if hasattr(model, "teacher") else model
    man: dict[str, Any] = {
        "kind": "compressed",
        "method": f"compressed ({chosen.technique}: {chosen.name})",
        "engine": "onnxruntime",
        "best_params": dict(chosen.settings),
        "metrics": {
            k: _num(row[k]) for k in (fit.metric, "fidelity", "size_bytes", "p50_us") if k in row
        },
        "probabilities": mode == CLASSIFICATION,
        "fingerprint": data_fingerprint(cast("TrainPlan", first)),
        "_handles_missing": False,
    }

    def predictor(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        X = np.asarray(ds.encoder.transform(frame), dtype=np.float32)
        out = np.asarray(chosen.predict(X), dtype=float)
        if mode == CLASSIFICATION:
            return out.argmax(axis=1), out
        return out.reshape(-1), None

    return {"model.onnx": chosen.onnx}, man, predictor


def _onnx_runner(
    graph: bytes, encoder: Encoder, mode: str, classes: Any, threads: int = 1
) -> OnnxRunner:
    from ..export import onnx_session

    return OnnxRunner(onnx_session(graph, threads=threads), encoder, mode, classes)


def _parity(
    runner: Runner, ref: pd.DataFrame, pred: np.ndarray, prob: np.ndarray | None, mode: str
) -> str | None:
    """Why the runner does not reproduce the fit on the reference rows, else None."""
    try:
        got_pred, got_prob = runner.run(ref)
    except Exception as e:  # any runtime failure means: do not ship this graph
        return f"ONNX Runtime failed on the training rows ({type(e).__name__}: {e})"
    if mode == CLASSIFICATION:
        n_diff = int(np.sum(np.asarray(got_pred) != np.asarray(pred)))
        if n_diff:
            return f"it predicts a different class than the fit on {n_diff} training row(s)"
        if prob is not None and got_prob is not None:
            d = float(np.nanmax(np.abs(got_prob - prob))) if len(prob) else 0.0
            if not d <= PROB_TOL:
                return f"its probabilities differ from the fit's by up to {d:.3g} (> {PROB_TOL})"
        return None
    want = np.asarray(pred, dtype=float)
    tol = PROB_TOL + REG_RTOL * np.abs(want)
    if not np.all(np.abs(np.asarray(got_pred, dtype=float) - want) <= tol):
        d = float(np.max(np.abs(np.asarray(got_pred, dtype=float) - want)))
        return f"its predictions differ from the fit's by up to {d:.3g}"
    return None


def _raw_frame(dataset: Any, data: pd.DataFrame | None) -> pd.DataFrame:
    """The raw training predictors: from ``data`` when given, else decoded from the model
    matrix (numeric columns as they are, dummy columns back to their factor level)."""
    encoder: Encoder = dataset.encoder
    if encoder.formula is not None and data is None:
        frame = getattr(dataset, "frame", None)
        if frame is None or len(frame) != len(dataset.y):
            raise BundleError(
                f"a fit on the formula '~ {encoder.formula.rhs}' keeps only its model matrix, "
                "from which the raw columns cannot be decoded; pass data= (the training frame)"
            )
        return frame[list(encoder.columns)].reset_index(drop=True)
    if data is not None:
        missing = [c for c in encoder.columns if c not in data.columns]
        if missing or len(data) != len(dataset.y):
            raise BundleError(
                f"data= must be the training frame ({len(dataset.y)} rows with columns "
                f"{list(encoder.columns)}); it lacks {missing} or has {len(data)} rows"
            )
        return data[list(encoder.columns)].reset_index(drop=True)
    X = np.asarray(dataset.X, dtype=float)
    cats = dict(encoder.categorical)
    out: dict[str, Any] = {}
    j = 0
    for col in encoder.columns:
        if col in cats:
            levels = cats[col]
            k = len(levels) - 1
            block = X[:, j : j + k]
            codes = np.zeros(len(X), dtype=np.int64)
            if k:
                hit = np.nan_to_num(block) > 0.5
                codes = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)
            vals = np.asarray(levels, dtype=object)[codes]
            vals[np.isnan(block).any(axis=1)] = np.nan
            out[col] = vals
            j += k
        else:
            out[col] = X[:, j]
            j += 1
    return pd.DataFrame(out)


def _formula_part(encoder: Encoder, raw: pd.DataFrame) -> bytes:
    """The fitted formula as JSON (``formula.formula_state``), checked to rebuild a formula
    that gives exactly the fit's model matrix on the reference rows."""
    from ..formula import formula_from_state, formula_state

    assert encoder.formula is not None
    rhs = encoder.formula.rhs
    try:
        blob = json.dumps(formula_state(encoder.formula)).encode()
        rebuilt = formula_from_state(json.loads(blob))
        want, got = encoder.formula.matrix(raw), rebuilt.matrix(raw)
    except ValueError as e:
        raise BundleError(f"cannot bundle the formula '~ {rhs}': {e}") from e
    if want.shape != got.shape or not np.array_equal(want, got, equal_nan=True):
        raise BundleError(
            f"cannot bundle the formula '~ {rhs}': rebuilt from its stored state it does not "
            "give the fit's model matrix"
        )
    return blob


def _schema(raw: pd.DataFrame, encoder: Encoder, handles_missing: bool) -> Schema:
    cats = dict(encoder.categorical)
    cols = []
    for col in encoder.columns:
        s = raw[col]
        had_na = bool(s.isna().any())
        nullable = had_na or handles_missing
        if col in cats:
            cols.append(ColumnSpec(col, FACTOR, list(cats[col]), nullable))
        else:
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            fin = v[np.isfinite(v)]
            low, high = (float(fin.min()), float(fin.max())) if len(fin) else (None, None)
            cols.append(ColumnSpec(col, NUMERIC, None, nullable, low, high))
    return Schema(cols)


def _metrics(fit: Any) -> dict[str, Any]:
    """The chosen candidate's resampled metrics (mean and SD), empty without resampling."""
    if fit.scores is None:
        return {}
    row = fit.results.iloc[fit.best_index]
    names = list(fit.metric_names) + [f"{n}SD" for n in fit.metric_names] + ["Resamples"]
    return {n: _num(row[n]) for n in names if n in row.index}


def _num(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return None if not np.isfinite(f) else f


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _versions(engine: str | None) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"leanfit": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "pandas", "onnxruntime", "skops", str(engine or "")):
        if not pkg:
            continue
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def _json_default(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return _num(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


# ---------------------------------------------------------------------------------------------
# loading


def load_bundle(path: str | Path, *, threads: int = 1) -> Bundle:
    """Open a bundle file, verifying every part's SHA-256 before parsing it; refuses (with a
    ``BundleError`` naming the part, type or version) a damaged or altered part, a part the
    manifest does not list, a type outside the store's trust list, or an unknown format
    version. ``threads``: ONNX Runtime threads (1: one core per process)."""
    path = Path(path)
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise BundleError(f"{path} is not a leanfit bundle (not a zip archive: {e})") from e
    with z:
        try:
            man = json.loads(z.read(MANIFEST))
        except KeyError as e:
            raise BundleError(f"{path} is not a leanfit bundle (no {MANIFEST})") from e
        except (ValueError, zipfile.BadZipFile) as e:
            raise BundleError(f"{path}: the manifest is damaged ({e})") from e
        if not isinstance(man, dict) or man.get("format") != FORMAT:
            raise BundleError(f"{path} is not a leanfit bundle (manifest format is not {FORMAT!r})")
        version = man.get("format_version")
        if version != FORMAT_VERSION:
            raise BundleError(
                f"{path} has bundle format version {version!r}; this leanfit ({__version__}) "
                f"reads version {FORMAT_VERSION} only"
            )
        hashes = man.get("parts")
        if not isinstance(hashes, dict):
            raise BundleError(f"{path}: the manifest lists no parts")
        listed = set(z.namelist()) - {MANIFEST}
        extra = sorted(listed - set(hashes))
        if extra:
            raise BundleError(
                f"{path}: part(s) {extra} are not listed in the manifest; refusing it"
            )
        parts: dict[str, bytes] = {}
        for name, want in hashes.items():
            try:
                data = z.read(name)
            except KeyError as e:
                raise BundleError(f"{path}: part {name!r} listed in the manifest is missing") from e
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise BundleError(
                    f"{path}: part {name!r} is damaged or was altered ({e}); refusing the bundle"
                ) from e
            got = hashlib.sha256(data).hexdigest()
            if got != want:
                raise BundleError(
                    f"{path}: part {name!r} has SHA-256 {got[:16]}..., the manifest says "
                    f"{str(want)[:16]}...: it was altered or damaged; refusing the bundle"
                )
            parts[name] = data
    try:
        formula = None
        if man["encoder"].get("formula"):
            from ..formula import formula_from_state

            formula = formula_from_state(json.loads(parts[man["encoder"]["formula"]]))
        encoder = Encoder(
            columns=tuple(man["encoder"]["columns"]),
            categorical=tuple((c, tuple(lv)) for c, lv in man["encoder"]["categorical"]),
            feature_names=tuple(man["encoder"]["feature_names"]),
            formula=formula,
        )
        schema = Schema.from_json(man["schema"])
        mode = man["mode"]
        if mode not in (CLASSIFICATION, REGRESSION):
            raise ValueError(f"mode {mode!r}")
        classes = None if man.get("classes") is None else [str(c) for c in man["classes"]]
        runtime = man["runtime"]
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"{path}: the manifest is incomplete or malformed ({e})") from e
    runner: Runner
    python: Callable[[], PythonRunner] | None = None
    python_missing = ""
    if runtime == "onnx":
        runner = _onnx_runner(parts["model.onnx"], encoder, mode, classes, threads)
        if "model.bin" in parts and man.get("python"):

            def python() -> PythonRunner:
                return _python_runner(man, parts, encoder, mode, classes, str(path))

        else:
            python_missing = (
                f"{path} holds the model as ONNX only; explanations need the fit's own model: "
                "save the bundle with save_bundle(fit, path, explain=True)"
            )
    elif runtime == "python":
        runner = _python_runner(man, parts, encoder, mode, classes, str(path))
    else:
        raise BundleError(f"{path}: unknown runtime {runtime!r} in the manifest")
    info = {
        k: man.get(k)
        for k in (
            "kind",
            "method",
            "engine",
            "best_params",
            "metric",
            "preprocess_steps",
            "runtime",
            "onnx_inputs",
            "onnx_note",
            "onnx_export_notes",
            "probabilities",
            "created",
            "versions",
            "fingerprint",
            "reference_rows",
            "parts",
            "format_version",
            "explain",
        )
        if k in man
    }
    return Bundle(
        schema=schema,
        mode=mode,
        classes=classes,
        target=str(man.get("target")),
        metrics=dict(man.get("metrics") or {}),
        info=info,
        runner=runner,
        _reference=parts.get("reference.parquet", b""),
        _python=python,
        _python_missing=python_missing,
    )


def _python_runner(
    man: dict[str, Any],
    parts: dict[str, bytes],
    encoder: Encoder,
    mode: str,
    classes: Any,
    what: str,
) -> PythonRunner:
    from ..store.artifacts import load_model

    py = man.get("python") or {}
    try:
        model = type(get_model(man["method"]))(options=dict(man.get("options") or {}))
        final = load_model(py["model_format"], parts["model.bin"], f"{what}: part 'model.bin'")
        pp = None
        if "preprocess.bin" in parts:
            pp = load_model(
                py["preprocess_format"], parts["preprocess.bin"], f"{what}: part 'preprocess.bin'"
            )
    except KeyError as e:
        raise BundleError(f"{what}: the manifest or parts lack {e} for the Python runtime") from e
    except ValueError as e:  # UnsafeModelError (trust list, malformed engine file), bad method
        raise BundleError(str(e)) from e
    return PythonRunner(
        model=model,
        final_model=final,
        preprocess=pp,
        encoder=encoder,
        sub=dict(man.get("sub") or {}),
        mode=mode,
        levels=tuple(classes or ()),
    )
