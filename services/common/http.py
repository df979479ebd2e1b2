"""Serving a service's FastAPI app where its settings say (uvicorn's access log off: ours,
services/common/access_log.py, is one structured line per request), with at most
`http_max_connections` connections open when its settings have one (connection_bound.py; its
refusals logged and counted in the app's HTTP metrics like the app's own answers)."""

import socket
from typing import Callable

import structlog
import uvicorn

from services.common.access_log import AccessLog
from services.common.connection_bound import bounded_options, quiet_refusals, refuse_too_many_connections
from services.common.metrics import counted
from services.common.local_mode import UnsafeSettings

log = structlog.get_logger("startup")
STARTUP_FAILURE = 3  # what uvicorn.run exits with when the server did not start (its port taken)


def serve(app, settings) -> int:
    refusal = AccessLog(counted(refuse_too_many_connections, app))  # logged and counted as the app's answers
    config = uvicorn.Config(AccessLog(app), host=settings.http_host, port=settings.http_port,
                            log_level="warning", access_log=False,
                            **bounded_options(getattr(settings, "http_max_connections", 0), refusal))
    quiet_refusals()
    server = uvicorn.Server(config)
    try:
        sockets = [shared_socket(settings.http_host, settings.http_port)] \
            if getattr(settings, "http_reuse_port", False) else None
    except OSError as error:  # the port held by a process that did not share it, a bad host
        log.error("bind_failed", host=settings.http_host, port=settings.http_port, error=str(error))
        return STARTUP_FAILURE
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    return 0 if server.started else STARTUP_FAILURE


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket other processes may bind too (SO_REUSEPORT: the kernel hands each
    new connection to one of them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_unless_unsafe(build: Callable[[], object], settings) -> int:
    """Serve the app `build` makes; exit 2, saying which variable to fix, on unsafe settings."""
    try:
        app = build()
    except UnsafeSettings as refusal:
        log.error("refused_to_start", reason=str(refusal))
        return 2
    return serve(app, settings)
