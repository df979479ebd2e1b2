"""A client of the dispute API as a careful app is one: a command that meets an outage (503,
429, a timeout, a broken connection, a lost race) is sent again with the same Idempotency-Key
until it is answered, for a bounded time; every 2xx is recorded with what it acknowledged."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx

from services.common.auth import issue_token

RETRY_FOR = 120.0  # seconds a command is retried before the client gives up on it
PAUSES = (0.2, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Ack:
    """A command answered 2xx: the dispute, the version the answer gave, the event it must
    have stored (and the item it created or acted on, if any)."""
    dispute_id: str
    action: str
    version: int
    expected_event: str
    item_id: str | None = None


@dataclass
class Answers:
    acks: list[Ack] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # every answer, retries included
    retried: Counter = field(default_factory=Counter)  # why a command was sent again
    refused: Counter = field(default_factory=Counter)  # final 4xx answers (the domain said no)
    server_errors: list[str] = field(default_factory=list)  # 5xx other than 503: never allowed
    gave_up: list[str] = field(default_factory=list)


class Retryable(Exception):
    pass


class DisputeClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, secret: str, answers: Answers,
                 retry_for: float = RETRY_FOR):
        self.http, self.base, self.secret, self.answers = http, base_url, secret, answers
        self.retry_for = retry_for
        self._tokens: dict[tuple[str, str], str] = {}

    def headers(self, role: str, sub: str) -> dict[str, str]:
        if (role, sub) not in self._tokens:
            self._tokens[(role, sub)] = issue_token(self.secret, role, sub)
        return {"Authorization": f"Bearer {self._tokens[(role, sub)]}"}

    async def get(self, path: str, role: str, sub: str) -> dict | None:
        """A read, retried through outages like a command; None if it never answered 200."""
        response = await self._until_answered(
            lambda: self.http.get(f"{self.base}{path}", headers=self.headers(role, sub)), "read")
        return response.json() if response is not None and response.status_code == 200 else None

    async def command(self, role: str, sub: str, path: str, body: dict | None = None,
                      files: dict | None = None, retry_codes: tuple[str, ...] = ()) -> dict | None:
        """POST `path` until answered; the 2xx body, or None when refused or given up."""
        headers = {**self.headers(role, sub), "Idempotency-Key": str(uuid4())}

        def send():
            if files is not None:
                return self.http.post(f"{self.base}{path}", headers=headers, files=files)
            return self.http.post(f"{self.base}{path}", headers=headers, json=body or {})

        response = await self._until_answered(send, path.rsplit("/", 1)[-1], retry_codes)
        if response is None:
            return None
        if response.status_code >= 300:
            self.answers.refused[f"{response.status_code} {_code(response)}"] += 1
            return None
        return response.json()

    async def _until_answered(self, send, what: str, retry_codes: tuple[str, ...] = ()) -> httpx.Response | None:
        deadline, attempt = time.monotonic() + self.retry_for, 0
        while True:
            try:
                response = await send()
                self.answers.statuses[response.status_code] += 1
                reason = _retry_reason(response, retry_codes)
                if reason is None:
                    return response
                if response.status_code >= 500 and response.status_code != 503:
                    self.answers.server_errors.append(f"{what}: {response.status_code} {response.text[:200]}")
            except httpx.TransportError as error:
                reason = type(error).__name__
                self.answers.statuses[reason] += 1
            self.answers.retried[reason] += 1
            if time.monotonic() > deadline:
                self.answers.gave_up.append(f"{what}: {reason}")
                return None
            await asyncio.sleep(PAUSES[min(attempt, len(PAUSES) - 1)])
            attempt += 1


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""


def _retry_reason(response: httpx.Response, retry_codes: tuple[str, ...]) -> str | None:
    """Why this answer asks for the same request again (None: it is the answer)."""
    if response.status_code >= 500 or response.status_code == 429:
        return str(response.status_code)
    code = _code(response)
    if response.status_code == 409 and code == "CONCURRENCY_CONFLICT":
        return code
    if code in retry_codes:
        return code
    return None


def version_of(body: dict[str, Any]) -> int:
    return int(body["version"] if "version" in body else body["dispute"]["version"])
