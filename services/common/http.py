"""Serving a service's FastAPI app where its settings say (uvicorn's access log off: ours,
services/common/access_log.py, is one structured line per request)."""

import socket
from typing import Callable

import structlog
import uvicorn

from services.common.access_log import AccessLog
from services.common.local_mode import UnsafeSettings

log = structlog.get_logger("startup")


def serve(app, settings) -> int:
    if getattr(settings, "http_reuse_port", False):
        config = uvicorn.Config(AccessLog(app), log_level="warning", access_log=False)
        uvicorn.Server(config).run(sockets=[shared_socket(settings.http_host, settings.http_port)])
        return 0
    uvicorn.run(AccessLog(app), host=settings.http_host, port=settings.http_port, log_level="warning",
                access_log=False)
    return 0


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
