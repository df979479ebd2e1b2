"""Serving a service's FastAPI app where its settings say (uvicorn's access log off: ours,
services/common/access_log.py, is one structured line per request)."""

from typing import Callable

import structlog
import uvicorn

from services.common.access_log import AccessLog
from services.common.local_mode import UnsafeSettings

log = structlog.get_logger("startup")


def serve(app, settings) -> int:
    uvicorn.run(AccessLog(app), host=settings.http_host, port=settings.http_port, log_level="warning",
                access_log=False)
    return 0


def serve_unless_unsafe(build: Callable[[], object], settings) -> int:
    """Serve the app `build` makes; exit 2, saying which variable to fix, on unsafe settings."""
    try:
        app = build()
    except UnsafeSettings as refusal:
        log.error("refused_to_start", reason=str(refusal))
        return 2
    return serve(app, settings)
