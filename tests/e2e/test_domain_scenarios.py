"""DOMAIN.md's nine example scenarios, played through the HTTP API with every service running
as its own process on real Kafka and PostgreSQL; orders arrive on `orders.events`, deadlines
are seconds long, refunds go through the payment-provider simulator."""

import asyncio
import base64
import json
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS, REFUNDS_EVENTS
from tests.e2e.conftest import start_system, stop_system
from tests.support.dispute_api import Party
from tests.support.kafka import drain_topic, eventually

pytestmark = pytest.mark.e2e
WINDOW = 6  # seconds: seller and buyer response, return ship-by, evidence request
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def platform(postgres, kafka, tmp_path_factory):
    window = f"PT{WINDOW}S"
    running = start_system(postgres, kafka, tmp_path_factory.mktemp("scenarios"), {
        "DISPUTE_SELLER_RESPONSE_WINDOW": window, "DISPUTE_BUYER_RESPONSE_WINDOW": window,
        "DISPUTE_RETURN_SHIP_BY": window, "DISPUTE_EVIDENCE_REQUEST_WINDOW": window,
    })
    yield running
    stop_system(running)


@pytest.fixture
async def parties(platform):
    async with httpx.AsyncClient(timeout=15) as http:
        base = platform.url["dispute"]
        yield (Party(http, base, "buyer", "B-1"), Party(http, base, "seller", "S-1"),
               Party(http, base, "operator", "OP-1"))


@pytest.fixture
def order_id(platform):
    return f"O-{uuid4().hex[:8]}"


async def opened(platform, buyer, order_id, **body) -> str:
    await platform.publish_order(order_id)
    return (await buyer.open_dispute(order_id, **body)).json()["id"]


async def upload(party, dispute_id) -> str:
    response = await party.http.post(f"{party.base}/v1/disputes/{dispute_id}/evidence",
                                     headers=party.headers, files={"file": ("photo.png", PNG, "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["evidence"]["evidence_id"]


async def offer(party, dispute_id, amount, kind="PARTIAL_REFUND") -> str:
    response = await party.post(f"/v1/disputes/{dispute_id}/offers",
                                {"type": kind, "amount": amount}, expect=201)
    return response.json()["offer"]["offer_id"]


async def event_types(platform, dispute_id, until: str) -> list[str]:
    """The dispute's public events on Kafka, once `until` is among them."""
    async def read():
        records = await drain_topic(platform.reader, DISPUTES_EVENTS, quiet_ms=500)
        types = [EventEnvelope.model_validate_json(r.value).event_type for r in records
                 if r.key == dispute_id.encode()]
        return types if until in types else None

    types = await eventually(read, timeout=30, interval=0.5)
    assert types, f"{until} never reached {DISPUTES_EVENTS} for {dispute_id}"
    return types


async def refunds_at_the_provider(platform, order_id) -> list[dict]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{platform.url['payments']}/refunds",
                                  params={"order_reference": order_id})
    return response.json()["data"]


def money(value) -> Decimal:
    return Decimal(str(value))


async def test_1_a_partial_refund_is_agreed_and_paid_exactly_once(platform, parties, order_id):
    buyer, seller = (Party(parties[0].http, parties[0].base, role, f"{role[0].upper()}-{order_id}")
                     for role in ("buyer", "seller"))
    await platform.publish_order(order_id, buyer=buyer.id, seller=seller.id)
    dispute_id = (await buyer.open_dispute(order_id, reason="NOT_AS_DESCRIBED")).json()["id"]
    for _ in range(2):
        await upload(buyer, dispute_id)
    offer_id = await offer(seller, dispute_id, "30.00")
    await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer_id}/accept", expect=200)
    view = await buyer.wait_for(dispute_id, lambda v: money(v["refunded_total"]) == Decimal("30.00"))
    assert (view["status"], view["resolution"]["outcome"], view["resolution"]["resolved_by"]) == (
        "RESOLVED", "AGREED", "AGREEMENT")
    assert money(view["refundable_amount"]) == Decimal("70.00")
    refunds = await refunds_at_the_provider(platform, order_id)
    assert [money(r["amount"]) for r in refunds] == [Decimal("30.00")]
    types = await event_types(platform, dispute_id, until="RefundIssued")
    assert types[:5] == ["DisputeOpened", "EvidenceAdded", "EvidenceAdded", "SellerResponded", "OfferMade"]
    assert types.count("RefundIssued") == 1
    results = [json.loads(r.value) for r in await drain_topic(platform.reader, REFUNDS_EVENTS)
               if r.key == dispute_id.encode()]
    assert [(r["event_type"], money(r["amount"])) for r in results] == [("RefundIssued", Decimal("30.00"))]
    mails = await resolution_mails(platform, [buyer.id, seller.id])
    assert sorted(mail["to"] for mail in mails) == sorted(f"{p.id}@example.invalid" for p in (buyer, seller))


async def resolution_mails(platform, recipients: list[str]) -> list[dict]:
    """The mails in the SMTP sink that tell these recipients their dispute was resolved."""
    addresses = {f"{r}@example.invalid" for r in recipients}

    async def read():
        async with httpx.AsyncClient() as http:
            mails = (await http.get(f"{platform.url['mailbox']}/messages")).json()
        found = [m for m in mails if m["to"] in addresses and "resolved" in m["subject"].lower()]
        return found if len(found) >= len(addresses) else None

    await eventually(read, timeout=30, interval=0.5)
    await asyncio.sleep(1)  # a duplicate mail would arrive right behind the first
    return (await read()) or []


async def test_2_a_seller_who_never_responds_loses_and_cannot_offer_late(platform, parties, order_id):
    buyer, seller, _ = parties
    dispute_id = await opened(platform, buyer, order_id)
    view = await buyer.wait_for(dispute_id, lambda v: v["status"] == "RESOLVED", timeout=WINDOW + 20)
    assert (view["resolution"]["outcome"], view["resolution"]["resolved_by"],
            money(view["resolution"]["refund_amount"])) == ("BUYER_FAVOUR", "TIMEOUT_SELLER",
                                                            Decimal("100.00"))
    late = await seller.post(f"/v1/disputes/{dispute_id}/offers", {"type": "PARTIAL_REFUND", "amount": "10.00"})
    assert (late.status_code, late.json()["code"]) == (409, "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")
    types = await event_types(platform, dispute_id, until="Resolved")
    assert types[:3] == ["DisputeOpened", "DeadlineMissed", "Resolved"]


async def test_3_only_the_current_counter_offer_can_be_accepted(platform, parties, order_id):
    buyer, seller, _ = parties
    dispute_id = await opened(platform, buyer, order_id)
    offer_a = await offer(seller, dispute_id, "20.00")
    await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer_a}/reject",
                     {"counter_offer": {"type": "PARTIAL_REFUND", "amount": "60.00"}}, expect=200)
    offer_c = await offer(seller, dispute_id, "40.00")
    version = (await buyer.dispute(dispute_id))["version"]
    stale = await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer_a}/accept")
    assert (stale.status_code, stale.json()["code"]) == (409, "OFFER_NOT_CURRENT")
    assert (await buyer.dispute(dispute_id))["version"] == version
    view = (await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer_c}/accept", expect=200)).json()
    assert money(view["resolution"]["refund_amount"]) == Decimal("40.00")


