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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from uuid import NAMESPACE_URL, uuid5

import structlog
from sqlalchemy import (Boolean, Column, Engine, Integer, MetaData, String, Table, Text,
                        bindparam, func, inspect, insert, not_, or_, select, text, update)
from sqlalchemy.exc import IntegrityError

from services.common.database import UtcDateTime, create_missing_indexes, once_more_after_a_lost_connection

from services.refund import lifecycle
from services.refund import orders as paid_orders
from services.refund.lifecycle import (FAILED, ISSUED, PENDING, InstructionState, RefundStatus,
                                       TransitionRefused)
from services.refund.orders import read_order
from services.refund.policy import (Committed, OrderTerms, OutsideRefund, PaidOrder,
                                    RefundInstruction, Refusal, refusal_for)
from services.refund.terms import metadata as terms_metadata
from services.refund.terms import (add_missing_parties, order_terms, raise_refunded_before,
                                   read_terms, remember_terms, terms_from)

COMPARE_AND_SET_ROUNDS = 5
"""How often a move is decided again when other processes keep moving the instruction first."""
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
    # when the amount was last reserved, just before a provider call: a replica calling the
    # provider now holds it (reconcile leaves it alone for a lease, services/refund/desk.py)
    Column("reserved_at", UtcDateTime()),
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
    status: RefundStatus
    attempt: int
    provider_reference: str | None
    reason: str | None
    retryable: bool | None
    reserved: bool
    published: bool
    updated_at: datetime
    reserved_at: datetime | None = None

    @property
    def state(self) -> InstructionState:
        return InstructionState(self.status, self.reserved, self.attempt, self.published)


Vet = Callable[[RefundInstruction, "OrderTerms | None", "PaidOrder | None"], "str | None"]


class Distrusted(Exception):
    """`accept_resolution` recorded nothing: its vet found `reason` on these terms."""

    def __init__(self, reason: str, terms: OrderTerms | None):
        super().__init__(reason)
        self.reason, self.terms = reason, terms


@dataclass(frozen=True)
class Accepted:
    """A fresh instruction as `accept_resolution` wrote it: the ceiling's refusal when it was
    refused, else the order the provider is told."""

    stored: StoredInstruction
    refusal: Refusal | None
    order_id: str | None


def refund_id_for(idempotency_key: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"urn:refund:{idempotency_key}"))


def _now() -> datetime:
    return datetime.now(timezone.utc)


