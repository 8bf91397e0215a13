"""Crash-safe resume: `leanfit run` killed with SIGKILL part-way, then re-run against the same
embedded store, finishes with results identical to an uninterrupted run, recomputing only the
tasks that were not stored, with no duplicate rows."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import leanfit as lf

LEANFIT = str(Path(sys.executable).parent / "leanfit")
CONFIG = """\
name: resume-test
data: sonar
formula: Class ~ .
controls:
  cv: {method: repeatedcv, number: 5, repeats: 4}
fits:
  gbmFit:
    method: gbm
    control: cv
    seed: 9
    grid: {interaction_depth: [1, 4], n_trees: [50, 200], shrinkage: 0.1, n_minobsinnode: 10}
"""
TOTAL = 20 * 2  # resamples x fit groups


def _stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _run(cfg: Path, out: Path, store: str, jobs: str = "1") -> subprocess.Popen:
    return subprocess.Popen(
        [LEANFIT, "run", str(cfg), "-q", "-j", jobs, "-o", str(out), "--store", store],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The output folder of CONFIG run once without interruption, on its own store."""
    tmp = tmp_path_factory.mktemp("clean")
    cfg = tmp / "c.yaml"
    cfg.write_text(CONFIG)
    clean = _run(cfg, tmp / "clean", f"sqlite:///{tmp / 'other.db'}")
    assert clean.wait(timeout=300) == 0
    return tmp / "clean"


@pytest.mark.parametrize("fraction", [0.3, 0.7])
def test_sigkill_then_rerun_gives_identical_results(tmp_path, fraction, uninterrupted):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    db = tmp_path / "store.db"
    store = f"sqlite:///{db}"
    proc = _run(cfg, tmp_path / "killed", store)
    deadline = time.time() + 120
    while _stored(db) < fraction * TOTAL and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = _stored(db)
    assert 0 < kept < TOTAL

    again = _run(cfg, tmp_path / "resumed", store)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert f"(resumed: {kept} task results read from the store, {TOTAL - kept} computed)" in out
    assert _stored(db) == TOTAL  # no duplicates, nothing missing

    a = pd.read_csv(tmp_path / "resumed" / "gbmFit_results.csv")
    b = pd.read_csv(uninterrupted / "gbmFit_results.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    s = json.loads((tmp_path / "resumed" / "summary.json").read_text())
    assert (
        s["fits"]["gbmFit"]["best_params"]
        == json.loads((uninterrupted / "summary.json").read_text())["fits"]["gbmFit"]["best_params"]
    )


def test_finished_run_is_not_refitted_and_changed_data_is_refused(tmp_path, training):
    from leanfit.store import Store, StoreError

    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")

    def fit(data=training, grid=None):
        return lf.train(
            "Class ~ .",
            data=data,
            method="rda",
            control=lf.Control(method="cv", number=3),
            grid=grid or {"gamma": [0.5], "lambda": [0.5]},
            seed=1,
            store=store,
            experiment="e",
            fit="f",
        )

    first = fit()
    assert first.store_run["computed_tasks"] == 3 and first.store_run["resumed_tasks"] == 0
    second = fit()
    assert second.store_run == {
        "run_id": first.store_run["run_id"],
        "resumed_tasks": 3,
        "computed_tasks": 0,
        "resumed": True,
        "invocations": 2,
        "experiment": "e",
        "fit": "f",
    }
    pd.testing.assert_frame_equal(first.results, second.results, check_exact=True)
    with pytest.raises(StoreError, match="fingerprint"):
        fit(data=training.assign(V1=training["V1"] * 2))
    with pytest.raises(StoreError):
        fit(grid={"gamma": [0.1], "lambda": [0.5]})
    runs = store.runs()
    assert len(runs) == 1 and runs["status"].iloc[0] == "finished"
    # the exact resample rows are kept with the run (numpy .npz, no pickle)
    import io

    import numpy as np

    npz = np.load(
        io.BytesIO(store.load_artifact(int(runs["id"].iloc[0]), "resamples")), allow_pickle=False
    )
    assert str(npz["hash"]) == first.resamples.hash
    for i in range(3):
        np.testing.assert_array_equal(npz[f"train_{i}"], first.resamples.train[i])
        np.testing.assert_array_equal(npz[f"test_{i}"], first.resamples.test[i])


def test_cli_runs_list_show_compare(tmp_path, capsys):
    from leanfit.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.replace("repeats: 4", "repeats: 1").replace("600", "100"))
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["run", str(cfg), "-q", "-o", str(tmp_path / "o"), "--store", store]) == 0
    capsys.readouterr()
    assert main(["runs", "list", "--store", store]) == 0
    listing = capsys.readouterr().out
    assert "resume-test" in listing and "gbmFit" in listing and "finished" in listing
    assert main(["runs", "show", "1", "--store", store]) == 0
    shown = capsys.readouterr().out
    assert '"fit": "gbmFit"' in shown
    assert main(["runs", "compare", "1", "--store", store]) == 0
    assert "Accuracy" in capsys.readouterr().out


