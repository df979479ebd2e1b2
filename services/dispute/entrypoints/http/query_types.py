"""Query parameters as the OpenAPI document states them: an RFC 3339 date-time with its
offset, an ISO 8601 duration. pydantic would also take a number of seconds ("0.5") for
either, which the document does not allow (schemathesis caught `as_of=0.5` answered 200)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator


def _not_a_number(kind: str):
    def refuse(value: Any) -> Any:
        if isinstance(value, (int, float)) or (isinstance(value, str) and _numeric(value)):
            raise ValueError(f"{kind}, not a number")
        return value
    return refuse


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_not_a_number("an RFC 3339 date-time with its offset"))]
IsoDuration = Annotated[timedelta, BeforeValidator(_not_a_number("an ISO 8601 duration such as P90D"))]
