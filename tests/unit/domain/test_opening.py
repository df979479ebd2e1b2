from dataclasses import replace
from datetime import timedelta

import pytest

from services.dispute.domain import Dispute, DomainError
from tests.unit.domain.support import (
    BUYER, IDS, ORDER, OTHER_BUYER, POLICY, SELLER, T0, day, names, open_dispute, photo,
)


def test_opening_records_dispute_opened_awaiting_the_seller():
    dispute = open_dispute()
    assert names(dispute.collect_events()) == ["Opened"]
    assert dispute.status == "AWAITING_SELLER_RESPONSE"
    assert dispute.awaiting == "seller"


def test_opening_takes_money_from_the_order():
    dispute = open_dispute()
    assert (dispute.paid_amount, dispute.currency, dispute.refundable_amount) == (
        ORDER.items["I-1"], "USD", ORDER.items["I-1"])


def test_opening_starts_the_seller_and_negotiation_deadlines_and_the_escalation_gate():
    dispute = open_dispute()
    assert dispute.deadlines == {"SELLER_RESPONSE": day(5), "NEGOTIATION_MAX": day(15)}
    assert dispute.escalation_allowed_from == day(3)
    assert dispute.next_deadline == day(5)


def test_the_dispute_takes_the_id_it_is_given_for_its_order_and_item():
    assert open_dispute().id == IDS.for_new_dispute("O-1", "I-1")


def test_opening_with_photos_records_evidence_added_for_each():
    dispute = open_dispute(evidence=[photo("E-1"), photo("E-2")])
    assert names(dispute.collect_events()) == ["Opened", "EvidenceAdded", "EvidenceAdded"]


def test_a_full_refund_request_claims_the_item_price():
    assert open_dispute(request="FULL_REFUND").request_amount == ORDER.items["I-1"]


def test_a_replacement_request_claims_no_amount():
    assert open_dispute(request="REPLACEMENT").request_amount is None


def _code(**kwargs) -> str:
    with pytest.raises(DomainError) as caught:
        open_dispute(**kwargs)
    return caught.value.code


def test_only_the_orders_buyer_may_open():
    assert _code(actor=OTHER_BUYER) == "FORBIDDEN"


def test_a_seller_may_not_open():
    assert _code(actor=SELLER) == "FORBIDDEN"


def test_an_unknown_item_is_order_not_found():
    with pytest.raises(DomainError) as caught:
        Dispute.open(dispute_id=IDS.for_new_dispute("O-1", "I-404"), order=ORDER,
                     item_id="I-404", actor=BUYER, reason="DAMAGED",
                     request="FULL_REFUND", request_amount=None, description="", at=T0,
                     policy=POLICY)
    assert caught.value.code == "ORDER_NOT_FOUND"


def test_opening_after_the_filing_window_is_refused():
    assert _code(at=ORDER.promised_delivery_date + timedelta(days=30)) == "FILING_WINDOW_CLOSED"


def test_item_not_received_before_the_promised_date_is_refused():
    early = replace(ORDER, promised_delivery_date=T0 + timedelta(days=1))
    assert _code(reason="ITEM_NOT_RECEIVED", order=early) == "PROMISED_DELIVERY_NOT_ELAPSED"


def test_item_not_received_after_the_promised_date_opens():
    assert open_dispute(reason="ITEM_NOT_RECEIVED").reason == "ITEM_NOT_RECEIVED"


def test_an_unknown_reason_fails_validation():
    assert _code(reason="CHANGED_MY_MIND") == "VALIDATION_FAILED"


def test_an_unknown_request_fails_validation():
    assert _code(request="STORE_CREDIT") == "VALIDATION_FAILED"


def test_a_partial_refund_request_needs_an_amount():
    assert _code(request="PARTIAL_REFUND", amount=None) == "VALIDATION_FAILED"


def test_a_request_of_zero_fails_validation():
    assert _code(request="PARTIAL_REFUND", amount="0") == "VALIDATION_FAILED"


def test_a_request_above_the_price_exceeds_the_refundable_amount():
    assert _code(request="PARTIAL_REFUND", amount="100.01") == "REFUND_EXCEEDS_REFUNDABLE_AMOUNT"


def test_opening_with_a_file_of_the_wrong_type_is_evidence_rejected():
    assert _code(evidence=[photo(content_type="video/mp4")]) == "EVIDENCE_REJECTED"
