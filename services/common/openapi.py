"""What FastAPI's generated OpenAPI document does not say by itself, the same for every service:

- the bearer scheme: the routes read `Authorization` as a plain header (their principal
  dependency), which the document would show as an optional header parameter; it is the
  `bearer` security scheme instead, required on every operation that reads it;
- readable operation ids: the route function's name (`make_offer`), not FastAPI's
  `make_offer_v1_disputes__dispute_id__offers_post`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

BEARER = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                     "description": "a token of the platform's identity provider "
                                    "(`make token ROLE=buyer SUB=B-1` locally)"}}


def operation_id(route: APIRoute) -> str:
    """The route function's name: `generate_unique_id_function=` of the app."""
    return route.name


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` with the generated document, completed as above (built once)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description=app.description, tags=app.openapi_tags)
            app.openapi_schema = with_bearer(schema)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def with_bearer(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {})["securitySchemes"] = BEARER
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            parameters = operation.get("parameters", [])
            kept = [p for p in parameters if not _is_authorization(p)]
            if len(kept) != len(parameters):
                operation["security"] = [{"bearer": []}]
                operation["parameters"] = kept
            if not kept:
                operation.pop("parameters", None)
    return schema


def _is_authorization(parameter: dict[str, Any]) -> bool:
    return parameter.get("in") == "header" and parameter.get("name", "").lower() == "authorization"
