"""What the refund service believes of a dispute event before it acts on it.

Anyone able to produce on `disputes.events` could write a DisputeOpened and a Resolved, so a
resolution is paid only when the dispute was opened (a DisputeOpened was seen) and its terms
agree with the order as the refund service learned it from `orders.events`. Anything else is
`Untrusted`: dead-lettered with its reason and counted in
`refund_untrusted_resolutions_total{reason}`, for operators to alert on.

The two topics are consumed apart, so a resolution may arrive before its order's OrderPlaced
(normally not: a dispute is opened only on an order the dispute service already knows). Such a
resolution is redelivered (`RetryLater`) for up to `unknown_order_wait` seconds from when it was
first seen, then dead-lettered as ORDER_UNKNOWN. While it waits, the records behind it on its
partition wait too.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Callable, NoReturn

import structlog
from prometheus_client import CollectorRegistry, Counter

from services.common.consumers import RetryLater
from services.refund.policy import ORDER_UNKNOWN, RefundInstruction, distrust
from services.refund.store import Distrusted, RefundStore

log = structlog.get_logger("refund.trust")
DEFAULT_UNKNOWN_ORDER_WAIT = 120.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Untrusted(Exception):
    """A record the refund service will not act on; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class TrustMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.untrusted = Counter(
            "refund_untrusted_resolutions", "Dispute events refused and dead-lettered because "
            "they disagree with the refund service's own facts", ["reason"], registry=self.registry)
        self.contradicting_orders = Counter(
            "refund_contradicting_orders", "OrderPlaced events refused because they contradict "
            "a known order", registry=self.registry)


class TrustGate:
    def __init__(self, store: RefundStore, metrics: TrustMetrics,
                 unknown_order_wait: float = DEFAULT_UNKNOWN_ORDER_WAIT,
                 now: Callable[[], datetime] = utc_now):
        self.store, self.metrics = store, metrics
        self.unknown_order_wait, self.now = unknown_order_wait, now

    async def check_resolution(self, event_id: str, instruction: RefundInstruction) -> None:
        """Return when the resolution may be recorded for payment; raise `Untrusted` when it
        must not be, or `RetryLater` while its order may still arrive."""
        terms, order = await asyncio.to_thread(self.store.order_of, instruction.dispute_id)
        reason = distrust(instruction, terms, order)
        if reason is not None:
            await self.refuse(event_id, instruction, Distrusted(reason, terms))

    async def refuse(self, event_id: str, instruction: RefundInstruction, refusal: Distrusted) -> NoReturn:
        """What a distrusted resolution becomes (always raises): `RetryLater` while its order
        may still arrive, else `Untrusted`."""
        terms = refusal.terms
        if refusal.reason == ORDER_UNKNOWN and terms is not None:  # known terms, their order not yet
            await self._wait_for_order(event_id, terms.order_id)
        raise Untrusted(refusal.reason, f"dispute {instruction.dispute_id}, order "
                                        f"{terms.order_id if terms else 'unknown'}")

    async def _wait_for_order(self, event_id: str, order_id: str) -> NoReturn:
        now = self.now()
        since = await asyncio.to_thread(self.store.awaiting_order_since, event_id, now)
        waited = (now - since).total_seconds()
        if waited >= self.unknown_order_wait:
            raise Untrusted(ORDER_UNKNOWN, f"no OrderPlaced for order {order_id} "
                                           f"after {waited:.0f} s")
        log.info("resolution_awaits_its_order", order_id=order_id, waited_seconds=round(waited, 1))
        raise RetryLater(f"order {order_id} not known yet")

    def count(self, refusal: Untrusted) -> None:
        self.metrics.untrusted.labels(reason=refusal.reason).inc()
