"""Timeline sentences: one per event, amounts with currency, deadlines as `3 Dec 14:00 UTC`."""

import ast
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from services.dispute.projections import timeline_text
from services.dispute.projections.timeline_text import summarise, when

AT = datetime(2026, 12, 3, 14, 0, tzinfo=timezone.utc)
SELLER = {"role": "seller", "id": "S-1"}


def test_a_deadline_reads_as_day_month_time_utc():
    assert when(AT) == "3 Dec 14:00 UTC"


def test_a_seller_offer_names_amount_currency_and_the_buyers_deadline():
    fields = {"offer_type": "PARTIAL_REFUND", "amount": Decimal("30"), "currency": "USD",
              "made_by": "seller", "respond_by": AT, "actor": SELLER}
    assert summarise("OfferMade", fields, "USD") == (
        "Seller offered a partial refund of 30.00 USD; the buyer has until 3 Dec 14:00 UTC to answer")


def test_an_accepted_offer_takes_the_disputes_currency():
    fields = {"remedy": "PARTIAL_REFUND", "refund_amount": Decimal("30.00"),
              "actor": {"role": "buyer", "id": "B-1"}}
    assert summarise("OfferAccepted", fields, "EUR") == "Buyer accepted the offer of a partial refund of 30.00 EUR"


def test_a_timeout_resolution_says_why_and_until_when_appeals_are_open():
    fields = {"outcome": "BUYER_FAVOUR", "resolved_by": "TIMEOUT_SELLER", "remedy": "FULL_REFUND",
              "refund_amount": Decimal("100.00"), "currency": "USD", "appeal_until": AT,
              "actor": {"role": "service", "id": "deadline-worker"}}
    assert summarise("Resolved", fields, "USD") == (
        "Resolved in the buyer's favour (the seller did not answer in time): a full refund of "
        "100.00 USD; appeals are possible until 3 Dec 14:00 UTC")


def test_an_unknown_event_still_gets_a_sentence():
    assert summarise("SomethingNew", {"actor": SELLER}, "USD") == "Seller: somethingnew"


def test_the_sentences_module_does_no_io():
    tree = ast.parse(Path(timeline_text.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert imported <= {"__future__", "datetime", "decimal", "typing"}
