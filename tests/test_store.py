"""Experiment store: exact round-trips, idempotency, resume checks, schema versions, artifact
hashes, unreachable URLs and concurrent writers, on SQLite and on a real throwaway PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pgserver import PostgresServer, pg_bin

from leanfit.execute import TaskResult
from leanfit.store import SCHEMA_VERSION, Store, StoreError, migrate

RUN_KW = {"config": {"metric": "Accuracy", "grid": {"k": [1, 3]}}, "fingerprint": "abc123"}
RUN_KW |= {"seed": 7, "versions": {"leanfit": "0.1.0"}}


# ---------------------------------------------------------------------------------------------
# a real PostgreSQL server on loopback


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL (trust auth, user leanfit) and yield its base URL."""
    bindir = pg_bin(install=True)
    if bindir is None:
        pytest.fail(
            "PostgreSQL binaries not available and cannot be installed (apt-get install postgresql)"
        )
    try:
        server = PostgresServer(bindir)
    except subprocess.CalledProcessError as e:
        pytest.fail(f"could not start PostgreSQL: {e.stderr.decode(errors='replace')}")
    try:
        yield server.url
    finally:
        server.close()


def _create_db(base: str) -> str:
    """Create a fresh database on the test server and return its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    dsn = base + "/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store, on SQLite and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return _create_db(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An opened empty store."""
    s = Store.open(store_url)
    yield s
    s.close()


# ---------------------------------------------------------------------------------------------
# helpers


def _results() -> list[TaskResult]:
    """A classification result with probabilities, a regression result and an error result."""
    rng = np.random.default_rng(0)
    p = rng.random((3, 5, 2))
    p /= p.sum(axis=2, keepdims=True)
    cls = TaskResult(
        resample=0,
        group=1,
        preds={"k=1": rng.integers(0, 2, (3, 5)).astype(np.int8), "k=3": np.zeros((3, 5), int)},
        probs={"k=1": p, "k=3": p.astype(np.float32)},
        fit_time=0.125,
        predict_time=1e-5,
        info={"n_iter": 12, "warnings": ["w1"], "nested": {"a": 1.5}},
    )
    reg = TaskResult(
        resample=1,
        group=0,
        preds={"alpha=0.1": rng.normal(size=(2, 4)), "odd:name/x": rng.normal(size=(1, 4))},
        fit_time=3.25,
        predict_time=0.5,
    )
    err = TaskResult(resample=0, group=0, error="ValueError: boom\n  traceback", fit_time=0.01)
    return [cls, reg, err]


def _assert_same(a: TaskResult, b: TaskResult) -> None:
    """Assert two task results are identical, arrays down to dtype and bits."""
    assert (a.resample, a.group, a.error, a.info) == (b.resample, b.group, b.error, b.info)
    assert (a.fit_time, a.predict_time) == (b.fit_time, b.predict_time)
    for x, y in ((a.preds, b.preds), (a.probs, b.probs)):
        assert x.keys() == y.keys()
        for k in x:
            assert x[k].dtype == y[k].dtype and x[k].shape == y[k].shape
            np.testing.assert_array_equal(x[k], y[k])


def _task(i: int, worker: int) -> TaskResult:
    """A small distinct task result for the concurrency test."""
    return TaskResult(
        resample=i, group=worker, preds={"m": np.full((1, 3), i + worker, float)}, fit_time=0.1
    )


def _writer(url: str, worker: int, n: int) -> None:
    """Concurrency worker: open the store, start (or resume) the run and save ``n`` results."""
    store = Store.open(url)
    run_id = store.start_run("exp", "fit", **RUN_KW)
    for i in range(n):
        store.save_task(run_id, _task(i, worker))
    store.close()


# ---------------------------------------------------------------------------------------------
# tests


def test_round_trip_exact(store: Store) -> None:
    run_id = store.start_run("exp", "glmnet", **RUN_KW)
    results = _results()
    for r in results:
        assert store.save_task(run_id, r)
    got = store.done_tasks(run_id)
    assert [(g.resample, g.group) for g in got] == [(0, 0), (0, 1), (1, 0)]
    want = sorted(results, key=lambda r: (r.resample, r.group))
    for a, b in zip(want, got, strict=True):
        _assert_same(a, b)


