"""The HTTP server (`leanfit serve`): a real server process on a loopback port, called over HTTP;
predictions checked against the fit's own, each bad input against its 4xx answer, auth, the
Prometheus page, and SIGTERM during a request (it completes; the process exits 0)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import leanfit as lf

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")
pytest.importorskip("onnxruntime")
pytest.importorskip("pyarrow")

GBM = lf.expand_grid(interaction_depth=2, n_trees=20, shrinkage=0.1, n_minobsinnode=10)
BANDS = ["low", "mid", "high"]
SRC = str(Path(lf.__file__).resolve().parents[1])


def _with_band(frame: pd.DataFrame) -> pd.DataFrame:
    """Sonar with one factor column added (so unseen levels can be tested): V11's tercile."""
    out = frame.copy()
    out["band"] = pd.cut(out["V11"], [-1, 0.2, 0.3, 2], labels=BANDS).astype(str)
    return out


@pytest.fixture(scope="module")
def fit(training):
    return lf.train(
        "Class ~ .",
        data=_with_band(training),
        method="gbm",
        grid=GBM,
        control=lf.Control(method="cv", number=3, class_probs=True),
        seed=7,
    )


@pytest.fixture(scope="module")
def bundle_path(fit, tmp_path_factory) -> Path:
    return lf.save_bundle(fit, tmp_path_factory.mktemp("serve") / "sonar.lfb")


