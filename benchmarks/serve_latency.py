"""Serving latency of a Sonar gbm bundle over real HTTP on loopback (`leanfit serve`), beside the
same model behind the usual hand-written server (FastAPI + the pickled fit), measured the same
way in the same run: single-row requests paced at a fixed rate on one keep-alive connection;
p50 / p99 latency, errors, cold start (process start to /readyz answering 200); and the import
time of Starlette vs FastAPI (what picked Starlette).

Targets (issue 19): p50 <= 2 ms, p99 <= 10 ms at 100 req/s, zero errors over 20 000 requests,
cold start <= 1 s. FastAPI is needed only here (pip install fastapi); it is no leanfit dependency.

    PYTHONPATH=src python benchmarks/serve_latency.py [--requests 20000] [--rate 100]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

import leanfit as lf

SRC = str(Path(lf.__file__).resolve().parents[1])

FASTAPI_APP = textwrap.dedent(
    """
    import os, pickle
    import pandas as pd
    from fastapi import FastAPI

    with open(os.environ["MODEL_PICKLE"], "rb") as f:
        model = pickle.load(f)
    app = FastAPI()

    @app.get("/readyz")
    def readyz():
        return {"status": "ready"}

    @app.post("/predict")
    def predict(row: dict):
        frame = pd.DataFrame([row])
        prob = model.predict_proba(frame)
        return {"prediction": str(model.predict(frame)[0]),
                "probabilities": {str(c): float(prob[c].iloc[0]) for c in prob.columns}}
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], port: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float]:
    """Start a server; return it and the seconds from process start to /readyz answering 200."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, time.perf_counter() - t0
            conn.close()
        except OSError:
            pass
        time.sleep(0.005)


def _load(port: int, rows: list[bytes], n: int, rate: float) -> tuple[np.ndarray, int]:
    """n single-row POSTs paced at ``rate`` per second on one keep-alive connection; latency of
    each (seconds) and the count of errors (non-200 or failed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    lat = np.empty(n)
    errors = 0
    headers = {"Content-Type": "application/json"}
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        t = time.perf_counter()
        try:
            conn.request("POST", "/predict", body=rows[i % len(rows)], headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        lat[i] = time.perf_counter() - t
    conn.close()
    return lat, errors


def _import_seconds(stmt: str, repeat: int = 5) -> float:
    """Median wall time of a fresh interpreter running ``stmt``, less an empty interpreter's."""

    def run(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - t

    base = statistics.median(run("pass") for _ in range(repeat))
    return statistics.median(run(stmt) for _ in range(repeat)) - base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--rate", type=float, default=100.0)
    args = ap.parse_args()

    sonar = lf.datasets.load("sonar")
    train_rows = lf.partition(sonar["Class"], p=0.75, seed=998)
    training, testing = sonar.iloc[train_rows], sonar.drop(sonar.index[train_rows])
    grid = lf.expand_grid(interaction_depth=2, n_trees=[10, 30], shrinkage=0.1, n_minobsinnode=10)
    ctl = lf.Control(method="cv", number=3, class_probs=True)
    fit = lf.train("Class ~ .", data=training, method="gbm", grid=grid, control=ctl, seed=7)
    rows = [
        json.dumps(r).encode()
        for r in json.loads(testing.drop(columns="Class").to_json(orient="records"))
    ]

    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))  # removed at the end
    bundle = lf.save_bundle(fit, tmp / "sonar.lfb")
    with open(tmp / "model.pkl", "wb") as f:
        pickle.dump(fit, f)  # the hand-written server's usual format (what bundles avoid)
    (tmp / "fastapi_app.py").write_text(FASTAPI_APP)
    env = {**os.environ, "PYTHONPATH": SRC, "MODEL_PICKLE": str(tmp / "model.pkl")}

    print(f"Serving a Sonar gbm over HTTP on loopback: {args.requests} single-row requests at ")
    print(f"{args.rate:g} req/s, one keep-alive connection (shared, noisy machine: figures vary)")
    results: dict[str, dict[str, float]] = {}
    servers: dict[str, list[str]] = {
        "leanfit serve (Starlette, ONNX)": [
            sys.executable, "-m", "leanfit.cli", "serve", str(bundle), "--port", "{port}"
        ],
        "FastAPI + pickle (TrainResult)": [
            sys.executable, "-m", "uvicorn", "fastapi_app:app", "--app-dir", str(tmp),
            "--port", "{port}", "--log-level", "warning", "--no-access-log"
        ],
    }  # fmt: skip
    for name, cmd in servers.items():
        port = _free_port()
        proc, cold = _start([c.replace("{port}", str(port)) for c in cmd], port, env)
        try:
            lat, errors = _load(port, rows, args.requests, args.rate)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        ms = lat * 1e3
        results[name] = {
            "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max()),
            "errors": errors,
            "cold": cold,
        }
        r = results[name]
        print(
            f"  {name:34s} p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  max {r['max']:7.1f} ms"
            f"  errors {errors}  cold start {cold:.2f} s"
        )
    ours = results["leanfit serve (Starlette, ONNX)"]
    print("targets (leanfit serve):")
    for what, got, target, unit in (
        ("p50", ours["p50"], 2.0, "ms"),
        ("p99", ours["p99"], 10.0, "ms"),
        ("errors", ours["errors"], 0, ""),
        ("cold start", ours["cold"], 1.0, "s"),
    ):
        ok = "met" if got <= target else "NOT met"
        print(f"  {what:10s} {got:8.2f} {unit:2s} (target <= {target:g} {unit}): {ok}")
    shutil.rmtree(tmp, ignore_errors=True)
    star = _import_seconds("import starlette.applications, starlette.routing, uvicorn")
    fast = _import_seconds("import fastapi, uvicorn")
    print(
        f"import time: starlette+uvicorn {star * 1e3:.0f} ms, fastapi+uvicorn {fast * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
