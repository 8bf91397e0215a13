"""The HTTP server for a model bundle (``leanfit serve``): an ASGI app on Starlette and uvicorn
with ``POST /predict`` checked against the bundle's schema, health and Prometheus endpoints,
optional bearer-token auth, a request-size limit and sampled request logs to Parquet.

Starlette rather than FastAPI: less to import at start-up and less work per request (measured
in benchmarks/serve_latency.py); the bundle's schema already does the validation."""

from .app import ServeOptions, create_app

__all__ = ["ServeOptions", "create_app"]