class RefundStore:
    """Its engine may run without pre-ping (services/refund/main.py): every public call runs
    once more when its pooled connection turned out dead; each is idempotent (an event id
    stored with its effect) or a compare-and-set, so a second run after an unknown commit
    changes nothing."""

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
            if "reserved_at" not in correlation:
                stamp = "TIMESTAMP WITH TIME ZONE" if self.engine.dialect.name == "postgresql" else "DATETIME"
                conn.execute(text(f"ALTER TABLE refund_instructions ADD COLUMN reserved_at {stamp}"))
            if (self.engine.dialect.name == "postgresql"
                    and getattr(correlation["correlation_id"]["type"], "length", None)):
                conn.execute(text("ALTER TABLE refund_instructions "
                                  "ALTER COLUMN correlation_id TYPE TEXT"))
        create_missing_indexes(self.engine, order_terms)  # the terms by order id (terms.py)

    @once_more_after_a_lost_connection
    def accept(self, *, event_id: str, terms: OrderTerms | None,
               instruction: RefundInstruction | None, correlation_id: str | None,
               outside_refund: OutsideRefund | None = None) -> bool:
        """Remember what one event teaches or asks; False if this event was handled before."""
        try:
            with self.engine.begin() as conn:
                conn.execute(_INSERT_HANDLED, {"event_id": event_id})
                if terms is not None:
                    remember_terms(conn, terms)
                if outside_refund is not None:
                    raise_refunded_before(conn, outside_refund)
                if instruction is not None:
                    conn.execute(_INSERT_INSTRUCTION, _new_row(instruction, correlation_id))
            return True
        except IntegrityError:
            return False

    @once_more_after_a_lost_connection
    def accept_resolution(self, *, event_id: str, instruction: RefundInstruction,
                          correlation_id: str | None, vet: Vet | None = None) -> Accepted | None:
        """`accept` and `reserve` of a fresh instruction in one transaction (the consumer's path,
        after the trust gate): the event id, and the instruction already holding its amount,
        or already FAILED when the ceiling refuses it. None if this event was handled before.

        Nothing is left between the two: a crash before the commit leaves nothing (the event
        is redelivered), after it the reservation a crash between `reserve` and the provider
        call always left (driven again once the lease has passed). `vet` (the trust gate's
        judgement, services/refund/policy.distrust) sees the terms and order read here: a reason
        from it rolls everything back and is raised as `Distrusted`."""
        try:
            with self.engine.begin() as conn:
                conn.execute(_INSERT_HANDLED, {"event_id": event_id})
                terms, order = _terms_and_locked_order(conn, instruction.dispute_id)
                if vet is not None and (reason := vet(instruction, terms, order)) is not None:
                    raise Distrusted(reason, terms)
                committed = _committed(conn, instruction.idempotency_key, terms) if terms else Committed()
                refusal = refusal_for(instruction, terms, order, committed)
                row = {**_new_row(instruction, correlation_id), **_first_move(refusal)}
                conn.execute(_INSERT_INSTRUCTION, {"reason": None, "retryable": None,
                                                   "reserved_at": None, **row})
        except IntegrityError:
            return None
        written = {column.name: row.get(column.name) for column in instructions.columns}
        return Accepted(_stored(written), refusal, terms.order_id if terms else None)

    @once_more_after_a_lost_connection
    def terms(self, dispute_id: str) -> OrderTerms | None:
        with self.engine.connect() as conn:
            return read_terms(conn, dispute_id)

    @once_more_after_a_lost_connection
    def order_of(self, dispute_id: str) -> tuple[OrderTerms | None, PaidOrder | None]:
        """The dispute's terms and the order they name, as we know it (None for what is not)."""
        with self.engine.connect() as conn:
            terms = read_terms(conn, dispute_id)
            return terms, (read_order(conn, terms.order_id) if terms else None)

    @once_more_after_a_lost_connection
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

    @once_more_after_a_lost_connection
    def reserve(self, instruction: RefundInstruction) -> Refusal | None:
        """Check trust and the ceiling and hold this amount against it, one order at a time.

        Locking the order's row first serialises reservations across processes (a row lock in
        PostgreSQL, the write lock in SQLite); amounts already issued or reserved by another
        instruction count (PENDING, or FAILED with an unknown outcome), for this dispute and
        for every dispute of the order, so no two in-flight refunds can overshoot together, nor
        one the provider may have paid already.

        Raises `TransitionRefused` when the instruction is no longer PENDING (another process
        settled it meanwhile): it must not be paid from here.
        """
        key, dispute_id = instruction.idempotency_key, instruction.dispute_id
        with self.engine.begin() as conn:
            terms, order = _terms_and_locked_order(conn, dispute_id)
            before = self._state(key, conn)
            if before is None:
                raise TransitionRefused("reserve", lifecycle.WRITTEN)
            reserved = lifecycle.reserve(before)
            committed = _committed(conn, key, terms) if terms else Committed()
            refusal = refusal_for(instruction, terms, order, committed)
            if refusal is None and not self._compare_and_set(key, before, reserved,
                                                             {"reserved_at": _now()}, conn):
                raise TransitionRefused("reserve", before)
        return refusal

    @once_more_after_a_lost_connection
    def instruction(self, idempotency_key: str) -> StoredInstruction | None:
        with self.engine.connect() as conn:
            row = conn.execute(_INSTRUCTION, {"key": idempotency_key}).mappings().first()
        return _stored(row) if row else None

    @once_more_after_a_lost_connection
    def for_dispute(self, dispute_id: str) -> list[StoredInstruction]:
        query = select(instructions).where(instructions.c.dispute_id == dispute_id)
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query).mappings()]

    @once_more_after_a_lost_connection
    def record_issued(self, idempotency_key: str, provider_reference: str) -> bool:
        """The provider paid under this key (see `lifecycle.issue`)."""
        return self._move(idempotency_key, lifecycle.issue, provider_reference=provider_reference,
                          reason=None, retryable=None, updated_at=_now())

    @once_more_after_a_lost_connection
    def record_failed(self, idempotency_key: str, reason: str, retryable: bool) -> bool:
        """A PENDING instruction did not get paid, or not knowingly (see `lifecycle.fail`). A
        definitive provider refusal goes through `record_refused`."""
        return self._move(idempotency_key, lifecycle.fail, reason=reason, retryable=retryable,
                          updated_at=_now())

    @once_more_after_a_lost_connection
    def record_refused(self, idempotency_key: str, reason: str) -> bool:
        """The provider refused for good (see `lifecycle.refuse`)."""
        return self._move(idempotency_key, lifecycle.refuse, reason=reason, retryable=False,
                          updated_at=_now())

    @once_more_after_a_lost_connection
    def issued_from(self, stored: StoredInstruction, provider_reference: str) -> StoredInstruction | None:
        """`record_issued` in one statement, decided from `stored` (the state this process
        left it in): the instruction as written, or None when another process moved it
        meanwhile (then `record_issued` decides again from what it wrote)."""
        return self._move_from(stored, lifecycle.issue, provider_reference=provider_reference,
                               reason=None, retryable=None, updated_at=_now())

    @once_more_after_a_lost_connection
    def published_from(self, stored: StoredInstruction) -> StoredInstruction | None:
        """`mark_published` in one statement, decided from `stored` (the result just published);
        None when it moved meanwhile (then `mark_published` decides again)."""
        return self._move_from(stored, lifecycle.announce)

    @once_more_after_a_lost_connection
    def published_from_each(self, stored: list[StoredInstruction]) -> list[StoredInstruction | None]:
        """`published_from` of several results in one transaction (one checkout, one commit),
        each decided by itself: None for one that moved meanwhile."""
        # rows locked in one order (by key) by every replica: two replicas marking the same
        # results in opposite orders would deadlock, and PostgreSQL abort a whole batch
        order = sorted(range(len(stored)), key=lambda n: stored[n].idempotency_key)
        moved: list[StoredInstruction | None] = [None] * len(stored)
        with self.engine.begin() as conn:
            for n in order:
                moved[n] = self._move_from(stored[n], lifecycle.announce, conn=conn)
        return moved

    @once_more_after_a_lost_connection
    def mark_published(self, idempotency_key: str, attempt: int, status: str) -> bool:
        """Only the result that was published: a late success may have replaced it meanwhile."""
        def announce(state: InstructionState) -> InstructionState:
            if (state.attempt, state.status) != (attempt, status):
                raise TransitionRefused("announce", state)
            return lifecycle.announce(state)
        return self._move(idempotency_key, announce)

    @once_more_after_a_lost_connection
    def reopen(self, idempotency_key: str) -> bool:
        """An operator asks for another try of a FAILED refund (see `lifecycle.reopen`)."""
        return self._move(idempotency_key, lifecycle.reopen, reason=None, retryable=None,
                          updated_at=_now())

    @once_more_after_a_lost_connection
    def pending_keys(self, older_than: float = 0, lease: float = 0) -> list[str]:
        """PENDING instructions untouched for `older_than` seconds, but none reserved less than
        `lease` seconds ago: a replica is calling the provider for it (a reservation without a
        time is from before reservations had one)."""
        fresh = instructions.c.reserved.is_(True) & instructions.c.reserved_at.is_not(None) & (
            instructions.c.reserved_at >= _now() - timedelta(seconds=lease))
        return self._keys(instructions.c.status == PENDING, _settled_before(older_than),
                          *([not_(fresh)] if lease > 0 else []))

    @once_more_after_a_lost_connection
    def unknown_outcome_keys(self, older_than: float = 0) -> list[str]:
        """FAILED instructions the provider may have paid: to be asked again, with their key."""
        return self._keys(*_outcome_unknown(), _settled_before(older_than))

    @once_more_after_a_lost_connection
    def held_by_status(self) -> dict[str, int]:
        """Instructions holding their reservation, by status: PENDING ones being paid, FAILED
        ones whose outcome is unknown (the provider may have paid)."""
        query = (select(instructions.c.status, func.count())
                 .where(instructions.c.reserved.is_(True), instructions.c.status != ISSUED)
                 .group_by(instructions.c.status))
        with self.engine.connect() as conn:
            return {status: count for status, count in conn.execute(query).all()}

    @once_more_after_a_lost_connection
    def unpublished_keys(self, older_than: float = 0) -> list[str]:
        """Results not marked published, settled `older_than` seconds ago or more: a result just
        settled may have its mark on its way (written behind its publication), in this process
        or in another replica, which the periodic reconcile then leaves alone."""
        return self._keys(instructions.c.status != PENDING, instructions.c.published.is_(False),
                          _settled_before(older_than))

    def _keys(self, *where) -> list[str]:
        query = select(instructions.c.idempotency_key).where(*where).order_by(
            instructions.c.updated_at)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _move(self, idempotency_key: str, transition: Callable[[InstructionState], InstructionState],
              **values) -> bool:
        """Write the state `transition` leads to, compare-and-set: only where the stored state
        is still the one it was decided from (`values`: the data the move records with it,
        `updated_at` for a result or a reopening). Another process moving the instruction meanwhile
        makes the write miss; the move is then decided again from what that process wrote.
        False when the instruction is unknown or the lifecycle refuses the move."""
        for _ in range(COMPARE_AND_SET_ROUNDS):
            before = self._state(idempotency_key)
            if before is None:
                return False
            try:
                after = transition(before)
            except TransitionRefused as refused:
                log.info("refund_transition_refused", idempotency_key=idempotency_key,
                         transition=refused.transition, status=before.status,
                         reserved=before.reserved, attempt=before.attempt)
                return False
            if self._compare_and_set(idempotency_key, before, after, values):
                return True
        log.warning("refund_transition_contended", idempotency_key=idempotency_key)
        return False

    def _move_from(self, stored: StoredInstruction,
                   transition: Callable[[InstructionState], InstructionState],
                   conn=None, **values) -> StoredInstruction | None:
        """The compare-and-set of `_move` from a state this process already knows, without
        reading it first; the row as written (RETURNING), or None when it was not that state."""
        try:
            after = transition(stored.state)
        except TransitionRefused:
            return None
        statement = _update_from_state(tuple(values), returning=True)
        parameters = _state_parameters(stored.idempotency_key, stored.state, after, values)
        if conn is not None:
            row = conn.execute(statement, parameters).mappings().first()
        else:
            with self.engine.begin() as conn:
                row = conn.execute(statement, parameters).mappings().first()
        return _stored(row) if row else None

    def _state(self, idempotency_key: str, conn=None) -> InstructionState | None:
        if conn is not None:
            row = conn.execute(_STATE, {"key": idempotency_key}).first()
        else:
            with self.engine.connect() as conn:
                row = conn.execute(_STATE, {"key": idempotency_key}).first()
        return _state_of(row) if row else None

    def _compare_and_set(self, idempotency_key: str, before: InstructionState,
                         after: InstructionState, values: dict, conn=None) -> bool:
        statement = _update_from_state(tuple(values), returning=False)
        parameters = _state_parameters(idempotency_key, before, after, values)
        if conn is not None:
            return conn.execute(statement, parameters).rowcount == 1
        with self.engine.begin() as conn:
            return conn.execute(statement, parameters).rowcount == 1


