"""Experiment store: runs, task results and artifacts in SQLite or PostgreSQL, resumable.

A run is keyed by (experiment, fit). Task results are written one short transaction each and are
idempotent on (run, resample, group), so an interrupted run resumes where it stopped and many
processes may write to one store at once. Prediction arrays are stored with ``numpy.savez`` (never
pickle); artifacts carry their SHA-256, verified on load. Final models are artifacts in each
engine's own format or skops with a trust list (``store/artifacts.py``). Storage only: it imports
nothing from tuning or experiments; ``leanfit.restore``, above them, rebuilds a run's TrainResult
from the store without refitting.

Schema versions and migration: ``meta.schema_version`` records the version a store was written
with. On ``Store.open`` a store with a *newer* version is refused (upgrade leanfit); an *older* one
is brought forward by ``migrate(engine, from_version)``, which runs every step of ``MIGRATIONS``
whose target version is above ``from_version``, in order, each in its own transaction, and then
records ``SCHEMA_VERSION``. To change the schema: bump ``SCHEMA_VERSION``, change the table
definitions in ``_tables`` and append a ``(new_version, step)`` entry to ``MIGRATIONS``.
Version 2 added ``tasks.checksum`` and the ``signature`` columns of runs, tasks and artifacts.

Integrity and signing: every task row carries a SHA-256 checksum of its content; a row whose
checksum does not match, or whose payload cannot be decoded, is reported (a warning naming run,
resample and group) and left out, so a run recomputes it and ``save_task`` replaces it. Rows
written before version 2 have no checksum and are checked by decoding. With a key
(``Store.open(key=)``, env ``LEANFIT_STORE_KEY`` or a file named by ``LEANFIT_STORE_KEY_FILE``),
every run, task and artifact row is signed on write (HMAC-SHA256 over the run id, the row's
position and its content) and verified on read (``run``, ``done_tasks``, ``artifact``, and
``start_run`` resuming a run); an unsigned or mis-signed row is refused with a StoreError naming
it. ``runs()``, the listing, is not verified.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..execute import TaskResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_URL",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "decode_payload",
    "encode_payload",
    "migrate",
    "store_exists",
]

DEFAULT_URL = "sqlite:///leanfit.db"
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
SCHEMA_VERSION = 2
KEY_ENV, KEY_FILE_ENV = "LEANFIT_STORE_KEY", "LEANFIT_STORE_KEY_FILE"
MIN_KEY_BYTES = 16
CONNECT_TIMEOUT_S = 5
SQLITE_BUSY_MS = 30_000
_LOCK_RETRIES = 5
_PG_INIT_LOCK = 746_531_209  # advisory-lock key serialising table creation on PostgreSQL


class StoreError(ValueError):
    """A store problem the user can act on (unreachable, newer schema, run mismatch, tampering)."""


# ---------------------------------------------------------------------------------------------
# encoding


def _now() -> str:
    """Current UTC time as ISO-8601 text, portable across SQLite and PostgreSQL."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _json_default(obj: Any) -> Any:
    """Make numpy scalars/arrays and other odd values JSON-serialisable."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def _dumps(obj: Any) -> str:
    """Canonical JSON text (sorted keys) so equal configs compare equal as text."""
    return json.dumps(obj, sort_keys=True, default=_json_default)


def encode_payload(preds: dict[str, np.ndarray], probs: dict[str, np.ndarray]) -> bytes:
    """Pack prediction and probability arrays into ``.npz`` bytes (no pickle, exact dtypes)."""
    arrays: dict[str, Any] = {}  # Any: numpy's stub reads **kwargs as savez's allow_pickle
    for prefix, group in (("pred", preds), ("prob", probs)):
        for name, arr in group.items():
            a = np.asarray(arr)
            if a.dtype.hasobject:
                raise StoreError(
                    f"cannot store {prefix} array {name!r}: object dtype would need pickle"
                )
            arrays[f"{prefix}:{name}"] = a
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def decode_payload(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Unpack ``encode_payload`` bytes into (preds, probs), refusing pickled content."""
    preds: dict[str, np.ndarray] = {}
    probs: dict[str, np.ndarray] = {}
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        for key in z.files:
            prefix, _, name = key.partition(":")
            (preds if prefix == "pred" else probs)[name] = z[key]
    return preds, probs


