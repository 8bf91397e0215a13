"""Inputs that used to escape their folder, explode late or be misread silently: each now fails
before any fit, in one line naming what is at fault (or is mapped to a safe file name)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.cli import main
from leanfit.paths import safe_filename
from leanfit.tuning.train import plan_train, train

CV3 = lf.Control(method="cv", number=3)


@pytest.fixture
def table() -> pd.DataFrame:
    """40 rows: two numeric predictors, a two-class target and a numeric target."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=40), rng.normal(size=40)
    y = np.where(a + rng.normal(scale=0.5, size=40) > 0, "p", "q")
    return pd.DataFrame({"a": a, "b": b, "y": y, "z": 2 * a - b})


def _refused(fits, match, *args, **kwargs) -> str:
    with pytest.raises(ValueError, match=match) as e:
        train(*args, **kwargs)
    assert fits == [], "a model was fitted before the error"
    return str(e.value)


# -- file names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gbmFit1", "gbmFit1"),
        ("../../x", "x"),
        ("/etc/passwd", "etc-passwd"),
        ("a/b", "a-b"),
        ("gbm fit #2", "gbm-fit-2"),
        ("..\\..\\win", "win"),
        (".hidden", "hidden"),
        ("3,4,5", "3-4-5"),
    ],
)
def test_names_map_to_one_safe_file_name(name, expected):
    assert safe_filename(name) == expected


def test_names_without_letters_and_long_names():
    for bad in ("", "..", "/", "../"):
        with pytest.raises(ValueError, match="no letters or digits"):
            safe_filename(bad)
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    assert len(safe_filename(a)) == 120 and safe_filename(a) != safe_filename(b)