def _terms_and_locked_order(conn, dispute_id: str) -> tuple[OrderTerms | None, PaidOrder | None]:
    """`read_terms`, then `read_order(..., for_update=True)` of the order they name: on
    PostgreSQL in one statement when that order has a row (the paying path: one statement and
    round trip fewer per refund), else the terms alone, as there is no row to lock. SQLite's
    RETURNING cannot name the joined table: the two statements there."""
    if conn.dialect.name != "postgresql":
        terms = read_terms(conn, dispute_id)
        return terms, (read_order(conn, terms.order_id, for_update=True) if terms else None)
    row = conn.execute(_TERMS_AND_LOCKED_ORDER, {"dispute": dispute_id}).mappings().first()
    if row is None:
        return read_terms(conn, dispute_id), None
    return terms_from(row, "terms_"), paid_orders.order_from(row, "order_")


def _terms_and_locked_order_statement():
    """The order's row locked as `read_order` locks it (an UPDATE of nothing: a row lock),
    joined to the dispute's terms, both returned (PostgreSQL only)."""
    orders = paid_orders.orders
    return (update(orders)
            .where(order_terms.c.dispute_id == bindparam("dispute"),
                   orders.c.order_id == order_terms.c.order_id)
            .values(order_id=orders.c.order_id)
            .returning(*(column.label(f"order_{column.name}") for column in orders.c),
                       *(column.label(f"terms_{column.name}") for column in order_terms.c)))