def test_unreachable_store_fails_before_fitting(tmp_path, capsys):
    from leanfit.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    bad = "postgresql://leanfit@127.0.0.1:1/nothing"
    t0 = time.time()
    assert main(["run", str(cfg), "-q", "-o", str(tmp_path / "o"), "--store", bad]) == 2
    assert "127.0.0.1:1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and time.time() - t0 < 30


SEEDLESS = """\
name: seedless
data: sonar
formula: Class ~ .
partition: {p: 0.75}
controls:
  cv: {method: cv, number: 3}
fits:
  rdaFit: {method: rda, control: cv, grid: {gamma: [0.5], lambda: [0.5, 1.0]}}
  ldaFit: {method: lda, control: cv}
"""


def test_seedless_config_draws_one_seed_stores_it_and_resumes(tmp_path, capsys):
    """A config without seeds: the seed drawn on the first run is printed, stored and reused by
    the second, which reads every task back; the stored report re-plans with it; and putting
    the printed seed in the config reproduces the results without any store."""
    import re
    import sqlite3

    from leanfit.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(SEEDLESS)
    db = tmp_path / "s.db"
    store = f"sqlite:///{db}"
    seeds, outs = [], []
    for i in (1, 2):
        out = tmp_path / f"o{i}"
        assert main(["run", str(cfg), "-q", "-o", str(out), "--store", store]) == 0
        text = capsys.readouterr().out
        seeds.append(int(re.search(r"^seed: (\d+) \(", text, re.M).group(1)))
        outs.append(text)
    assert seeds[0] == seeds[1]
    assert "drawn; stored with the runs" in outs[0] and "read back from the store" in outs[1]
    assert outs[1].count("(resumed: 3 task results read from the store, 0 computed)") == 2
    fits = json.loads((tmp_path / "o1" / "summary.json").read_text())["fits"]
    assert fits["rdaFit"]["resample_hash"] == fits["ldaFit"]["resample_hash"]  # one seed
    with sqlite3.connect(db) as con:  # the seed kept with both runs, in the runs table
        assert {s for (s,) in con.execute("SELECT seed FROM runs")} == {seeds[0]}
    for fit in ("rdaFit", "ldaFit"):
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "o1" / f"{fit}_results.csv"),
            pd.read_csv(tmp_path / "o2" / f"{fit}_results.csv"),
            check_exact=True,
        )
    report = ["report", "--run", "seedless", "--store", store, "-o", str(tmp_path / "r.html")]
    assert main(report) == 0  # the stored runs re-plan with the stored seed
    fixed = tmp_path / "fixed.yaml"  # what the printed line says: `seed: N` fixes the run
    fixed.write_text(
        SEEDLESS.replace("{p: 0.75}", f"{{p: 0.75, seed: {seeds[0]}}}").replace(
            "control: cv", f"control: cv, seed: {seeds[0]}"
        )
    )
    assert main(["run", str(fixed), "-q", "-o", str(tmp_path / "f"), "--no-store"]) == 0
    assert "seed: " not in capsys.readouterr().out  # nothing left to draw
    for fit in ("rdaFit", "ldaFit"):
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "o1" / f"{fit}_results.csv"),
            pd.read_csv(tmp_path / "f" / f"{fit}_results.csv"),
            check_exact=True,
        )


