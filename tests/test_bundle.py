"""Model bundles (leanfit.bundle): round trips against the fit's own predictions, refusal of
tampered and untrusted bundles, schema validation, `leanfit bundle` and `leanfit predict`."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.bundle import BundleError, ColumnSpec, Schema, load_bundle, save_bundle
from leanfit.cli import main

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxmltools")
pytest.importorskip("pyarrow")

CV3 = lf.Control(method="cv", number=3, class_probs=True)
GBM = lf.expand_grid(interaction_depth=2, n_trees=[10, 30], shrinkage=0.1, n_minobsinnode=10)


@pytest.fixture(scope="module")
def sonar_gbm(training):
    return lf.train("Class ~ .", data=training, method="gbm", grid=GBM, control=CV3, seed=7)


@pytest.fixture(scope="module")
def sonar_bundle(sonar_gbm, tmp_path_factory) -> Path:
    return save_bundle(sonar_gbm, tmp_path_factory.mktemp("b") / "sonar.lfb")


@pytest.fixture(scope="module")
def boston() -> pd.DataFrame:
    return lf.datasets.load("bostonhousing")


def _rewrite(src: Path, dst: Path, replace: dict[str, bytes], rehash: bool) -> None:
    """Copy a bundle, replacing parts (and, as an attacker would, their manifest hashes)."""
    with zipfile.ZipFile(src) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts.update(replace)
    man = json.loads(parts["manifest.json"])
    if rehash:
        for name in replace:
            man["parts"][name] = hashlib.sha256(replace[name]).hexdigest()
    parts["manifest.json"] = json.dumps(man).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, b in parts.items():
            z.writestr(n, b)


# -- round trips --------------------------------------------------------------------------------


def test_sonar_gbm_round_trip_matches_the_fit(sonar_gbm, sonar_bundle, training, testing):
    b = lf.load_bundle(sonar_bundle)
    assert b.runtime == "onnx" and b.info["onnx_inputs"] in ("X", "raw")
    out = b.predict(testing)
    assert list(out.columns) == ["prediction", "prob_M", "prob_R"]
    pd.testing.assert_index_equal(out.index, testing.index)
    assert list(out["prediction"]) == list(sonar_gbm.predict(testing).astype(str))
    want = sonar_gbm.predict_proba(testing).to_numpy()
    assert np.abs(out[["prob_M", "prob_R"]].to_numpy() - want).max() <= 1e-5
    assert (b.mode, b.classes, b.target) == ("classification", ["M", "R"], "Class")
    # the chosen candidate's resampled metrics, as train() reports them
    row = sonar_gbm.results.iloc[sonar_gbm.best_index]
    assert b.metrics["Accuracy"] == pytest.approx(row["Accuracy"])
    assert b.metrics["Kappa"] == pytest.approx(row["Kappa"])
    assert b.info["method"] == "gbm" and b.info["best_params"]["n_trees"] in (10, 30)
    assert set(b.info["parts"]) == {"model.onnx", "reference.parquet"}
    with zipfile.ZipFile(sonar_bundle) as z:
        for name, digest in b.info["parts"].items():
            assert hashlib.sha256(z.read(name)).hexdigest() == digest
    # the reference: the raw training predictors (157 rows < 10 000: all), the target, and
    # the bundle's prediction on them
    ref = b.reference
    predictors = [c for c in training.columns if c != "Class"]
    assert list(ref.columns) == [*predictors, "prediction", "Class"]
    np.testing.assert_array_equal(ref[predictors].to_numpy(), training[predictors].to_numpy())
    assert list(ref["Class"]) == list(training["Class"])
    assert list(ref["prediction"]) == list(sonar_gbm.predict(training).astype(str))
    # the schema: numeric columns with their training range; gbm takes missing values
    spec = b.schema.columns[0]
    assert (spec.name, spec.kind, spec.nullable) == ("V1", "numeric", True)
    assert (spec.low, spec.high) == (training["V1"].min(), training["V1"].max())


def test_reference_is_a_bounded_seeded_sample(sonar_gbm, training, tmp_path):
    a = load_bundle(save_bundle(sonar_gbm, tmp_path / "a.lfb", reference_rows=40, seed=3))
    b = load_bundle(save_bundle(sonar_gbm, tmp_path / "b.lfb", reference_rows=40, seed=3))
    ref = a.reference
    assert len(ref) == 40
    pd.testing.assert_frame_equal(ref, b.reference)
    merged = ref.merge(training, on=[f"V{i}" for i in range(1, 61)], suffixes=("", "_t"))
    assert len(merged) == 40 and (merged["Class"] == merged["Class_t"]).all()


def test_regression_fit_round_trip(boston, tmp_path):
    data = boston.drop(columns=["chas"])
    cv3 = lf.Control(method="cv", number=3)
    fit = lf.train("medv ~ .", data=data, method="gbm", grid=GBM.iloc[[0]], control=cv3, seed=2)
    b = load_bundle(save_bundle(fit, tmp_path / "r.lfb"))
    assert b.mode == "regression" and b.classes is None and b.runtime == "onnx"
    out = b.predict(data.iloc[:50])
    assert list(out.columns) == ["prediction"]
    want = fit.predict(data.iloc[:50]).to_numpy()
    np.testing.assert_allclose(out["prediction"].to_numpy(), want, rtol=1e-5, atol=1e-5)
    assert b.metrics["RMSE"] == pytest.approx(fit.results.iloc[fit.best_index]["RMSE"])


def test_preprocessing_and_factor_columns_run_in_one_onnx_graph(boston, tmp_path):
    fit = lf.train(
        "medv ~ .",
        data=boston,
        method="glmnet",
        tune_length=2,
        preprocess=["center", "scale"],
        control=lf.Control(method="cv", number=3),
        seed=3,
    )
    b = load_bundle(save_bundle(fit, tmp_path / "pp.lfb"))
    assert b.runtime == "onnx" and b.info["onnx_inputs"] == "raw"
    chas = next(c for c in b.schema.columns if c.name == "chas")
    assert (chas.kind, chas.levels) == ("factor", ["0", "1"])
    new = boston.sample(60, random_state=1)
    got = b.predict(new)["prediction"].to_numpy()
    np.testing.assert_allclose(got, fit.predict(new).to_numpy(), rtol=1e-5, atol=1e-4)


def test_a_step_onnx_cannot_hold_falls_back_to_the_python_fit(boston, tmp_path):
    fit = lf.train(
        "medv ~ .",
        data=boston,
        method="glmnet",
        tune_length=2,
        preprocess=["YeoJohnson", "center", "scale"],
        control=lf.Control(method="cv", number=3),
        seed=3,
    )
    path = save_bundle(fit, tmp_path / "pp.lfb")
    b = load_bundle(path)
    assert b.runtime == "python"
    assert any("['yeo_johnson'] cannot be built" in note for note in b.info["onnx_export_notes"])
    assert {"model.bin", "preprocess.bin", "reference.parquet"} <= set(b.info["parts"])
    new = boston.sample(60, random_state=1)
    np.testing.assert_array_equal(b.predict(new)["prediction"].to_numpy(), fit.predict(new))
    ref = b.reference
    assert list(ref["chas"].astype(str)) == list(boston["chas"].astype(str))
    np.testing.assert_array_equal(ref["prediction"].to_numpy(), fit.predict(boston).to_numpy())


# -- refusals -----------------------------------------------------------------------------------


def test_a_flipped_byte_in_a_part_is_refused_naming_the_part(sonar_bundle, tmp_path):
    data = bytearray(sonar_bundle.read_bytes())
    with zipfile.ZipFile(sonar_bundle) as z:
        info = z.getinfo("model.onnx")
    with open(sonar_bundle, "rb") as f:  # the part's bytes start after its local header
        f.seek(info.header_offset + 26)
        n_name, n_extra = np.frombuffer(f.read(4), dtype="<u2")
    start = info.header_offset + 30 + int(n_name) + int(n_extra)
    data[start + info.compress_size // 2] ^= 0x01
    bad = tmp_path / "flipped.lfb"
    bad.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="part 'model.onnx'"):
        load_bundle(bad)


def test_an_altered_part_with_a_valid_zip_is_refused_by_its_hash(sonar_bundle, tmp_path):
    bad = tmp_path / "altered.lfb"
    with zipfile.ZipFile(sonar_bundle) as z:
        ref = bytearray(z.read("reference.parquet"))
    ref[len(ref) // 2] ^= 0xFF
    _rewrite(sonar_bundle, bad, {"reference.parquet": bytes(ref)}, rehash=False)
    with pytest.raises(BundleError, match="part 'reference.parquet' has SHA-256"):
        load_bundle(bad)
    _rewrite(sonar_bundle, bad, {"notes.txt": b"hi"}, rehash=False)
    with pytest.raises(BundleError, match=r"\['notes.txt'\] are not listed"):
        load_bundle(bad)


class Opaque:
    """A type outside the store's trust list."""

    def __init__(self) -> None:
        self.w = np.ones(3)