def _committed(conn, key: str, terms: OrderTerms) -> Committed:
    """What other instructions issued or hold for this item (any dispute on it: a second
    dispute on an item, e.g. after a change of DISPUTE_ID_KEY, shares the item's price) and
    for the whole order: one query over the order's disputes, each amount marked when it is
    on the item."""
    dispute = order = Decimal(0)
    rows = conn.execute(_HELD_ON_ORDER, {"order": terms.order_id, "key": key,
                                         "dispute": terms.dispute_id, "item": terms.item_id})
    for amount, on_item in rows:
        order += Decimal(amount)
        if on_item:
            dispute += Decimal(amount)
    return Committed(dispute=dispute, order=order)


def _held_on_order():
    """Amounts issued or held by instructions other than `key` of the disputes of `order`,
    each with whether it is on the item (the dispute itself, or one on the same item)."""
    on_item = or_(instructions.c.dispute_id == bindparam("dispute"),
                  order_terms.c.item_id.is_not_distinct_from(bindparam("item", type_=String)))
    return (select(instructions.c.amount, on_item)
            .select_from(instructions.join(order_terms, order_terms.c.dispute_id == instructions.c.dispute_id))
            .where(order_terms.c.order_id == bindparam("order"),
                   instructions.c.idempotency_key != bindparam("key"),
                   (instructions.c.status == ISSUED) | instructions.c.reserved.is_(True)))


