"""The refund service's own store: handled event ids, and refund instructions with their
status. What each dispute claims of its order is in `services.refund.terms`; the order facts
it trusts, in `services.refund.orders`.

An instruction is written PENDING, in the same transaction as the id of the event that asked
for it, before the provider is called; so a crash at any point leaves either nothing (the
event is redelivered) or a PENDING instruction that the start-up reconcile drives again with
the same idempotency key.

A reservation holds an instruction's amount against the dispute's and the order's ceiling from just before the
provider is called until the provider's answer is known: a FAILED instruction whose outcome is
unknown (timeouts, broken connections, 5xx) keeps it, because the provider may have paid; only
a definitive refusal releases it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5

import structlog
from sqlalchemy import (Boolean, Column, Engine, Integer, MetaData, String, Table, Text,
                        inspect, insert, select, text, update)
from sqlalchemy.exc import IntegrityError

from services.common.database import UtcDateTime

from services.refund import orders as paid_orders
from services.refund.orders import read_order
from services.refund.policy import (Committed, OrderTerms, OutsideRefund, PaidOrder,
                                    RefundInstruction, Refusal, refusal_for)
from services.refund.terms import metadata as terms_metadata
from services.refund.terms import (add_missing_parties, order_terms, raise_refunded_before,
                                   read_terms, remember_terms)

PENDING, ISSUED, FAILED = "PENDING", "ISSUED", "FAILED"
log = structlog.get_logger("refund.store")

metadata = MetaData()
handled_events = Table("refund_handled_events", metadata,
                       Column("event_id", String(36), primary_key=True))
instructions = Table(
    "refund_instructions", metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("refund_id", String(36), nullable=False, unique=True),
    Column("dispute_id", String(36), nullable=False, index=True),
    Column("cause_event_id", String(36), nullable=False),
    Column("correlation_id", Text),
    Column("amount", String(32), nullable=False), Column("currency", String(3), nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("attempt", Integer, nullable=False, default=1),
    Column("provider_reference", String(200)),
    Column("reason", Text), Column("retryable", Boolean),
    Column("reserved", Boolean, nullable=False, default=False),
    Column("published", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
awaiting_order = Table(
    "refund_resolutions_awaiting_order", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("since", UtcDateTime(), nullable=False),
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
        for tables in (metadata, terms_metadata, paid_orders.metadata):
            tables.create_all(self.engine)
        self._upgrade()

    def _upgrade(self) -> None:
        """Bring a store made by an earlier version up to this one (create_all adds no columns).
        A process racing us fails on the duplicate column and create_schema_racing_others
        retries, finding the work done."""
        terms = {c["name"] for c in inspect(self.engine).get_columns(order_terms.name)}
        correlation = {c["name"]: c for c in inspect(self.engine).get_columns(instructions.name)}
        with self.engine.begin() as conn:
            if "refunded_before" not in terms:
                conn.execute(text("ALTER TABLE refund_order_terms "
                                  "ADD COLUMN refunded_before VARCHAR(32) NOT NULL DEFAULT '0'"))
            add_missing_parties(conn, terms)
            if (self.engine.dialect.name == "postgresql"
                    and getattr(correlation["correlation_id"]["type"], "length", None)):
                conn.execute(text("ALTER TABLE refund_instructions "
                                  "ALTER COLUMN correlation_id TYPE TEXT"))

    def accept(self, *, event_id: str, terms: OrderTerms | None,
               instruction: RefundInstruction | None, correlation_id: str | None,
               outside_refund: OutsideRefund | None = None) -> bool:
        """Remember what one event teaches or asks; False if this event was handled before."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(handled_events).values(event_id=event_id))
                if terms is not None:
                    remember_terms(conn, terms)
                if outside_refund is not None:
                    raise_refunded_before(conn, outside_refund)
                if instruction is not None:
                    conn.execute(insert(instructions).values(**_new_row(instruction, correlation_id)))
            return True
        except IntegrityError:
            return False

    def terms(self, dispute_id: str) -> OrderTerms | None:
        with self.engine.connect() as conn:
            return read_terms(conn, dispute_id)

    def order_of(self, dispute_id: str) -> tuple[OrderTerms | None, PaidOrder | None]:
        """The dispute's terms and the order they name, as we know it (None for what is not)."""
        with self.engine.connect() as conn:
            terms = read_terms(conn, dispute_id)
            return terms, (read_order(conn, terms.order_id) if terms else None)

    def awaiting_order_since(self, event_id: str, now: datetime) -> datetime:
        """When this resolution was first found waiting for its order (remembered across
        redeliveries and restarts, so the wait is bounded)."""
        query = select(awaiting_order.c.since).where(awaiting_order.c.event_id == event_id)
        try:
            with self.engine.begin() as conn:
                since = conn.execute(query).scalar()
                if since is None:
                    conn.execute(insert(awaiting_order).values(event_id=event_id, since=now))
                return since or now
        except IntegrityError:  # another replica noted it a moment before
            with self.engine.connect() as conn:
                return conn.execute(query).scalar_one()

    def reserve(self, instruction: RefundInstruction) -> Refusal | None:
        """Check trust and the ceiling and hold this amount against it, one order at a time.

        Locking the order's row first serialises reservations across processes (a row lock in
        PostgreSQL, the write lock in SQLite); amounts already issued or reserved by another
        instruction count (PENDING, or FAILED with an unknown outcome), for this dispute and
        for every dispute of the order, so no two in-flight refunds can overshoot together, nor
        one the provider may have paid already.
        """
        key, dispute_id = instruction.idempotency_key, instruction.dispute_id
        with self.engine.begin() as conn:
            terms = read_terms(conn, dispute_id)
            order = read_order(conn, terms.order_id, for_update=True) if terms else None
            committed = _committed(conn, key, terms) if terms else Committed()
            refusal = refusal_for(instruction, terms, order, committed)
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
        """The provider paid under this key: that is the truth even if another process recorded
        FAILED meanwhile (its call timed out, ours got the answer), so FAILED moves on too and
        the result is published again."""
        with self.engine.begin() as conn:
            return conn.execute(update(instructions).where(
                instructions.c.idempotency_key == idempotency_key,
                instructions.c.status.in_((PENDING, FAILED)),
            ).values(status=ISSUED, provider_reference=provider_reference, reason=None,
                     retryable=None, published=False,
                     updated_at=_now())).rowcount == 1

    def record_failed(self, idempotency_key: str, reason: str, retryable: bool) -> bool:
        """A PENDING instruction did not get paid. Its reservation stays: this covers an unknown
        outcome (the provider may have paid), and a refusal that never reached the provider
        holds nothing anyway. A definitive provider refusal goes through `record_refused`."""
        return self._settle(idempotency_key, status=FAILED, reason=reason, retryable=retryable)

    def record_refused(self, idempotency_key: str, reason: str) -> bool:
        """The provider refused for good: nothing was paid, so the reservation is released.
        A FAILED instruction whose outcome was unknown learns it here, and announces it anew."""
        values = {"status": FAILED, "reason": reason, "retryable": False, "reserved": False}
        if self._settle(idempotency_key, **values):
            return True
        with self.engine.begin() as conn:
            return conn.execute(update(instructions).where(
                instructions.c.idempotency_key == idempotency_key, *_outcome_unknown(),
            ).values(**values, attempt=instructions.c.attempt + 1, published=False,
                     updated_at=_now())).rowcount == 1

    def mark_published(self, idempotency_key: str, attempt: int, status: str) -> None:
        """Only the result that was published: a late success may have replaced it meanwhile."""
        with self.engine.begin() as conn:
            conn.execute(update(instructions).where(
                instructions.c.idempotency_key == idempotency_key,
                instructions.c.attempt == attempt, instructions.c.status == status,
            ).values(published=True))

    def reopen(self, idempotency_key: str) -> bool:
        """An operator asks for another try of a FAILED refund (same idempotency key). The
        reservation is kept as it is: one the provider may have paid must stay held."""
        with self.engine.begin() as conn:
            return conn.execute(update(instructions).where(
                instructions.c.idempotency_key == idempotency_key, instructions.c.status == FAILED,
            ).values(status=PENDING, attempt=instructions.c.attempt + 1, published=False,
                     reason=None, retryable=None, updated_at=_now())).rowcount == 1

    def pending_keys(self, older_than: float = 0) -> list[str]:
        return self._keys(instructions.c.status == PENDING, _settled_before(older_than))

    def unknown_outcome_keys(self, older_than: float = 0) -> list[str]:
        """FAILED instructions the provider may have paid: to be asked again, with their key."""
        return self._keys(*_outcome_unknown(), _settled_before(older_than))

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


def _committed(conn, key: str, terms: OrderTerms) -> Committed:
    disputes_of_order = select(order_terms.c.dispute_id).where(
        order_terms.c.order_id == terms.order_id)
    return Committed(dispute=_held(conn, key, instructions.c.dispute_id == terms.dispute_id),
                     order=_held(conn, key, instructions.c.dispute_id.in_(disputes_of_order)))


def _held(conn, key: str, scope) -> Decimal:
    """Amounts issued or held by instructions other than `key` within `scope`."""
    held = select(instructions.c.amount).where(
        scope, instructions.c.idempotency_key != key,
        (instructions.c.status == ISSUED) | instructions.c.reserved.is_(True))
    return sum((Decimal(a) for a in conn.execute(held).scalars()), Decimal(0))


def _outcome_unknown() -> tuple:
    return instructions.c.status == FAILED, instructions.c.reserved.is_(True)


def _settled_before(seconds: float):
    return instructions.c.updated_at <= _now() - timedelta(seconds=seconds)


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
