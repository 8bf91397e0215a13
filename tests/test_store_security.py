"""A store someone else can write to: the exact-name skops trust list (and the attack it stops, on
every load path), engine files that would crash the engine, corrupt task rows (reported and
recomputed), and optional HMAC signing of task and artifact rows."""

from __future__ import annotations

import hashlib
import io
import json
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import test_store

import leanfit as lf
from leanfit.cli import main
from leanfit.restore import restore_fit
from leanfit.store import SCHEMA_VERSION, Store, StoreError
from leanfit.store.artifacts import UnsafeModelError, _skops, dump_model, load_model
from leanfit.tuning.train import plan_train

pg_server, store_url = test_store.pg_server, test_store.store_url
KEY = "k" * 32

# ---------------------------------------------------------------------------------------------
# the trust list


def test_trust_list_is_exactly_what_leanfits_models_store() -> None:
    """trusted.txt equals a regeneration from every registered model (each mode: binary,
    3-class, regression) and every pre-processing step: nothing missing, nothing extra."""
    from leanfit.store.trust import trusted_names
    from leanfit.trustlist import generate

    names = generate()
    assert set(names) == trusted_names(), (
        "trusted.txt is out of date; run python -m leanfit.trustlist --check / --write"
    )
    assert not [n for n in names if n.endswith(".")]


def _evil_archive(marker: Path, module: str = "sklearn.utils._testing") -> bytes:
    """A skops archive whose constructor node calls ``<module>.check_output(["touch", marker])``
    on load: sklearn re-exports subprocess.check_output there."""
    sio = _skops()
    blob = sio.dumps((["touch", str(marker)],))
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(files["schema.json"])
    head = {k: schema.pop(k) for k in ("protocol", "_skops_version") if k in schema}
    evil = {"__class__": "check_output", "__module__": module}
    evil |= {"__loader__": "ConstructorFromReduceNode", "content": schema}
    files["schema.json"] = json.dumps({**head, **evil}).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_a_function_under_a_trusted_prefix_is_refused_by_name(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(UnsafeModelError, match=r"sklearn\.utils\._testing\.check_output"):
        load_model("skops", _evil_archive(marker))
    assert not marker.exists()
    # an sklearn estimator no leanfit model stores is refused too, at save time
    from sklearn.linear_model import Lasso

    lasso = Lasso().fit(np.eye(3), np.arange(3.0))
    with pytest.raises(
        UnsafeModelError, match=r"sklearn\.linear_model\._coordinate_descent\.Lasso"
    ):
        dump_model(lasso)
    with pytest.raises(UnsafeModelError, match=r"builtins\.eval"):
        dump_model({"f": eval})


TEACHER = """\
name: sec-teacher
data: sonar
formula: Class ~ .
partition: {p: 0.75, seed: 998}
fits:
  lgbFit:
    method: lightgbm
    control: {method: cv, number: 3}
    grid: {n_estimators: 10, num_leaves: 4, min_child_samples: 10}
    seed: 5
"""


@pytest.fixture
def stored_run(tmp_path: Path) -> dict[str, Any]:
    """A finished experiment run (lightgbm) in its own SQLite store."""
    cfg = tmp_path / "teacher.yaml"
    cfg.write_text(TEACHER)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["run", str(cfg), "--store", url, "-q", "-o", str(tmp_path / "out")]) == 0
    with Store.open(url) as st:
        run_id = int(st.runs()["id"].iloc[0])
    return {"url": url, "run_id": run_id, "tmp": tmp_path}


def _load_by(path: str, stored: dict[str, Any], capsys: Any) -> str:
    """Load the stored run by one of leanfit's load paths; the error text it ends with."""
    url, run_id, tmp = stored["url"], stored["run_id"], stored["tmp"]
    if path == "restore_fit":
        with Store.open(url) as st, pytest.raises(StoreError) as e:
            restore_fit(st, run_id)
        return str(e.value)
    if path == "report":
        args = ["report", "--run", str(run_id), "--store", url, "-o", str(tmp / "r.html")]
    else:
        pytest.importorskip("torch")
        cfg = tmp / "distill.yaml"
        cfg.write_text(
            textwrap.dedent(
                f"""\
                name: sec-distill
                data: sonar
                target: Class
                split: {{p: 0.75, seed: 998}}
                student: {{kind: mlp, hidden: [4], epochs: 1}}
                teacher: {{run: {run_id}}}
                output: {tmp / "dout"}
                """
            )
        )
        args = ["distill", str(cfg), "--store", url]
    capsys.readouterr()
    assert main(args) == 2
    return capsys.readouterr().err


