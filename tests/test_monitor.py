"""lf.monitor: drift statistics checked against scipy, thresholds, violations, performance, JSON,
CLI exit codes and the HTML report in a browser."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

import leanfit as lf

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # as tests/test_report.py
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _row(res, col):
    t = pd.concat([res.columns, res.prediction])
    return t.set_index("column").loc[col]


def test_small_reference_ks_and_chisquare_match_scipy():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=400), "f": rng.choice(list("abcd"), 400)})
    cur = pd.DataFrame(
        {"x": rng.normal(0.3, 1, 300), "f": rng.choice(list("abcd"), 300, p=[0.4, 0.3, 0.2, 0.1])}
    )
    res = lf.monitor(ref, cur)
    x = _row(res, "x")
    assert x["test"] == "ks" and x["kind"] == "numeric"
    assert x["statistic"] == pytest.approx(stats.ks_2samp(ref.x, cur.x).pvalue, rel=1e-12)
    f = _row(res, "f")
    assert f["test"] == "chisquare"
    keys = sorted(set(ref.f) | set(cur.f))
    obs = np.array([(cur.f == k).sum() for k in keys], float)
    exp = np.array([(ref.f == k).sum() for k in keys], float) * 300 / 400
    assert f["statistic"] == pytest.approx(stats.chisquare(obs, exp).pvalue, rel=1e-10)
    assert f["drifted"] == (f["statistic"] < 0.05)


def test_binary_category_uses_two_proportion_z_test():
    ref = pd.DataFrame({"b": ["y"] * 60 + ["n"] * 40})
    cur = pd.DataFrame({"b": ["y"] * 30 + ["n"] * 70})
    res = lf.monitor(ref, cur)
    b = _row(res, "b")
    # by hand: shares of "y" 0.6 and 0.3, pooled 0.45
    z = (0.6 - 0.3) / np.sqrt(0.45 * 0.55 * (1 / 100 + 1 / 100))
    assert b["test"] == "z"
    assert b["statistic"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    assert bool(b["drifted"])


def test_large_reference_wasserstein_and_jensenshannon_match_scipy():
    rng = np.random.default_rng(2)
    n = 5000
    ref = pd.DataFrame(
        {"x": rng.normal(size=n), "f": rng.choice(list("abc"), n), "k": rng.integers(0, 4, n)}
    )
    cur = pd.DataFrame(
        {
            "x": rng.normal(0.25, 1, 3000),
            "f": rng.choice(list("abc"), 3000, p=[0.6, 0.2, 0.2]),
            "k": rng.integers(0, 4, 3000),
        }
    )
    res = lf.monitor(ref, cur)
    x = _row(res, "x")
    want = stats.wasserstein_distance(ref.x, cur.x) / np.std(ref.x)
    assert x["test"] == "wasserstein" and x["statistic"] == pytest.approx(want, rel=1e-9)
    assert bool(x["drifted"]) == (want >= 0.1)
    f = _row(res, "f")
    p = ref.f.value_counts(normalize=True).sort_index()
    q = cur.f.value_counts(normalize=True).sort_index()
    assert f["test"] == "jensenshannon"
    assert f["statistic"] == pytest.approx(distance.jensenshannon(p, q), rel=1e-9)
    assert bool(f["drifted"])
    assert _row(res, "k")["kind"] == "categorical"  # integers with <= 10 values


def test_wasserstein_on_many_rows_agrees_with_exact_value_and_verdict():
    rng = np.random.default_rng(3)
    a = rng.lognormal(size=300_000)
    for shift in (0.0, 0.05, 0.1, 0.2):
        b = rng.lognormal(size=250_000) + shift * np.std(a)
        res = lf.monitor(pd.DataFrame({"a": a}), pd.DataFrame({"a": b}))
        want = stats.wasserstein_distance(a, b) / np.std(a)
        got = _row(res, "a")
        assert got["statistic"] == pytest.approx(want, abs=1e-3)
        assert bool(got["drifted"]) == (want >= 0.1)


def test_thresholds_both_sides_and_per_kind_settings():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.normal(size=2000)})
    cur = pd.DataFrame({"x": rng.normal(0.2, 1, 2000)})
    d = stats.wasserstein_distance(ref.x, cur.x) / np.std(ref.x)
    assert bool(_row(lf.monitor(ref, cur, threshold=d - 1e-6), "x")["drifted"])
    assert not bool(_row(lf.monitor(ref, cur, threshold=d + 1e-6), "x")["drifted"])
    ks = lf.monitor(ref, cur, stattest={"numeric": "ks"}, threshold={"x": 0.01})
    assert _row(ks, "x")["test"] == "ks" and _row(ks, "x")["threshold"] == 0.01
    with pytest.raises(ValueError, match="unknown test 'psi'"):
        lf.monitor(ref, cur, stattest="psi")
    with pytest.raises(ValueError, match="'y' is neither a kind"):
        lf.monitor(ref, cur, threshold={"y": 0.2})


def test_dataset_drift_share():
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({c: rng.normal(size=3000) for c in "abcd"})
    cur = ref.copy()
    cur["a"] += 1.0
    cur["b"] += 1.0  # 2 of 4 drift
    res = lf.monitor(ref, cur)
    assert res.n_drifted == 2 and res.share_drifted == 0.5
    assert res.dataset_drift and res.exit_code == 1
    res = lf.monitor(ref, cur, drift_share=0.75)
    assert not res.dataset_drift and res.exit_code == 0


def test_missing_range_and_level_violations_from_reference_and_schema():
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 10, "f": list("abab") * 10})
    cur = pd.DataFrame({"x": [0.5, 2.0, np.nan, 9.0] * 5, "f": ["a", "c", None, "b"] * 5})
    v = lf.monitor(ref, cur).violations.set_index(["column", "problem"])
    assert v.loc[("x", "below range"), "rows"] == 5
    assert v.loc[("x", "above range"), "rows"] == 5
    assert v.loc[("x", "missing"), "rows"] == 5
    assert (
        v.loc[("f", "unseen level"), "rows"] == 5
        and v.loc[("f", "unseen level"), "examples"] == "c"
    )
    assert v.loc[("f", "missing"), "share"] == 0.25
    spec = SimpleNamespace
    schema = SimpleNamespace(
        columns=[
            spec(name="x", kind="numeric", levels=None, nullable=True, low=0.0, high=10.0),
            spec(
                name="f", kind="factor", levels=["a", "b", "c"], nullable=False, low=None, high=None
            ),
        ]
    )
    bundle = SimpleNamespace(reference=ref, schema=schema)
    v = lf.monitor(bundle, cur).violations
    assert list(zip(v.column, v.problem, strict=True)) == [("f", "missing")]


def test_performance_with_labels_joined_on_id():
    ref = pd.DataFrame({"x": np.arange(50.0), "prediction": ["a", "b"] * 25, "y": ["a", "b"] * 25})
    cur = pd.DataFrame({"id": range(10), "x": np.arange(10.0), "prediction": list("aabbaabbab")})
    labels = pd.DataFrame({"id": [0, 1, 2, 3, 4, 5, 99], "y": list("abbbab") + ["a"]})
    res = lf.monitor(ref, cur, target="y", id_column="id", labels=labels)
    perf = res.performance.set_index("metric")
    # ids 0..5: pred a a b b a a vs obs a b b b a b -> 4/6 right
    assert perf.loc["Accuracy", "current"] == pytest.approx(4 / 6)
    assert perf.loc["Accuracy", "reference"] == 1.0
    assert perf.loc["Accuracy", "change"] == pytest.approx(4 / 6 - 1)
    assert res.labels == {"scored": 6, "unlabelled": 4, "unmatched_labels": 1, "no_prediction": 0}
    reg_ref = pd.DataFrame({"x": [1.0, 2.0, 3.0], "prediction": [1.0, 2.0, 3.5]})
    reg_cur = pd.DataFrame({"id": [1, 2], "x": [1.0, 2.0], "prediction": [1.0, 4.0]})
    res = lf.monitor(
        SimpleNamespace(reference=reg_ref, schema=None, metrics={"RMSE": 0.5}, mode="regression"),
        reg_cur,
        id_column="id",
        labels=pd.DataFrame({"id": [1, 2], "y": [2.0, 4.0]}),
    )
    perf = res.performance.set_index("metric")
    assert perf.loc["RMSE", "current"] == pytest.approx(np.sqrt(0.5))
    assert perf.loc["RMSE", "reference"] == 0.5


def test_prediction_drift_and_json_shape():
    rng = np.random.default_rng(6)
    ref = pd.DataFrame(
        {"x": rng.normal(size=500), "prediction": rng.choice(["a", "b"], 500, p=[0.5, 0.5])}
    )
    cur = pd.DataFrame(
        {"x": rng.normal(size=500), "prediction": rng.choice(["a", "b"], 500, p=[0.9, 0.1])}
    )
    res = lf.monitor(ref, cur)
    assert res.prediction_drift and res.exit_code == 1 and not res.dataset_drift
    d = json.loads(res.to_json())
    assert d["exit_code"] == 1 and d["prediction_drift"] is True
    assert set(d["columns"][0]) >= {"column", "kind", "test", "statistic", "threshold", "drifted"}
    assert d["prediction"][0]["column"] == "prediction" and d["prediction"][0]["test"] == "z"


def test_bad_input_is_refused_naming_the_column():
    ref = pd.DataFrame({"x": [1.0, 2.0], "z": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"lacks the monitored columns \['z'\]"):
        lf.monitor(ref, pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match="labels need id_column"):
        lf.monitor(ref, ref, labels=ref)
    with pytest.raises(ValueError, match="'z' has no non-missing values in the current"):
        lf.monitor(ref, pd.DataFrame({"x": [1.0], "z": [np.nan]}))


def test_html_report_renders_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(7)
    ref = pd.DataFrame(
        {
            "x": rng.normal(size=800),
            "f": rng.choice(list("abc"), 800),
            "prediction": rng.choice(["yes", "no"], 800),
        }
    )
    cur = pd.DataFrame(
        {
            "x": rng.normal(1, 1, 600),
            "f": rng.choice(list("abcd"), 600),
            "prediction": rng.choice(["yes", "no"], 600, p=[0.8, 0.2]),
        }
    )
    res = lf.monitor(ref, cur)
    path = res.to_html(tmp_path / "monitor.html")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=FLAGS, env={"HOME": str(tmp_path)}
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])"
        )
        body = page.inner_text("body")
        browser.close()
    assert errors == []
    drifted = res.drifted_columns
    assert drifted and len(images) == len(drifted) + 1  # drifted columns + the prediction
    assert all(done and w > 100 and h > 100 for done, w, h in images)
    assert "drift detected" in body and "unseen level" in body


def test_cli_exit_codes(tmp_path):
    from leanfit.cli import main

    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"x": rng.normal(size=300), "f": rng.choice(list("ab"), 300)})
    same = ref.sample(frac=1, random_state=1)
    moved = ref.assign(x=ref.x + 2)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    same.to_parquet(tmp_path / "same.parquet")
    moved.to_csv(tmp_path / "moved.csv", index=False)
    out = tmp_path / "out.json"
    assert (
        main(["monitor", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "same.parquet")])
        == 0
    )
    assert (
        main(
            [
                "monitor",
                str(tmp_path / "ref.csv"),
                "--current",
                str(tmp_path / "moved.csv"),
                "--json",
                str(out),
                "--drift-share",
                "0.5",
            ]
        )
        == 1
    )
    assert json.loads(out.read_text())["columns"][0]["drifted"] is True
    assert main(["monitor", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "x.xlsx")]) == 2
    (tmp_path / "bad.csv").write_text("y\n1\n")
    assert main(["monitor", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "bad.csv")]) == 2


class _StandIn:
    """A tiny bundle-like object: reference rows, a schema that rejects x < 0, and predict."""

    mode = "classification"
    classes = ["lo", "hi"]
    target = "y"
    metrics = {"Accuracy": 0.9}

    def __init__(self, reference):
        self.reference = reference
        spec = SimpleNamespace(
            name="x", kind="numeric", levels=None, nullable=False, low=0.0, high=1.0
        )
        self.schema = SimpleNamespace(columns=[spec], validate=self._validate)

    def _validate(self, frame):
        bad = frame["x"] < 0
        return frame[~bad], frame[bad].assign(reason="x: expected a number >= 0")

    def predict(self, frame):
        hi = frame["x"].to_numpy() > 0.5
        return pd.DataFrame(
            {
                "prediction": np.where(hi, "hi", "lo"),
                "prob_lo": np.where(hi, 0.2, 0.8),
                "prob_hi": np.where(hi, 0.8, 0.2),
            },
            index=frame.index,
        )


def test_bundle_like_reference_predicts_current_rows():
    rng = np.random.default_rng(9)
    x = rng.uniform(size=400)
    ref = pd.DataFrame(
        {"x": x, "prediction": np.where(x > 0.5, "hi", "lo"), "y": np.where(x > 0.5, "hi", "lo")}
    )
    cur = pd.DataFrame({"id": range(5), "x": [0.9, 0.8, 0.7, 0.1, -1.0]})
    labels = pd.DataFrame({"id": range(5), "y": ["hi", "hi", "lo", "lo", "lo"]})
    res = lf.monitor(_StandIn(ref), cur, id_column="id", labels=labels)
    assert list(res.current_data["prediction"].iloc[:4]) == ["hi", "hi", "hi", "lo"]
    assert pd.isna(res.current_data["prediction"].iloc[4])  # rejected by the schema: no prediction
    perf = res.performance.set_index("metric")
    assert perf.loc["Accuracy", "current"] == pytest.approx(3 / 4)  # 4 scored rows, 3 right
    assert perf.loc["Accuracy", "reference"] == 0.9
    assert res.labels == {"scored": 4, "unlabelled": 0, "unmatched_labels": 0, "no_prediction": 1}
    v = res.violations.set_index(["column", "problem"])
    assert v.loc[("x", "below range"), "rows"] == 1


# -- current rows from a server's request logs ----------------------------------------------------

DEC1 = pd.Timestamp("2026-12-01T00:00", tz="UTC").timestamp()


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    rng = np.random.default_rng(11)
    n = 300
    d = pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n), "f": rng.choice(list("abc"), n)}
    )
    d["y"] = np.where(d.x1 + rng.normal(size=n) > 0, "hi", "lo")
    fit = lf.train("y ~ .", data=d, method="lda", control=lf.Control(method="none"), seed=1)
    path = lf.save_bundle(fit, tmp_path_factory.mktemp("mon") / "small.lfb")
    return path, lf.load_bundle(path), d


def _log(folder, bundle, rows, at, monkeypatch, prediction=None):
    """Log ``rows`` with the server's own writer as if served at ``at`` (epoch seconds);
    ``prediction`` overrides the bundle's answer (to tell logged from recomputed ones)."""
    import time as _time

    from leanfit.serve import reqlog

    pred = bundle.predict(rows)
    answers = [
        {
            "prediction": prediction or p,
            "probabilities": {"hi": float(h), "lo": float(lo)},
        }
        for p, h, lo in zip(pred["prediction"], pred["prob_hi"], pred["prob_lo"], strict=True)
    ]
    clock = SimpleNamespace(
        time=lambda: at, strftime=_time.strftime, gmtime=lambda: _time.gmtime(at)
    )
    monkeypatch.setattr(reqlog, "time", clock)
    log = reqlog.RequestLog(folder, sample=1.0, rows=50, files=100, seed=0)
    log.add(rows.to_dict(orient="records"), answers)
    log.flush()