# ---------------------------------------------------------------------------------------------
# integrity and signing


def store_key(key: bytes | str | None = None) -> bytes | None:
    """The signing key: ``key`` if given, else env LEANFIT_STORE_KEY (the secret itself) or the
    contents of the file named by LEANFIT_STORE_KEY_FILE; None when none is set."""
    if key is None:
        text, path = os.environ.get(KEY_ENV), os.environ.get(KEY_FILE_ENV)
        if text and path:
            raise StoreError(f"set one of {KEY_ENV} and {KEY_FILE_ENV}, not both")
        if path:
            try:
                with open(path, "rb") as f:
                    key = f.read().strip()
            except OSError as e:
                raise StoreError(f"{KEY_FILE_ENV}={path!r}: cannot read the key file ({e})") from e
        elif text:
            key = text
        else:
            return None
    out = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(out) < MIN_KEY_BYTES:
        raise StoreError(
            f"the store signing key has {len(out)} bytes; give at least {MIN_KEY_BYTES} "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return out


def _task_message(run_id: int, row: Any) -> bytes:
    """What a task row's checksum and signature cover: its run, position and whole content."""
    payload = hashlib.sha256(bytes(row["payload"])).hexdigest()
    fields = [int(row["resample"]), int(row["grp"]), payload, float(row["fit_time"])]
    fields += [float(row["predict_time"]), row["error"], row["info"]]
    return json.dumps(["leanfit-task-v2", int(run_id), *fields]).encode()


_RUN_FIELDS: tuple[str, ...] = (
    "experiment",
    "fit",
    "config",
    "fingerprint",
    "seed",
    "versions",
    "status",
)
_RUN_FIELDS += ("created", "finished", "summary")


def _run_message(run_id: int, row: Any) -> bytes:
    """What a run row's signature covers: its id and every column."""
    fields = [int(row[f]) if f == "seed" else row[f] for f in _RUN_FIELDS]
    return json.dumps(["leanfit-run-v2", int(run_id), *fields]).encode()


def _artifact_message(run_id: int, name: str, fmt: str, sha256: str) -> bytes:
    """What an artifact row's signature covers: its run, name, format and content hash."""
    return json.dumps(["leanfit-artifact-v2", int(run_id), name, fmt, sha256]).encode()


def _sign(key: bytes | None, message: bytes) -> str | None:
    """HMAC-SHA256 of ``message`` under ``key`` (None without a key)."""
    return None if key is None else hmac.new(key, message, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------
# schema


def _tables(md: Any) -> dict[str, Any]:
    """Define the schema tables (current version) on SQLAlchemy MetaData ``md``."""
    import sqlalchemy as sa

    meta = sa.Table(
        "meta",
        md,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    runs = sa.Table(
        "runs",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("experiment", sa.String(255), nullable=False),
        sa.Column("fit", sa.String(255), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(255), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("versions", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("finished", sa.String(40)),
        sa.Column("summary", sa.Text),
        sa.Column("signature", sa.String(64)),  # v2; NULL unless written with a key
        sa.UniqueConstraint("experiment", "fit", name="uq_runs_experiment_fit"),
    )
    tasks = sa.Table(
        "tasks",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("resample", sa.Integer, nullable=False),
        sa.Column("grp", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("fit_time", sa.Float, nullable=False),
        sa.Column("predict_time", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("info", sa.Text, nullable=False),
        sa.Column("checksum", sa.String(64)),  # v2; NULL in rows written by v1
        sa.Column("signature", sa.String(64)),  # v2; NULL unless written with a key
        sa.UniqueConstraint("run_id", "resample", "grp", name="uq_tasks_run_resample_grp"),
    )
    artifacts = sa.Table(
        "artifacts",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("fmt", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.String(64)),  # v2; NULL unless written with a key
        sa.UniqueConstraint("run_id", "name", name="uq_artifacts_run_name"),
    )
    return {"meta": meta, "runs": runs, "tasks": tasks, "artifacts": artifacts}


def _to_v1(conn: Any) -> None:
    """Migration step to v1: create any missing v1 table (a v0 store has none or only some)."""
    import sqlalchemy as sa

    md = sa.MetaData()
    _tables(md)
    md.create_all(conn, checkfirst=True)


def _to_v2(conn: Any) -> None:
    """Migration step to v2: add tasks.checksum and the runs/tasks/artifacts signature columns."""
    import sqlalchemy as sa

    tables = ("runs", "tasks", "artifacts")
    have = {t: {c["name"] for c in sa.inspect(conn).get_columns(t)} for t in tables}
    for table, column in [("tasks", "checksum"), *((t, "signature") for t in tables)]:
        if column not in have[table]:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(64)")


# (target version, step): each step takes a connection inside an open transaction.
MIGRATIONS: list[tuple[int, Callable[[Any], None]]] = [(1, _to_v1), (2, _to_v2)]


def _set_version(conn: Any, version: int) -> None:
    """Record ``version`` as the store's schema version."""
    import sqlalchemy as sa

    meta = _tables(sa.MetaData())["meta"]
    n = conn.execute(
        sa.update(meta).where(meta.c.key == "schema_version").values(value=str(version))
    ).rowcount
    if not n:
        conn.execute(sa.insert(meta).values(key="schema_version", value=str(version)))


def migrate(engine: Any, from_version: int) -> int:
    """Bring a store at ``from_version`` up to ``SCHEMA_VERSION`` step by step; returns the new."""
    if from_version > SCHEMA_VERSION:
        raise StoreError(
            f"store schema version {from_version} is newer than this leanfit supports "
            f"({SCHEMA_VERSION}); upgrade leanfit"
        )
    version = from_version
    for target, step in MIGRATIONS:
        if target <= version:
            continue
        with engine.begin() as conn:
            _lock_init(conn)
            step(conn)
            _set_version(conn, target)
        version = target
    return version


def _lock_init(conn: Any) -> None:
    """Serialise schema creation/migration across processes (PostgreSQL advisory lock)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_INIT_LOCK})")


# ---------------------------------------------------------------------------------------------
# engine


def _normalise_url(url: str) -> str:
    """Route plain ``postgresql://`` / ``postgres://`` URLs to the psycopg (v3) driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _display(url: str) -> str:
    """The URL with any password masked, for error messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _make_engine(url: str) -> Any:
    """Create the engine: SQLite gets WAL, busy_timeout and BEGIN IMMEDIATE; others a timeout."""
    import sqlalchemy as sa

    try:
        u = sa.engine.make_url(url)
    except Exception as e:
        raise StoreError(
            f"invalid store URL {url!r}: {e}; give sqlite:///path/to/file.db or "
            "postgresql://user@host/db"
        ) from e
    if u.get_backend_name() not in SUPPORTED_BACKENDS:
        scheme = url.split("://", 1)[0]
        raise StoreError(
            f"store URL {_display(url)!r}: scheme {scheme!r} is not supported; "
            f"use {' or '.join(f'{b}://' for b in SUPPORTED_BACKENDS)}"
        )
    if u.get_backend_name() == "sqlite":
        engine = sa.create_engine(u, connect_args={"timeout": SQLITE_BUSY_MS / 1000})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            """Let us issue BEGIN ourselves; wait for locks instead of failing; use WAL."""
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives the process being killed (it is in the OS's
            # cache); only a power cut could lose the last few, which are then recomputed.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            """Take the write lock up front so concurrent writers queue instead of deadlocking."""
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if u.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        return sa.create_engine(u, connect_args=connect_args, pool_pre_ping=True)
    except (sa.exc.NoSuchModuleError, ImportError) as e:  # postgresql+nodriver://, no psycopg
        raise StoreError(
            f"store URL {_display(url)!r} needs a database driver that is not installed ({e}); "
            'for PostgreSQL: pip install "leanfit[postgres]"'
        ) from None


def store_exists(url: str | None = None) -> bool:
    """Whether the store at ``url`` (else $LEANFIT_STORE, else the default) is there already
    rather than a SQLite file that opening would create; a server or a bad URL counts as there
    (opening it says what is wrong before anything is created)."""
    from sqlalchemy.engine import make_url

    url = url or os.environ.get("LEANFIT_STORE") or DEFAULT_URL
    try:
        u = make_url(_normalise_url(url))
    except Exception:
        return True
    if u.get_backend_name() != "sqlite":
        return True
    db = u.database
    return bool(db and db != ":memory:" and os.path.exists(db))


def _is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is a transient lock/serialisation conflict worth retrying."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


# ---------------------------------------------------------------------------------------------
# store


class Store:
    """Handle on one experiment store (SQLite file or PostgreSQL database)."""

    def __init__(self, url: str, engine: Any, key: bytes | None = None) -> None:
        """Wrap an opened engine; use ``Store.open`` instead."""
        import sqlalchemy as sa

        self.url = url
        self._engine = engine
        self._key = key
        t = _tables(sa.MetaData())
        self._meta, self._runs, self._tasks, self._artifacts = (
            t["meta"],
            t["runs"],
            t["tasks"],
            t["artifacts"],
        )

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, key: bytes | str | None = None) -> Store:
        """Open the store at ``url`` (else env LEANFIT_STORE, else default), creating its tables.
        ``key`` (else env LEANFIT_STORE_KEY / LEANFIT_STORE_KEY_FILE) signs and verifies rows."""
        import sqlalchemy as sa

        url = url or os.environ.get("LEANFIT_STORE") or DEFAULT_URL
        key_bytes = store_key(key)
        engine = _make_engine(_normalise_url(url))
        try:
            with engine.connect():
                pass
        except sa.exc.SQLAlchemyError as e:
            engine.dispose()
            reason = str(getattr(e, "orig", e) or e).strip().splitlines()
            raise StoreError(
                f"cannot connect to the experiment store {_display(url)}: "
                f"{reason[0] if reason else type(e).__name__}"
            ) from e
        store = cls(url, engine, key_bytes)
        try:
            store._init_schema()
        except BaseException:
            engine.dispose()
            raise
        return store

    def _init_schema(self) -> None:
        """Create missing tables, record the version on a new store, refuse newer, migrate older."""
        import sqlalchemy as sa

        def init(conn: Any) -> int:
            _lock_init(conn)
            self._meta.metadata.create_all(conn, checkfirst=True)
            row = conn.execute(
                sa.select(self._meta.c.value).where(self._meta.c.key == "schema_version")
            ).first()
            if row is None:
                _set_version(conn, SCHEMA_VERSION)
                return SCHEMA_VERSION
            return int(row[0])

        version = self._write(init)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store {_display(self.url)} was written by a newer leanfit (schema version "
                f"{version}; this leanfit supports up to {SCHEMA_VERSION}); upgrade leanfit"
            )
        if version < SCHEMA_VERSION:
            migrate(self._engine, version)

    # -- plumbing -----------------------------------------------------------------------------

    def _write(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(conn)`` in one short write transaction, retrying transient lock errors."""
        import sqlalchemy as sa

        for attempt in range(_LOCK_RETRIES + 1):
            try:
                with self._engine.begin() as conn:
                    return fn(conn)
            except sa.exc.OperationalError as e:
                if attempt == _LOCK_RETRIES or not _is_locked(e):
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def _insert(self, table: Any) -> Any:
        """A dialect-specific INSERT that supports ON CONFLICT."""
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        if self._engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table)
        raise StoreError(  # pragma: no cover - other backends unsupported
            f"unsupported store backend {self._engine.dialect.name!r}"
        )

    # -- runs ---------------------------------------------------------------------------------

    def start_run(
        self,
        experiment: str,
        fit: str,
        *,
        config: dict[str, Any],
        fingerprint: str,
        seed: int,
        versions: dict[str, Any],
    ) -> int:
        """Create the run of (experiment, fit) or resume it if data and config are unchanged."""
        import sqlalchemy as sa

        r = self._runs
        config_text = _dumps(config)

        def go(conn: Any) -> tuple[int, str, str]:
            stmt = (
                self._insert(r)
                .values(
                    experiment=experiment,
                    fit=fit,
                    config=config_text,
                    fingerprint=fingerprint,
                    seed=int(seed),
                    versions=_dumps(versions),
                    status="running",
                    created=_now(),
                )
                .on_conflict_do_nothing(index_elements=["experiment", "fit"])
                .returning(r.c.id)
            )
            created = conn.execute(stmt).first() is not None
            where = (r.c.experiment == experiment, r.c.fit == fit)
            row = conn.execute(sa.select(r).where(*where)).one()
            if created:
                self._sign_run(conn, row.id)
            else:
                self._check_run(row._mapping)
            return int(row.id), row.fingerprint, row.config

        run_id, old_fp, old_config = self._write(go)
        problems = []
        if old_fp != fingerprint:
            problems.append(f"the data fingerprint differs ({old_fp} stored, {fingerprint} now)")
        if old_config != config_text:
            keys = _diff_keys(json.loads(old_config), json.loads(config_text))
            problems.append(f"the config differs in {', '.join(keys) or 'its values'}")
        if problems:
            raise StoreError(
                f"experiment {experiment!r}, fit {fit!r} already exists in {_display(self.url)} "
                f"but {' and '.join(problems)}; use a new experiment name to keep both"
            )
        return run_id

    def _sign_run(self, conn: Any, run_id: int) -> None:
        """Sign run ``run_id``'s row as it now stands (nothing without a key)."""
        import sqlalchemy as sa

        if self._key is None:
            return
        r = self._runs
        row = conn.execute(sa.select(r).where(r.c.id == run_id)).one()._mapping
        sig = _sign(self._key, _run_message(run_id, row))
        conn.execute(sa.update(r).where(r.c.id == run_id).values(signature=sig))

    def _check_run(self, row: Any) -> None:
        """With a key, refuse a run row that is unsigned or whose signature does not match."""
        if self._key is None:
            return
        what = f"run {row['id']} ({row['experiment']}/{row['fit']})"
        if row["signature"] is None:
            raise StoreError(f"{what}: its record is unsigned, refusing it (a signing key is set)")
        want = _sign(self._key, _run_message(row["id"], row)) or ""
        if not hmac.compare_digest(row["signature"], want):
            raise StoreError(
                f"{what}: its record's signature does not match (altered, or signed with another "
                "key), refusing it"
            )

    def _task_problem(self, run_id: int, row: Any) -> tuple[str, str] | None:
        """("corrupt" | "signature", why) when a stored task row cannot be trusted, else None."""
        message = _task_message(run_id, row)
        if row["checksum"] is not None and row["checksum"] != hashlib.sha256(message).hexdigest():
            return "corrupt", "its checksum does not match its content"
        if self._key is not None:
            if row["signature"] is None:
                return "signature", "it is unsigned"
            if not hmac.compare_digest(row["signature"], _sign(self._key, message) or ""):
                return "signature", "its signature does not match (altered, or another key)"
        try:
            decode_payload(bytes(row["payload"]))
            json.loads(row["info"])
        except Exception as e:
            return "corrupt", f"its payload cannot be decoded ({type(e).__name__}: {e})"
        return None

    def done_tasks(self, run_id: int) -> list[TaskResult]:
        """Decoded task results already saved for ``run_id``, in (resample, group) order.

        A corrupt row is warned about (naming run, resample and group) and left out, so that it
        is recomputed; with a key, an unsigned or mis-signed row raises StoreError.
        """
        import sqlalchemy as sa

        t = self._tasks
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(t).where(t.c.run_id == run_id).order_by(t.c.resample, t.c.grp)
            ).all()
        out = []
        for row in rows:
            problem = self._task_problem(run_id, row._mapping)
            if problem is not None:
                what = (
                    f"run {run_id}: the stored task result of resample {row.resample}, "
                    f"group {row.grp}"
                )
                if problem[0] == "signature":
                    raise StoreError(f"{what} is refused: {problem[1]}")
                warnings.warn(
                    f"{what} is corrupt ({problem[1]}); it is not used and will be recomputed",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            preds, probs = decode_payload(row.payload)
            out.append(
                TaskResult(
                    resample=int(row.resample),
                    group=int(row.grp),
                    preds=preds,
                    probs=probs,
                    fit_time=float(row.fit_time),
                    predict_time=float(row.predict_time),
                    error=row.error,
                    info=json.loads(row.info),
                )
            )
        return out

    def save_task(self, run_id: int, result: TaskResult) -> bool:
        """Save one task result (checksummed, signed with a key); a second save of the same
        (run, resample, group) is ignored unless the stored row is corrupt, which it replaces.
        Returns whether the row was written."""
        import sqlalchemy as sa

        t = self._tasks
        values: dict[str, Any] = {
            "run_id": run_id,
            "resample": int(result.resample),
            "grp": int(result.group),
            "payload": encode_payload(result.preds, result.probs),
            "fit_time": float(result.fit_time),
            "predict_time": float(result.predict_time),
            "error": result.error,
            "info": _dumps(result.info),
        }
        message = _task_message(run_id, values)
        values["checksum"] = hashlib.sha256(message).hexdigest()
        values["signature"] = _sign(self._key, message)
        stmt = (
            self._insert(t)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["run_id", "resample", "grp"])
            .returning(t.c.id)
        )
        where = (t.c.run_id == run_id, t.c.resample == values["resample"], t.c.grp == values["grp"])

        def go(conn: Any) -> bool:
            if conn.execute(stmt).first() is not None:
                return True
            old = conn.execute(sa.select(t).where(*where)).first()
            problem = None if old is None else self._task_problem(run_id, old._mapping)
            if problem is None or problem[0] != "corrupt":
                return False
            conn.execute(sa.update(t).where(*where).values(**values))
            return True

        return self._write(go)

    def finish_run(self, run_id: int, summary: dict[str, Any]) -> None:
        """Mark the run finished with its JSON summary and finish time."""
        import sqlalchemy as sa

        r = self._runs
        stmt = (
            sa.update(r)
            .where(r.c.id == run_id)
            .values(status="finished", summary=_dumps(summary), finished=_now())
        )

        def go(conn: Any) -> int:
            n = conn.execute(stmt).rowcount
            if n:
                self._sign_run(conn, run_id)
            return n

        if not self._write(go):
            raise StoreError(f"no run with id {run_id} in {_display(self.url)}")

    def _counts(self) -> Any:
        """Subquery of (run_id, n_tasks, n_failed) per run."""
        import sqlalchemy as sa

        t = self._tasks
        return (
            sa.select(
                t.c.run_id,
                sa.func.count().label("n_tasks"),
                sa.func.count(t.c.error).label("n_failed"),
            )
            .group_by(t.c.run_id)
            .subquery()
        )

    def runs(self) -> pd.DataFrame:
        """One row per run: id, experiment, fit, status, seed, created, finished, task counts."""
        import pandas as pd
        import sqlalchemy as sa

        r, c = self._runs, self._counts()
        stmt = (
            sa.select(
                r.c.id,
                r.c.experiment,
                r.c.fit,
                r.c.status,
                r.c.seed,
                r.c.created,
                r.c.finished,
                sa.func.coalesce(c.c.n_tasks, 0).label("n_tasks"),
                sa.func.coalesce(c.c.n_failed, 0).label("n_failed"),
            )
            .select_from(r.outerjoin(c, c.c.run_id == r.c.id))
            .order_by(r.c.id)
        )
        cols = ["id", "experiment", "fit", "status", "seed", "created", "finished"]
        cols += ["n_tasks", "n_failed"]
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return pd.DataFrame([tuple(row) for row in rows], columns=cols)

    def run(self, run_id: int) -> dict[str, Any]:
        """Everything stored about one run: config, fingerprint, versions, summary, counts and
        its artifacts (name -> format, SHA-256, size in bytes)."""
        import sqlalchemy as sa

        r, c, a = self._runs, self._counts(), self._artifacts
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(r).where(r.c.id == run_id)).first()
            if row is None:
                raise StoreError(f"no run with id {run_id} in {_display(self.url)}")
            self._check_run(row._mapping)
            counts = conn.execute(
                sa.select(c.c.n_tasks, c.c.n_failed).where(c.c.run_id == run_id)
            ).first()
            arts = conn.execute(
                sa.select(a.c.name, a.c.fmt, a.c.sha256, sa.func.length(a.c.data).label("size"))
                .where(a.c.run_id == run_id)
                .order_by(a.c.id)
            ).all()
        out = dict(row._mapping)
        out.pop("signature", None)
        for key in ("config", "versions", "summary"):
            out[key] = None if out[key] is None else json.loads(out[key])
        out["n_tasks"] = int(counts.n_tasks) if counts else 0
        out["n_failed"] = int(counts.n_failed) if counts else 0
        out["artifacts"] = {
            x.name: {"fmt": x.fmt, "sha256": x.sha256, "size": int(x.size)} for x in arts
        }
        return out

    # -- artifacts ----------------------------------------------------------------------------

    def save_artifact(self, run_id: int, name: str, data: bytes, fmt: str) -> str:
        """Store (or replace) artifact ``name`` of a run with its SHA-256 (signed with a key);
        returns that hex."""
        digest = hashlib.sha256(data).hexdigest()
        sig = _sign(self._key, _artifact_message(run_id, name, fmt, digest))
        row = {"sha256": digest, "fmt": fmt, "data": data, "signature": sig}
        stmt = self._insert(self._artifacts).values(run_id=run_id, name=name, **row)
        stmt = stmt.on_conflict_do_update(index_elements=["run_id", "name"], set_=row)
        self._write(lambda conn: conn.execute(stmt))
        return digest

    def artifact(self, run_id: int, name: str) -> tuple[str, bytes]:
        """(format, bytes) of artifact ``name`` of a run, refused if its bytes no longer match
        the hash or, with a key, if the row is unsigned or mis-signed."""
        import sqlalchemy as sa

        a = self._artifacts
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(a.c.sha256, a.c.fmt, a.c.signature, a.c.data).where(
                    a.c.run_id == run_id, a.c.name == name
                )
            ).first()
        if row is None:
            raise StoreError(f"no artifact {name!r} for run {run_id} in {_display(self.url)}")
        data = bytes(row.data)
        what = f"artifact {name!r} of run {run_id}"
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise StoreError(f"{what}: its SHA-256 hash no longer matches, refusing to load")
        if self._key is not None:
            want = _sign(self._key, _artifact_message(run_id, name, row.fmt, row.sha256)) or ""
            if row.signature is None:
                raise StoreError(f"{what} is unsigned, refusing to load it (a signing key is set)")
            if not hmac.compare_digest(row.signature, want):
                raise StoreError(
                    f"{what}: its signature does not match (altered, or signed with another "
                    "key), refusing to load"
                )
        return row.fmt, data

    def runs_with_artifact(self, name: str) -> list[int]:
        """The ids of the runs that hold an artifact called ``name``, ascending."""
        import sqlalchemy as sa

        a = self._artifacts
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(a.c.run_id).where(a.c.name == name)).all()
        return sorted(int(r[0]) for r in rows)

    def load_artifact(self, run_id: int, name: str) -> bytes:
        """The bytes of artifact ``name`` of a run, verified as ``artifact`` does."""
        return self.artifact(run_id, name)[1]

    def close(self) -> None:
        """Release the store's connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on leaving the ``with`` block."""
        self.close()

    def __repr__(self) -> str:
        """Show the (password-masked) URL."""
        return f"Store({_display(self.url)!r})"


def _diff_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the config keys whose values differ between ``old`` and ``new``."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [prefix] if old != new and prefix else []
    keys = []
    for k in sorted(set(old) | set(new), key=str):
        path = f"{prefix}.{k}" if prefix else str(k)
        if k not in old:
            keys.append(f"{path} (new)")
        elif k not in new:
            keys.append(f"{path} (removed)")
        elif old[k] != new[k]:
            keys.extend(_diff_keys(old[k], new[k], path) or [path])
    return keys
