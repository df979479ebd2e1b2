"""Whole dispute lifecycles driven over HTTP, each command to the other API process in turn."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from uuid import uuid4

import httpx

from tests.e2e.conftest import System
from tests.support.dispute_api import Party

CONFLICT_RETRIES = 10


class Lifecycle:
    """One dispute on its own order, every command sent to the next API process in turn."""

    def __init__(self, fleet: System, http: httpx.AsyncClient, n: int):
        self.n, self.order_id = n, f"O-two-{n}-{uuid4().hex[:6]}"
        self.apis = itertools.cycle([fleet.url["dispute-1"], fleet.url["dispute-2"]][n % 2:] +
                                    [fleet.url["dispute-1"], fleet.url["dispute-2"]][:n % 2])
        self.http, self.fleet = http, fleet
        self.buyer, self.seller = f"B-two-{n}", f"S-two-{n}"
        self.dispute_id, self.conflicts = "", 0

    def party(self, role: str) -> Party:
        sub = {"buyer": self.buyer, "seller": self.seller, "operator": "OP-two"}[role]
        return Party(self.http, next(self.apis), role, sub)

    async def command(self, role: str, action: str, body: dict | None = None) -> dict:
        """As a client should: a lost race (409 CONCURRENCY_CONFLICT, e.g. against a refund
        result being recorded) is retried with the same Idempotency-Key, on the other API."""
        key = {"Idempotency-Key": str(uuid4())}
        for _ in range(CONFLICT_RETRIES):
            response = await self.party(role).post(f"/v1/disputes/{self.dispute_id}/{action}",
                                                   body, expect=None, **key)
            if response.status_code != 409 or response.json()["code"] != "CONCURRENCY_CONFLICT":
                break
            self.conflicts += 1
            await asyncio.sleep(0.1)
        assert response.status_code in (200, 201), f"{self.n} {action}: {response.text}"
        return response.json()

    async def run(self) -> Decimal:
        """Drives the lifecycle of kind n % 5; returns the refund it awards."""
        await self.fleet.publish_order(self.order_id, buyer=self.buyer, seller=self.seller)
        self.dispute_id = (await self.party("buyer").open_dispute(self.order_id)).json()["id"]
        return await [self.claim_accepted, self.offer_accepted, self.counter_accepted,
                      self.decided_and_closed, self.withdrawn][self.n % 5]()

    async def claim_accepted(self) -> Decimal:
        await self.command("seller", "accept-claim")
        return Decimal("100.00")

    async def offer_accepted(self) -> Decimal:
        offer = (await self.command("seller", "offers", {"type": "PARTIAL_REFUND", "amount": "30.00"}))
        await self.command("buyer", f"offers/{offer['offer']['offer_id']}/accept")
        return Decimal("30.00")

    async def counter_accepted(self) -> Decimal:
        offer = await self.command("seller", "offers", {"type": "PARTIAL_REFUND", "amount": "20.00"})
        view = await self.command("buyer", f"offers/{offer['offer']['offer_id']}/reject",
                                  {"counter_offer": {"type": "PARTIAL_REFUND", "amount": "60.00"}})
        await self.command("seller", f"offers/{view['current_offer_id']}/accept")
        return Decimal("60.00")

    async def decided_and_closed(self) -> Decimal:
        await self.command("buyer", "messages", {"text": "the box was crushed"})
        await self.command("buyer", "escalate")
        await self.command("operator", "decision", {"outcome": "PARTIAL", "refund_amount": "45.00"})
        await self.command("operator", "close")
        return Decimal("45.00")

    async def withdrawn(self) -> Decimal:
        await self.command("seller", "messages", {"text": "did you check with the neighbours?"})
        await self.command("buyer", "withdraw")
        return Decimal("0")


async def drive(lifecycles: list[Lifecycle], at_once: int = 8) -> dict[str, Decimal]:
    gate = asyncio.Semaphore(at_once)

    async def one(lifecycle: Lifecycle) -> Decimal:
        async with gate:
            return await lifecycle.run()

    awards = await asyncio.gather(*(one(lifecycle) for lifecycle in lifecycles))
    return {lifecycle.dispute_id: award for lifecycle, award in zip(lifecycles, awards)}
