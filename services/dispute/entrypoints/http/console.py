"""GET /console: the operators' web console, static files calling this same API with the
operator's own token (pasted into the page, kept in the tab's sessionStorage)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

ASSETS = Path(__file__).resolve().parent / "console"
FILES = {"console.js": "text/javascript", "console.css": "text/css"}
router = APIRouter(include_in_schema=False)


@router.get("/console")
async def console_page() -> FileResponse:
    return FileResponse(ASSETS / "index.html", media_type="text/html")


@router.get("/console/{name}")
async def console_asset(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404)
    return FileResponse(ASSETS / name, media_type=FILES[name])
