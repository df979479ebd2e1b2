from decimal import Decimal

from tests.unit.domain.support import (
    BUYER, SELLER, confirm_replacement, day, refused, ship_replacement, when,
)


def test_the_seller_ships_the_replacement(dispute_awaiting_replacement):
    assert when(dispute_awaiting_replacement, ship_replacement()) == ["ReplacementShipped"]
    assert dispute_awaiting_replacement.awaiting == "buyer"


def test_the_buyer_confirming_the_replacement_resolves_it(dispute_replacement_shipped):
    assert when(dispute_replacement_shipped, confirm_replacement()) == [
        "ReplacementReceived", "Resolved"]
    resolution = dispute_replacement_shipped.resolution
    assert (resolution.outcome, resolution.remedy, resolution.refund_amount) == (
        "AGREED", "REPLACEMENT", Decimal("0"))


def test_the_buyer_cannot_confirm_before_shipment(dispute_awaiting_replacement):
    assert refused(dispute_awaiting_replacement, confirm_replacement()) == "NOT_YOUR_TURN"


def test_the_seller_cannot_ship_twice(dispute_replacement_shipped):
    assert refused(dispute_replacement_shipped, ship_replacement(at=day(3))) == "NOT_YOUR_TURN"


def test_only_the_seller_ships_a_replacement(dispute_awaiting_replacement):
    assert refused(dispute_awaiting_replacement, ship_replacement(by=BUYER)) == "FORBIDDEN"


def test_only_the_buyer_confirms_a_replacement(dispute_replacement_shipped):
    assert refused(dispute_replacement_shipped, confirm_replacement(by=SELLER)) == "FORBIDDEN"


def test_shipping_a_replacement_nobody_agreed_is_an_invalid_transition(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, ship_replacement()) == "INVALID_TRANSITION"
