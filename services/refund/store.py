"""The refund service's own store: order terms per dispute, handled event ids, and refund
instructions with their status.

An instruction is written PENDING, in the same transaction as the id of the event that asked
for it, before the provider is called; so a crash at any point leaves either nothing (the
event is redelivered) or a PENDING instruction that the start-up reconcile drives again with
the same idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5

from sqlalchemy import (Boolean, Column, Engine, Integer, MetaData, String, Table, Text,
                        insert, select, update)
from sqlalchemy.exc import IntegrityError

from services.common.database import UtcDateTime

from services.refund.policy import OrderTerms, RefundInstruction, Refusal, refusal_for

PENDING, ISSUED, FAILED = "PENDING", "ISSUED", "FAILED"

metadata = MetaData()
handled_events = Table("refund_handled_events", metadata,
                       Column("event_id", String(36), primary_key=True))
order_terms = Table(
    "refund_order_terms", metadata, Column("dispute_id", String(36), primary_key=True),
    Column("order_id", String(128), nullable=False), Column("paid_amount", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
)
instructions = Table(
    "refund_instructions", metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("refund_id", String(36), nullable=False, unique=True),
    Column("dispute_id", String(36), nullable=False, index=True),
    Column("cause_event_id", String(36), nullable=False),
    Column("correlation_id", String(200)),
    Column("amount", String(32), nullable=False), Column("currency", String(3), nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("attempt", Integer, nullable=False, default=1),
    Column("provider_reference", String(200)),
    Column("reason", Text), Column("retryable", Boolean),
    Column("reserved", Boolean, nullable=False, default=False),
    Column("published", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


@dataclass(frozen=True)
class StoredInstruction:
    idempotency_key: str
    refund_id: str
    dispute_id: str
    cause_event_id: str
    correlation_id: str | None
    amount: Decimal
    currency: str
    status: str
    attempt: int
    provider_reference: str | None
    reason: str | None
    retryable: bool | None
    reserved: bool
    published: bool
    updated_at: datetime


def refund_id_for(idempotency_key: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"urn:refund:{idempotency_key}"))


def _now() -> datetime:
    return datetime.now(timezone.utc)


class RefundStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def accept(self, *, event_id: str, terms: OrderTerms | None,
               instruction: RefundInstruction | None, correlation_id: str | None) -> bool:
        """Remember what one event teaches or asks; False if this event was handled before."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(handled_events).values(event_id=event_id))
                if terms is not None:
                    conn.execute(insert(order_terms).values(
                        dispute_id=terms.dispute_id, order_id=terms.order_id,
                        paid_amount=str(terms.paid_amount), currency=terms.currency))
                if instruction is not None:
                    conn.execute(insert(instructions).values(**_new_row(instruction, correlation_id)))
            return True
        except IntegrityError:
            return False

    def terms(self, dispute_id: str) -> OrderTerms | None:
        with self.engine.connect() as conn:
            return self._terms(conn, dispute_id)

    @staticmethod
    def _terms(conn, dispute_id: str) -> OrderTerms | None:
        row = conn.execute(select(order_terms).where(
            order_terms.c.dispute_id == dispute_id)).mappings().first()
        return OrderTerms(row["dispute_id"], row["order_id"], Decimal(row["paid_amount"]),
                          row["currency"]) if row else None

    def reserve(self, instruction: RefundInstruction) -> Refusal | None:
        """Check the paid-amount ceiling and hold this amount against it, one dispute at a time.

        Touching the dispute's terms row first serialises reservations across processes (a row
        lock in PostgreSQL, the write lock in SQLite); amounts already issued or reserved by
        another PENDING instruction count, so no two in-flight refunds can overshoot together.
        """
        key, dispute_id = instruction.idempotency_key, instruction.dispute_id
        with self.engine.begin() as conn:
            conn.execute(update(order_terms).where(order_terms.c.dispute_id == dispute_id)
                         .values(order_id=order_terms.c.order_id))
            held = select(instructions.c.amount).where(
                instructions.c.dispute_id == dispute_id, instructions.c.idempotency_key != key,
                (instructions.c.status == ISSUED)
                | ((instructions.c.status == PENDING) & instructions.c.reserved.is_(True)))
            committed = sum((Decimal(a) for a in conn.execute(held).scalars()), Decimal(0))
            refusal = refusal_for(instruction, self._terms(conn, dispute_id), committed)
            if refusal is None:
                conn.execute(update(instructions).where(instructions.c.idempotency_key == key)
                             .values(reserved=True))
        return refusal

    def instruction(self, idempotency_key: str) -> StoredInstruction | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(instructions).where(
                instructions.c.idempotency_key == idempotency_key)).mappings().first()
        return _stored(row) if row else None

    def for_dispute(self, dispute_id: str) -> list[StoredInstruction]:
        query = select(instructions).where(instructions.c.dispute_id == dispute_id)
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query).mappings()]

    def record_issued(self, idempotency_key: str, provider_reference: str) -> bool:
        return self._settle(idempotency_key, status=ISSUED, provider_reference=provider_reference)

    def record_failed(self, idempotency_key: str, reason: str, retryable: bool) -> bool:
        return self._settle(idempotency_key, status=FAILED, reason=reason, retryable=retryable,
                            reserved=False)

    def mark_published(self, idempotency_key: str, attempt: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(instructions).where(
                instructions.c.idempotency_key == idempotency_key,
                instructions.c.attempt == attempt).values(published=True))

    def reopen(self, idempotency_key: str) -> bool:
        """An operator asks for another try of a FAILED refund (same idempotency key)."""
        with self.engine.begin() as conn:
            return conn.execute(update(instructions).where(
                instructions.c.idempotency_key == idempotency_key, instructions.c.status == FAILED,
            ).values(status=PENDING, attempt=instructions.c.attempt + 1, published=False,
                     reserved=False, reason=None, retryable=None, updated_at=_now())).rowcount == 1

    def pending_keys(self) -> list[str]:
        return self._keys(instructions.c.status == PENDING)

    def unpublished_keys(self) -> list[str]:
        return self._keys(instructions.c.status != PENDING, instructions.c.published.is_(False))

    def _keys(self, *where) -> list[str]:
        query = select(instructions.c.idempotency_key).where(*where).order_by(
            instructions.c.updated_at)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _settle(self, idempotency_key: str, **values) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(update(instructions).where(
                instructions.c.idempotency_key == idempotency_key, instructions.c.status == PENDING,
            ).values(**values, updated_at=_now())).rowcount == 1


def _new_row(instruction: RefundInstruction, correlation_id: str | None) -> dict:
    return {"idempotency_key": instruction.idempotency_key,
            "refund_id": refund_id_for(instruction.idempotency_key),
            "dispute_id": instruction.dispute_id, "cause_event_id": instruction.cause_event_id,
            "correlation_id": correlation_id, "amount": str(instruction.amount),
            "currency": instruction.currency, "status": PENDING, "attempt": 1,
            "reserved": False, "published": False, "updated_at": _now()}


def _stored(row) -> StoredInstruction:
    values = dict(row)
    values["amount"] = Decimal(values["amount"])
    return StoredInstruction(**values)
