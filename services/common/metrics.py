"""Prometheus metrics: one registry per process, served as `GET /metrics`.

HTTP services get request counts and latency by route template, method and status
(`http_requests_total`, `http_request_duration_seconds`, the names and labels
prometheus-fastapi-instrumentator gave them) from `HttpMetrics`, a plain ASGI middleware: the
instrumentator matched every request against every route a second time (~0.9 ms a request).
`/metrics` itself is neither counted, authenticated nor rate-limited (the write guard only
sees writes). Processes without an HTTP API serve their registry on a port of their own.
"""

from __future__ import annotations

import os
import time
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess, start_http_server)
from prometheus_fastapi_instrumentator.routing import _get_route_name  # its matcher (pinned): see route_template
from starlette.routing import compile_path

log = structlog.get_logger("metrics")
# Seconds: our answers are mostly milliseconds; a few seconds means something is wrong.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METRICS_PATH = "/metrics"
LABELS = ("method", "status", "handler")


def instrument_http(app: FastAPI, registry: CollectorRegistry) -> None:
    """Count and time every request (the route template as `handler`, unmatched paths as
    `none`: a raw path would make one series per dispute id) and expose `registry` on
    `GET /metrics`. Call it after the other middlewares, so it sees their refusals too."""
    # The series are made here, not when Starlette builds its middleware stack (at the first
    # request): a registry read before any request must list them too.
    app.state.http_series = series = HttpSeries(registry)
    app.add_middleware(HttpMetrics, series=series)

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(generate_latest(exposed(registry)), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.state.metrics_registry = registry


def exposed(registry: CollectorRegistry) -> CollectorRegistry:
    """`registry`, or with several processes of one service on one port (PROMETHEUS_MULTIPROC_DIR,
    set by the dispute API's DISPUTE_HTTP_WORKERS) what all of them wrote, summed."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return registry
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    return merged


class HttpSeries:
    """The two HTTP series of a registry."""

    def __init__(self, registry: CollectorRegistry):
        self.requests = Counter("http_requests_total", "Total number of requests by method, status and handler.",
                                LABELS, registry=registry)
        self.latency = Histogram("http_request_duration_seconds", "Duration of HTTP requests in seconds",
                                 LABELS, buckets=LATENCY_BUCKETS, registry=registry)


class HttpMetrics:
    """Counts and times each request once it is answered (exceptions as 500, re-raised).

    The template is the route the router chose (`scope["route"]`), remembered per route
    object with its full path (prefixes included), and checked against the path with that
    template's one regex; a request the router never saw (refused by a middleware before it)
    or a route included under another prefix is resolved against the app's routes, as the
    instrumentator did for every request."""

    def __init__(self, app: Any, series: HttpSeries, routed: Any = None):
        self.app, self.routed = app, routed  # routed: the app whose routes name the requests
        # (None: the one Starlette put in the scope)
        self.requests, self.latency = series.requests, series.latency
        self._templates: dict[int, tuple[Any, str, Any]] = {}  # id(route) -> (route, template, regex)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            handler = self._handler(scope)
            if handler != METRICS_PATH:
                labels = (scope["method"], str(status[0]), handler)
                self.requests.labels(*labels).inc()
                self.latency.labels(*labels).observe(max(time.perf_counter() - started, 0.0))

    def _handler(self, scope) -> str:
        route, path = scope.get("route"), scope["path"]
        known = self._templates.get(id(route)) if route is not None else None
        if known is not None and known[0] is route and known[2].match(path):
            return known[1]
        template = route_template(self.routed or scope.get("app"), scope)
        if template == "none":
            return template
        if route is not None:
            self._templates[id(route)] = (route, template, compile_path(template)[0])
        return template


def counted(refusal: Any, app: Any) -> Any:
    """The ASGI app `refusal`, which answers before `app` sees the request (the connection
    bound's 503, services/common/connection_bound.py), counted and timed in `app`'s HTTP
    metrics as its own answers are, under the route the request was for; `refusal` itself
    when `app` has no metrics (`instrument_http`)."""
    series = getattr(getattr(app, "state", None), "http_series", None)
    return refusal if series is None else HttpMetrics(refusal, series, routed=app)


def route_template(app: Any, scope) -> str:
    """The template of the route of `app` the request in `scope` is for (prefixes and included
    routers resolved as the instrumentator does), "none" when no route matches. A path that
    matches only once its trailing slash is added or dropped, which the router answers with a
    redirect, counts under the route it is redirected to: the instrumentator's `get_route_name`
    reports it as the raw path, so `/v1/disputes/<id>/` made a series for every id anybody sent,
    signed in or not (an unbounded registry: the process's memory, Prometheus' series)."""
    routes = getattr(app, "routes", None)
    if not routes:
        return "none"
    scope = {**scope, "app": app}
    template = _get_route_name(scope, routes)
    router = getattr(app, "router", None)
    if template is None and getattr(router, "redirect_slashes", False):
        path = scope.get("path", "")
        toggled = path[:-1] if path.endswith("/") else path + "/"
        if toggled:
            template = _get_route_name({**scope, "path": toggled}, routes)
    return template or "none"


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
