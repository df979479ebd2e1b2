"""A steady open-loop load: `rate` whole dispute lifecycles start every second whatever the
system's state (a lifecycle does not wait for the one before), each on its own order published
on orders.events first, every command sent the way DisputeClient sends it."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaProducer

from services.common.kafka import KafkaConnection, idempotent_producer
from contracts.orders import OrderRefunded
from contracts.topics import ORDERS_EVENTS
from tools.chaos.client import Ack, Answers, DisputeClient, version_of
from tools.dev import sample_order

# A 1x1 PNG: evidence is typed from its first bytes.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
KINDS = ("claim_accepted", "offer_accepted", "counter_accepted", "decided_and_closed", "appealed",
         "withdrawn", "seller_silent")
OPERATOR = "OP-chaos"
OUTSIDE = Decimal("10.00")  # refunded by the order service itself on every third order


@dataclass
class Orders:
    """The upstream order service: publishes each order until Kafka took it (the broker may be
    restarting); a record published twice keeps its event id, which consumers de-duplicate.
    One producer for every lifecycle; a new one (under a lock) once the broker failed it."""
    connection: KafkaConnection
    producer: AIOKafkaProducer | None = None
    published: int = 0
    retried: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def publish(self, order_id: str, buyer: str, seller: str, outside: Decimal | None = None) -> None:
        """The order (paid 100.00, delivered) and, with `outside`, a refund the order service
        made itself, outside any dispute."""
        events = sample_order(order_id, buyer, seller)
        if outside:
            events.append(OrderRefunded(event_id=uuid4(), order_id=order_id, amount=outside,
                                        refunded_at=datetime.now(timezone.utc)))
        for event in events:
            while True:
                producer = None
                try:
                    producer = await self._started()
                    await asyncio.wait_for(producer.send_and_wait(
                        ORDERS_EVENTS, event.model_dump_json().encode(), key=order_id.encode()), 30)
                    break
                except Exception:  # the broker is away: a new producer once it is back
                    self.retried += 1
                    await self._drop(producer)
                    await asyncio.sleep(1)
        self.published += 1

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self.producer is None:
                producer = idempotent_producer(self.connection, "chaos-orders")
                try:
                    await asyncio.wait_for(producer.start(), 30)
                except BaseException:
                    await _stop_quietly(producer)
                    raise
                self.producer = producer
            return self.producer

    async def _drop(self, failed: AIOKafkaProducer | None) -> None:
        async with self._lock:
            if failed is not None and failed is self.producer:
                self.producer = None
                await _stop_quietly(failed)

    async def close(self) -> None:
        await self._drop(self.producer)


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 5)
    except Exception:
        pass


class Lifecycle:
    def __init__(self, n: int, run_id: str, client: DisputeClient, orders: Orders, seller_window: float):
        self.n, self.kind = n, KINDS[n % len(KINDS)]
        self.order_id = f"O-chaos-{run_id}-{n}"
        self.buyer, self.seller = f"B-chaos-{n}", f"S-chaos-{n}"
        self.client, self.orders, self.seller_window = client, orders, seller_window
        self.dispute_id = ""
        self.finished = False
        # Not for a silent seller: its deadline runs out whether or not the outside refund has
        # reached the dispute (a broker restart can hold the refund back longer), and an award
        # made before it is refused by the refund ceiling, rightly: no overpayment, no payment.
        self.outside = OUTSIDE if n % 3 == 0 and self.kind != "seller_silent" else None

    async def run(self) -> None:
        await self.orders.publish(self.order_id, self.buyer, self.seller, self.outside)
        opened = await self.client.command("buyer", self.buyer, "/v1/disputes", {
            "order_id": self.order_id, "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND"},
            retry_codes=("ORDER_NOT_FOUND",))  # the dispute service has not read the order yet
        if opened is None:
            return
        self.dispute_id = opened["id"]
        self._ack("open", opened, "DisputeOpened")
        if self.outside and not await self._outside_refund_known(opened):
            return
        self.finished = await getattr(self, self.kind)()

    async def _outside_refund_known(self, view: dict) -> bool:
        """The refund outside the dispute may reach the dispute just after the order did: the
        parties act once it counts (else the ledger could not tell an overpayment from a race
        the order service made)."""
        deadline, outside = time.monotonic() + self.client.retry_for, self.outside or Decimal(0)
        while Decimal(str(view["refundable_amount"])) != Decimal("100.00") - outside:
            if time.monotonic() > deadline:
                self.client.answers.gave_up.append(f"{self.dispute_id}: the outside refund never counted")
                return False
            await asyncio.sleep(0.5)
            view = await self.client.get(f"/v1/disputes/{self.dispute_id}", "buyer", self.buyer) or view
        return True

    async def _do(self, role: str, action: str, event: str, body: dict | None = None,
                  item: tuple[str, str] | None = None, files: dict | None = None) -> dict | None:
        sub = {"buyer": self.buyer, "seller": self.seller, "operator": OPERATOR}[role]
        answer = await self.client.command(role, sub, f"/v1/disputes/{self.dispute_id}/{action}",
                                           body, files=files)
        if answer is not None:
            item_id = answer[item[0]][item[1]] if item else _item_in_path(action)
            self._ack(action, answer, event, item_id)
        return answer

    def _ack(self, action: str, answer: dict, event: str, item_id: str | None = None) -> None:
        parts = action.split("/")  # offers/<id>/accept is counted as offers/accept
        label = f"{parts[0]}/{parts[2]}" if len(parts) == 3 else action
        self.client.answers.acks.append(Ack(self.dispute_id, label, version_of(answer), event, item_id))

    async def claim_accepted(self) -> bool:
        return await self._do("seller", "accept-claim", "ClaimAccepted") is not None

    async def offer_accepted(self) -> bool:
        offer = await self._do("seller", "offers", "OfferMade", {"type": "PARTIAL_REFUND", "amount": "30.00"},
                               item=("offer", "offer_id"))
        return offer is not None and await self._do(
            "buyer", f"offers/{offer['offer']['offer_id']}/accept", "OfferAccepted") is not None

    async def counter_accepted(self) -> bool:
        offer = await self._do("seller", "offers", "OfferMade", {"type": "PARTIAL_REFUND", "amount": "20.00"},
                               item=("offer", "offer_id"))
        if offer is None:
            return False
        view = await self._do("buyer", f"offers/{offer['offer']['offer_id']}/reject", "OfferRejected",
                              {"counter_offer": {"type": "PARTIAL_REFUND", "amount": "60.00"}})
        return view is not None and await self._do(
            "seller", f"offers/{view['current_offer_id']}/accept", "OfferAccepted") is not None

    async def decided_and_closed(self) -> bool:
        return (await self._do("buyer", "messages", "MessagePosted", {"text": "the box was crushed"},
                               item=("message", "message_id")) is not None
                and await self._do("buyer", "escalate", "Escalated") is not None
                and await self._do("operator", "decision", "Resolved",
                                   {"outcome": "PARTIAL", "refund_amount": "45.00"}) is not None
                and await self._do("operator", "close", "DisputeClosed") is not None)

    async def appealed(self) -> bool:
        """Decided for the seller; the buyer appeals with new evidence; the appeal awards 40."""
        if (await self._do("buyer", "escalate", "Escalated") is None
                or await self._do("operator", "decision", "Resolved", {"outcome": "SELLER_FAVOUR"}) is None):
            return False
        evidence = await self._do("buyer", "evidence", "EvidenceAdded", item=("evidence", "evidence_id"),
                                  files={"file": ("photo.png", PNG, "image/png")})
        if evidence is None:
            return False
        appeal = await self._do("buyer", "appeals", "Appealed",
                                {"evidence_ids": [evidence["evidence"]["evidence_id"]], "reason": "see photo"},
                                item=("appeal", "appeal_id"))
        return appeal is not None and await self._do(
            "operator", f"appeals/{appeal['appeal']['appeal_id']}/decision", "AppealDecided",
            {"outcome": "OVERTURNED", "extra_refund": "40.00"}) is not None

    async def withdrawn(self) -> bool:
        return (await self._do("seller", "messages", "MessagePosted", {"text": "did you ask the neighbours?"},
                               item=("message", "message_id")) is not None
                and await self._do("buyer", "withdraw", "DisputeWithdrawn") is not None)

    async def seller_silent(self) -> bool:
        """The seller never answers: the deadline worker resolves the dispute for the buyer."""
        deadline = time.monotonic() + self.seller_window + self.client.retry_for
        while time.monotonic() < deadline:
            await asyncio.sleep(2)
            view = await self.client.get(f"/v1/disputes/{self.dispute_id}", "buyer", self.buyer)
            if view is not None and view["status"] != "AWAITING_SELLER_RESPONSE":
                return view["status"] == "RESOLVED"
        self.client.answers.gave_up.append(f"{self.dispute_id}: the seller's deadline never fired")
        return False


def _item_in_path(action: str) -> str | None:
    """offers/<id>/accept, appeals/<id>/decision: the item the command acted on."""
    parts = action.split("/")
    return parts[1] if len(parts) == 3 else None


@dataclass
class Load:
    client: DisputeClient
    orders: Orders
    rate: float
    run_id: str
    seller_window: float
    lifecycles: list[Lifecycle] = field(default_factory=list)
    tasks: list[asyncio.Task] = field(default_factory=list)

    async def run_for(self, seconds: float) -> None:
        """Start lifecycles on a fixed schedule (open loop) for `seconds`."""
        started, n = time.monotonic(), 0
        while (due := started + n / self.rate) < started + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            lifecycle = Lifecycle(n, self.run_id, self.client, self.orders, self.seller_window)
            self.lifecycles.append(lifecycle)
            self.tasks.append(asyncio.create_task(lifecycle.run()))
            n += 1

    @property
    def in_flight(self) -> int:
        return sum(1 for task in self.tasks if not task.done())

    async def finish(self, timeout: float, say) -> None:
        """Wait for the lifecycles under way (they retry through outages), with progress."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            say(f"  load: {self.in_flight} lifecycles still under way")
            await asyncio.wait([t for t in self.tasks if not t.done()], timeout=5)
        for task in self.tasks:
            if not task.done():
                task.cancel()
        for task in self.tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception) as error:
                self.client.answers.gave_up.append(f"lifecycle stopped: {error!r}")


def new_client(http: httpx.AsyncClient, base_url: str, secret: str, retry_for: float) -> DisputeClient:
    return DisputeClient(http, base_url, secret, Answers(), retry_for)
