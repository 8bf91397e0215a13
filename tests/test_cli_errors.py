"""User mistakes and failing surroundings give one line on stderr, never a traceback: bad config
and data files, grid ranges, store URLs, output paths the system refuses, and (with a real
PostgreSQL server stopped mid-run) a store lost during a run, which a re-run then resumes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pgserver import PostgresServer, pg_bin

import leanfit
from leanfit.cli import main

GOOD = """\
name: tiny
data: {data}
formula: Class ~ .
fits:
  ldaFit: {{method: lda, control: {{method: cv, number: 3}}, seed: 1}}
"""


def one_line(capsys, argv: list[str], code: int = 2) -> str:
    """Run the CLI; assert exit ``code`` and exactly one ``leanfit: error:`` line on stderr."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("leanfit: error: "), err
    assert rc == code, err
    return lines[0]


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """Work in a fresh folder with the default store (./leanfit.db), as a user would."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEANFIT_STORE", raising=False)
    return tmp_path


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# config files


def test_malformed_yaml_names_the_file_line_and_column(here, capsys):
    # line 4 is "fits: {}": the flow sequence opened on line 3 meets ':' at column 5
    cfg = _write(here / "bad.yaml", "name: x\ndata: sonar\nformula: [Class ~ .\nfits: {}\n")
    line = one_line(capsys, ["run", str(cfg)])
    assert "bad.yaml" in line and "line 4, column 5" in line
    assert not (here / "leanfit.db").exists()  # a config error leaves no empty store


def test_tab_indentation_is_named(here, capsys):
    cfg = _write(here / "tab.yaml", "name: x\ndata: sonar\nformula: Class ~ .\nfits:\n\tf: {}\n")
    line = one_line(capsys, ["run", str(cfg)])
    assert "tab.yaml" in line and "line 5, column 1" in line and "tabs" in line
    assert not (here / "leanfit.db").exists()
    line = one_line(capsys, ["distill", str(cfg)])  # leanfit distill reads configs the same way
    assert "tab.yaml" in line and "line 5, column 1" in line


def test_a_config_that_is_not_a_mapping(here, capsys):
    _write(here / "list.yaml", "- data\n- formula\n")
    line = one_line(capsys, ["run", "list.yaml"])
    assert "'list.yaml' must be a YAML mapping" in line and "not a list" in line


def test_a_directory_as_config_or_data(here, capsys):
    (here / "conf").mkdir()
    line = one_line(capsys, ["run", "conf"])
    assert "'conf' is a directory" in line
    assert "'conf' is a directory" in one_line(capsys, ["distill", "conf"])
    (here / "tables").mkdir()
    cfg = _write(here / "c.yaml", GOOD.format(data="tables"))
    line = one_line(capsys, ["run", str(cfg)])
    assert "data 'tables'" in line and "is a directory" in line
    assert not (here / "leanfit.db").exists()


def test_binary_and_non_utf8_files(here, capsys):
    (here / "blob.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    assert "'blob.yaml' is a binary file" in one_line(capsys, ["run", "blob.yaml"])
    # Latin-1 text: 0xe9 ('é') is not UTF-8; it sits on line 2
    (here / "latin.yaml").write_bytes(b"name: x\ndata: caf\xe9.csv\n")
    line = one_line(capsys, ["run", "latin.yaml"])
    assert "'latin.yaml' is not UTF-8" in line and "0xe9" in line and "line 2" in line
    (here / "blob.csv").write_bytes(b"PK\x03\x04\x00\x00\x08\x00")
    _write(here / "b.yaml", GOOD.format(data="blob.csv"))
    assert "data 'blob.csv'" in (line := one_line(capsys, ["run", "b.yaml"]))
    assert "binary" in line
    (here / "latin.csv").write_bytes(b"a,Class\n1,M\n2,caf\xe9\n")
    _write(here / "l.yaml", GOOD.format(data="latin.csv"))
    line = one_line(capsys, ["run", "l.yaml"])
    assert "latin.csv" in line and "not UTF-8" in line and "0xe9" in line and "line 3" in line
    assert not (here / "leanfit.db").exists()


def test_empty_and_header_only_csv(here, capsys):
    (here / "empty.csv").write_bytes(b"")
    _write(here / "e.yaml", GOOD.format(data="empty.csv"))
    line = one_line(capsys, ["run", "e.yaml"])
    assert "data 'empty.csv'" in line and "empty" in line
    _write(here / "head.csv", "V1,V2,Class\n")
    _write(here / "h.yaml", GOOD.format(data="head.csv"))
    line = one_line(capsys, ["run", "h.yaml"])
    assert "data 'head.csv'" in line and "3 columns" in line and "no rows" in line
    assert not (here / "leanfit.db").exists()


@pytest.mark.parametrize(
    ("rng", "words"),
    [
        ("{from: 10, to: 30, by: 0}", ["grid 'g': n_trees", "by: 0"]),
        ("{from: 10, to: 30, by: -10}", ["grid 'g': n_trees", "by: -10"]),
        ("{from: 10, to: ten, by: 5}", ["grid 'g': n_trees", "'ten'"]),
    ],
)
def test_grid_ranges_that_never_arrive(here, capsys, rng, words):
    cfg = _write(
        here / "g.yaml",
        "name: x\ndata: sonar\nformula: Class ~ .\n"
        f"grids: {{g: {{interaction_depth: 1, n_trees: {rng}, shrinkage: 0.1}}}}\n"
        "fits: {a: {method: gbm, grid: g}}\n",
    )
    line = one_line(capsys, ["run", str(cfg)])
    assert all(w in line for w in words), line
    assert not (here / "leanfit.db").exists()


def test_an_inline_grid_range_names_the_fit_and_key(here, capsys):
    cfg = _write(
        here / "g.yaml",
        "name: x\ndata: sonar\nformula: Class ~ .\n"
        "fits: {a: {method: knn, grid: {k: {from: 1, to: 9, by: 0}}}}\n",
    )
    line = one_line(capsys, ["run", str(cfg)])
    assert "fit 'a'" in line and "grid: k" in line and "by: 0" in line


# ---------------------------------------------------------------------------------------------
# store URLs


@pytest.mark.parametrize("url", ["mysql://me@db.example/leanfit", "foo://x"])
def test_an_unsupported_store_scheme_is_named_and_nothing_is_created(here, capsys, fits, url):
    _write(here / "ok.yaml", GOOD.format(data="sonar"))
    before = sorted(os.listdir(here))
    line = one_line(capsys, ["run", "ok.yaml", "--store", url])
    scheme = url.split("://")[0]
    assert f"scheme '{scheme}' is not supported" in line
    assert "sqlite://" in line and "postgresql://" in line
    assert sorted(os.listdir(here)) == before and fits == []
    assert f"'{scheme}'" in one_line(capsys, ["runs", "list", "--store", url])


def test_an_unreachable_store_still_fails_before_any_fit(here, capsys, fits):
    _write(here / "ok.yaml", GOOD.format(data="sonar"))
    line = one_line(capsys, ["run", "ok.yaml", "--store", "postgresql://leanfit@127.0.0.1:1/x"])
    assert "cannot connect to the experiment store" in line
    assert fits == []


# ---------------------------------------------------------------------------------------------
# output paths the system refuses (exit 1: the run itself was sound)


def test_an_output_path_that_is_a_file(here, capsys):
    _write(here / "ok.yaml", GOOD.format(data="sonar"))
    _write(here / "taken", "")
    line = one_line(capsys, ["run", "ok.yaml", "-q", "-o", "taken"], code=2)
    assert f"{str(here / 'taken')!r} is a file; give a directory" in line
    line = one_line(capsys, ["run", "ok.yaml", "-q", "-o", "taken/out"], code=2)
    assert f"lies under {str(here / 'taken')!r}, which is a file" in line
    assert not (here / "leanfit.db").exists()  # refused before the store was created


def test_a_read_only_output_folder(here, capsys):
    """chattr +i: even root cannot create files in an immutable folder (chmod would not stop
    root)."""
    _write(here / "ok.yaml", GOOD.format(data="sonar"))
    locked = here / "locked"
    locked.mkdir()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(locked)]).returncode:
        pytest.skip("chattr +i is not available on this file system")
    try:
        line = one_line(capsys, ["run", "ok.yaml", "-q", "-o", "locked/out"], code=2)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    assert "locked/out' cannot be written" in line and "Operation not permitted" in line
    assert not (here / "leanfit.db").exists()  # refused before any fit or store


def test_a_full_disk(here, capsys):
    """/dev/full answers every write with ENOSPC, as a full disk does: the report written to it,
    and results whose summary.json is a link to it."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    _write(here / "ok.yaml", GOOD.format(data="sonar"))
    line = one_line(capsys, ["report", "ok.yaml", "-o", "/dev/full"], code=1)
    assert "No space left on device" in line and "'/dev/full'" in line
    (here / "out").mkdir()
    (here / "out" / "summary.json").symlink_to("/dev/full")
    line = one_line(capsys, ["run", "ok.yaml", "-q", "-o", "out"], code=1)
    assert "No space left on device" in line and "'out'" in line
    assert (here / "out" / "ldaFit_results.csv").exists()  # what was written before is kept


