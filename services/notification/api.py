"""The in-app inbox over HTTP: a principal reads only its own notifications, operators all;
and `/v1/recipients/me`, where a principal sets its e-mail address and time zone."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query
from pydantic import BaseModel, field_validator

from services.common.auth import AuthError, Principal, read_token
from services.common.problems import Problem
from services.notification.rendering import is_time_zone
from services.notification.store import NotificationStore, Profile

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RecipientProfile(BaseModel):
    email: str | None = None
    time_zone: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 254 or not EMAIL.match(value)):
            raise ValueError("not an e-mail address")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not is_time_zone(value):
            raise ValueError("not an IANA time zone (e.g. Europe/Berlin)")
        return value


def rfc3339(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def encode_cursor(item: dict[str, Any]) -> str:
    raw = json.dumps([item["created_at"].isoformat(), item["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), str(last_id)
    except (ValueError, TypeError):
        raise Problem(422, "VALIDATION_FAILED", "the cursor is not one this service gave out") from None


def principal_from(jwt_secret: str, authorization: str | None) -> Principal:
    try:
        return read_token(jwt_secret, authorization)
    except AuthError as exc:
        raise Problem(401, "UNAUTHENTICATED", str(exc)) from None


def install_inbox_routes(app: FastAPI, store: NotificationStore, jwt_secret: str) -> None:
    def caller(authorization: str | None) -> Principal:
        return principal_from(jwt_secret, authorization)

    @app.get("/v1/notifications")
    async def list_notifications(
            # ids have no length limit upstream: only bound what a query string may carry
            recipient: Annotated[str | None, Query(max_length=2048)] = None,
            limit: Annotated[int, Query(ge=1, le=200)] = 50,
            cursor: Annotated[str | None, Query(max_length=512)] = None,
            unread: bool = False,
            authorization: Annotated[str | None, Header()] = None):
        """Newest first; pass `next_cursor` back as `cursor` for the next page."""
        who = caller(authorization)
        if who.role != "operator":
            if recipient not in (None, who.id):
                raise Problem(403, "FORBIDDEN", "you may read only your own notifications")
            recipient = who.id
        before = decode_cursor(cursor) if cursor else None
        items = await asyncio.to_thread(store.inbox, recipient, limit, before=before,
                                        unread_only=unread)
        next_cursor = encode_cursor(items[-1]) if len(items) == limit else None
        return {"items": [{**i, "created_at": rfc3339(i["created_at"]),
                           "read_at": rfc3339(i["read_at"])} for i in items],
                "next_cursor": next_cursor}

    @app.post("/v1/notifications/{notification_id}/read", status_code=204)
    async def mark_read(notification_id: str, authorization: Annotated[str | None, Header()] = None):
        who = caller(authorization)
        owner = None if who.role == "operator" else who.id
        if not await asyncio.to_thread(store.mark_read, notification_id, owner):
            raise Problem(404, "NOT_FOUND", "no such notification in your inbox")

    @app.get("/v1/recipients/me")
    async def my_profile(authorization: Annotated[str | None, Header()] = None):
        who = caller(authorization)
        profile = (await asyncio.to_thread(store.profiles, [who.id])).get(who.id)
        return {"recipient_id": who.id, "email": profile and profile.email,
                "time_zone": profile and profile.time_zone}

    @app.put("/v1/recipients/me")
    async def set_my_profile(body: RecipientProfile,
                             authorization: Annotated[str | None, Header()] = None):
        who = caller(authorization)
        await asyncio.to_thread(store.set_profile, who.id, Profile(body.email, body.time_zone))
        return {"recipient_id": who.id, **body.model_dump()}
