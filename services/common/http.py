"""Serving a service's FastAPI app where its settings say (access logs off: ours are structured)."""

import uvicorn


def serve(app, settings) -> int:
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="warning")
    return 0