def test_request_logs_in_a_time_window_are_the_current_rows(small_bundle, tmp_path, monkeypatch):
    path, bundle, d = small_bundle
    X = d.drop(columns="y")
    logs = tmp_path / "logs"
    before = X.iloc[:120]  # logged on 30 November: like the training rows
    after = X.iloc[120:240].assign(x1=lambda f: f.x1 + 3)  # 1 December: x1 moved
    _log(logs, bundle, before, DEC1 - 12 * 3600, monkeypatch)
    _log(logs, bundle, after, DEC1 + 6 * 3600, monkeypatch, prediction="hi")
    assert len(list(logs.glob("requests-*.parquet"))) == 6  # 50 rows a file

    cur = lf.read_request_logs(logs, since="2026-12-01T00:00")
    assert len(cur) == 120 and (cur["prediction"] == "hi").all()  # the logged answers
    assert np.allclose(cur["x1"], after["x1"]) and list(cur["f"]) == list(after["f"])
    assert (cur["logged_at"] == pd.Timestamp("2026-12-01T06:00", tz="UTC")).all()
    old = lf.read_request_logs(logs, until="2026-12-01T01:00+01:00")  # = 00:00 UTC, exclusive
    assert len(old) == 120 and np.allclose(old["x1"], before["x1"])
    assert len(lf.read_request_logs(logs)) == 240

    res = lf.monitor(bundle, cur)
    assert res.current_rows == 120
    assert list(res.current_data["prediction"]) == ["hi"] * 120  # not recomputed by the bundle
    flags = res.columns.set_index("column")["drifted"]
    assert flags["x1"] and not flags["x2"]
    assert res.prediction_drift  # every logged answer is "hi"; the reference has both classes
    assert "logged_at" in res.ignored_columns
    res = lf.monitor(bundle, old)
    assert not res.columns.set_index("column")["drifted"]["x1"]


