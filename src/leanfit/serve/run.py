"""Running the app under uvicorn: one process (the bundle loaded once, in this process) or
``workers`` processes (each loads the bundle; metrics summed through prometheus_client's
multiprocess directory). SIGTERM or Ctrl-C: uvicorn stops accepting, lets in-flight requests
finish, then the command exits 0."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..bundle import load_bundle
from .app import ServeOptions, create_app

__all__ = ["read_token", "serve", "app_from_env"]

_ENV_BUNDLE = "LEANFIT_SERVE_BUNDLE"
_ENV_OPTIONS = "LEANFIT_SERVE_OPTIONS"
_ENV_TOKEN_FILE = "LEANFIT_SERVE_TOKEN_FILE"


def read_token(path: str | Path) -> str:
    """The bearer token in a file (surrounding whitespace ignored); refuses an empty one."""
    token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"--token-file {path} is empty; put the bearer token in it")
    if any(c.isspace() for c in token):
        raise ValueError(f"--token-file {path}: the token must be one word without spaces")
    return token


def app_from_env() -> Any:
    """The app of one worker process (``uvicorn --factory``), from what ``serve`` put in the
    environment: the bundle path, the options and the token file (never the token itself)."""
    opts: dict[str, Any] = json.loads(os.environ[_ENV_OPTIONS])
    token_file = os.environ.get(_ENV_TOKEN_FILE)
    opts["token"] = read_token(token_file) if token_file else None
    if opts.get("log_dir") is not None:
        opts["log_dir"] = Path(opts["log_dir"])
    return create_app(load_bundle(os.environ[_ENV_BUNDLE]), ServeOptions(**opts))


def serve(
    bundle: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    options: ServeOptions | None = None,
    token_file: str | Path | None = None,
    log_level: str = "warning",
) -> int:
    """Serve ``bundle`` until SIGTERM / Ctrl-C; returns the exit status (0 after a graceful
    stop). The bundle is loaded (and so verified) before the port opens."""
    import uvicorn

    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be within 0..65535, got {port}")
    opts = options or ServeOptions()
    if token_file is not None:
        opts = ServeOptions(**{**asdict(opts), "token": read_token(token_file)})
    b = load_bundle(bundle)  # a damaged or untrusted bundle is refused here, before serving
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "timeout_graceful_shutdown": 30,
    }
    stopped: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, frame: stopped.append(signum))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        if workers == 1:
            server = uvicorn.Server(uvicorn.Config(create_app(b, opts), **common))
            server.run()
            return 0 if server.started or stopped else 1
        del b
        # the workers read their settings from the environment (spawned processes)
        plain = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()}
        plain.pop("token")
        prom_dir = tempfile.mkdtemp(prefix="leanfit-metrics-")
        env = {
            _ENV_BUNDLE: str(Path(bundle).resolve()),
            _ENV_OPTIONS: json.dumps(plain),
            "PROMETHEUS_MULTIPROC_DIR": prom_dir,
        }
        if token_file is not None:
            env[_ENV_TOKEN_FILE] = str(Path(token_file).resolve())
        os.environ.update(env)
        try:
            uvicorn.run("leanfit.serve.run:app_from_env", factory=True, workers=workers, **common)
        finally:
            for k in env:
                os.environ.pop(k, None)
            shutil.rmtree(prom_dir, ignore_errors=True)
        return 0
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