def test_an_untrusted_type_is_refused_naming_it(boston, tmp_path):
    import skops.io as sio

    fit = lf.train(  # YeoJohnson has no exact ONNX graph: the Python fit is bundled
        "medv ~ .",
        data=boston,
        method="lm",
        preprocess=["YeoJohnson"],
        control=lf.Control(method="cv", number=3),
        seed=1,
    )
    good = save_bundle(fit, tmp_path / "lm.lfb")
    assert load_bundle(good).runtime == "python"
    bad = tmp_path / "evil.lfb"
    # an attacker who rewrites the part and its hash still meets the trust list
    _rewrite(good, bad, {"model.bin": sio.dumps({"model": Opaque()})}, rehash=True)
    with pytest.raises(BundleError, match="test_bundle.Opaque.*trust list"):
        load_bundle(bad)


def test_unknown_format_version_and_non_bundles_are_refused(sonar_bundle, tmp_path):
    with zipfile.ZipFile(sonar_bundle) as z:
        man = json.loads(z.read("manifest.json"))
    man["format_version"] = 99
    bad = tmp_path / "v99.lfb"
    _rewrite(sonar_bundle, bad, {"manifest.json": json.dumps(man).encode()}, rehash=False)
    with pytest.raises(BundleError, match="format version 99.*reads version 1 only"):
        load_bundle(bad)
    junk = tmp_path / "junk.lfb"
    junk.write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="not a leanfit bundle"):
        load_bundle(junk)
    with pytest.raises(BundleError, match="takes a TrainResult"):
        save_bundle("gbm", tmp_path / "x.lfb")


