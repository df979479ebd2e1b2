"""The correlation id a caller sends with an HTTP command travels with the events it causes:
through `disputes.events` into the notification and refund services' log lines, and through
`refunds.events` back into the dispute service's, each line naming the dispute and the event."""

from __future__ import annotations

import json
from uuid import uuid4

import httpx
import pytest

from tests.support.dispute_api import Party
from tests.support.kafka import eventually

pytestmark = pytest.mark.e2e


def json_lines(path) -> list[dict]:
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                pass
    return found


async def lines_with(system, service: str, correlation_id: str, event: str) -> list[dict]:
    def matching() -> list[dict]:
        return [line for line in json_lines(system.log_dir / f"{service}.log")
                if line.get("correlation_id") == correlation_id and line.get("event") == event]

    return await eventually(matching, timeout=40, interval=0.5) or []


async def test_the_callers_correlation_id_reaches_every_consumer_with_the_dispute_and_event(system):
    accept_id = f"corr-{uuid4().hex[:12]}"
    order_id = f"O-{uuid4().hex[:8]}"
    await system.publish_order(order_id)
    async with httpx.AsyncClient(timeout=15) as http:
        base = system.url["dispute"]
        buyer, seller = Party(http, base, "buyer", "B-1"), Party(http, base, "seller", "S-1")
        dispute_id = (await buyer.open_dispute(order_id)).json()["id"]
        offer = await seller.post(f"/v1/disputes/{dispute_id}/offers",
                                  {"type": "PARTIAL_REFUND", "amount": "25.00"}, expect=201)
        await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer.json()['offer']['offer_id']}/accept",
                         expect=200, **{"X-Correlation-ID": accept_id})
    consumed = {"notification": await lines_with(system, "notification", accept_id, "notified"),
                "refund": await lines_with(system, "refund", accept_id, "refund_issued"),
                "dispute": await lines_with(system, "dispute", accept_id, "refund_result_recorded")}
    for service, lines in consumed.items():
        assert lines, f"no {service} line carries {accept_id}"
        assert all(line["dispute_id"] == dispute_id and line.get("event_id") for line in lines), (service, lines)