# ---------------------------------------------------------------------------------------------
# PostgreSQL going away mid-run


@pytest.fixture
def pg():
    """A throwaway PostgreSQL server of this test's own (it is stopped mid-test): yields
    (database URL, start, stop)."""
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer(bindir)
    try:
        yield f"{server.url}/postgres", server.start, server.stop
    finally:
        server.close()


SLOW = """\
name: pg-lost
data: sonar
formula: Class ~ .
fits:
  gbmFit:
    method: gbm
    control: {method: cv, number: 8}
    grid: {interaction_depth: 3, n_trees: 300, shrinkage: 0.1, n_minobsinnode: 10}
    seed: 3
"""


def _stored_tasks(url: str) -> int:
    """Task results in the store now (0 before its tables exist)."""
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        try:
            return conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


def test_postgresql_going_away_mid_run(here, pg):
    url, start, stop = pg
    _write(here / "slow.yaml", SLOW)
    cmd = [sys.executable, "-m", "leanfit.cli", "run", "slow.yaml", "-q", "--store", url]
    src = str(Path(leanfit.__file__).resolve().parents[1])  # the child imports this leanfit
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        end = time.monotonic() + 120
        while _stored_tasks(url) < 1:  # the first task result is in: the run is under way
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.05)
        stop()
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"lost the experiment store {url} mid-run" in lines[0]
    assert "stored so far are kept" in lines[0] and "again to resume" in lines[0]
    # the results stored before the server went away are kept: the re-run reads them back
    start()
    kept = _stored_tasks(url)
    assert 1 <= kept < 8
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr
    assert f"(resumed: {kept} task results read from the store, {8 - kept} computed)" in (
        again.stdout
    )
