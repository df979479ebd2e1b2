"""Prometheus metrics: one registry per process, served as `GET /metrics`.

HTTP services get request counts and latency by route template, method and status from
prometheus-fastapi-instrumentator (`http_requests_total`, `http_request_duration_seconds`);
`/metrics` itself is neither counted, authenticated nor rate-limited (the write guard only
sees writes). Processes without an HTTP API serve their registry on a port of their own.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as http_metrics

log = structlog.get_logger("metrics")
# Seconds: our answers are mostly milliseconds; a few seconds means something is wrong.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNSCRAPED = ["^/metrics$"]


def instrument_http(app: FastAPI, registry: CollectorRegistry) -> None:
    """Count and time every request (the route template as `handler`, unmatched paths as
    `none`: a raw path would make one series per dispute id) and expose `registry` on
    `GET /metrics`. Call it after the other middlewares, so it sees their refusals too."""
    instrumentator = Instrumentator(should_group_status_codes=False, should_group_untemplated=True,
                                    excluded_handlers=UNSCRAPED, registry=registry)
    instrumentator.add(
        http_metrics.requests(registry=registry),
        http_metrics.latency(buckets=LATENCY_BUCKETS, registry=registry))
    instrumentator.instrument(app).expose(app, include_in_schema=False)
    app.state.metrics_registry = registry


def serve_metrics(registry: CollectorRegistry, host: str, port: int):
    """Serve `/metrics` on host:port (0 disables); a taken port is logged, never fatal:
    losing the metrics must not stop the process they describe."""
    if port == 0:
        return None
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.warning("metrics_unavailable", host=host, port=port, error=str(exc))
        return None
    log.info("metrics_serving", host=host, port=port)
    return server