# -- validation ---------------------------------------------------------------------------------

SCHEMA = Schema(
    [
        ColumnSpec("x", "numeric", nullable=False, low=0.0, high=1.0),
        ColumnSpec("z", "numeric", nullable=True),
        ColumnSpec("colour", "factor", levels=["blue", "red"], nullable=False),
    ]
)


def test_validate_rejects_each_bad_row_with_its_reason():
    rows = [
        {"x": 0.5, "z": None, "colour": "red"},  # fine: z may be missing
        {"z": 1.0, "colour": "red"},  # missing field x
        {"x": 0.1, "z": 1.0, "colour": "red", "age": 3},  # extra field
        {"x": "abc", "z": 1.0, "colour": "blue"},  # wrong type
        {"x": 0.2, "z": 1.0, "colour": "green"},  # unseen level
        {"x": None, "z": 1.0, "colour": "blue"},  # NA where not allowed
        {"x": "7", "z": 2, "colour": "blue"},  # a number as text is a number; out of range is
    ]  # no reason to reject (monitoring reports ranges)
    clean, rejects = SCHEMA.validate(rows)
    assert list(clean.index) == [0, 6]
    assert clean["x"].tolist() == [0.5, 7.0] and np.isnan(clean["z"].iloc[0])
    assert clean["colour"].tolist() == ["red", "blue"]
    assert list(rejects.index) == [1, 2, 3, 4, 5]
    r = rejects["reason"]
    assert r[1].startswith("missing field 'x'")
    assert r[2].startswith("extra field 'age'")
    assert r[3] == "field 'x' expected a number, got 'abc'"
    assert "field 'colour' has level 'green', not seen in training; expected one of" in r[4]
    assert "['blue', 'red']" in r[4]
    assert r[5].startswith("field 'x' is missing a value, which this model does not allow")
    assert list(rejects.columns) == ["x", "z", "colour", "age", "reason"]