def test_request_log_errors_name_the_problem(small_bundle, tmp_path, monkeypatch):
    _, bundle, d = small_bundle
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no request logs .*--log-dir"):
        lf.read_request_logs(empty)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        lf.read_request_logs(tmp_path / "nowhere")
    logs = tmp_path / "logs"
    _log(logs, bundle, d.drop(columns="y").head(10), DEC1, monkeypatch)
    with pytest.raises(
        ValueError,
        match=r"no logged requests from 2026-12-02T00:00:00\+00:00.*"
        r"10 row\(s\) in 1 file\(s\); they span 2026-12-01T00:00:00",
    ):
        lf.read_request_logs(logs, since="2026-12-02")
    with pytest.raises(ValueError, match="since '2026-13-01T00:00' is not a time; expected ISO"):
        lf.read_request_logs(logs, since="2026-13-01T00:00")
    with pytest.raises(ValueError, match="must be before until"):
        lf.read_request_logs(logs, since="2026-12-02", until="2026-12-01")
    pd.DataFrame({"x1": [1.0], "prediction": ["hi"]}).to_parquet(logs / "requests-x.parquet")
    with pytest.raises(
        ValueError, match=r"requests-x.parquet' lacks the column\(s\) \['logged_at'"
    ):
        lf.read_request_logs(logs)