def _config(tmp_path: Path, table: pd.DataFrame, fits: str, extra: str = "") -> Path:
    table.to_csv(tmp_path / "d.csv", index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: d.csv\nformula: y ~ a + b\n{extra}fits:\n{fits}")
    return cfg


def test_fit_names_cannot_write_outside_the_output_folder(tmp_path, table, capsys):
    escape = str(tmp_path / "abs")  # an absolute path as a fit name
    fits = (
        "  '../../up': {method: lda, control: {method: cv, number: 3}, seed: 1}\n"
        f"  '{escape}': {{method: lda, control: {{method: cv, number: 3}}, seed: 1}}\n"
    )
    cfg = _config(tmp_path, table, fits)
    out = tmp_path / "deep" / "out"
    before = set(tmp_path.rglob("*"))
    assert main(["run", str(cfg), "-o", str(out), "--no-store", "-q"]) == 0
    new = {p for p in set(tmp_path.rglob("*")) - before if p.is_file()}
    assert new and all(out in p.parents for p in new), sorted(map(str, new))
    assert (out / "up_results.csv").exists()
    assert (out / f"{escape.lstrip('/').replace('/', '-')}_results.csv").exists()


def test_fit_names_that_map_to_one_file_are_refused_before_fitting(tmp_path, table, capsys, fits):
    cfg = _config(
        tmp_path,
        table,
        "  'a/b': {method: lda, control: {method: cv, number: 3}}\n"
        "  'a-b': {method: lda, control: {method: cv, number: 3}}\n",
    )
    assert main(["run", str(cfg), "-o", str(tmp_path / "out"), "--no-store", "-q"]) == 2
    err = capsys.readouterr().err
    assert "fits 'a/b' and 'a-b' would both be written as 'a-b'" in err
    assert fits == []


def test_an_output_folder_that_cannot_be_made_fails_before_fitting(tmp_path, table, capsys, fits):
    cfg = _config(tmp_path, table, "  f: {method: lda, control: {method: cv, number: 3}}\n")
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    for out, says in ((blocker, "is a file"), (blocker / "sub", "which is a file")):
        assert main(["run", str(cfg), "-o", str(out), "--no-store", "-q"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("leanfit: error: output folder") and says in err
        assert str(out) in err and "Traceback" not in err
    assert fits == []


# -- sizes ------------------------------------------------------------------------------------


def test_a_grid_range_to_1e12_is_refused_at_once_with_its_size(tmp_path, table, capsys, fits):
    cfg = _config(
        tmp_path,
        table,
        "  big:\n    method: glmnet\n    control: {method: cv, number: 3}\n"
        "    grid: {alpha: [0.5], lambda: {from: 1, to: 1000000000000, by: 1}}\n",
    )
    assert main(["run", str(cfg), "--no-store", "-q"]) == 2
    err = capsys.readouterr().err
    assert "fit 'big': the grid has 1,000,000,000,000 candidates" in err
    assert "limit of 100,000" in err and "--allow-large" in err


def test_grid_ranges_follow_r_seq(tmp_path, table):
    from leanfit.experiment import _seq

    assert list(_seq({"from": 1, "to": 12, "by": 4})) == [1, 5, 9]  # R: seq(1, 12, 4)
    assert list(_seq({"from": 10, "to": 30, "by": 10})) == [10, 20, 30]
    np.testing.assert_allclose(
        list(_seq({"from": 0, "to": 1, "by": 0.25})), [0, 0.25, 0.5, 0.75, 1]
    )
    assert list(_seq({"from": 5, "to": 1, "by": -2})) == [5, 3, 1]
    with pytest.raises(ValueError, match="by: 0 never gets from 1 to 5"):
        _seq({"from": 1, "to": 5, "by": 0})
    with pytest.raises(ValueError, match="by: -1 goes away from to: 5; flip its sign"):
        _seq({"from": 1, "to": 5, "by": -1})
    with pytest.raises(ValueError, match="must be numbers"):
        _seq({"from": 1, "to": "1e12", "by": 1})  # YAML reads 1e12 (no dot) as a string


def test_allow_large_lifts_the_candidate_limit(table, monkeypatch, fits):
    monkeypatch.setattr("leanfit.tuning.train.MAX_CANDIDATES", 5)
    grid = {"alpha": [0.0, 0.5, 1.0], "lambda": [0.01, 0.1]}  # 6 candidates
    msg = _refused(
        fits,
        "the grid has 6 candidates, more than the limit of 5",
        "y ~ a + b",
        data=table,
        method="glmnet",
        grid=grid,
        control=CV3,
    )
    assert "allow_large=True" in msg
    plan = plan_train(
        "y ~ a + b", data=table, method="glmnet", grid=grid, control=CV3, allow_large=True
    )
    assert len(plan.candidates) == 6


def test_too_many_fits_are_refused_with_the_count(table, monkeypatch, fits):
    ctl = lf.Control(method="repeatedcv", number=5, repeats=3)
    grid = {"alpha": [0.0, 0.5, 1.0, 0.25], "lambda": [0.1]}  # glmnet: one fit per alpha
    monkeypatch.setattr("leanfit.tuning.plan.MAX_TASKS", 50)
    msg = _refused(
        fits,
        "the plan is too large",
        "y ~ a + b",
        data=table,
        method="glmnet",
        grid=grid,
        control=ctl,
    )
    assert "15 resamples x 4 fit group(s) (4 candidates) = 60 model fits (limit 50)" in msg


def test_a_hundred_million_bootstraps_are_refused_at_once(table, fits):
    ctl = lf.Control(method="boot", number=100_000_000)
    msg = _refused(
        fits, "the plan is too large", "y ~ a + b", data=table, method="lda", control=ctl
    )
    assert "100,000,000 resamples x 1 fit group(s)" in msg
    # about 8 bytes per row index: 100 000 000 x (40 rows + 15 held out) x 8 = 44.0 GB
    assert "resample rows 44.0 GB" in msg


def test_a_huge_tune_length_is_refused(table, fits):
    _refused(
        fits,
        "tune_length=1,000,000 asks for at least that many candidates",
        "y ~ a + b",
        data=table,
        method="glmnet",
        tune_length=1_000_000,
        control=CV3,
    )


def test_more_folds_than_rows_and_a_float_number(table, fits):
    _refused(
        fits,
        r"Control\(number=100\) asks for 100 folds, but the data has only 40 rows",
        "y ~ a + b",
        data=table,
        method="lda",
        control=lf.Control(method="cv", number=100),
    )
    with pytest.raises(ValueError, match="must be a positive integer"):
        lf.Control(method="boot", number=1e8)  # YAML's `number: 1e8` is the string '1e8'
    with pytest.raises(ValueError, match="must be a positive integer"):
        lf.Control(method="boot", number="1e8")


def test_n_jobs_above_the_cores_is_capped_with_a_warning(table):
    cores = len(os.sched_getaffinity(0))
    ctl = lf.Control(method="cv", number=3, n_jobs=cores + 62)
    with pytest.warns(UserWarning, match=f"n_jobs={cores + 62} is more than the {cores} CPU"):
        plan_train("y ~ a + b", data=table, method="lda", control=ctl)
    assert ctl.workers == cores
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan_train("y ~ a + b", data=table, method="lda", control=lf.Control(method="cv", number=3))


# -- values -----------------------------------------------------------------------------------


def test_infinite_predictors_and_targets_are_named_before_fitting(table, fits):
    bad = table.copy()
    bad.loc[[3, 7], "b"] = [np.inf, -np.inf]
    msg = _refused(
        fits,
        r"predictor column\(s\) 'b' \(2\) hold infinite values",
        "y ~ a + b",
        data=bad,
        method="lda",
        control=CV3,
    )
    assert "'a'" not in msg
    bad = table.copy()
    bad.loc[5, "z"] = np.inf
    _refused(
        fits,
        r"target 'z' has 1 infinite value\(s\) \(first rows \[5\]\)",
        "z ~ a + b",
        data=bad,
        method="lm",
        control=CV3,
    )


def test_an_empty_table_is_one_clear_error(table, fits):
    _refused(
        fits, "the data has no rows", "y ~ a + b", data=table.iloc[:0], method="lda", control=CV3
    )
    _refused(fits, "the data has no rows", table.iloc[:0], "y", method="lda", control=CV3)


def test_a_numeric_column_with_stray_strings_is_named_with_them(table, fits):
    bad = table.copy()
    bad["a"] = bad["a"].astype(object)
    bad.loc[[1, 2], "a"] = "?"
    bad.loc[9, "a"] = "n/a"
    msg = _refused(
        fits,
        r"predictor column 'a' is numeric but for 3 of its 40 values",
        "y ~ a + b",
        data=bad,
        method="lda",
        control=CV3,
    )
    assert "'?' (2), 'n/a' (1)" in msg and "pd.to_numeric" in msg


def test_stray_strings_read_from_a_csv_are_named(tmp_path, table, capsys, fits):
    bad = table.copy()
    bad["b"] = bad["b"].round(3).astype(object)
    bad.loc[4, "b"] = "missing"
    cfg = _config(tmp_path, bad, "  f: {method: lda, control: {method: cv, number: 3}}\n")
    assert main(["run", str(cfg), "--no-store", "-q"]) == 2
    err = capsys.readouterr().err
    assert (
        "fit 'f': predictor column 'b' is numeric but for 1 of its 40 values: 'missing' (1)" in err
    )
    assert fits == []


def _dated(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``table`` with a column ``t`` of 8 distinct dates, durations, periods or complex numbers
    (5 rows each: as a factor it would pass every level check)."""
    day = np.arange(40) % 8
    values = {
        "datetime": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D"),
        "datetime_tz": (pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")).tz_localize("UTC"),
        "date_objects": pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")).dt.date,
        "date_text": (pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")).strftime("%Y-%m-%d"),
        "timedelta": pd.to_timedelta(day, "h"),
        "period": pd.period_range("2024-01", periods=8, freq="M")[day],
        "complex": day + 1j,
    }[kind]
    return table.assign(t=np.asarray(values, dtype=object) if "date_" in kind else values)


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("datetime", r"holds dates \(datetime64"),
        ("datetime_tz", r"holds dates \(datetime64\[\w+, UTC\]"),
        ("date_objects", r"holds dates \(object"),
        ("timedelta", r"holds durations \(timedelta64"),
        ("period", r"holds periods \(period\[M\]"),
        ("complex", "holds complex numbers"),
        ("date_text", r"holds dates written as text \((object|str)\)"),
    ],
)
def test_dates_durations_and_complex_numbers_are_refused_with_a_conversion(table, fits, kind, says):
    """Dates used to become a factor (a level per date, a later date unknown at prediction)
    and complex numbers lost their imaginary part, without a word."""
    bad = _dated(table, kind)
    msg = _refused(
        fits, "predictor column 't' " + says, "y ~ .", data=bad, method="lda", control=CV3
    )
    assert "drop it" in msg
    _refused(fits, "predictor column 't' " + says, bad, "y", method="lda", control=CV3)
    if kind == "date_text":  # dates as text may be a target's classes
        res = train("t ~ a + b", data=bad, method="lda", control=CV3, seed=1)
        assert res.dataset.levels[0] == "2024-01-01" and len(res.dataset.levels) == 8
    else:
        _refused(fits, "target 't' " + says, "t ~ a + b", data=bad, method="lm", control=CV3)
    res = train("y ~ . - t", data=bad, method="lda", control=CV3, seed=1)  # not used: no matter
    assert res.dataset.encoder.feature_names == ("a", "b", "z")


def test_the_suggested_date_conversion_is_what_a_model_takes(table):
    bad = _dated(table, "datetime")
    days = (pd.to_datetime(bad["t"]) - pd.to_datetime(bad["t"]).min()).dt.days
    res = train("y ~ .", data=bad.assign(t=days), method="lda", control=CV3, seed=1)
    assert res.dataset.encoder.feature_names == ("a", "b", "z", "t")
    assert sorted(np.unique(res.dataset.X[:, 3])) == list(range(8))


def test_factors_with_numeric_looking_levels_still_work(table, fits):
    ok = table.copy()
    ok["c"] = np.array(["1", "2", "3", "other"], dtype=object)[np.arange(40) % 4]
    res = train("y ~ a + c", data=ok, method="lda", control=CV3, seed=1)
    assert res.dataset.encoder.categorical == (("c", ("1", "2", "3", "other")),)
    declared = table.copy()  # a column declared categorical is taken as the user says
    # (12 numbers, 3 or 4 rows each: as text with the stray "x" it would be refused; a column
    # with a level per row is refused even when declared, see test_columns.py)
    declared["b"] = pd.Series(np.arange(40) % 12, dtype=object)
    declared.loc[0, "b"] = "x"
    declared["b"] = declared["b"].astype(str).astype("category")
    plan_train("y ~ a + b", data=declared, method="lda", control=CV3)


def test_a_target_mixing_1_and_the_string_1_is_refused(table, fits):
    bad = table.copy()
    bad["y"] = pd.Series(
        [1 if i % 3 == 0 else ("1" if i % 3 == 1 else "q") for i in range(40)], dtype=object
    )
    msg = _refused(
        fits,
        "target 'y' holds values that read the same as text",
        "y ~ a + b",
        data=bad,
        method="lda",
        control=CV3,
    )
    assert "'1' as int and str" in msg
    # the same in a predictor column
    bad = table.copy()
    bad["c"] = pd.Series([1, "1", "2"] * 13 + [2], dtype=object)
    _refused(
        fits,
        "predictor column 'c' holds values that read the same as text",
        "y ~ a + c",
        data=bad,
        method="lda",
        control=CV3,
    )


def test_a_distill_output_under_a_file_fails_before_the_teacher_is_tuned(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from leanfit import distill_config as config

    tuned: list = []
    monkeypatch.setattr(config, "_teacher", lambda *a, **k: tuned.append(a))
    (tmp_path / "file.txt").write_text("not a folder")
    cfg = tmp_path / "d.yaml"
    cfg.write_text(
        "data: sonar\ntarget: Class\nsplit: {p: 0.75, seed: 998}\n"
        "teacher: {method: lda}\nstudent: {kind: mlp, hidden: [8], epochs: 1}\n"
        f"output: {tmp_path / 'file.txt' / 'out'}\n"
    )
    with pytest.raises(ValueError, match="output folder .*file.txt.* which is a file"):
        config.run_distill_config(cfg, echo=lambda *a: None)
    assert tuned == []
