"""Disputes in each state, built through the public commands on the fixed clock."""

import pytest

from services.dispute.domain import Dispute
from tests.unit.domain.support import (
    accept, accept_claim, add_evidence, appeal, day, decide, escalate, expire, given, offer,
    open_dispute, reject, ship_replacement, ship_return, terms, withdraw,
)


@pytest.fixture
def dispute_awaiting_seller() -> Dispute:
    """Opened at T0 asking a full refund of 100.00."""
    return given(open_dispute())


@pytest.fixture
def dispute_awaiting_buyer() -> Dispute:
    """The seller offered A, a 30.00 partial refund, on day 1 (round 1)."""
    return given(open_dispute(), offer("A", "30.00"))


@pytest.fixture
def dispute_with_buyer_counter() -> Dispute:
    """The buyer rejected A on day 2 and countered with B, 60.00 (round 2)."""
    return given(open_dispute(), offer("A", "30.00"), reject("A", counter=terms("B", "60.00")))


@pytest.fixture
def dispute_awaiting_return_shipment() -> Dispute:
    """The seller accepted a return-and-refund claim of 100.00 on day 1: ship by day 11."""
    return given(open_dispute(request="RETURN_AND_REFUND", amount="100.00"), accept_claim())


@pytest.fixture
def dispute_return_in_transit(dispute_awaiting_return_shipment: Dispute) -> Dispute:
    """The buyer shipped the return on day 2: acknowledgement due on day 16."""
    return given(dispute_awaiting_return_shipment, ship_return(at=day(2)))


@pytest.fixture
def dispute_awaiting_replacement() -> Dispute:
    """The seller accepted a replacement claim on day 1 and has not shipped yet."""
    return given(open_dispute(request="REPLACEMENT"), accept_claim())


@pytest.fixture
def dispute_replacement_shipped(dispute_awaiting_replacement: Dispute) -> Dispute:
    return given(dispute_awaiting_replacement, ship_replacement(at=day(2)))


@pytest.fixture
def dispute_under_review() -> Dispute:
    """The buyer escalated on day 4 while the seller's offer A (30.00) was still open."""
    return given(open_dispute(), offer("A", "30.00"), escalate(at=day(4)))


@pytest.fixture
def dispute_resolved_for_buyer(dispute_under_review: Dispute) -> Dispute:
    """The operator refunded 100.00 on day 5; the appeal window runs to day 20."""
    return given(dispute_under_review, decide("BUYER_FAVOUR", "100.00", at=day(5)))


@pytest.fixture
def dispute_resolved_for_seller(dispute_under_review: Dispute) -> Dispute:
    """The operator found for the seller on day 5; the appeal window runs to day 20."""
    return given(dispute_under_review, decide("SELLER_FAVOUR", None, at=day(5)))


@pytest.fixture
def dispute_resolved_by_agreement() -> Dispute:
    """The buyer accepted the seller's 30.00 on day 2."""
    return given(open_dispute(), offer("A", "30.00"), accept("A", at=day(2)))


@pytest.fixture
def dispute_appealed(dispute_resolved_for_seller: Dispute) -> Dispute:
    """The buyer appealed on day 6 with new evidence E-new."""
    return given(dispute_resolved_for_seller, add_evidence("E-new", at=day(6)),
                 appeal("AP-1", ["E-new"], at=day(6)))


@pytest.fixture
def dispute_closed(dispute_resolved_for_buyer: Dispute) -> Dispute:
    """The appeal window lapsed on day 20."""
    return given(dispute_resolved_for_buyer, expire(day(21)))


@pytest.fixture
def dispute_withdrawn() -> Dispute:
    """The buyer withdrew on day 1 while offer A was open."""
    return given(open_dispute(), offer("A", "30.00", at=day(0.5)), withdraw(at=day(1)))