async def test_4_the_third_rejected_round_escalates_and_early_escalation_is_refused(
        platform, parties, order_id):
    buyer, seller, _ = parties
    dispute_id = await opened(platform, buyer, order_id)
    early = await buyer.post(f"/v1/disputes/{dispute_id}/escalate")
    assert (early.status_code, early.json()["code"]) == (409, "ESCALATION_NOT_YET_ALLOWED")
    for _ in range(3):
        offer_id = await offer(seller, dispute_id, "10.00")
        view = (await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer_id}/reject", expect=200)).json()
    assert (view["status"], view["escalation"]["trigger"]) == ("UNDER_REVIEW", "MAX_ROUNDS_REACHED")


async def test_5_the_same_key_replays_the_first_answer_and_a_new_key_names_the_dispute(
        platform, parties, order_id):
    buyer, _, _ = parties
    await platform.publish_order(order_id)
    body = {"order_id": order_id, "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND"}
    key = {"Idempotency-Key": f"open-{order_id}"}
    first = await buyer.open_dispute(order_id, headers=key)
    replay = await buyer.post("/v1/disputes", body, **key)
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert (await buyer.dispute(first.json()["id"]))["version"] == first.json()["version"]
    second = await buyer.post("/v1/disputes", body, **{"Idempotency-Key": f"again-{order_id}"})
    assert (second.status_code, second.json()["code"]) == (409, "DISPUTE_ALREADY_EXISTS_FOR_ITEM")
    assert second.json()["existing_dispute_id"] == first.json()["id"]


async def test_5_item_not_received_before_the_promised_date_is_refused(platform, parties, order_id):
    buyer, _, _ = parties
    await platform.publish_order(order_id, delivered=False, promised_in=timedelta(days=3))
    response = await buyer.open_dispute(order_id, expect=422, reason="ITEM_NOT_RECEIVED")
    assert response.json()["code"] == "PROMISED_DELIVERY_NOT_ELAPSED"


