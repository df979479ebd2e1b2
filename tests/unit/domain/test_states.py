import json

import pytest

from services.dispute.domain import Dispute, Status
from tests.unit.domain.support import day

EVENTS = ["Opened", "SellerResponded", "OfferMade", "OfferAccepted", "OfferRejected",
          "OfferSuperseded", "OfferExpired", "OfferWithdrawn", "ClaimAccepted", "ClaimRejected",
          "EvidenceAdded", "EvidenceRequested", "MessagePosted", "DeadlineMissed", "Escalated",
          "ReturnRequested", "ReturnShipped", "ReturnReceived", "ReplacementShipped",
          "ReplacementReceived", "Resolved", "RefundIssued", "RefundFailed", "Withdrawn",
          "Appealed", "AppealDecided", "Closed", "FeedbackLeft"]


@pytest.mark.parametrize("name", EVENTS)
def test_the_dispute_defines_each_event_of_its_lifecycle(name):
    assert issubclass(getattr(Dispute, name), Dispute.Event)


@pytest.mark.parametrize(("fixture", "status", "awaiting"), [
    ("dispute_awaiting_seller", "AWAITING_SELLER_RESPONSE", "seller"),
    ("dispute_awaiting_buyer", "AWAITING_BUYER_RESPONSE", "buyer"),
    ("dispute_with_buyer_counter", "AWAITING_SELLER_RESPONSE", "seller"),
    ("dispute_awaiting_return_shipment", "AWAITING_RETURN_SHIPMENT", "buyer"),
    ("dispute_return_in_transit", "RETURN_IN_TRANSIT", "seller"),
    ("dispute_awaiting_replacement", "AWAITING_REPLACEMENT", "seller"),
    ("dispute_replacement_shipped", "AWAITING_REPLACEMENT", "buyer"),
    ("dispute_under_review", "UNDER_REVIEW", "operator"),
    ("dispute_resolved_for_buyer", "RESOLVED", "none"),
    ("dispute_appealed", "APPEALED", "operator"),
    ("dispute_closed", "CLOSED", "none"),
    ("dispute_withdrawn", "WITHDRAWN", "none"),
])
def test_each_state_says_whose_move_it_is(request, fixture, status, awaiting):
    dispute = request.getfixturevalue(fixture)
    assert (dispute.status, dispute.awaiting) == (status, awaiting)


def test_the_status_is_typed_and_reads_as_its_plain_string(dispute_awaiting_seller):
    assert dispute_awaiting_seller.status is Status.AWAITING_SELLER_RESPONSE
    assert json.dumps(dispute_awaiting_seller.status) == '"AWAITING_SELLER_RESPONSE"'


def test_updated_at_follows_the_latest_event(dispute_awaiting_buyer):
    assert dispute_awaiting_buyer.updated_at == day(1)
