"""Prometheus metrics on a small HTTP port, for processes that have no HTTP API of their own."""

from __future__ import annotations

import structlog
from prometheus_client import CollectorRegistry, start_http_server

log = structlog.get_logger("metrics")


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
