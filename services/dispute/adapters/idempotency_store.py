"""Idempotency keys of the dispute API, in the service's database (they survive a restart).

A key belongs to one principal. The command writer stores a key's row (a `KeyRecord`, the
answer to replay) in the transaction of the command's events (adapters/keyed_recorders.py):
the unique primary key makes a second recording of the key fail with the events it came
with. Before running a command the writer looks the key up (`earlier`): a row found is
replayed; a row past the retention (24 hours by default, as DOMAIN.md asks for at least), or
an unfinished claim older than the lease (written by `claim`, the older two-step protocol),
is forgotten first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

import structlog
from sqlalchemy import (Column, Engine, Integer, MetaData, String, Table, Text, delete,
                        insert, select, tuple_, update)
from sqlalchemy.exc import IntegrityError

from services.common.database import UtcDateTime, as_utc
from services.common.ids import uuid4

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


@dataclass(frozen=True)
class KeyClaim:
    """A request under an Idempotency-Key: whose key, and what request it names."""

    principal: str
    key: str
    fingerprint: str
    at: datetime


@dataclass(frozen=True)
class KeyRecord:
    """The row a key keeps: its claim and the answer a retry is given."""

    principal: str
    key: str
    fingerprint: str
    created_at: datetime
    status_code: int
    media_type: str
    headers: dict[str, str]
    body: str
    claim: str = field(default_factory=lambda: str(uuid4()))


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

    def earlier(self, claims: list[KeyClaim]) -> dict[tuple[str, str], Recorded]:
        """The live rows of these (principal, key)s, in one query; rows past their retention
        or lease are deleted, so the key may be recorded again."""
        if not claims:
            return {}
        wanted = {(c.principal, c.key): c for c in claims}
        with self.engine.connect() as conn:
            rows = conn.execute(select(idempotency_keys).where(tuple_(
                idempotency_keys.c.principal, idempotency_keys.c.idempotency_key).in_(
                list(wanted)))).mappings().all()
        return self.live(rows, claims)

    def live(self, rows: Sequence[Mapping[Any, Any]], claims: list[KeyClaim]) -> dict[tuple[str, str], Recorded]:
        """`earlier` on rows of these claims read by another query (the writer reads them
        with its batch's other look-up, adapters/keyed_recorders.py): the stale ones are
        deleted, the others returned."""
        wanted = {(c.principal, c.key): c for c in claims}
        found = {}
        for row in rows:
            earlier, scope = _recorded(row), (row["principal"], row["idempotency_key"])
            if self._stale(earlier, wanted[scope].at):
                self._delete(*scope, earlier.claim)
            else:
                found[scope] = earlier
        return found

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
        return None if row is None else _recorded(row)

    def _delete(self, principal: str, key: str, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(idempotency_keys).where(*self._row(principal, key, token)))

    @staticmethod
    def _row(principal: str, key: str, token: str | None = None) -> list:
        where = [idempotency_keys.c.principal == principal,
                 idempotency_keys.c.idempotency_key == key]
        return where + ([idempotency_keys.c.claim == token] if token else [])


def _recorded(row) -> Recorded:
    return Recorded(fingerprint=row["fingerprint"], claim=row["claim"],
                    created_at=as_utc(row["created_at"]), status_code=row["status_code"],
                    media_type=row["media_type"], headers=json.loads(row["headers"] or "{}"),
                    body=row["body"])