async def test_6_a_return_is_shipped_received_and_refunded(platform, parties, order_id):
    buyer, seller, _ = parties
    dispute_id = await opened(platform, buyer, order_id, request="RETURN_AND_REFUND",
                              request_amount="100.00")
    offer_id = await offer(seller, dispute_id, "100.00", kind="RETURN_AND_REFUND")
    view = (await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer_id}/accept", expect=200)).json()
    assert view["status"] == "AWAITING_RETURN_SHIPMENT"
    await buyer.post(f"/v1/disputes/{dispute_id}/return-shipment",
                     {"carrier": "UPS", "tracking_number": "1Z999"}, expect=200)
    await seller.post(f"/v1/disputes/{dispute_id}/return-receipt", {"condition": "ITEM_RECEIVED"}, expect=200)
    view = await buyer.wait_for(dispute_id, lambda v: money(v["refunded_total"]) == Decimal("100.00"))
    assert view["status"] == "RESOLVED" and money(view["refundable_amount"]) == 0
    assert [money(r["amount"]) for r in await refunds_at_the_provider(platform, order_id)] == [Decimal("100.00")]


async def test_7_a_return_not_shipped_in_time_resolves_for_the_seller(platform, parties, order_id):
    buyer, seller, _ = parties
    dispute_id = await opened(platform, buyer, order_id, request="RETURN_AND_REFUND",
                              request_amount="100.00")
    offer_id = await offer(seller, dispute_id, "100.00", kind="RETURN_AND_REFUND")
    await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer_id}/accept", expect=200)
    view = await buyer.wait_for(dispute_id, lambda v: v["status"] == "RESOLVED", timeout=WINDOW + 20)
    assert (view["resolution"]["outcome"], view["resolution"]["resolved_by"],
            money(view["resolution"]["refund_amount"])) == ("SELLER_FAVOUR", "TIMEOUT_BUYER", 0)
    late = await buyer.post(f"/v1/disputes/{dispute_id}/return-shipment",
                            {"carrier": "UPS", "tracking_number": "1Z999"})
    assert (late.status_code, late.json()["code"]) == (409, "RETURN_WINDOW_CLOSED")
    assert await refunds_at_the_provider(platform, order_id) == []


async def test_8_an_empty_box_goes_to_review_and_is_decided_on_what_is_there(platform, parties, order_id):
    buyer, seller, operator = parties
    dispute_id = await opened(platform, buyer, order_id, request="RETURN_AND_REFUND",
                              request_amount="100.00")
    offer_id = await offer(seller, dispute_id, "100.00", kind="RETURN_AND_REFUND")
    await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer_id}/accept", expect=200)
    await buyer.post(f"/v1/disputes/{dispute_id}/return-shipment",
                     {"carrier": "UPS", "tracking_number": "1Z999"}, expect=200)
    photos = [await upload(seller, dispute_id) for _ in range(2)]
    view = (await seller.post(f"/v1/disputes/{dispute_id}/return-receipt",
                              {"condition": "EMPTY_PACKAGE_OR_DIFFERENT", "evidence_ids": photos},
                              expect=200)).json()
    assert (view["status"], view["escalation"]["trigger"], view["resolution"]) == (
        "UNDER_REVIEW", "RETURN_CONDITION_DISPUTED", None)
    await operator.post(f"/v1/disputes/{dispute_id}/evidence-requests", {"from_party": "buyer"}, expect=201)
    await event_types(platform, dispute_id, until="DeadlineMissed")
    view = (await operator.post(f"/v1/disputes/{dispute_id}/decision", {"outcome": "SELLER_FAVOUR"},
                                expect=200)).json()
    assert (view["status"], view["resolution"]["resolved_by"]) == ("RESOLVED", "PLATFORM_DECISION")
    assert await refunds_at_the_provider(platform, order_id) == []


async def test_9_a_withdrawn_dispute_withdraws_its_offers_and_cannot_be_reopened(platform, parties, order_id):
    buyer, seller, _ = parties
    dispute_id = await opened(platform, buyer, order_id, reason="ITEM_NOT_RECEIVED")
    offer_id = await offer(seller, dispute_id, "50.00")
    view = (await buyer.post(f"/v1/disputes/{dispute_id}/withdraw", expect=200)).json()
    assert view["status"] == "WITHDRAWN"
    assert [o["status"] for o in view["offers"] if o["offer_id"] == offer_id] == ["WITHDRAWN"]
    again = await buyer.post("/v1/disputes", {"order_id": order_id, "item_id": "I-1",
                                              "reason": "ITEM_NOT_RECEIVED", "request": "FULL_REFUND"})
    assert (again.status_code, again.json()["code"]) == (409, "DISPUTE_PREVIOUSLY_CLOSED_FOR_ITEM")
    types = await event_types(platform, dispute_id, until="DisputeWithdrawn")
    assert types[-2:] == ["OfferWithdrawn", "DisputeWithdrawn"]
