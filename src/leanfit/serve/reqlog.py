"""Sampled request logs for monitoring: a share of the predicted rows (inputs and predictions)
kept in memory and written to Parquet files of a bounded number of rows, the oldest files
removed past a bounded count; ``leanfit monitor`` can read them as current data."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["RequestLog"]


class RequestLog:
    """Rows of ``/predict`` requests, sampled (``sample``: the share kept, seeded), written
    ``rows`` at a time to ``requests-<time>-<pid>-<n>.parquet`` in ``directory``; at most
    ``files`` files are kept (the oldest removed)."""

    def __init__(self, directory: Path, sample: float, rows: int, files: int, seed: int) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sample = sample
        self.rows = rows
        self.files = files
        self._rng = random.Random(seed + os.getpid())
        self._buf: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._n = 0

    def add(self, inputs: list[dict[str, Any]], answers: list[dict[str, Any]]) -> None:
        """Keep a sample of the rows (their fields, ``prediction`` and ``prob_<class>``)."""
        now = time.time()
        kept = []
        for row, ans in zip(inputs, answers, strict=True):
            if self.sample < 1.0 and self._rng.random() >= self.sample:
                continue
            rec = dict(row)
            rec["prediction"] = ans["prediction"]
            for c, p in (ans.get("probabilities") or {}).items():
                rec[f"prob_{c}"] = p
            rec["logged_at"] = now
            kept.append(rec)
        if kept:
            with self._lock:
                self._buf.extend(kept)

    def due(self) -> bool:
        """Whether a file's worth of rows is waiting."""
        return len(self._buf) >= self.rows

    def flush(self) -> None:
        """Write the waiting rows (a file per ``rows`` rows; the rest too), prune old files."""
        with self._lock:
            buf, self._buf = self._buf, []
        for start in range(0, len(buf), self.rows):
            part = pd.DataFrame(buf[start : start + self.rows])
            self._n += 1
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            path = self.dir / f"requests-{stamp}-{os.getpid()}-{self._n:05d}.parquet"
            tmp = path.with_suffix(".tmp")
            part.to_parquet(tmp, index=False)
            tmp.replace(path)
        old = sorted(self.dir.glob("requests-*.parquet"), key=lambda p: p.stat().st_mtime)
        for p in old[: max(0, len(old) - self.files)]:
            p.unlink(missing_ok=True)
