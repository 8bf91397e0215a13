"""Teacher vs student vs hard-label student, on held-out rows and in the same runtime.

Quality (accuracy or RMSE, fidelity to the teacher, log-loss) comes from leanfit's own
predictions; size and latency from each model's ONNX graph in ONNX Runtime on one thread, after a
parity check that the graph predicts what the model does.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import softmax

from leanfit.models.base import CLASSIFICATION

from .student import Student
from .teacher import Teacher


def engine_parameters(fitted: Any) -> int | None:
    """The numbers a fitted engine stores: tree nodes (splits + leaves), or coefficients."""
    est = getattr(fitted, "est", fitted)
    if hasattr(est, "model_to_string"):  # a LightGBM booster
        leaves = re.findall(r"^num_leaves=(\d+)$", est.model_to_string(), flags=re.M)
        return int(sum(2 * int(n) - 1 for n in leaves))
    members = getattr(est, "estimators_", None)
    if members is not None:
        trees = np.ravel(np.asarray(members, dtype=object))
        return int(sum(getattr(t, "tree_", t).node_count for t in trees))
    if hasattr(est, "tree_"):
        return int(est.tree_.node_count)
    if hasattr(est, "coef_"):
        return int(np.size(est.coef_) + np.size(getattr(est, "intercept_", 0)))
    return None


def _scores(mode: str, out: np.ndarray, y: np.ndarray, teacher_out: np.ndarray) -> dict[str, float]:
    """Quality of one model's outputs: against the truth and against the teacher."""
    if mode == CLASSIFICATION:
        proba = softmax(out, axis=1)
        pred = proba.argmax(axis=1)
        p_true = np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)
        return {
            "accuracy": float(np.mean(pred == y)),
            "fidelity": float(np.mean(pred == teacher_out.argmax(axis=1))),
            "log_loss": float(-np.mean(np.log(p_true))),
        }
    return {
        "RMSE": float(np.sqrt(np.mean((out - y) ** 2))),
        "fidelity_RMSE": float(np.sqrt(np.mean((out - teacher_out) ** 2))),
        "MAE": float(np.mean(np.abs(out - y))),
    }


def _reference(mode: str, out: np.ndarray) -> np.ndarray:
    return softmax(out, axis=1) if mode == CLASSIFICATION else out


def _runtime(
    graphs: list[bytes],
    references: list[np.ndarray],
    X: np.ndarray,
    n_single: int,
    batch_size: int,
) -> dict[str, float]:
    """Size and one-thread latency of one model (several graphs run one after another)."""
    from leanfit.export import check_parity, measure_latency

    parities, lats = [], []
    for g, ref in zip(graphs, references, strict=True):
        # Tree thresholds are float32 in ONNX: a row exactly between the float32 and float64
        # threshold can take the other branch, so parity is reported rather than enforced.
        parities.append(check_parity(g, ref, X, atol=1e-4, raise_on_failure=False))
        lats.append(measure_latency(g, X, n_single=n_single, batch_size=batch_size, threads=1))
    return {
        "onnx_bytes": float(sum(lat.size_bytes for lat in lats)),
        "single_p50_us": float(sum(lat.single_p50_us for lat in lats)),
        "single_p99_us": float(sum(lat.single_p99_us for lat in lats)),
        "batch_rows_per_s": float(1.0 / sum(1.0 / lat.batch_rows_per_s for lat in lats)),
        "parity_max_diff": float(max(p.max_abs_diff for p in parities)),
    }


def compare_models(
    teacher: Teacher,
    students: dict[str, Student],
    X: np.ndarray,
    y: np.ndarray,
    *,
    latency: bool = True,
    n_single: int = 10_000,
    batch_size: int = 1024,
) -> pd.DataFrame:
    """One row per model (the teacher first): quality, parameters and, optionally, ONNX size,
    single-row p50/p99 latency (µs) and batch throughput (rows/s) on one thread."""
    from leanfit.distillation.teacher import member_outputs

    mode = teacher.mode
    X = np.asarray(X, dtype=float)
    t_out = teacher.outputs(X)
    rows: dict[str, dict[str, Any]] = {}
    params = [engine_parameters(m.final_model) for m in teacher.members]
    known = [p for p in params if p is not None]
    rows[f"teacher ({teacher.name})"] = {
        **_scores(mode, t_out, y, t_out),
        "parameters": float(sum(known)) if len(known) == len(params) else np.nan,
    }
    # a student's outputs are computed on float32 rows, so these are also its ONNX references
    outs = {name: st.outputs(X) for name, st in students.items()}
    for name, st in students.items():
        rows[name] = {**_scores(mode, outs[name], y, t_out), "parameters": st.n_parameters}
    table = pd.DataFrame.from_dict(rows, orient="index")
    if latency:
        from leanfit.export import to_onnx

        # ONNX graphs take float32: their references are computed on the same rounded rows.
        X32 = X.astype(np.float32)
        Xf = X32.astype(float)
        perf: dict[str, dict[str, float]] = {}
        notes = []
        try:
            if teacher.ensemble is not None:  # its one graph: members plus combiner
                graphs = [teacher.ensemble.to_onnx()]
            else:
                graphs = [to_onnx(m) for m in teacher.members]
        except (NotImplementedError, ValueError) as e:  # not exportable: say so, measure the rest
            notes.append(f"teacher not measured in ONNX Runtime: {e}")
        else:
            if teacher.ensemble is not None:
                refs = [_reference(mode, teacher.outputs(Xf))]
            else:
                refs = [_reference(mode, member_outputs(m, Xf)) for m in teacher.members]
            perf[table.index[0]] = _runtime(graphs, refs, X32, n_single, batch_size)
        for name, st in students.items():
            perf[name] = _runtime(
                [st.to_onnx()], [_reference(mode, outs[name])], X32, n_single, batch_size
            )
        table = table.join(pd.DataFrame.from_dict(perf, orient="index"))
        table.attrs["notes"] = notes
    return table


def relative_figures(table: pd.DataFrame, student: str, hard: str | None) -> dict[str, float]:
    """The headline ratios: retention, gap closure, size and speed against the teacher."""
    teacher = table.iloc[0]
    s = table.loc[student]
    out: dict[str, float] = {}
    if "accuracy" in table:
        out["retention"] = s["accuracy"] / teacher["accuracy"]
        if hard is not None:
            h = table.loc[hard, "accuracy"]
            gap = teacher["accuracy"] - h
            out["gap_closure"] = (s["accuracy"] - h) / gap if gap > 0 else np.nan
        out["fidelity"] = s["fidelity"]
    else:
        out["rmse_ratio"] = s["RMSE"] / teacher["RMSE"]
        if hard is not None:
            h = table.loc[hard, "RMSE"]
            gap = h - teacher["RMSE"]
            out["gap_closure"] = (h - s["RMSE"]) / gap if gap > 0 else np.nan
    if "onnx_bytes" in table:
        out["size_ratio"] = teacher["onnx_bytes"] / s["onnx_bytes"]
        out["single_speedup"] = teacher["single_p50_us"] / s["single_p50_us"]
        out["batch_speedup"] = s["batch_rows_per_s"] / teacher["batch_rows_per_s"]
    return out
