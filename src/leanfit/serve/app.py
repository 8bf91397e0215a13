"""The ASGI app: ``POST /predict`` (rows checked against the bundle's schema, predicted by its
model), ``/livez``, ``/readyz`` and ``/metrics``; bearer-token auth and a body-size limit.

Every bad request gets a 4xx JSON answer ``{"error": ..., "message": ..., "detail": ...}``
naming the field and what was expected: 400 for a body that is not JSON, 401 without the right
token, 413 for a body over the limit, 422 for rows that fail the schema. Metrics live in one
``CollectorRegistry`` per app (none global); with several worker processes they are summed over
the workers with prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``)."""

from __future__ import annotations

import hmac
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from anyio import to_thread
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prom_mp
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..bundle import Bundle, BundleError
from ..bundle.runner import OnnxRunner
from ..explanations import FitParts, explain_parts
from ..export.runtime import fast_runner
from .reqlog import RequestLog
from .rows import BodyError, parse_body, quick_clean

__all__ = ["ServeOptions", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MB = 1_000_000
_LISTED_REJECTS = 50  # rows whose reasons a 422 answer lists
_THREAD_ROWS = 64  # batches from this size are predicted off the event loop
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_PATHS = ("/predict", "/livez", "/readyz", "/metrics")


@dataclass(frozen=True)
class ServeOptions:
    """How the server answers: ``token`` (bearer token required on /predict and /metrics;
    None: no auth), ``max_body`` (bytes; larger bodies get 413), request logging to Parquet
    (``log_dir``; ``log_sample``: the share of rows kept; ``log_rows``: rows per file;
    ``log_files``: files kept, the oldest removed)."""

    token: str | None = None
    max_body: int = MB
    log_dir: Path | None = None
    log_sample: float = 0.1
    log_rows: int = 10_000
    log_files: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_body < 1:
            raise ValueError(f"max_body must be a positive number of bytes, got {self.max_body}")
        if not 0.0 <= self.log_sample <= 1.0:
            raise ValueError(f"log_sample must be within [0, 1], got {self.log_sample}")
        if self.log_rows < 1 or self.log_files < 1:
            raise ValueError(
                f"log_rows and log_files must be >= 1, got {self.log_rows} and {self.log_files}"
            )
        if self.token is not None and not self.token:
            raise ValueError("the bearer token is empty; give a non-empty token or none")


class _Metrics:
    """The app's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "leanfit_requests", "HTTP requests by path and status", ["path", "status"], registry=r
        )
        self.latency = Histogram(
            "leanfit_request_seconds",
            "time to answer a request, by path",
            ["path"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "leanfit_errors", "requests answered with an error, by kind", ["kind"], registry=r
        )
        self.predictions = Counter(
            "leanfit_predictions", "rows predicted, by predicted class", ["class"], registry=r
        )
        self.rejected = Counter("leanfit_rows_rejected", "rows refused by the schema", registry=r)

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # summed over the worker processes
            merged = CollectorRegistry()
            prom_mp.MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)


class _Timed:
    """ASGI middleware: counts every HTTP answer by path and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: _Metrics, state: dict[str, bool]) -> None:
        self.app = app
        self.metrics = metrics
        self.state = state  # {"ready": ...}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = scope.get("path", "")
            label = path if path in _PATHS else "other"
            self.metrics.requests.labels(label, str(status[0])).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - t0)
            if status[0] >= 500:
                self.metrics.errors.labels("internal").inc()