def test_save_task_idempotent_and_resume(store: Store) -> None:
    run_id = store.start_run("exp", "rf", **RUN_KW)
    r = _results()[0]
    assert store.save_task(run_id, r) is True
    assert store.save_task(run_id, r) is False
    assert len(store.done_tasks(run_id)) == 1
    assert store.start_run("exp", "rf", **RUN_KW) == run_id
    other = store.start_run("exp", "gbm", **RUN_KW)
    assert other != run_id
    store.save_task(other, _results()[2])
    store.finish_run(run_id, {"best": {"k": 3}, "score": np.float64(0.9)})
    df = store.runs()
    assert list(df["fit"]) == ["rf", "gbm"]
    assert list(df["status"]) == ["finished", "running"]
    assert list(df["n_tasks"]) == [1, 1] and list(df["n_failed"]) == [0, 1]
    info = store.run(run_id)
    assert info["config"] == RUN_KW["config"] and info["fingerprint"] == "abc123"
    assert info["summary"] == {"best": {"k": 3}, "score": 0.9} and info["finished"]
    assert info["versions"] == {"leanfit": "0.1.0"} and info["n_tasks"] == 1


def test_start_run_mismatch_names_what_differs(store: Store) -> None:
    store.start_run("exp", "rf", **RUN_KW)
    with pytest.raises(StoreError, match="data fingerprint") as e:
        store.start_run("exp", "rf", **(RUN_KW | {"fingerprint": "zzz"}))
    assert "config" not in str(e.value) and "new experiment name" in str(e.value)
    cfg = {"metric": "Kappa", "grid": {"k": [1, 5]}, "extra": 1}
    with pytest.raises(StoreError, match="config differs") as e:
        store.start_run("exp", "rf", **(RUN_KW | {"config": cfg}))
    msg = str(e.value)
    assert "metric" in msg and "grid.k" in msg and "extra (new)" in msg
    assert "fingerprint" not in msg
    with pytest.raises(StoreError, match="fingerprint.*and the config"):
        store.start_run("exp", "rf", **(RUN_KW | {"config": cfg, "fingerprint": "zzz"}))


def test_artifact_hash_verified(store: Store, store_url: str) -> None:
    import hashlib

    import sqlalchemy as sa

    run_id = store.start_run("exp", "rf", **RUN_KW)
    blob = b"\x00model bytes\xff" * 100
    digest = store.save_artifact(run_id, "final_model", blob, "joblib")
    assert digest == hashlib.sha256(blob).hexdigest()
    assert store.load_artifact(run_id, "final_model") == blob
    assert store.run(run_id)["artifacts"]["final_model"]["sha256"] == digest
    with store._engine.begin() as conn:
        conn.execute(sa.text("UPDATE artifacts SET data = :d"), {"d": blob + b"evil"})
    with pytest.raises(StoreError, match="hash no longer matches, refusing to load"):
        store.load_artifact(run_id, "final_model")
    with pytest.raises(StoreError, match="no artifact"):
        store.load_artifact(run_id, "missing")


def test_newer_schema_refused(store_url: str) -> None:
    import sqlalchemy as sa

    Store.open(store_url).close()
    engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer"):
        Store.open(store_url)


def test_older_schema_migrated(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a "v0" store: only a meta table saying version 0
        conn.execute(sa.text("CREATE TABLE meta (key VARCHAR(64) PRIMARY KEY, value TEXT)"))
        conn.execute(sa.text("INSERT INTO meta VALUES ('schema_version', '0')"))
    assert migrate(engine, 0) == SCHEMA_VERSION
    assert {"runs", "tasks", "artifacts"} <= set(sa.inspect(engine).get_table_names())
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '0'"))
    engine.dispose()
    with Store.open(url) as s:  # open() migrates too
        s.start_run("e", "f", **RUN_KW)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT value FROM meta")).scalar() == str(SCHEMA_VERSION)
    engine.dispose()


def test_unreachable_url_fails_fast() -> None:
    url = "postgresql://leanfit@127.0.0.1:1/x"
    t0 = time.perf_counter()
    with pytest.raises(StoreError, match="127.0.0.1:1/x"):
        Store.open(url)
    assert time.perf_counter() - t0 < 15
    with pytest.raises(StoreError, match="nonexistent-dir"):
        Store.open("sqlite:////nonexistent-dir/sub/x.db")


def test_default_url_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEANFIT_STORE", f"sqlite:///{tmp_path / 'env.db'}")
    with Store.open() as s:
        assert s.url.endswith("env.db")
    assert (tmp_path / "env.db").exists()


def test_concurrent_writers(store_url: str) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(store_url, w, 100)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 8
    with Store.open(store_url) as s:
        df = s.runs()
        assert len(df) == 1 and int(df["n_tasks"].iloc[0]) == 800
        done = s.done_tasks(int(df["id"].iloc[0]))
    assert len(done) == 800
    assert len({(t.resample, t.group) for t in done}) == 800
