"""What each dispute says of its order (from its DisputeOpened, lowered by
RefundedOutsideDispute): a claim the refund service keeps per dispute and checks against its own
order facts before paying. The first DisputeOpened of a dispute is kept."""

from __future__ import annotations

from decimal import Decimal

import structlog
from sqlalchemy import Column, Index, MetaData, String, Table, bindparam, insert, select, text, update

from services.refund.policy import OrderTerms, OutsideRefund

log = structlog.get_logger("refund.store")
metadata = MetaData()
order_terms = Table(
    "refund_order_terms", metadata, Column("dispute_id", String(36), primary_key=True),
    Column("order_id", String(128), nullable=False), Column("paid_amount", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("refunded_before", String(32), nullable=False, server_default="0"),
    Column("item_id", String(128)), Column("buyer_id", String(128)), Column("seller_id", String(128)),
)
# the terms by order: every refund reads what the other disputes of its order hold
# (store._held_on_order); without it PostgreSQL scanned every dispute's terms for each refund
# (0.7 ms at 2,000 disputes, 10 ms at 100,000, inside the transaction holding the order's lock)
Index("ix_refund_order_terms_order_id", order_terms.c.order_id)
PARTIES = ("item_id", "buyer_id", "seller_id")
"""Columns added when terms began to be checked; rows stored before have none."""


class TermsContradicted(Exception):
    """A DisputeOpened for a known dispute stating other facts than its first."""

    reason = "DISPUTE_FACTS_CONFLICT"

    def __init__(self, dispute_id: str):
        super().__init__(f"{self.reason}: dispute {dispute_id} was opened with other facts")


def remember_terms(conn, terms: OrderTerms) -> None:
    """The first DisputeOpened of a dispute is kept; one that repeats it adds nothing, one that
    states other facts is refused (`TermsContradicted`) and nothing of it is kept."""
    known = read_terms(conn, terms.dispute_id)
    if known is None:
        conn.execute(insert(order_terms).values(
            dispute_id=terms.dispute_id, order_id=terms.order_id,
            paid_amount=str(terms.paid_amount), currency=terms.currency,
            refunded_before=str(terms.refunded_before), item_id=terms.item_id,
            buyer_id=terms.buyer_id, seller_id=terms.seller_id))
    elif _facts_of(known) != _facts_of(terms):
        raise TermsContradicted(terms.dispute_id)


def raise_refunded_before(conn, outside: OutsideRefund) -> None:
    """`refunded_before` is an absolute figure: the larger one is the newer fact, so a replayed
    or reordered announcement can never lower it."""
    row = conn.execute(select(order_terms.c.refunded_before).where(
        order_terms.c.dispute_id == outside.dispute_id).with_for_update()).first()
    if row is None:
        log.warning("outside_refund_for_unknown_order_terms", dispute_id=outside.dispute_id)
        return
    if outside.refunded_before > Decimal(row.refunded_before):
        conn.execute(update(order_terms).where(order_terms.c.dispute_id == outside.dispute_id)
                     .values(refunded_before=str(outside.refunded_before)))


def read_terms(conn, dispute_id: str) -> OrderTerms | None:
    row = conn.execute(_TERMS, {"dispute_id": dispute_id}).mappings().first()
    return terms_from(row) if row else None


def terms_from(row, prefix: str = "") -> OrderTerms:
    """The terms in a row of `order_terms` (its columns named `prefix` + column name)."""
    return OrderTerms(row[f"{prefix}dispute_id"], row[f"{prefix}order_id"],
                      Decimal(row[f"{prefix}paid_amount"]), row[f"{prefix}currency"],
                      Decimal(row[f"{prefix}refunded_before"]), item_id=row[f"{prefix}item_id"],
                      buyer_id=row[f"{prefix}buyer_id"], seller_id=row[f"{prefix}seller_id"])


_TERMS = select(order_terms).where(order_terms.c.dispute_id == bindparam("dispute_id"))
"""Built once (read for every refund): a statement built per call is analysed again each time."""


def add_missing_parties(conn, columns: set[str]) -> None:
    for column in (name for name in PARTIES if name not in columns):
        conn.execute(text(f"ALTER TABLE refund_order_terms ADD COLUMN {column} VARCHAR(128)"))


def _facts_of(terms: OrderTerms) -> tuple:
    return (terms.order_id, terms.paid_amount, terms.currency, terms.item_id, terms.buyer_id,
            terms.seller_id)
