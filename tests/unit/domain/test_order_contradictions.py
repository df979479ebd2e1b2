"""Which facts of a second OrderPlaced contradict the order as first placed (pure)."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from services.dispute.domain.orders import contradictions
from tests.unit.domain.support import ORDER


def test_an_order_placed_again_with_the_same_facts_contradicts_nothing():
    assert contradictions(ORDER, replace(ORDER, items=dict(reversed(ORDER.items.items())))) == []


def test_another_buyer_contradicts_the_order():
    assert contradictions(ORDER, replace(ORDER, buyer_id="B-forger")) == ["buyer_id"]


def test_other_items_amounts_or_dates_contradict_the_order():
    changed = replace(ORDER, items={"I-1": Decimal("99999.00")}, total_amount=Decimal("99999.00"),
                      promised_delivery_date=ORDER.promised_delivery_date + timedelta(days=90))
    assert contradictions(ORDER, changed) == ["items", "total_amount", "promised_delivery_date"]


def test_what_later_events_teach_is_no_contradiction():
    later = replace(ORDER, delivered_at=ORDER.placed_at + timedelta(days=2),
                    refunded_outside_disputes=Decimal("10.00"))
    assert contradictions(ORDER, later) == []