LOAD_PATHS = ["restore_fit", "report", "distill_teacher"]


@pytest.mark.parametrize("path", LOAD_PATHS)
def test_stored_attack_is_refused_on_every_load_path(
    path: str, stored_run: dict[str, Any], capsys: Any
) -> None:
    """The issue's attack: a row planted as a run's final model (valid SHA-256) whose skops
    constructor node calls check_output. Refused, naming the function; the command never ran."""
    marker = stored_run["tmp"] / "pwned"
    with Store.open(stored_run["url"]) as st:
        st.save_artifact(stored_run["run_id"], "final_model", _evil_archive(marker), "skops")
    err = _load_by(path, stored_run, capsys)
    assert "sklearn.utils._testing.check_output" in err and "trust list" in err
    assert f"artifact 'final_model' of run {stored_run['run_id']}" in err
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# engine files


def _lightgbm_text(names: list[str] | None = None) -> str:
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    params = {"objective": "binary", "verbose": -1, "num_leaves": 4}
    data = lgb.Dataset(X, (X[:, 0] > 0).astype(int), feature_name=names or "auto")
    return lgb.train(params, data, num_boost_round=3).model_to_string()


def test_engine_file_that_crashes_lightgbm_is_refused_naming_run_and_artifact(
    stored_run: dict[str, Any],
) -> None:
    """Half of a valid LightGBM model text (verified to kill a Python process with SIGSEGV when
    LightGBM parses it) and one with a stray num_cat (SIGABRT): refused, the process lives."""
    text = _lightgbm_text()
    garbled = {
        "SIGSEGV": text[: len(text) // 2],
        "SIGABRT": text.replace("num_cat=0", "num_cat=5", 1),
    }
    run_id = stored_run["run_id"]
    for signal, bad in garbled.items():
        with Store.open(stored_run["url"]) as st:
            st.save_artifact(run_id, "final_model", bad.encode(), "lightgbm-text")
            with pytest.raises(UnsafeModelError) as e:
                restore_fit(st, run_id)
        msg = str(e.value)
        assert f"artifact 'final_model' of run {run_id}" in msg and "malformed" in msg
        assert signal in msg or "tree" in msg


def test_engine_files_with_out_of_range_indices_are_refused_before_the_engine() -> None:
    import xgboost as xgb

    text = _lightgbm_text()
    bad = text.replace("split_feature=0 0\n", "split_feature=0 99\n", 1)
    assert bad != text
    with pytest.raises(UnsafeModelError, match="tree 0: a split feature is out of range"):
        load_model("lightgbm-text", bad.encode(), "artifact 'm'")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(X, X[:, 0]), 2)
    model = json.loads(bytes(booster.save_raw(raw_format="json")))
    tree = model["learner"]["gradient_booster"]["model"]["trees"][0]
    tree["left_children"][0] = 99  # segfaults xgboost's predict
    with pytest.raises(UnsafeModelError, match="tree 0: a child index is out of range"):
        load_model("xgboost-json", json.dumps(model).encode(), "artifact 'm'")
    # a valid model passes, even with features named like tree fields (importances "x=n")
    odd = _lightgbm_text(["num_leaves", "left_child", "split_feature", "leaf_value"])
    assert load_model("lightgbm-text", odd.encode()).num_trees() == 3
    good = bytes(booster.save_raw(raw_format="json"))
    back = load_model("xgboost-json", good)
    np.testing.assert_array_equal(back.predict(xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))


# ---------------------------------------------------------------------------------------------
# corrupt task rows


def _train_kwargs(training: pd.DataFrame) -> dict[str, Any]:
    return {
        "x": "Class ~ .",
        "data": training,
        "method": "rda",
        "grid": {"gamma": [0.1, 0.6], "lambda": [0.5]},
        "control": lf.Control(method="cv", number=3, class_probs=True, summary="two_class"),
        "metric": "ROC",
        "seed": 11,
    }


