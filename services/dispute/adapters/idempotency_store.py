"""Idempotency keys of the dispute API, in the service's database (they survive a restart).

A key belongs to one principal. Its row is claimed (unique primary key: the race-safe lock)
before the command runs, and completed with the response afterwards; a claim nobody
completed within the lease (the process died) may be taken over, and a key expires after
the retention (24 hours by default, as DOMAIN.md asks for at least).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

import structlog
from sqlalchemy import (Column, Engine, Integer, MetaData, String, Table, Text, delete,
                        insert, select, update)
from sqlalchemy.exc import IntegrityError

from services.common.database import UtcDateTime

PRINCIPAL_MAX = 300
metadata = MetaData()
idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("principal", String(PRINCIPAL_MAX), primary_key=True),
    Column("idempotency_key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("claim", String(36), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("status_code", Integer), Column("media_type", String(100)),
    Column("headers", Text), Column("body", Text),
)

log = structlog.get_logger("idempotency")


def principal_key(role: str, principal_id: str) -> str:
    """`role:id`, or `role#sha256:<hex of id>` for an id too long for the column (ids have no
    length limit upstream). No role holds `:` or `#`, so the two forms never meet."""
    key = f"{role}:{principal_id}"
    if len(key) <= PRINCIPAL_MAX:
        return key
    return f"{role}#sha256:{hashlib.sha256(principal_id.encode()).hexdigest()}"


@dataclass(frozen=True)
class Recorded:
    """An earlier request under the same key: finished when `status_code` is set."""

    fingerprint: str
    claim: str
    created_at: datetime
    status_code: int | None
    media_type: str | None
    headers: dict[str, str]
    body: str | None


class IdempotencyStore:
    def __init__(self, engine: Engine, retention: timedelta = timedelta(hours=24),
                 lease: timedelta = timedelta(minutes=5)):
        self.engine, self.retention, self.lease = engine, retention, lease

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def claim(self, principal: str, key: str, fingerprint: str,
              at: datetime) -> tuple[str | None, Recorded | None]:
        """(claim token, None) when this request may run; (None, earlier) when the key is taken."""
        for _ in range(5):
            token = str(uuid4())
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(idempotency_keys).values(
                        principal=principal, idempotency_key=key, fingerprint=fingerprint,
                        claim=token, created_at=at))
                return token, None
            except IntegrityError:
                earlier = self._get(principal, key)
            if earlier is not None and not self._stale(earlier, at):
                return None, earlier
            if earlier is not None:
                self._delete(principal, key, earlier.claim)
        raise RuntimeError(f"could not claim idempotency key {key!r}")

    def complete(self, principal: str, key: str, token: str, status_code: int,
                 media_type: str, headers: dict[str, str], body: str) -> None:
        with self.engine.begin() as conn:
            kept = conn.execute(update(idempotency_keys).where(*self._row(principal, key, token)).values(
                status_code=status_code, media_type=media_type, headers=json.dumps(headers),
                body=body)).rowcount
        if not kept:  # our claim outlived its lease and was taken over: the command ran twice
            log.error("idempotency_claim_lost", principal=principal, key=key)

    def release(self, principal: str, key: str, token: str) -> None:
        """Forget a claim whose request produced nothing worth replaying."""
        self._delete(principal, key, token)

    def purge_expired(self, now: datetime) -> int:
        """Forget keys older than the retention (DOMAIN.md: kept at least that long)."""
        return self.purge(now - self.retention)

    def purge(self, before: datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(idempotency_keys)
                                .where(idempotency_keys.c.created_at < before)).rowcount

    def _stale(self, earlier: Recorded, at: datetime) -> bool:
        if earlier.created_at <= at - self.retention:
            return True
        return earlier.status_code is None and earlier.created_at <= at - self.lease

    def _get(self, principal: str, key: str) -> Recorded | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(idempotency_keys).where(
                *self._row(principal, key))).mappings().first()
        if row is None:
            return None
        return Recorded(fingerprint=row["fingerprint"], claim=row["claim"],
                        created_at=row["created_at"], status_code=row["status_code"],
                        media_type=row["media_type"], headers=json.loads(row["headers"] or "{}"),
                        body=row["body"])

    def _delete(self, principal: str, key: str, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(idempotency_keys).where(*self._row(principal, key, token)))

    @staticmethod
    def _row(principal: str, key: str, token: str | None = None) -> list:
        where = [idempotency_keys.c.principal == principal,
                 idempotency_keys.c.idempotency_key == key]
        return where + ([idempotency_keys.c.claim == token] if token else [])