def _error(status: int, kind: str, message: str, detail: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": kind, "message": message}
    if detail is not None:
        body["detail"] = detail
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused (``_TooLarge``) as soon as it passes ``limit`` bytes, announced or not."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _NoExplainer(Exception):
    """The bundle cannot explain its predictions (the reason is the message)."""


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


class _Predictor:
    """Predictions for JSON rows: the quick path feeds the ONNX session straight from the
    checked values; everything else goes through ``Schema.validate`` and ``predict_clean``."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._fit_parts: FitParts | None = None
        self.columns = list(bundle.schema.columns)
        self.classes = list(bundle.classes or [])
        self.probs = bundle.mode == "classification" and bool(
            bundle.info.get("probabilities", True)
        )
        runner = bundle.runner
        self.session = runner.session if isinstance(runner, OnnxRunner) and runner.raw else None
        if self.session is not None:
            inputs = {i.name: i.type for i in self.session.get_inputs()}
            kinds = {"tensor(string)": "string", "tensor(float)": "float32"}
            kinds["tensor(double)"] = "float64"
            # the input type of each raw column; a type the quick path does not feed: no quick path
            self.kinds = {c.name: kinds.get(inputs.get(c.name, ""), "") for c in self.columns}
            self.strings = {n for n, k in self.kinds.items() if k == "string"}
            self.numeric = {
                dt: [n for n, k in self.kinds.items() if k == dt] for dt in ("float32", "float64")
            }
            self.outputs = [o.name for o in self.session.get_outputs()]
            self._run = fast_runner(self.session)  # no per-call feed checks: the feed is ours
            if "" in self.kinds.values():
                self.session = None

    def predict(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]] | list[tuple[int, str]]:
        """One answer per row, or (row, reason) for each row the schema refuses."""
        values = quick_clean(self.columns, rows)
        if values is not None and self.session is not None:
            return self._onnx(values)
        clean, rejects = self.bundle.validate(rows)
        if len(rejects):
            return [(int(i), str(r)) for i, r in rejects["reason"].items()]
        out = self.bundle.predict_clean(clean)
        pred = out["prediction"].tolist()
        prob = (
            out[[f"prob_{c}" for c in self.classes]].to_numpy(dtype=float) if self.probs else None
        )
        return self._answers(pred, prob)

    def explain(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]] | list[tuple[int, str]]:
        """Answers with an ``explanation`` each (``lf.explain``'s per row, by the fit's own
        model), or (row, reason) for each row the schema refuses; ``_NoExplainer`` when the
        bundle lacks what explaining needs."""
        clean, rejects = self.bundle.validate(rows)
        if len(rejects):
            return [(int(i), str(r)) for i, r in rejects["reason"].items()]
        parts = self._parts()
        out = self.bundle.predict_clean(clean)
        pred = out["prediction"].tolist()
        prob = (
            out[[f"prob_{c}" for c in self.classes]].to_numpy(dtype=float) if self.probs else None
        )
        answers = self._answers(pred, prob)
        records = explain_parts(parts, clean.reset_index(drop=True)).to_records()
        for a, r in zip(answers, records, strict=True):
            a["explanation"] = r
        return answers

    def _parts(self) -> FitParts:
        """The fit's parts for explanations (loaded once), the reference rows as background."""
        if self._fit_parts is None:
            try:
                py = self.bundle.python_fit()
            except BundleError as e:
                raise _NoExplainer(str(e)) from e
            ref = self.bundle.reference
            self._fit_parts = FitParts(
                model=py.model,
                fitted=py.final_model,
                preprocess=py.preprocess,
                encoder=py.encoder,
                sub=py.sub,
                mode=py.mode,
                levels=py.levels,
                background=py.encoder.transform(ref[list(py.encoder.columns)]),
            )
        return self._fit_parts

    def _onnx(self, values: dict[str, list[Any]]) -> list[dict[str, Any]]:
        assert self.session is not None
        feed: dict[str, np.ndarray] = {}
        for dtype, numeric in self.numeric.items():
            # one conversion for the numeric columns of a type; each input a contiguous [N, 1]
            block = np.array([values[n] for n in numeric], dtype=dtype)
            for j, name in enumerate(numeric):
                feed[name] = block[j].reshape(-1, 1)
        for name in self.strings:
            col = values[name]
            arr = np.array(["" if isinstance(v, float) else v for v in col], dtype=object)
            feed[name] = arr.reshape(-1, 1)
        out = dict(zip(self.outputs, self._run(feed), strict=True))
        if self.bundle.mode != "classification":
            return self._answers(
                np.asarray(out["prediction"], dtype=float).reshape(-1).tolist(), None
            )
        prob = np.asarray(out["probabilities"], dtype=float)
        if "label" in out:
            labels = [str(v) for v in np.asarray(out["label"]).reshape(-1)]
        else:
            labels = [self.classes[k] for k in prob.argmax(axis=1)]
        return self._answers(labels, prob if self.probs else None)

    def _answers(self, pred: list[Any], prob: np.ndarray | None) -> list[dict[str, Any]]:
        if prob is None:
            return [{"prediction": _plain(p)} for p in pred]
        classes = self.classes
        return [
            {"prediction": _plain(p), "probabilities": dict(zip(classes, row, strict=True))}
            for p, row in zip(pred, prob.tolist(), strict=True)
        ]

    def warm_up_row(self) -> dict[str, Any]:
        """A valid row: numeric fields mid-range, factors at their first level."""
        row: dict[str, Any] = {}
        for c in self.columns:
            if c.kind == "factor":
                row[c.name] = c.levels[0] if c.levels else None
            elif c.low is not None and c.high is not None:
                row[c.name] = (c.low + c.high) / 2
            else:
                row[c.name] = 0.0
        return row


def _plain(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v.item() if isinstance(v, np.generic) else v


def create_app(bundle: Bundle, options: ServeOptions | None = None) -> Any:
    """The ASGI app serving ``bundle`` (see the module docstring for the endpoints)."""
    opts = options or ServeOptions()
    metrics = _Metrics()
    predictor = _Predictor(bundle)
    log = (
        RequestLog(opts.log_dir, opts.log_sample, opts.log_rows, opts.log_files, opts.seed)
        if opts.log_dir is not None
        else None
    )
    state = {"ready": False}
    want = f"Bearer {opts.token}".encode() if opts.token is not None else None

    def authorized(request: Request) -> bool:
        if want is None:
            return True
        got = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(got, want)

    def unauthorized() -> JSONResponse:
        metrics.errors.labels("unauthorized").inc()
        return _error(
            401, "unauthorized", "a valid bearer token is required: 'Authorization: Bearer TOKEN'"
        )

    async def predict(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        if not state["ready"]:
            return _error(503, "not_ready", "the model is still loading; retry shortly")
        try:
            raw = await _read_body(request, opts.max_body)
        except _TooLarge:
            metrics.errors.labels("too_large").inc()
            return _error(
                413,
                "too_large",
                f"the request body exceeds the limit of {opts.max_body:,} bytes; send fewer "
                "rows per request",
            )
        except ClientDisconnect:
            return Response(status_code=400)
        try:
            body = parse_body(raw)
        except BodyError as e:
            metrics.errors.labels("bad_json" if e.status == 400 else "validation").inc()
            return _error(e.status, "bad_json" if e.status == 400 else "validation", str(e))
        rows = body.rows
        flag = request.query_params.get("explain", "false").strip().lower()
        if flag not in _TRUE + _FALSE:
            metrics.errors.labels("validation").inc()
            return _error(
                400,
                "bad_query",
                f"explain={flag!r} is not a yes/no value: use explain=true or explain=false",
            )
        answer: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | list[tuple[int, str]]] = (
            predictor.explain if flag in _TRUE else predictor.predict
        )
        try:
            if len(rows) >= _THREAD_ROWS or flag in _TRUE:
                answers = await to_thread.run_sync(answer, rows)
            else:
                answers = answer(rows)
        except _NoExplainer as e:
            metrics.errors.labels("no_explainer").inc()
            return _error(501, "no_explainer", f"this bundle cannot explain predictions: {e}")
        if answers and isinstance(answers[0], tuple):
            bad: list[Any] = list(answers)
            metrics.errors.labels("validation").inc()
            metrics.rejected.inc(len(bad))
            parts = bad[0][1].split("; ")
            first = "; ".join(parts[:3]) + (
                f"; and {len(parts) - 3} more (see detail)" if len(parts) > 3 else ""
            )
            first = first if body.single else f"row {bad[0][0]}: {first}"
            return _error(
                422,
                "validation",
                f"{len(bad)} of {len(rows)} row(s) fail the model's input schema; {first}",
                [{"row": i, "reason": r} for i, r in bad[:_LISTED_REJECTS]],
            )
        good: list[dict[str, Any]] = answers  # type: ignore[assignment]
        if bundle.mode == "classification":
            counts: dict[str, int] = {}
            for a in good:
                counts[a["prediction"]] = counts.get(a["prediction"], 0) + 1
            for c, n in counts.items():
                metrics.predictions.labels(str(c)).inc(n)
        else:
            metrics.predictions.labels("").inc(len(good))
        if log is not None:
            log.add(rows, good)
            if log.due():
                await to_thread.run_sync(log.flush)
        return JSONResponse(good[0] if body.single else {"predictions": good})

    async def livez(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        if state["ready"]:
            return JSONResponse({"status": "ready", "method": bundle.info.get("method")})
        return JSONResponse({"status": "loading"}, status_code=503)

    async def metrics_page(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        # ready once a prediction went through: the first real request pays no warm-up
        predictor.predict([predictor.warm_up_row()])
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            if log is not None:
                await to_thread.run_sync(log.flush)

    inner = Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/livez", livez, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return _Timed(inner, metrics, state)