def _flip_payload_byte(url: str, resample: int, group: int) -> None:
    """Flip one byte in the middle of a stored task payload, as disk or network damage would."""
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        where = "WHERE resample = :r AND grp = :g"
        data = bytearray(
            conn.execute(
                sa.text(f"SELECT payload FROM tasks {where}"), {"r": resample, "g": group}
            ).scalar_one()
        )
        data[len(data) // 2] ^= 0xFF
        conn.execute(
            sa.text(f"UPDATE tasks SET payload = :p {where}"),
            {"p": bytes(data), "r": resample, "g": group},
        )
    engine.dispose()


def test_corrupt_task_row_is_reported_recomputed_and_replaced(
    store_url: str, training: pd.DataFrame
) -> None:
    kw = _train_kwargs(training)
    with Store.open(store_url) as st:
        first = lf.train(**kw, store=st, experiment="e", fit="rda")
    run_id = first.store_run["run_id"]
    _flip_payload_byte(store_url, 1, 0)
    corrupt = rf"run {run_id}: .*resample 1, group 0 is corrupt"
    with Store.open(store_url) as st:
        with (
            pytest.warns(UserWarning, match=corrupt),
            pytest.raises(StoreError, match=f"run {run_id} has 2 of its 3 task results"),
        ):
            restore_fit(st, run_id, plan=plan_train(**kw))  # what report --run reads
        with pytest.warns(UserWarning, match=r"resample 1, group 0 is corrupt.*recomputed"):
            again = lf.train(**kw, store=st, experiment="e", fit="rda")
        assert again.store_run["resumed_tasks"] == 2 and again.store_run["computed_tasks"] == 1
        pd.testing.assert_frame_equal(again.results, first.results, check_exact=True)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the row was replaced: nothing corrupt is left
            back = restore_fit(st, run_id, plan=plan_train(**kw))
    pd.testing.assert_frame_equal(back.results, first.results, check_exact=True)


def test_corrupt_row_in_a_cli_run_is_recomputed(tmp_path: Path, capsys: Any) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TEACHER)
    url = f"sqlite:///{tmp_path / 's.db'}"
    out = ["-o", str(tmp_path / "out")]
    assert main(["run", str(cfg), "--store", url, "-q", *out]) == 0
    first = pd.read_csv(next((tmp_path / "out").rglob("*results*.csv")))
    _flip_payload_byte(url, 2, 0)
    capsys.readouterr()
    with pytest.warns(UserWarning, match="resample 2, group 0 is corrupt"):
        assert main(["run", str(cfg), "--store", url, "-q", *out]) == 0
    again = pd.read_csv(next((tmp_path / "out").rglob("*results*.csv")))
    pd.testing.assert_frame_equal(again, first)


# ---------------------------------------------------------------------------------------------
# schema version 2 and legacy rows