def test_validate_a_frame_and_extra_columns():
    frame = pd.DataFrame(
        {
            "x": [0.1, np.inf, 0.3],
            "z": [1, 2, 3],
            "colour": ["red", "red", np.nan],
            "id": [7, 8, 9],
        },
        index=[10, 11, 12],
    )
    clean, rejects = SCHEMA.validate(frame)
    assert len(clean) == 0 and list(rejects.index) == [10, 11, 12]
    assert all("extra field 'id'" in r for r in rejects["reason"])
    clean, rejects = SCHEMA.validate(frame, extra="ignore")
    assert list(clean.index) == [10]
    assert "field 'x' expected a finite number" in rejects.loc[11, "reason"]
    assert rejects.loc[12, "reason"].startswith("field 'colour' is missing a value")
    with pytest.raises(ValueError, match="extra must be"):
        SCHEMA.validate(frame, extra="drop")


def test_validate_rejects_integers_beyond_the_float_range():
    # JSON allows integers of any size; float() of one over ~1.8e308 raises OverflowError, and
    # str() of one over 4 300 digits raises ValueError: each must be a rejected row, not a crash
    rows = [
        {"x": 10**400, "z": 1, "colour": "red"},
        {"x": 0.5, "z": -(10**5000), "colour": "red"},
        {"x": 0.5, "z": 10**20, "colour": 10**400},  # 1e20 fits a float: z is fine
        {"x": 1, "z": 2**1023, "colour": "blue"},  # the largest power of two a float holds
    ]
    clean, rejects = SCHEMA.validate(rows)
    assert list(clean.index) == [3]
    assert clean.loc[3, "z"] == 2.0**1023 and clean.loc[3, "x"] == 1.0
    assert list(rejects.index) == [0, 1, 2]
    r = rejects["reason"]
    assert r[0] == (
        "field 'x' expected a finite number, got an integer beyond the float range "
        "(magnitude about 10^400)"
    )
    assert r[1].startswith("field 'z' expected a finite number") and "10^5000" in r[1]
    assert r[2].startswith("field 'colour' has an integer of magnitude about 10^400")
    assert "['blue', 'red']" in r[2] and "'z'" not in r[2]
    frame = pd.DataFrame({"x": pd.Series([10**400, 0.5], dtype=object), "z": 1.0, "colour": "red"})
    clean, rejects = SCHEMA.validate(frame)
    assert list(clean.index) == [1] and list(rejects.index) == [0]


def test_predict_refuses_rows_that_fail_the_schema(sonar_bundle, testing):
    b = load_bundle(sonar_bundle)
    bad = testing.head(3).astype({"V1": object})
    bad.iloc[1, 0] = "oops"
    with pytest.raises(BundleError, match="1 of 3 row.*field 'V1' expected a number"):
        b.predict(bad)


# -- command line -------------------------------------------------------------------------------

CONFIG = """\
name: bundle-sonar
data: sonar
formula: Class ~ .
partition: {p: 0.75, seed: 998}
fits:
  gbmFit:
    method: gbm
    control: {method: cv, number: 3, class_probs: true}
    grid: {interaction_depth: 2, n_trees: [10, 20], shrinkage: 0.1, n_minobsinnode: 10}
    seed: 825
"""


def test_cli_bundle_from_a_stored_run(tmp_path, testing, capsys):
    from leanfit.experiment import load_experiment, run_experiment
    from leanfit.store import Store

    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    exp = load_experiment(cfg, verbose=False)
    exp.output = exp.report = None
    with Store.open(url) as store:
        summary = run_experiment(exp, echo=lambda *a: None, store=store)
    run_id = summary["fits"]["gbmFit"]["run_id"]
    out = tmp_path / "m.lfb"
    assert main(["bundle", "--run", str(run_id), "--store", url, "-o", str(out)]) == 0
    assert f"bundle of run {run_id} (gbm, runtime onnx) written to" in capsys.readouterr().out
    fit = exp.results["gbmFit"]
    got = load_bundle(out).predict(testing)
    assert list(got["prediction"]) == list(fit.predict(testing).astype(str))
    assert (
        main(["bundle", "--run", "bundle-sonar", "--fit", "nope", "--store", url, "-o", "x"]) == 2
    )
    assert "no fit named 'nope'; fits: ['gbmFit']" in capsys.readouterr().err


