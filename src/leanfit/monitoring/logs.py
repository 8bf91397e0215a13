"""Current data from a server's request logs: the Parquet files ``leanfit serve --log-dir``
writes (``requests-*.parquet``: the input fields, ``prediction``, ``prob_<class>`` and
``logged_at`` in seconds since the epoch), the rows of a time window, as one DataFrame.

Read by those documented columns only, so monitoring does not depend on the server's code."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

__all__ = ["LOG_PATTERN", "read_request_logs", "parse_time"]

LOG_PATTERN = "requests-*.parquet"
_STAMP, _PREDICTION = "logged_at", "prediction"

TimeLike: TypeAlias = str | dt.datetime | pd.Timestamp | None


def parse_time(value: TimeLike, name: str) -> pd.Timestamp | None:
    """A time as a UTC Timestamp: ISO 8601 text (``2026-12-01T00:00``, a date, or with an
    offset such as ``+02:00``) or a datetime; naive times are UTC (the logs' stamps are)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            ts = pd.Timestamp(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(
                f"{name} {value!r} is not a time; expected ISO 8601 such as 2026-12-01T00:00 "
                "or 2026-12-01 (UTC unless an offset such as +02:00 is given)"
            ) from None
    elif isinstance(value, dt.datetime):  # pd.Timestamp is one too
        ts = pd.Timestamp(value)
    else:
        raise TypeError(
            f"{name} must be ISO 8601 text or a datetime, got {type(value).__name__}: {value!r}"
        )
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def read_request_logs(
    directory: str | Path, since: TimeLike = None, until: TimeLike = None
) -> pd.DataFrame:
    """The logged rows with ``since <= logged_at < until`` (either bound optional), oldest first.

    Columns: the input fields, ``prediction``, ``prob_<class>`` (classification) and
    ``logged_at`` as a UTC datetime; ``lf.monitor(bundle, rows)`` uses the logged predictions
    for prediction drift and lists ``logged_at`` among the ignored columns.
    """
    start, end = parse_time(since, "since"), parse_time(until, "until")
    if start is not None and end is not None and start >= end:
        raise ValueError(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"request log folder {str(folder)!r} does not exist")
    files = sorted(folder.glob(LOG_PATTERN))
    if not files:
        raise FileNotFoundError(
            f"no request logs ({LOG_PATTERN}) in {str(folder)!r}; the server writes them "
            "with `leanfit serve BUNDLE --log-dir DIR`"
        )
    parts: list[pd.DataFrame] = []
    total, first, last = 0, None, None
    for path in files:
        part = _read_log(path)
        stamp = pd.to_datetime(part[_STAMP], unit="s", utc=True)
        total += len(part)
        if len(part):
            first = stamp.min() if first is None else min(first, stamp.min())
            last = stamp.max() if last is None else max(last, stamp.max())
        keep = pd.Series(True, index=part.index)
        if start is not None:
            keep &= stamp >= start
        if end is not None:
            keep &= stamp < end
        if keep.any():
            part = part.loc[keep].copy()
            part[_STAMP] = stamp[keep]
            parts.append(part)
    if not parts:
        span = (
            f"they span {first.isoformat()} to {last.isoformat()}"
            if first is not None and last is not None
            else "they hold no rows"
        )
        window = f"from {_show(start, 'the first')} until {_show(end, 'the last')}"
        raise ValueError(
            f"no logged requests {window} in {str(folder)!r}: {total} row(s) in {len(files)} "
            f"file(s); {span}"
        )
    rows = pd.concat(parts, ignore_index=True)
    return rows.sort_values(_STAMP, kind="stable", ignore_index=True)


def _read_log(path: Path) -> pd.DataFrame:
    try:
        part = pd.read_parquet(path)
    except Exception as e:  # a truncated or foreign file: name it
        raise ValueError(f"request log {str(path)!r} is not a readable Parquet file: {e}") from e
    absent = [c for c in (_STAMP, _PREDICTION) if c not in part.columns]
    if absent:
        raise ValueError(
            f"request log {str(path)!r} lacks the column(s) {absent}; a request log holds the "
            f"input fields, {_PREDICTION!r}, prob_<class> and {_STAMP!r} (seconds since the "
            "epoch)"
        )
    if not pd.api.types.is_numeric_dtype(part[_STAMP].dtype):
        raise ValueError(
            f"request log {str(path)!r}: {_STAMP!r} must be seconds since the epoch, got "
            f"{part[_STAMP].dtype}"
        )
    return part


def _show(t: Any, default: str) -> str:
    return default if t is None else t.isoformat()
