"""What the load is made of: orders on `orders.events`, disputes opened over HTTP, and the
command requests (vegeta targets), each with its own buyer's or seller's token and a distinct
Idempotency-Key.

Every principal stays far inside the API's write limit per principal (10/s, burst 60, the
deployed defaults): the load is many users, not one client hammering.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Awaitable, Callable, Iterator, Sequence
from uuid import uuid4

import httpx

from benchmarks.vegeta import Target
from contracts.orders import OrderDelivered, OrderItem, OrderPlaced
from contracts.topics import ORDERS_EVENTS
from services.common.auth import DEV_SECRET, issue_token
from services.common.kafka import KafkaConnection, idempotent_producer

ITEM = "I-1"


@dataclass(frozen=True)
class Party:
    role: str
    id: str
    token: str

    def headers(self, idempotency_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key}


def party(role: str, sub: str) -> Party:
    """A token of the local mode the services run in (the development secret, 3 hours)."""
    return Party(role, sub, issue_token(DEV_SECRET, role, sub, ttl=timedelta(hours=3)))


@dataclass(frozen=True)
class Case:
    """One order and the dispute its buyer opens on it."""

    order_id: str
    buyer: Party
    seller: Party
    dispute_id: str = ""


def cases(prefix: str, count: int, sellers: int) -> list[Case]:
    seller_parties = [party("seller", f"S-{prefix}-{n}") for n in range(sellers)]
    return [Case(f"O-{prefix}-{n}", party("buyer", f"B-{prefix}-{n}"), seller_parties[n % sellers])
            for n in range(count)]


def order_events(case: Case, now: datetime) -> list:
    """Paid 10 days ago, promised 3 days ago, delivered 2 days ago: any reason may be filed."""
    return [OrderPlaced(event_id=uuid4(), order_id=case.order_id, buyer_id=case.buyer.id,
                        seller_id=case.seller.id, currency="USD",
                        items=[OrderItem(item_id=ITEM, amount=Decimal("100.00"))],
                        total_amount=Decimal("100.00"), placed_at=now - timedelta(days=10),
                        promised_delivery_date=now - timedelta(days=3)),
            OrderDelivered(event_id=uuid4(), order_id=case.order_id, delivered_at=now - timedelta(days=2))]


async def publish_orders(connection: KafkaConnection, all_cases: Sequence[Case]) -> dict[str, tuple[int, int]]:
    """As the upstream order service (its own principal), pipelined: per order, the partition
    and offset of its last record (an open can wait for the dispute service to have read it)."""
    producer = idempotent_producer(connection, "bench-orders")
    await producer.start()
    try:
        now = datetime.now(timezone.utc)
        orders = [case.order_id for case in all_cases for _ in order_events(case, now)]
        sent = [await producer.send(ORDERS_EVENTS, event.model_dump_json().encode(),
                                    key=case.order_id.encode())
                for case in all_cases for event in order_events(case, now)]
        return last_records(orders, await asyncio.gather(*sent))
    finally:
        await producer.stop()


def last_records(orders: Sequence[str], published: Sequence) -> dict[str, tuple[int, int]]:
    """Per order id, (partition, offset) of its last record; `published[n]` (partition,
    offset metadata) is the record of `orders[n]` (an order's records share its key's partition)."""
    last: dict[str, tuple[int, int]] = {}
    for order_id, record in zip(orders, published, strict=True):
        last[order_id] = max(last.get(order_id, (record.partition, -1)), (record.partition, record.offset))
    return last


async def open_disputes(api: str, all_cases: Sequence[Case], concurrency: int = 16,
                        timeout: float = 180.0,
                        order_read: Callable[[Case], Awaitable[None]] | None = None) -> list[Case]:
    """Each buyer opens FULL_REFUND on their item (once `order_read(case)` returned: the API has
    its order), retried while the API has not yet read the order from Kafka (ORDER_NOT_FOUND)
    or asks to slow down (429, 503), or the connection broke."""
    limit = asyncio.Semaphore(concurrency)
    deadline = asyncio.get_running_loop().time() + timeout
    body = {"item_id": ITEM, "reason": "DAMAGED", "request": "FULL_REFUND", "description": "bench"}

    async def open_one(http: httpx.AsyncClient, case: Case) -> Case:
        if order_read is not None:
            await order_read(case)  # outside the limit: the opens whose order is known go first
        async with limit:
            while True:
                try:
                    response = await http.post(f"{api}/v1/disputes", json={**body, "order_id": case.order_id},
                                               headers=case.buyer.headers(f"open-{case.order_id}"))
                except httpx.TransportError:
                    # a pooled connection the server closed as it sat idle (uvicorn's 5 s
                    # keep-alive) while this open waited for its order: the same request again
                    # on a new one is safe (the same Idempotency-Key replays a recorded open)
                    if asyncio.get_running_loop().time() > deadline:
                        raise
                    await asyncio.sleep(0.1)
                    continue
                if response.status_code == 201:
                    return Case(case.order_id, case.buyer, case.seller, response.json()["id"])
                retry = response.status_code in (429, 503) or (
                    response.status_code == 422 and response.json().get("code") == "ORDER_NOT_FOUND")
                if not retry or asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"opening a dispute on {case.order_id}: "
                                       f"{response.status_code} {response.text[:300]}")
                await asyncio.sleep(0.3)

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as http:
        return list(await asyncio.gather(*(open_one(http, case) for case in all_cases)))


def message_targets(api: str, opened: Sequence[Case], count: int, phase: str) -> Iterator[Target]:
    """`count` messages, round robin over the disputes, each by the dispute's buyer."""
    for n in range(count):
        case = opened[n % len(opened)]
        yield Target("POST", f"{api}/v1/disputes/{case.dispute_id}/messages",
                     case.buyer.headers(f"{phase}-{n}"),
                     json.dumps({"text": f"any news on my parcel? ({n})"}).encode())


def accept_claim_targets(api: str, opened: Sequence[Case], phase: str) -> Iterator[Target]:
    """The seller accepts each claim (FULL_REFUND): Resolved, then a refund of 100.00."""
    for n, case in enumerate(opened):
        yield Target("POST", f"{api}/v1/disputes/{case.dispute_id}/accept-claim",
                     case.seller.headers(f"{phase}-{n}"), b"{}")


def health_targets(api: str) -> Iterator[Target]:
    yield Target("GET", f"{api}/healthz", {})


def dispute_of(url: str) -> str:
    """The dispute id in a command's URL (/v1/disputes/<id>/...)."""
    return url.split("/v1/disputes/", 1)[1].split("/", 1)[0]