@pytest.fixture()
def scoring_csv(testing, tmp_path) -> tuple[Path, pd.DataFrame]:
    """The Sonar test rows as a CSV, rows 3 and 17 broken (text in V1, an unseen column value)."""
    rows = testing.drop(columns=["Class"]).reset_index(drop=True).astype({"V1": object})
    rows.loc[3, "V1"] = "n/a?"
    rows.loc[17, "V1"] = "x"
    path = tmp_path / "new.csv"
    rows.to_csv(path, index=False)
    return path, rows


def test_cli_predict_csv_in_chunks_with_rejects(
    sonar_gbm, sonar_bundle, scoring_csv, testing, tmp_path, capsys
):
    src, rows = scoring_csv
    out, rej = tmp_path / "scored.csv", tmp_path / "rejects.csv"
    args = ["predict", str(sonar_bundle), str(src), "-o", str(out), "--rejects", str(rej)]
    assert main([*args, "--chunk-rows", "7", "-q"]) == 0
    n = len(rows)
    assert f"{n:,} rows read, {n - 2:,} predicted" in capsys.readouterr().out
    scored = pd.read_csv(out)
    assert len(scored) == n - 2
    assert scored["row"].tolist() == [i for i in range(n) if i not in (3, 17)]
    raw = testing.reset_index(drop=True)
    want = sonar_gbm.predict(raw.drop(index=[3, 17]))
    assert scored["prediction"].tolist() == list(want.astype(str))
    probs = sonar_gbm.predict_proba(raw.drop(index=[3, 17])).to_numpy()
    assert np.abs(scored[["prob_M", "prob_R"]].to_numpy() - probs).max() <= 1e-5
    bad = pd.read_csv(rej)
    assert bad["row"].tolist() == [3, 17]
    assert bad["reason"].tolist() == [
        "field 'V1' expected a number, got 'n/a?'",
        "field 'V1' expected a number, got 'x'",
    ]


def test_cli_predict_parquet_in_and_out(sonar_gbm, sonar_bundle, testing, tmp_path, capsys):
    src = tmp_path / "new.parquet"
    testing.to_parquet(src)  # with the target column: an extra field unless ignored
    out = tmp_path / "scored.parquet"
    assert main(["predict", str(sonar_bundle), str(src), "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert (
        f"0 predicted -> {out}, {len(testing)} rejected -> {tmp_path / 'scored.rejects.csv'}"
        in text
    )
    assert len(pd.read_parquet(out)) == 0
    reasons = pd.read_csv(tmp_path / "scored.rejects.csv")["reason"]
    assert reasons.str.startswith("extra field 'Class'").all()
    args = ["predict", str(sonar_bundle), str(src), "-o", str(out), "-q", "--ignore-extra"]
    assert main([*args, "--chunk-rows", "10"]) == 0
    scored = pd.read_parquet(out)
    assert scored["row"].tolist() == list(range(len(testing)))
    assert scored["prediction"].tolist() == list(sonar_gbm.predict(testing).astype(str))


def test_cli_predict_errors_are_one_line(sonar_bundle, tmp_path, capsys):
    assert main(["predict", str(sonar_bundle), str(tmp_path / "no.csv"), "-o", "o.csv"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "a.txt").write_text("x")
    assert main(["predict", str(sonar_bundle), str(tmp_path / "a.txt"), "-o", "o.csv"]) == 2
    assert "unknown file type '.txt'; use .csv or .parquet" in capsys.readouterr().err


def test_a_distilled_student_is_bundled(training, testing, tmp_path):
    pytest.importorskip("torch")
    teacher = lf.train(
        "Class ~ .",
        data=training,
        method="lightgbm",
        grid={"n_estimators": [20], "num_leaves": [7], "min_child_samples": [10]},
        control=lf.Control(method="cv", number=3),
        seed=3,
    )
    d = lf.distill(teacher, hidden=(8,), epochs=3, multiple=1, latency=False, seed=4, num_threads=1)
    b = load_bundle(save_bundle(d, tmp_path / "student.lfb"))
    assert b.runtime == "onnx" and b.info["kind"] == "distilled"
    out = b.predict(testing)
    assert list(out["prediction"]) == list(d.predict(testing).astype(str))
    want = d.predict_proba(testing).to_numpy()
    assert np.abs(out[["prob_M", "prob_R"]].to_numpy() - want).max() <= 1e-5
    # a student reads the raw model matrix: no missing values allowed
    assert not any(c.nullable for c in b.schema.columns)
