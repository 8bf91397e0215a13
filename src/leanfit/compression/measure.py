"""One measurement for every candidate: quality on the test rows, fidelity to the original,
size, and one-thread latency, with the same rows and the same repetitions for all.

Quality is Accuracy (with Kappa, and ROC for two classes) or RMSE; fidelity is the share of test
rows where the candidate predicts the original's class, or the RMSE between the candidate's and
the original's predictions. Latency: single-row calls (p50 / p99 µs) and batch rows/s, in ONNX
Runtime with one thread for ONNX candidates (``leanfit.export.measure_latency``), and with numpy
/ torch limited to one thread for the others, timed by the same loop shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .candidate import Candidate

#: the columns of ``measure_all``'s table, in order (the metric's own column comes first)
PERF_COLUMNS = ("size_bytes", "p50_us", "p99_us", "rows_per_s")


@dataclass(frozen=True)
class Timing:
    """How latency is measured: the same for every candidate."""

    n_single: int = 2_000
    warmup: int = 200
    batch_size: int = 1_024
    batch_repeats: int = 20

    def __post_init__(self) -> None:
        for name in ("n_single", "batch_size", "batch_repeats"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if int(self.warmup) < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup!r}")


def quality(
    out: np.ndarray, y: np.ndarray, reference: np.ndarray, classification: bool
) -> dict[str, float]:
    """Scores of one candidate's outputs on the test rows: against the truth ``y`` (class codes
    or values) and against the original model's outputs ``reference``.

    Classification (``out`` are probabilities ``(n, K)``): Accuracy, Kappa, ROC (two classes:
    the area under the curve of the second level's probability, as caret's twoClassSummary
    takes the first level as the event: the same area) and fidelity (share of rows with the
    original's class). Regression: RMSE, Rsquared (squared correlation, as caret) and fidelity
    (RMSE against the original's predictions).
    """
    from sklearn.metrics import cohen_kappa_score, roc_auc_score

    y = np.asarray(y)
    if classification:
        prob = np.asarray(out, dtype=float)
        pred = prob.argmax(axis=1)
        ref = np.asarray(reference, dtype=float).argmax(axis=1)
        codes = np.arange(prob.shape[1])
        scores = {
            "Accuracy": float(np.mean(pred == y)),
            "Kappa": float(cohen_kappa_score(y, pred, labels=codes)),
        }
        if prob.shape[1] == 2:
            scores["ROC"] = (
                float(roc_auc_score(y, prob[:, 1])) if len(np.unique(y)) == 2 else float("nan")
            )
        scores["fidelity"] = float(np.mean(pred == ref))
        return scores
    pred = np.asarray(out, dtype=float).reshape(-1)
    yv = y.astype(float)
    r = np.corrcoef(pred, yv)[0, 1] if np.std(pred) > 0 and np.std(yv) > 0 else np.nan
    return {
        "RMSE": float(np.sqrt(np.mean((pred - yv) ** 2))),
        "Rsquared": float(r**2),
        "fidelity": float(
            np.sqrt(np.mean((pred - np.asarray(reference, dtype=float).reshape(-1)) ** 2))
        ),
    }


def time_python(
    predict: Callable[[np.ndarray], Any], X: np.ndarray, timing: Timing
) -> dict[str, float]:
    """Single-row p50 / p99 (µs) and batch rows/s of a Python predictor on one thread, timed as
    ``leanfit.export.measure_latency`` times an ONNX graph (pre-sliced rows, warm-up, median of
    the batch repetitions)."""
    from threadpoolctl import threadpool_limits

    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    rows = [np.ascontiguousarray(X[i : i + 1]) for i in range(min(len(X), timing.n_single))]
    reps = -(-timing.batch_size // len(X))
    batch = np.ascontiguousarray(np.tile(X, (reps, 1))[: timing.batch_size])
    clock = time.perf_counter_ns
    with threadpool_limits(limits=1), _torch_threads(1):
        for i in range(timing.warmup):
            predict(rows[i % len(rows)])
        times = np.empty(timing.n_single, dtype=np.int64)
        for i in range(timing.n_single):
            row = rows[i % len(rows)]
            t0 = clock()
            predict(row)
            times[i] = clock() - t0
        predict(batch)
        rates = np.empty(timing.batch_repeats)
        for r in range(timing.batch_repeats):
            t0 = clock()
            predict(batch)
            rates[r] = timing.batch_size / max((clock() - t0) * 1e-9, 1e-12)
    us = times / 1e3
    return {
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "rows_per_s": float(np.median(rates)),
    }


class _torch_threads:
    """torch limited to ``n`` intra-op threads inside the block (when torch is loaded)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.before: int | None = None

    def __enter__(self) -> None:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None:
            self.before = int(torch.get_num_threads())
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and self.before is not None:
            torch.set_num_threads(self.before)


def time_candidate(cand: Candidate, X: np.ndarray, timing: Timing) -> dict[str, float]:
    """One candidate's latency on one thread: its ONNX graph in ONNX Runtime, else its own
    predict with numpy / torch on one thread."""
    if cand.onnx is not None:
        from leanfit.export import measure_latency

        lat = measure_latency(
            cand.onnx,
            X,
            n_single=timing.n_single,
            warmup=timing.warmup,
            batch_size=timing.batch_size,
            batch_repeats=timing.batch_repeats,
            threads=1,
        )
        return {
            "p50_us": lat.single_p50_us,
            "p99_us": lat.single_p99_us,
            "rows_per_s": lat.batch_rows_per_s,
        }
    return time_python(cand.predict, X, timing)


def measure_all(
    candidates: Sequence[Candidate],
    X_test: np.ndarray,
    y_test: np.ndarray,
    classification: bool,
    timing: Timing | None = None,
    *,
    latency: bool = True,
) -> pd.DataFrame:
    """One row per candidate (the first is the original, the fidelity reference): name,
    technique, quality and fidelity on the test rows, size, size and speed against the
    original, latency and throughput, settings and note."""
    from threadpoolctl import threadpool_limits

    if not candidates:
        raise ValueError("measure_all needs at least the original candidate")
    timing = timing or Timing()
    X32 = np.ascontiguousarray(np.asarray(X_test, dtype=np.float32))
    with threadpool_limits(limits=1), _torch_threads(1):
        outs = [np.asarray(c.predict(X32), dtype=float) for c in candidates]
    rows = []
    for cand, out in zip(candidates, outs, strict=True):
        row: dict[str, Any] = {"name": cand.name, "technique": cand.technique}
        row.update(quality(out, y_test, outs[0], classification))
        row["size_bytes"] = int(cand.size_bytes)
        if latency:
            row.update(time_candidate(cand, X32, timing))
        else:
            row.update({"p50_us": np.nan, "p99_us": np.nan, "rows_per_s": np.nan})
        row["note"] = cand.note
        rows.append(row)
    table = pd.DataFrame(rows)
    first = table.iloc[0]
    table.insert(
        table.columns.get_loc("size_bytes") + 1,
        "size_ratio",
        table["size_bytes"] / float(first["size_bytes"]),
    )
    table.insert(
        table.columns.get_loc("rows_per_s") + 1,
        "x_faster",
        float(first["p50_us"]) / table["p50_us"],
    )
    return table