@pytest.fixture(scope="module")
def rows(testing) -> list[dict[str, Any]]:
    return json.loads(_with_band(testing).drop(columns="Class").to_json(orient="records"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A `leanfit serve` process on a free loopback port."""

    def __init__(self, bundle: Path | None, *args: str) -> None:
        self.port = _free_port()
        env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [sys.executable, "-m", "leanfit.cli", "serve", "--port", str(self.port)]
        cmd += [] if bundle is None else [str(bundle)]
        self.proc = subprocess.Popen(
            [*cmd, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited early: {self.proc.stdout.read()}")
            try:
                if self.call("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError("server not ready within 120 s")

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            kind = resp.getheader("content-type", "")
            return resp.status, json.loads(raw) if "json" in kind else raw.decode()
        finally:
            conn.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def server(bundle_path):
    s = Server(bundle_path)
    yield s
    assert s.stop() == 0


def _expected(fit, rows: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
    frame = pd.DataFrame(rows)
    return list(fit.predict(frame).astype(str)), fit.predict_proba(frame)[["M", "R"]].to_numpy()


# -- the happy path ------------------------------------------------------------------------------


def test_one_row_and_batches_match_the_fit(server, fit, rows):
    want_class, want_prob = _expected(fit, rows)
    status, one = server.call("POST", "/predict", rows[0])
    assert status == 200
    assert one["prediction"] == want_class[0]
    assert one["probabilities"]["M"] == pytest.approx(want_prob[0, 0], abs=1e-5)
    assert one["probabilities"]["R"] == pytest.approx(want_prob[0, 1], abs=1e-5)
    for body in (rows, {"rows": rows}):
        status, got = server.call("POST", "/predict", body)
        assert status == 200
        preds = got["predictions"]
        assert [p["prediction"] for p in preds] == want_class
        prob = np.array([[p["probabilities"]["M"], p["probabilities"]["R"]] for p in preds])
        assert np.abs(prob - want_prob).max() <= 1e-5
    # a numeric field given as text, and a level given as in the file, pass as the schema does
    text = {**rows[1], "V1": str(rows[1]["V1"])}
    status, got = server.call("POST", "/predict", text)
    assert status == 200 and got["prediction"] == want_class[1]


def test_health_endpoints(server):
    assert server.call("GET", "/livez") == (200, {"status": "alive"})
    status, body = server.call("GET", "/readyz")
    assert status == 200 and body["status"] == "ready"


# -- bad input: a 4xx naming the field and what was expected, never a 500 -------------------------


@pytest.mark.parametrize(
    "change, status, words",
    [
        (lambda r: {**r, "colour": "red"}, 422, ["extra field 'colour'", "expected fields"]),
        (lambda r: {k: v for k, v in r.items() if k != "V7"}, 422, ["missing field 'V7'"]),
        (lambda r: {**r, "V3": "abc"}, 422, ["field 'V3' expected a number, got 'abc'"]),
        (lambda r: {**r, "V3": [1, 2]}, 422, ["field 'V3' expected a number"]),
        (lambda r: {**r, "band": "huge"}, 422, ["'band'", "'huge'", "not seen", "'low'"]),
        (lambda r: {**r, "V3": 10**400}, 422, ["field 'V3' expected a finite number"]),
        (lambda r: {**r, "band": -(10**400)}, 422, ["field 'band'", "not seen", "'low'"]),
    ],
    ids=["extra", "missing", "text", "list", "unseen-level", "huge-integer", "huge-level"],
)
def test_bad_rows_get_422_naming_the_field(server, rows, change, status, words):
    got_status, body = server.call("POST", "/predict", change(rows[0]))
    assert got_status == status, body
    assert body["error"] == "validation"
    for w in words:
        assert w in body["message"], body["message"]
    assert body["detail"][0]["row"] == 0


def test_missing_values_pass_where_the_model_takes_them(server, fit, rows):
    # gbm takes missing values: the schema allows them, and the answer is the fit's on NaN
    row = {**rows[0], "V5": None, "V9": None}
    status, got = server.call("POST", "/predict", row)
    assert status == 200
    frame = pd.DataFrame([row]).astype({"V5": float, "V9": float})
    assert got["prediction"] == str(fit.predict(frame)[0])
    want = fit.predict_proba(frame)["M"].iloc[0]
    assert got["probabilities"]["M"] == pytest.approx(want, abs=1e-5)


def test_python_runtime_bundle_and_missing_values_refused(training, rows, tmp_path):
    # lda after YeoJohnson (no exact ONNX graph): a bundle on the Python runtime, whose model
    # takes no missing values
    lda = lf.train(
        "Class ~ .",
        data=_with_band(training),
        method="lda",
        preprocess=["YeoJohnson"],
        control=lf.Control(method="cv", number=3, class_probs=True),
    )
    path = lf.save_bundle(lda, tmp_path / "lda.lfb")
    assert lf.load_bundle(path).runtime == "python"
    s = Server(path)
    try:
        status, got = s.call("POST", "/predict", rows)
        na_num = s.call("POST", "/predict", {**rows[0], "V5": None})
        na_factor = s.call("POST", "/predict", {**rows[0], "band": None})
    finally:
        assert s.stop() == 0
    want_class, want_prob = _expected(lda, rows)
    assert status == 200
    assert [p["prediction"] for p in got["predictions"]] == want_class
    prob = np.array(
        [[p["probabilities"]["M"], p["probabilities"]["R"]] for p in got["predictions"]]
    )
    assert np.abs(prob - want_prob).max() <= 1e-9
    assert na_num[0] == 422 and "field 'V5' is missing a value" in na_num[1]["message"]
    assert "expected a number" in na_num[1]["message"]
    assert na_factor[0] == 422 and "field 'band' is missing a value" in na_factor[1]["message"]
    assert "one of ['high', 'low', 'mid']" in na_factor[1]["message"]


def test_a_bad_row_in_a_batch_is_named_and_the_batch_refused(server, rows):
    batch = [rows[0], {**rows[1], "band": "huge"}, rows[2], {**rows[3], "V9": "x"}]
    status, body = server.call("POST", "/predict", batch)
    assert status == 422
    assert body["message"].startswith("2 of 4 row(s)") and "row 1:" in body["message"]
    assert [d["row"] for d in body["detail"]] == [1, 3]
    assert "'huge'" in body["detail"][0]["reason"] and "'V9'" in body["detail"][1]["reason"]


@pytest.mark.parametrize(
    "raw, status, words",
    [
        (b'{"V1": 0.1,', 400, ["invalid JSON", "line 1"]),
        (b"\xff\xfe", 400, ["invalid JSON"]),
        (b"", 400, ["empty"]),
        (b"42", 422, ["a number", "expected one JSON object"]),
        (b"[]", 422, ["no rows"]),
        (b"[1, 2]", 422, ["row 0 is a number"]),
        (b'{"rows": "x"}', 422, ['"rows" must be a list']),
        (b"[" * 100_000 + b"]" * 100_000, 400, ["nested too deeply"]),
    ],
    ids=[
        "truncated",
        "not-text",
        "empty",
        "scalar",
        "no-rows",
        "not-objects",
        "rows-not-list",
        "too-deep",
    ],
)
def test_malformed_bodies(server, raw, status, words):
    got_status, body = server.call("POST", "/predict", raw)
    assert got_status == status, body
    for w in words:
        assert w in body["message"], body["message"]


def test_oversized_bodies_get_413_announced_or_streamed(server, rows):
    big = json.dumps([rows[0]] * 1200).encode()  # ~1.08 MB > the 1 MB default
    assert len(big) > 1_000_000
    status, body = server.call("POST", "/predict", big)
    assert status == 413 and "1,000,000 bytes" in body["message"]
    # chunked, no Content-Length: counted while read
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))
        conn.request("POST", "/predict", body=chunks, encode_chunked=True)
        resp = conn.getresponse()
        assert resp.status == 413 and b"exceeds the limit" in resp.read()
    finally:
        conn.close()


def test_metrics_count_requests_errors_and_classes(bundle_path, rows, fit):
    s = Server(bundle_path)
    try:
        want_class, _ = _expected(fit, rows[:10])
        assert s.call("POST", "/predict", rows[:10])[0] == 200
        assert s.call("POST", "/predict", rows[0])[0] == 200
        assert s.call("POST", "/predict", {**rows[0], "V1": "x"})[0] == 422
        assert s.call("POST", "/predict", b"{")[0] == 400
        status, text = s.call("GET", "/metrics")
    finally:
        assert s.stop() == 0
    assert status == 200
    lines = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(lines['leanfit_requests_total{path="/predict",status="200"}']) == 2
    assert float(lines['leanfit_requests_total{path="/predict",status="422"}']) == 1
    assert float(lines['leanfit_requests_total{path="/predict",status="400"}']) == 1
    assert float(lines['leanfit_request_seconds_count{path="/predict"}']) == 4
    assert float(lines['leanfit_errors_total{kind="validation"}']) == 1
    assert float(lines['leanfit_errors_total{kind="bad_json"}']) == 1
    classes = want_class + [want_class[0]]
    for c in ("M", "R"):
        got = float(lines.get(f'leanfit_predictions_total{{class="{c}"}}', 0))
        assert got == classes.count(c)


# -- auth, logging, shutdown ---------------------------------------------------------------------


def test_bearer_token(bundle_path, rows, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    s = Server(bundle_path, "--token-file", str(token))
    try:
        assert s.call("POST", "/predict", rows[0])[0] == 401
        bad = {"Authorization": "Bearer wrong"}
        status, body = s.call("POST", "/predict", rows[0], bad)
        assert status == 401 and "bearer token" in body["message"]
        good = {"Authorization": "Bearer s3cret-token"}
        assert s.call("POST", "/predict", rows[0], good)[0] == 200
        assert s.call("GET", "/metrics")[0] == 401
        assert s.call("GET", "/metrics", headers=good)[0] == 200
        assert s.call("GET", "/livez")[0] == 200 and s.call("GET", "/readyz")[0] == 200
    finally:
        assert s.stop() == 0


def test_sigterm_lets_the_request_in_flight_finish_and_logs_are_written(
    bundle_path, rows, fit, tmp_path
):
    logs = tmp_path / "logs"
    s = Server(bundle_path, "--log-dir", str(logs), "--log-sample", "1", "--log-rows", "20")
    body = json.dumps(rows).encode()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    try:
        # the request is under way (headers and half the body sent) when SIGTERM arrives
        conn.putrequest("POST", "/predict")
        conn.putheader("Content-Length", str(len(body)))
        conn.putheader("Content-Type", "application/json")
        conn.endheaders()
        conn.send(body[: len(body) // 2])
        time.sleep(0.5)
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert s.proc.poll() is None  # waiting for the request
        conn.send(body[len(body) // 2 :])
        resp = conn.getresponse()
        got = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 200
    want_class, _ = _expected(fit, rows)
    assert [p["prediction"] for p in got["predictions"]] == want_class
    assert s.proc.wait(timeout=60) == 0
    logged = pd.concat(pd.read_parquet(p) for p in sorted(logs.glob("requests-*.parquet")))
    # the warm-up row is not logged; every row of the request is (sample 1), 20 rows a file
    assert len(logged) == len(rows) and len(list(logs.glob("*.parquet"))) >= len(rows) // 20
    assert sorted(logged["prediction"]) == sorted(want_class)
    assert np.allclose(sorted(logged["V1"]), sorted(r["V1"] for r in rows))


def test_bad_bundle_is_refused_before_serving(tmp_path):
    bad = tmp_path / "bad.lfb"
    bad.write_bytes(b"not a zip")
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run(
        [sys.executable, "-m", "leanfit.cli", "serve", str(bad), "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "not a leanfit bundle" in out.stderr


def test_workers_share_one_metrics_page_and_stop_on_sigterm(bundle_path, rows, fit):
    s = Server(bundle_path, "--workers", "2")
    try:
        answers = [s.call("POST", "/predict", r) for r in rows[:8]]  # a connection each
        status, text = s.call("GET", "/metrics")
    finally:
        assert s.stop() == 0
    want_class, _ = _expected(fit, rows[:8])
    assert [a[1]["prediction"] for a in answers] == want_class
    assert status == 200
    lines = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    # summed over both worker processes, whichever answered each request
    assert float(lines['leanfit_requests_total{path="/predict",status="200"}']) == 8
    got = sum(float(lines.get(f'leanfit_predictions_total{{class="{c}"}}', 0)) for c in "MR")
    assert got == 8


CONFIG = """\
name: serve-sonar
data: sonar
formula: Class ~ .
partition: {p: 0.75, seed: 998}
fits:
  gbmFit:
    method: gbm
    control: {method: cv, number: 3, class_probs: true}
    grid: {interaction_depth: 2, n_trees: 10, shrinkage: 0.1, n_minobsinnode: 10}
    seed: 825
"""


def test_serve_a_stored_run(tmp_path, testing, bundle_path):
    from leanfit.cli import main
    from leanfit.experiment import load_experiment, run_experiment
    from leanfit.store import Store

    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    exp = load_experiment(cfg, verbose=False)
    exp.output = exp.report = None
    with Store.open(url) as store:
        run_id = run_experiment(exp, echo=lambda *a: None, store=store)["fits"]["gbmFit"]["run_id"]
    s = Server(None, "--run", str(run_id), "--store", url)
    try:
        records = json.loads(testing.drop(columns="Class").to_json(orient="records"))
        status, got = s.call("POST", "/predict", records)
        explained = s.call("POST", "/predict?explain=true", records[:3])
    finally:
        assert s.stop() == 0
    assert status == 200
    want = list(exp.results["gbmFit"].predict(testing).astype(str))
    assert [p["prediction"] for p in got["predictions"]] == want
    # a stored run keeps its fit in the bundle: explanations work, equal to lf.explain's
    assert explained[0] == 200, explained[1]
    e = lf.explain(exp.results["gbmFit"], testing.head(3))
    for i, answer in enumerate(explained[1]["predictions"]):
        assert answer["explanation"]["raw_output"] == pytest.approx(e.raw[i, 0], abs=1e-9)
    # a bundle and --run together, or neither: refused before anything starts
    assert main(["serve", str(bundle_path), "--run", str(run_id), "--store", url]) == 2
    assert main(["serve"]) == 2


# -- explanations (?explain=true) ----------------------------------------------------------------


def test_explain_answers_equal_lf_explain(fit, rows, tmp_path):
    path = lf.save_bundle(fit, tmp_path / "explain.lfb", explain=True)
    b = lf.load_bundle(path)
    assert b.runtime == "onnx" and b.info["explain"] is True
    s = Server(path)
    try:
        status, got = s.call("POST", "/predict?explain=true", rows[:5])
        one = s.call("POST", "/predict?explain=1", rows[0])
        plain = s.call("POST", "/predict?explain=false", rows[0])
    finally:
        assert s.stop() == 0
    assert status == 200, got
    want = lf.explain(fit, pd.DataFrame(rows[:5]))
    assert want.method.startswith("TreeSHAP (exact")
    attributions = want.attributions
    for i, answer in enumerate(got["predictions"]):
        ex = answer["explanation"]
        assert ex["output"] == "log-odds of 'R'" and ex["method"] == want.method
        assert ex["base_value"] == pytest.approx(want.base_value, abs=1e-9)
        assert ex["raw_output"] == pytest.approx(want.raw[i, 0], abs=1e-9)
        assert set(ex["attributions"]) == set(attributions.columns)  # 'band' summed, no dummies
        for c, v in ex["attributions"].items():
            assert v == pytest.approx(attributions.iloc[i][c], abs=1e-9)
        # the probability the answer gives is the logistic of the explained raw output
        assert answer["probabilities"]["R"] == pytest.approx(
            1 / (1 + np.exp(-ex["raw_output"])), abs=1e-5
        )
    assert one[0] == 200 and one[1]["explanation"]["raw_output"] == pytest.approx(
        want.raw[0, 0], abs=1e-9
    )
    assert plain[0] == 200 and "explanation" not in plain[1]


def test_explain_without_the_fit_in_the_bundle_is_501(server, rows):
    status, body = server.call("POST", "/predict?explain=true", rows[0])
    assert status == 501
    assert body["error"] == "no_explainer"
    assert "holds the model as ONNX only" in body["message"]
    assert "save_bundle(fit, path, explain=True)" in body["message"]
    status, body = server.call("POST", "/predict?explain=maybe", rows[0])
    assert status == 400 and "explain='maybe' is not a yes/no value" in body["message"]
    # rows failing the schema are refused as without explain
    status, body = server.call("POST", "/predict?explain=true", {**rows[0], "V3": "abc"})
    assert status == 422 and "field 'V3' expected a number" in body["message"]
