"""The in-app inbox over HTTP: a principal reads only its own notifications, operators all;
and `/v1/recipients/me`, where a buyer or seller sets its own e-mail address and time zone.

A principal is (role, id): a buyer token reads the buyer inbox of its id and nothing else, so
neither a seller with the same id nor a token whose id reads like the operators' shared inbox
(`operators`) reaches someone else's notifications. The shared inbox is read by operators
only, and its address comes from NOTIFICATION_OPERATORS_EMAIL, never from this API.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from pydantic import BaseModel, field_validator

from services.common.auth import AuthError, Principal, TokenVerifier
from services.common.conditional import ETAG_HEADER, NOT_MODIFIED, conditional_json
from services.common.problems import Problem, Responses, codes, problem_responses
from services.notification.notices import BOTH, Recipient
from services.notification.rendering import is_time_zone
from services.notification.store import NotificationStore, Profile

EMAIL = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
NO_NUL = r"^[^\x00]*$"  # PostgreSQL cannot store a NUL character


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


# What each route may answer (its OpenAPI document says so): problem+json codes per status.
ANY: dict[int, frozenset[str]] = {401: frozenset({"UNAUTHENTICATED"}), 503: frozenset({"SERVICE_UNAVAILABLE"})}
VALIDATED = {422: frozenset({"VALIDATION_FAILED"})}
FORBIDDEN = {403: frozenset({"FORBIDDEN"})}
WRITE = {400: frozenset({"VALIDATION_FAILED"}), 413: frozenset({"PAYLOAD_TOO_LARGE"})}
READ_OK: Responses = {200: {"description": "The current representation", "headers": ETAG_HEADER}, **NOT_MODIFIED}
LIST_ANSWERS: Responses = {**READ_OK, **problem_responses(codes(ANY, VALIDATED, FORBIDDEN))}
MARK_ANSWERS = problem_responses(codes(ANY, VALIDATED, WRITE, {404: frozenset({"NOT_FOUND"})}))
PROFILE_ANSWERS: Responses = {**READ_OK, **problem_responses(codes(ANY, FORBIDDEN))}
SET_PROFILE_ANSWERS = problem_responses(codes(ANY, VALIDATED, FORBIDDEN, WRITE))


def principal_from(tokens: TokenVerifier, authorization: str | None) -> Principal:
    try:
        return tokens.read(authorization)
    except AuthError as exc:
        raise Problem(401, "UNAUTHENTICATED", str(exc)) from None


def install_inbox_routes(app: FastAPI, store: NotificationStore, tokens: TokenVerifier) -> None:
    async def caller(authorization: str | None) -> Principal:
        # in a thread: a JWKS refresh is a blocking HTTP call
        return await asyncio.to_thread(principal_from, tokens, authorization)

    async def party(authorization: str | None) -> Recipient:
        who = await caller(authorization)
        if who.role not in BOTH:
            raise Problem(403, "FORBIDDEN", "only a buyer or seller has a profile here; the "
                          "operators' address is set by NOTIFICATION_OPERATORS_EMAIL")
        return Recipient(who.role, who.id)

    @app.get("/v1/notifications", tags=["inbox"], responses=LIST_ANSWERS)
    async def list_notifications(
            request: Request,
            # ids have no length limit upstream: only bound what a query string may carry
            recipient: Annotated[str | None, Query(max_length=2048, pattern=NO_NUL)] = None,
            recipient_role: Annotated[str | None, Query(max_length=16, pattern=NO_NUL)] = None,
            limit: Annotated[int, Query(ge=1, le=200)] = 50,
            cursor: Annotated[str | None, Query(max_length=512)] = None,
            unread: bool = False,
            authorization: Annotated[str | None, Header()] = None):
        """Newest first; pass `next_cursor` back as `cursor` for the next page. Operators may
        filter on `recipient` and `recipient_role` (buyer, seller or operators)."""
        who = await caller(authorization)
        if who.role != "operator":
            if recipient not in (None, who.id) or recipient_role not in (None, who.role):
                raise Problem(403, "FORBIDDEN", "you may read only your own notifications")
            recipient, recipient_role = who.id, who.role
        before = decode_cursor(cursor) if cursor else None
        items = await asyncio.to_thread(store.inbox, recipient, limit, role=recipient_role,
                                        before=before, unread_only=unread)
        next_cursor = encode_cursor(items[-1]) if len(items) == limit else None
        return conditional_json(request, {
            "items": [{**i, "created_at": rfc3339(i["created_at"]), "read_at": rfc3339(i["read_at"])}
                      for i in items], "next_cursor": next_cursor})

    @app.post("/v1/notifications/{notification_id}/read", status_code=204, tags=["inbox"],
              responses=MARK_ANSWERS)
    async def mark_read(notification_id: str, authorization: Annotated[str | None, Header()] = None):
        who = await caller(authorization)
        owner = None if who.role == "operator" else Recipient(who.role, who.id)
        if not await asyncio.to_thread(store.mark_read, notification_id, owner):
            raise Problem(404, "NOT_FOUND", "no such notification in your inbox")

    @app.get("/v1/recipients/me", tags=["recipients"], responses=PROFILE_ANSWERS)
    async def my_profile(request: Request, authorization: Annotated[str | None, Header()] = None):
        me = await party(authorization)
        profile = (await asyncio.to_thread(store.profiles, [me])).get(me)
        return conditional_json(request, {"recipient_id": me.id, "recipient_role": me.role,
                                          "email": profile and profile.email,
                                          "time_zone": profile and profile.time_zone})

    @app.put("/v1/recipients/me", tags=["recipients"], responses=SET_PROFILE_ANSWERS)
    async def set_my_profile(body: RecipientProfile,
                             authorization: Annotated[str | None, Header()] = None):
        """The caller's own profile, and only in the caller's role."""
        me = await party(authorization)
        await asyncio.to_thread(store.set_profile, me, Profile(body.email, body.time_zone))
        return {"recipient_id": me.id, "recipient_role": me.role, **body.model_dump()}