def _outcome_unknown() -> tuple:
    """`InstructionState.outcome_unknown`, as a WHERE clause."""
    return instructions.c.status == FAILED, instructions.c.reserved.is_(True)


_STATE_COLUMNS = (instructions.c.status, instructions.c.reserved, instructions.c.attempt,
                  instructions.c.published)


def _state_of(row) -> InstructionState:
    return InstructionState(RefundStatus(row.status), bool(row.reserved), row.attempt,
                            bool(row.published))


def _state_values(state: InstructionState) -> dict:
    return {"status": state.status.value, "reserved": state.reserved, "attempt": state.attempt,
            "published": state.published}


# The statements of the paying path, built once: SQLAlchemy derives a cache key from every
# statement it is given, and for one built per call with its values inside (an INSERT's row,
# an UPDATE's SET) that derivation was a sixth of the refund service's CPU.
_INSERT_HANDLED = insert(handled_events)
_INSERT_INSTRUCTION = insert(instructions)
_INSTRUCTION = select(instructions).where(instructions.c.idempotency_key == bindparam("key"))
_STATE = select(*_STATE_COLUMNS).where(instructions.c.idempotency_key == bindparam("key"))
_HELD_ON_ORDER = _held_on_order()
_TERMS_AND_LOCKED_ORDER = _terms_and_locked_order_statement()


@lru_cache(maxsize=None)
def _update_from_state(names: tuple[str, ...], returning: bool):
    """The compare-and-set UPDATE writing the state columns and `names`: where the key and the
    state read are still those it was decided from (parameters: `_state_parameters`)."""
    statement = update(instructions).where(
        instructions.c.idempotency_key == bindparam("key"),
        *(column == bindparam(f"was_{column.name}") for column in _STATE_COLUMNS),
    ).values({name: bindparam(f"new_{name}") for name in (*_state_values(lifecycle.WRITTEN), *names)})
    return statement.returning(*instructions.c) if returning else statement


def _state_parameters(key: str, before: InstructionState, after: InstructionState,
                      values: dict) -> dict:
    return {"key": key, **{f"was_{name}": value for name, value in _state_values(before).items()},
            **{f"new_{name}": value for name, value in {**_state_values(after), **values}.items()}}


def _settled_before(seconds: float):
    return instructions.c.updated_at <= _now() - timedelta(seconds=seconds)


def _new_row(instruction: RefundInstruction, correlation_id: str | None) -> dict:
    return {"idempotency_key": instruction.idempotency_key,
            "refund_id": refund_id_for(instruction.idempotency_key),
            "dispute_id": instruction.dispute_id, "cause_event_id": instruction.cause_event_id,
            "correlation_id": correlation_id, "amount": str(instruction.amount),
            "currency": instruction.currency, **_state_values(lifecycle.WRITTEN),
            "updated_at": _now()}


def _first_move(refusal: Refusal | None) -> dict:
    """A fresh instruction's state once the ceiling was checked: holding its amount, or
    FAILED with the refusal (as `reserve` then `record_failed` would leave it)."""
    if refusal is not None:
        return {**_state_values(lifecycle.fail(lifecycle.WRITTEN)), "reason": refusal.reason,
                "retryable": refusal.retryable}
    return {**_state_values(lifecycle.reserve(lifecycle.WRITTEN)), "reserved_at": _now()}


def _stored(row) -> StoredInstruction:
    values = dict(row)
    values["amount"] = Decimal(values["amount"])
    values["status"] = RefundStatus(values["status"])
    return StoredInstruction(**values)