def test_v1_store_is_migrated_and_its_unchecksummed_rows_checked_by_decoding(
    store_url: str,
) -> None:
    import sqlalchemy as sa

    with Store.open(store_url) as st:
        run_id = st.start_run("e", "f", **test_store.RUN_KW)
        st.save_task(run_id, test_store._results()[0])
    engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:  # back to what schema v1 wrote
        conn.execute(sa.text("ALTER TABLE runs DROP COLUMN signature"))
        conn.execute(sa.text("ALTER TABLE tasks DROP COLUMN checksum"))
        conn.execute(sa.text("ALTER TABLE tasks DROP COLUMN signature"))
        conn.execute(sa.text("ALTER TABLE artifacts DROP COLUMN signature"))
        conn.execute(sa.text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    engine.dispose()
    with Store.open(store_url) as st:
        assert len(st.done_tasks(run_id)) == 1  # a legacy row is accepted (no key set)
    _flip_payload_byte(store_url, 0, 1)
    with Store.open(store_url) as st:
        with pytest.warns(UserWarning, match="payload cannot be decoded"):
            assert st.done_tasks(run_id) == []
        assert st.save_task(run_id, test_store._results()[0])  # replaces the corrupt row
        assert len(st.done_tasks(run_id)) == 1
        with pytest.raises(StoreError, match="resample 0, group 1 is refused: it is unsigned"):
            Store(st.url, st._engine, KEY.encode()).done_tasks(run_id)
    engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT value FROM meta WHERE key = 'schema_version'"))
        assert got.scalar() == str(SCHEMA_VERSION) == "2"
    engine.dispose()


# ---------------------------------------------------------------------------------------------
# signing


def test_signed_store_refuses_rows_altered_or_planted_without_the_key(
    store_url: str, training: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    monkeypatch.setenv("LEANFIT_STORE_KEY", KEY)
    kw = _train_kwargs(training)
    with Store.open(store_url) as st:
        first = lf.train(**kw, store=st, experiment="e", fit="rda")
        run_id = first.store_run["run_id"]
        other = st.start_run("e", "other", **test_store.RUN_KW)
        back = restore_fit(st, run_id, plan=plan_train(**kw))  # every row verifies
    pd.testing.assert_frame_equal(back.results, first.results, check_exact=True)
    # someone with write access to the database but not the key: a well-formed altered row,
    # its checksum recomputed as an attacker would
    engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        row = conn.execute(sa.text("SELECT * FROM tasks WHERE resample = 0 AND grp = 0")).one()
        info = json.dumps({**json.loads(row.info), "forged": True}, sort_keys=True)
        from leanfit.store import _task_message

        forged = {**row._mapping, "info": info}
        checksum = hashlib.sha256(_task_message(run_id, forged)).hexdigest()
        conn.execute(
            sa.text("UPDATE tasks SET info = :i, checksum = :c WHERE id = :id"),
            {"i": info, "c": checksum, "id": row.id},
        )
    engine.dispose()
    forged_row = rf"run {run_id}: .*resample 0, group 0 .*signature"
    with Store.open(store_url) as st, pytest.raises(StoreError, match=forged_row):
        lf.train(**kw, store=st, experiment="e", fit="rda")
    monkeypatch.delenv("LEANFIT_STORE_KEY")
    with Store.open(store_url) as plain:  # no key: the forged row is accepted (not tamper-proof)
        assert len(plain.done_tasks(run_id)) == 3
        model = plain.artifact(run_id, "final_model")
        plain.save_artifact(run_id, "final_model", model[1], model[0])  # re-written, unsigned
    unsigned = f"artifact 'final_model' of run {run_id} is unsigned"
    with Store.open(store_url, key=KEY) as st, pytest.raises(StoreError, match=unsigned):
        st.artifact(run_id, "final_model")
    other_key = "another key of 32 bytes, or more"
    mis_signed = "spec' of run .*signature does not match"
    with Store.open(store_url, key=other_key) as st, pytest.raises(StoreError, match=mis_signed):
        st.artifact(run_id, "spec")
    with Store.open(store_url, key=KEY) as st:  # a signed row copied to another run
        st.save_artifact(other, "spec", b"{}", "json")
    engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        sig = conn.execute(
            sa.text("SELECT signature FROM artifacts WHERE name = 'spec' AND run_id = :r"),
            {"r": run_id},
        ).scalar_one()
        data = conn.execute(
            sa.text("SELECT data FROM artifacts WHERE name = 'spec' AND run_id = :r"),
            {"r": run_id},
        ).scalar_one()
        conn.execute(
            sa.text(
                "UPDATE artifacts SET data = :d, sha256 = :h, signature = :s "
                "WHERE name = 'spec' AND run_id = :r"
            ),
            {"d": data, "h": hashlib.sha256(data).hexdigest(), "s": sig, "r": other},
        )
    engine.dispose()
    with Store.open(store_url, key=KEY) as st:
        with pytest.raises(StoreError, match=f"'spec' of run {other}: its signature"):
            st.artifact(other, "spec")
        assert json.loads(st.load_artifact(run_id, "spec"))  # the original still verifies


def test_signed_run_record_altered_or_unsigned_is_refused(store_url: str) -> None:
    import sqlalchemy as sa

    with Store.open(store_url, key=KEY) as st:
        run_id = st.start_run("e", "f", **test_store.RUN_KW)
        st.finish_run(run_id, {"value": 0.9})
        assert st.run(run_id)["summary"] == {"value": 0.9}
        assert st.start_run("e", "f", **test_store.RUN_KW) == run_id  # resuming verifies
    with Store.open(store_url) as plain:
        unsigned = plain.start_run("e", "g", **test_store.RUN_KW)
    engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE runs SET summary = :s WHERE id = :i"),
            {"s": '{"value": 0.99}', "i": run_id},
        )
    engine.dispose()
    forged = rf"run {run_id} \(e/f\): its record's signature does not match"
    with Store.open(store_url, key=KEY) as st:
        with pytest.raises(StoreError, match=forged):
            st.run(run_id)
        with pytest.raises(StoreError, match=forged):
            st.start_run("e", "f", **test_store.RUN_KW)
        with pytest.raises(StoreError, match=rf"run {unsigned} \(e/g\): its record is unsigned"):
            st.run(unsigned)


def test_signing_key_settings_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leanfit.store import store_key

    assert store_key() is None
    with pytest.raises(StoreError, match="has 5 bytes; give at least 16"):
        store_key("short")
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    monkeypatch.setenv("LEANFIT_STORE_KEY_FILE", str(key_file))
    assert store_key() == KEY.encode()
    monkeypatch.setenv("LEANFIT_STORE_KEY", KEY)
    with pytest.raises(StoreError, match="set one of LEANFIT_STORE_KEY and LEANFIT_STORE_KEY_FILE"):
        Store.open(f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.delenv("LEANFIT_STORE_KEY")
    monkeypatch.setenv("LEANFIT_STORE_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(StoreError, match="LEANFIT_STORE_KEY_FILE=.*missing.*cannot read"):
        store_key()