def test_cli_monitor_reads_request_logs(small_bundle, tmp_path, monkeypatch, capsys):
    from leanfit.cli import main

    path, bundle, d = small_bundle
    X = d.drop(columns="y")
    logs = tmp_path / "logs"
    _log(logs, bundle, X.iloc[:150], DEC1 - 3600, monkeypatch)
    _log(logs, bundle, X.iloc[150:].assign(x1=lambda f: f.x1 + 3), DEC1 + 3600, monkeypatch)
    out = tmp_path / "m.json"
    args = ["monitor", str(path), "--logs", str(logs), "--json", str(out)]
    assert main([*args, "--since", "2026-12-01T00:00"]) == 1
    got = json.loads(out.read_text())
    assert {c["column"]: c["drifted"] for c in got["columns"]}["x1"] is True
    assert main([*args, "--until", "2026-12-01T00:00"]) == 0
    capsys.readouterr()
    assert main([*args, "--since", "yesterday"]) == 2
    assert "--since 'yesterday' is not a time" in capsys.readouterr().err
    assert main([*args, "--since", "2027-01-01"]) == 2
    assert "no logged requests from 2027-01-01" in capsys.readouterr().err
    cur = ["monitor", str(path), "--current", str(tmp_path / "x.csv"), "--since", "2026-12-01"]
    assert main(cur) == 2
    assert "give them with --logs DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # --current and --logs together: argparse refuses
        main([*args, "--current", str(tmp_path / "x.csv")])
    assert e.value.code == 2
