"""Batch scoring of a file with a bundle: read the input (CSV or Parquet) in chunks, validate
and predict each chunk, append predictions to the output and rejected rows (with the reason) to
the rejects file, so memory stays flat whatever the number of rows."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ..models.base import CLASSIFICATION
from ..progress import Progress
from .file import Bundle, BundleError
from .schema import FACTOR

__all__ = ["BatchCounts", "predict_file"]

ROW = "row"  # the input row number (0-based), in the output and rejects files
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class BatchCounts:
    """What a batch run did: rows read, predicted and rejected, and where they went."""

    rows: int
    predicted: int
    rejected: int
    output: Path
    rejects: Path | None


def _format(path: Path, what: str) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BundleError(
            f"{what} {str(path)!r}: unknown file type {path.suffix!r}; use .csv or .parquet"
        )
    return fmt


def _chunks(
    bundle: Bundle, path: Path, fmt: str, chunk_rows: int
) -> tuple[int, str, Iterator[pd.DataFrame]]:
    """(total for the progress report, its unit, the chunks)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        # pre_buffer off: with it, pyarrow keeps every row group read so far (memory grows with
        # the file); without it, memory stays at about one row group
        pf = pq.ParquetFile(path, pre_buffer=False)
        total = int(pf.metadata.num_rows)

        def gen() -> Iterator[pd.DataFrame]:
            for batch in pf.iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()

        return total, "rows", gen()
    factors = {c.name: str for c in bundle.schema.columns if c.kind == FACTOR}
    lines = 0
    with open(path, "rb") as f:  # the row count for the progress report: one fast pass
        for block in iter(lambda: f.read(1 << 24), b""):
            lines += block.count(b"\n")

    def gen_csv() -> Iterator[pd.DataFrame]:
        # factor columns read as text, exactly as written; the rest as pandas infers per chunk
        # (a numeric column with a stray word becomes text there, and that row is rejected)
        with pd.read_csv(path, chunksize=chunk_rows, dtype=factors) as reader:
            yield from reader

    return max(lines - 1, 0), "rows", gen_csv()


class _Writer:
    """Appends frames to a Parquet file (one schema, fixed by the first frame) or a CSV file
    (header once)."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self._pq: Any = None
        self._csv: IO[str] | None = None
        self.schema: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False, schema=self.schema)
            if self._pq is None:
                self.schema = table.schema
                self._pq = pq.ParquetWriter(self.path, table.schema)
            self._pq.write_table(table)
        else:
            first = self._csv is None
            if self._csv is None:
                self._csv = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
            frame.to_csv(self._csv, index=False, header=first, quoting=csv.QUOTE_MINIMAL)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._csv is not None:
            self._csv.close()


def _empty_output(bundle: Bundle) -> pd.DataFrame:
    """The output's columns with no rows (written when every row is rejected)."""
    cols: dict[str, Any] = {ROW: np.empty(0, dtype=np.int64)}
    if bundle.mode == CLASSIFICATION:
        cols["prediction"] = np.empty(0, dtype=object)
        if bundle.info.get("probabilities", True):
            for c in bundle.classes or []:
                cols[f"prob_{c}"] = np.empty(0, dtype=float)
    else:
        cols["prediction"] = np.empty(0, dtype=float)
    return pd.DataFrame(cols)


def predict_file(
    bundle: Bundle,
    source: str | Path,
    output: str | Path,
    *,
    chunk_rows: int = 50_000,
    rejects: str | Path | None = None,
    extra: str = "reject",
    progress: bool = True,
) -> BatchCounts:
    """Score ``source`` (CSV or Parquet) into ``output`` (CSV or Parquet) chunk by chunk.

    The output has ``row`` (the input row number, from 0), ``prediction`` and, for
    classification, ``prob_<class>``. Rows that fail the bundle's schema go to ``rejects``
    (default: ``<output stem>.rejects.csv`` beside the output, written only when a row is
    rejected) with their fields, ``row`` and ``reason``: never silently dropped.
    ``extra="ignore"`` lets input columns the model does not use (ids, the target) pass.
    """
    source, output = Path(source), Path(output)
    if chunk_rows < 1:
        raise BundleError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    in_fmt = _format(source, "input")
    out_fmt = _format(output, "output")
    rej_path = (
        Path(rejects) if rejects is not None else output.with_name(output.stem + ".rejects.csv")
    )
    rej_fmt = _format(rej_path, "rejects file")
    if not source.is_file():
        raise FileNotFoundError(f"input file {str(source)!r} does not exist")
    if source.resolve() in (output.resolve(), rej_path.resolve()):
        raise BundleError(f"the output would overwrite the input {str(source)!r}")
    total, unit, chunks = _chunks(bundle, source, in_fmt, int(chunk_rows))
    rej_path.unlink(missing_ok=True)  # a rejects file left by an earlier run would mislead
    out = _Writer(output, out_fmt)
    rej = _Writer(rej_path, rej_fmt)
    bar = Progress(total, f"scoring {source.name}", unit, enabled=progress)
    n = predicted = rejected = 0
    try:
        for chunk in chunks:
            chunk.index = pd.RangeIndex(n, n + len(chunk))
            clean, bad = bundle.validate(chunk, extra=extra)
            if len(clean):
                pred = bundle.predict_clean(clean)
                pred.insert(0, ROW, clean.index.to_numpy(dtype=np.int64))
                out.write(pred)
                predicted += len(pred)
            if len(bad):
                frame = bad.astype(str) if rej_fmt == "parquet" else bad
                frame.insert(0, ROW, bad.index.to_numpy(dtype=np.int64))
                rej.write(frame.reset_index(drop=True))
                rejected += len(bad)
            n += len(chunk)
            bar.set_postfix(rejected=rejected)
            bar.update(len(chunk))
        if out._pq is None and out._csv is None:
            out.write(_empty_output(bundle))
    finally:
        bar.close()
        out.close()
        rej.close()
    return BatchCounts(
        rows=n,
        predicted=predicted,
        rejected=rejected,
        output=output,
        rejects=rej_path if rejected else None,
    )
