from decimal import Decimal

from tests.unit.domain.support import (
    BUYER, POLICY, SELLER, acknowledge, add_evidence, day, expire, given, photo, refused, ship_return, when,
)


def test_shipping_the_return_puts_it_in_transit(dispute_awaiting_return_shipment):
    assert when(dispute_awaiting_return_shipment, ship_return(at=day(2))) == ["ReturnShipped"]
    assert dispute_awaiting_return_shipment.status == "RETURN_IN_TRANSIT"
    assert dispute_awaiting_return_shipment.awaiting == "seller"


def test_shipping_starts_the_acknowledgement_deadline(dispute_awaiting_return_shipment):
    when(dispute_awaiting_return_shipment, ship_return(at=day(2)))
    assert dispute_awaiting_return_shipment.deadlines == {"RETURN_ACKNOWLEDGEMENT": day(16)}


def test_shipping_needs_a_tracking_number(dispute_awaiting_return_shipment):
    assert refused(dispute_awaiting_return_shipment, ship_return(tracking=" ")) == (
        "VALIDATION_FAILED")


def test_only_the_buyer_ships_the_return(dispute_awaiting_return_shipment):
    assert refused(dispute_awaiting_return_shipment, ship_return(by=SELLER)) == "FORBIDDEN"


def test_shipping_on_the_ship_by_date_is_return_window_closed(dispute_awaiting_return_shipment):
    assert refused(dispute_awaiting_return_shipment, ship_return(at=day(11))) == (
        "RETURN_WINDOW_CLOSED")


def test_a_return_not_shipped_in_time_resolves_for_the_seller(dispute_awaiting_return_shipment):
    assert when(dispute_awaiting_return_shipment, expire(day(11))) == [
        "DeadlineMissed", "Resolved"]
    resolution = dispute_awaiting_return_shipment.resolution
    assert (resolution.outcome, resolution.resolved_by, resolution.refund_amount) == (
        "SELLER_FAVOUR", "TIMEOUT_BUYER", Decimal("0"))


def test_shipping_after_the_timeout_is_return_window_closed(dispute_awaiting_return_shipment):
    given(dispute_awaiting_return_shipment, expire(day(11)))
    assert refused(dispute_awaiting_return_shipment, ship_return(at=day(12))) == (
        "RETURN_WINDOW_CLOSED")


def test_shipping_when_no_return_was_asked_is_an_invalid_transition(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, ship_return()) == "INVALID_TRANSITION"


def test_a_received_return_resolves_with_the_refund(dispute_return_in_transit):
    assert when(dispute_return_in_transit, acknowledge()) == ["ReturnReceived", "Resolved"]
    resolution = dispute_return_in_transit.resolution
    assert (resolution.outcome, resolution.resolved_by, resolution.remedy) == (
        "AGREED", "SELLER_ACCEPTED_CLAIM", "RETURN_AND_REFUND")
    assert resolution.refund_amount == Decimal("100.00")


def test_a_problem_with_the_return_escalates_with_the_evidence(dispute_return_in_transit):
    problem = acknowledge("EMPTY_PACKAGE_OR_DIFFERENT", evidence=[photo("S-E1")])
    assert when(dispute_return_in_transit, problem) == [
        "ReturnReceived", "EvidenceAdded", "Escalated"]
    assert dispute_return_in_transit.escalation.trigger == "RETURN_CONDITION_DISPUTED"
    assert dispute_return_in_transit.resolution is None


def test_a_problem_may_cite_evidence_already_added(dispute_return_in_transit):
    given(dispute_return_in_transit, add_evidence("S-E0", by=SELLER, at=day(4)))
    def problem(dispute):
        dispute.acknowledge_return(condition="DAMAGED", evidence_ids=["S-E0"], actor=SELLER,
                                   at=day(5), policy=POLICY)
    assert when(dispute_return_in_transit, problem) == ["ReturnReceived", "Escalated"]


def test_a_problem_without_evidence_fails_validation(dispute_return_in_transit):
    assert refused(dispute_return_in_transit, acknowledge("DAMAGED")) == "VALIDATION_FAILED"


def test_an_unknown_condition_fails_validation(dispute_return_in_transit):
    assert refused(dispute_return_in_transit, acknowledge("SMELLS_ODD")) == "VALIDATION_FAILED"


def test_only_the_seller_acknowledges_the_return(dispute_return_in_transit):
    assert refused(dispute_return_in_transit, acknowledge(by=BUYER)) == "FORBIDDEN"


def test_acknowledging_before_shipment_is_an_invalid_transition(
        dispute_awaiting_return_shipment):
    assert refused(dispute_awaiting_return_shipment, acknowledge()) == "INVALID_TRANSITION"


def test_an_unacknowledged_return_refunds_the_buyer(dispute_return_in_transit):
    assert when(dispute_return_in_transit, expire(day(16))) == ["DeadlineMissed", "Resolved"]
    resolution = dispute_return_in_transit.resolution
    assert (resolution.outcome, resolution.resolved_by, resolution.refund_amount) == (
        "BUYER_FAVOUR", "TIMEOUT_SELLER", Decimal("100.00"))


def test_acknowledging_after_the_deadline_is_already_resolved(dispute_return_in_transit):
    assert refused(dispute_return_in_transit, acknowledge(at=day(16))) == (
        "DISPUTE_ALREADY_RESOLVED")