def _stored_lda(training, store):
    """lda in 3-fold CV, stored as experiment 'e', fit 'f' (no seed given)."""
    return lf.train(
        "Class ~ .",
        data=training,
        method="lda",
        control=lf.Control(method="cv", number=3),
        store=store,
        experiment="e",
        fit="f",
    )


def test_train_without_seed_reuses_the_stored_runs_seed(tmp_path, training):
    from leanfit.store import Store

    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        fits = [_stored_lda(training, store) for _ in range(2)]
        assert int(store.runs()["seed"].iloc[0]) == fits[0].seed == fits[1].seed
    assert fits[1].store_run["resumed_tasks"] == 3 and fits[1].store_run["computed_tasks"] == 0
    pd.testing.assert_frame_equal(fits[0].results, fits[1].results, check_exact=True)


def _descendants(pid: int) -> set[tuple[int, str]]:
    """(pid, start time) of every process below ``pid``, read from /proc (Linux)."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (name) "
        parents.setdefault(int(fields[1]), []).append((int(entry.name), fields[19]))
    out, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), ()):
            out.add(child)
            todo.append(child[0])
    return out


def _alive(proc: tuple[int, str]) -> bool:
    """Whether that process (same pid and start time) still runs (zombies count as gone)."""
    try:
        stat = Path(f"/proc/{proc[0]}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] == proc[1] and fields[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize(
    ("sig", "executor"),
    [(signal.SIGTERM, "local"), (signal.SIGINT, "local"), (signal.SIGINT, "dask")],
)
def test_signal_stops_cleanly_says_what_was_saved_and_leaves_no_worker(tmp_path, sig, executor):
    """SIGTERM (to the main process only) or SIGINT (to the whole process group, as Ctrl-C in a
    terminal sends it) during a 2-worker run: exit status 128 + signal, one line naming the
    number of task results in the store, no traceback, and no worker process left running."""
    cfg = tmp_path / "c.yaml"
    if executor == "dask":
        pytest.importorskip("distributed")
        cfg.write_text(CONFIG.replace("repeats: 4}", "repeats: 4, executor: dask}"))
    else:
        cfg.write_text(CONFIG)
    db = tmp_path / "store.db"
    proc = subprocess.Popen(
        [LEANFIT, "run", str(cfg), "-q", "-j", "2", "-o", str(tmp_path / "o")]
        + ["--store", f"sqlite:///{db}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 120
    children: set = set()
    while proc.poll() is None and time.time() < deadline:
        children |= _descendants(proc.pid)
        if _stored(db) >= 3 and len(children) >= 2:  # workers started, some results stored
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    children |= _descendants(proc.pid)
    assert len(children) >= 2  # the two workers (and loky's resource tracker)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    kept = _stored(db)
    assert 0 < kept < TOTAL
    assert err.strip().splitlines() == [
        f"leanfit: interrupted: {kept} task results of experiment 'resume-test' saved in "
        f"sqlite:///{db}; run the same command again to resume"
    ]
    with sqlite3.connect(db) as con:  # the invocation's end is logged with the run
        (log,) = con.execute("SELECT data FROM artifacts WHERE name = 'invocations'").fetchone()
    (entry,) = json.loads(log)
    assert entry["status"] == "interrupted" and entry["seconds"] > 0
    deadline = time.time() + 10
    while any(map(_alive, children)) and time.time() < deadline:
        time.sleep(0.1)
    assert not [c for c in children if _alive(c)]


def test_resumed_run_reports_compute_over_every_invocation(tmp_path, capsys):
    """A run stopped part-way (half its stored task results deleted) and run again: the summary,
    the printed timings and the report mark it resumed, its compute time equals the sum of every
    stored task's fit + predict seconds (read from the database) plus the final fit, more than
    this invocation's, and its wall time sums both invocations' as the store logged them."""
    import sqlite3

    from leanfit.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(SEEDLESS.replace("partition: {p: 0.75}\n", "").replace("  ldaFit", "# "))
    db = tmp_path / "s.db"
    args = ["run", str(cfg), "-q", "--store", f"sqlite:///{db}", "-o"]
    assert main([*args, str(tmp_path / "o1")]) == 0
    first = json.loads((tmp_path / "o1" / "summary.json").read_text())["fits"]["rdaFit"]
    assert "resumed" not in first
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM tasks WHERE resample >= 1")  # 2 of 3 folds to recompute
        kept = con.execute("SELECT MAX(id) FROM tasks").fetchone()[0]
    capsys.readouterr()
    assert main([*args, str(tmp_path / "o2")]) == 0
    printed = capsys.readouterr().out
    entry = json.loads((tmp_path / "o2" / "summary.json").read_text())["fits"]["rdaFit"]
    assert entry["resumed"] is True and entry["invocations"] == 2
    with sqlite3.connect(db) as con:
        total, now = con.execute(
            "SELECT SUM(fit_time + predict_time), SUM((id > ?) * (fit_time + predict_time)) "
            "FROM tasks",
            (kept,),
        ).fetchone()
        (log,) = con.execute("SELECT data FROM artifacts WHERE name = 'invocations'").fetchone()
    t = entry["times"]
    assert t["compute"] == pytest.approx(total + t["final"], abs=2e-3)
    assert t["compute_this_run"] == pytest.approx(now + t["final"], abs=2e-3)
    assert t["compute"] > t["compute_this_run"]
    log = json.loads(log)
    assert [e["status"] for e in log] == ["finished", "finished"]
    assert [e["computed_tasks"] for e in log] == [3, 2]
    assert t["wall_total"] == pytest.approx(
        first["times"]["everything"] + t["everything"], abs=3e-3
    )
    assert f"resumed: {t['wall_total']:.2f} s wall over 2 invocations" in printed
    report = (tmp_path / "o2" / "report.html").read_text()
    assert f"resumed: 2 invocations, {t['wall_total']:.2f} s wall in all" in report


def test_wall_time_over_invocations_reads_the_same_in_summary_printout_and_report(
    tmp_path, training
):
    """Each invocation's wall seconds are logged rounded to 3 decimals; their sum is rounded the
    same way, so 0.034 + 0.051 (0.08499999… in floating point) reads 0.09 s in the report, as in
    the summary and the printed line (which show the rounded summary figure)."""
    from leanfit.report import _resumed
    from leanfit.store import Store, _dumps
    from leanfit.tuning.train import _finish_run

    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    res = _stored_lda(training, store)
    run_id = res.store_run["run_id"]
    log = [
        {"started": None, "seconds": 0.034, "computed_tasks": 3, "status": "finished"},
        {"started": None, "seconds": None, "computed_tasks": None, "status": "running"},
    ]
    store.save_artifact(run_id, "invocations", _dumps(log).encode(), "json")
    res.times["everything"] = 0.051
    _finish_run(store, run_id, res)
    assert [e["seconds"] for e in json.loads(store.load_artifact(run_id, "invocations"))] == [
        0.034,
        0.051,
    ]
    assert res.times["wall_total"] == 0.085
    assert _resumed(res) == "resumed: 2 invocations, 0.09 s wall in all"
