"""Carrying out refund instructions: check, pay through the provider, record, publish.

Every step can be repeated: the provider call keeps its idempotency key, recording only moves
a PENDING instruction on (or a FAILED one whose outcome was unknown, once the provider tells),
and a re-published result keeps its event id.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable, Protocol

import structlog

from services.common.logging import bound_to_logs
from services.refund.announcements import PublishedMarks
from services.refund.gateway import PaymentProvider, ProviderError
from services.refund.lifecycle import PENDING, TransitionRefused
from services.refund.metrics import RefundMetrics
from services.refund.policy import RefundInstruction
from services.refund.publishing import refund_event
from services.refund.store import Accepted, RefundStore, StoredInstruction

log = structlog.get_logger("refund")
UNKNOWN_PROVIDER_STATUSES = {"pending", "requires_action", "processing"}
"""Provider answers that are not yet a result: the refund may still be paid."""
MARKS_GRACE_SECONDS = 5.0  # a stop waits this long for the marks written behind (as the lanes' grace)


class Publisher(Protocol):
    async def publish(self, event) -> None: ...


class RefundDesk:
    def __init__(self, store: RefundStore, provider: PaymentProvider, publisher: Publisher,
                 after_provider_call: Callable[[], None] = lambda: None,
                 metrics: RefundMetrics | None = None, reservation_lease: float = 0):
        self.store, self.provider, self.publisher = store, provider, publisher
        self.reservation_lease = reservation_lease
        self.metrics = metrics or RefundMetrics()
        self.after_provider_call = after_provider_call
        self.marks = PublishedMarks(store)
        self._in_flight: set[str] = set()
        self._marks_behind: dict[str, asyncio.Task] = {}

    async def pay(self, idempotency_key: str) -> StoredInstruction | None:
        """Bring one instruction to a published result, wherever it stopped before."""
        await self._mark_written(idempotency_key)  # or its result would look unpublished
        stored = await asyncio.to_thread(self.store.instruction, idempotency_key)
        if stored is None:
            return None
        with _bound(stored):
            if stored.state.awaiting_provider:
                stored = await self._settle(stored)
            if stored.state.to_announce:
                # What is stored now, not what this call saw: a late success may have won; and
                # an instruction reopened meanwhile (PENDING again) has no result to announce.
                await self._announce(stored)
        return stored

    async def pay_accepted(self, idempotency_key: str, accepted: Accepted | None) -> StoredInstruction | None:
        """The consumer's path: an instruction `accept_resolution` has just written, holding its
        amount (or refused by the ceiling), is paid and announced without being read back; a
        redelivered one (None: handled before) is driven from what is stored, as `pay` does."""
        if accepted is None:
            return await self.pay(idempotency_key)
        stored = accepted.stored
        with _bound(stored):
            if accepted.refusal is not None:
                self.metrics.ceiling_refusals.labels(reason=accepted.refusal.reason).inc()
                self._count_failed(stored, accepted.refusal.reason, accepted.refusal.retryable)
            elif accepted.order_id is None:  # refusal_for refuses an instruction without terms
                raise RuntimeError(f"no order terms for dispute {stored.dispute_id}")
            else:
                stored = await self._settle_reserved(stored, accepted.order_id)
            if stored.state.to_announce:
                await self._announce(stored, mark_behind=True)
        return stored

    async def _announce(self, stored: StoredInstruction, mark_behind: bool = False) -> None:
        """Publish the result, then mark it published. `mark_behind` (the consumer's path):
        return once Kafka has it and write the mark behind, with the marks of the other lanes
        (`marks_written` waits for them). Its record may then be committed before its mark:
        nothing is lost by that, as the store still says "not published" until the mark is
        written, and the reconcile (at start-up, and every `REFUND_RECONCILE_INTERVAL`) publishes
        such a result again under the same event id, a duplicate every consumer ignores. The
        mark was a third of a refund's time in its lane (p50 63 of ~190 ms at 200/s), its slot held."""
        await self.publisher.publish(refund_event(stored))
        if not mark_behind:
            await self._mark(stored)
            return
        key = stored.idempotency_key
        task = asyncio.create_task(self._mark_behind(stored))
        self._marks_behind[key] = task
        task.add_done_callback(lambda done: self._marks_behind.pop(key, None)
                               if self._marks_behind.get(key) is done else None)

    async def _mark(self, stored: StoredInstruction) -> None:
        if await self.marks.mark(stored) is None:
            # moved since it was read (a late success, a reopening): decided again from the store
            await asyncio.to_thread(self.store.mark_published, stored.idempotency_key,
                                    stored.attempt, stored.status)

    async def _mark_behind(self, stored: StoredInstruction) -> None:
        # in flight meanwhile: the periodic reconcile leaves it alone (it is published already)
        self._in_flight.add(stored.idempotency_key)
        try:
            await self._mark(stored)
        except Exception as error:  # the database away: the reconcile publishes it again
            log.warning("refund_published_mark_failed", idempotency_key=stored.idempotency_key,
                        error=repr(error)[:300])
        finally:
            self._in_flight.discard(stored.idempotency_key)

    async def marks_written(self, grace: float = MARKS_GRACE_SECONDS) -> None:
        """Wait for the marks written behind (at shutdown, before the publisher stops), at most
        `grace` seconds: a database that stopped answering would hold the stop for ever, and a
        mark given up loses nothing (its result is published again under the same event id by
        the next reconcile)."""
        deadline = asyncio.get_running_loop().time() + grace
        while self._marks_behind:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                log.warning("refund_published_marks_left", marks=len(self._marks_behind))
                return
            await asyncio.wait(list(self._marks_behind.values()), timeout=left)

    async def _mark_written(self, idempotency_key: str) -> None:
        """A redelivered record (the same resolution twice in a row) waits for its result's
        mark behind: read before it, the result would be published a second time."""
        task = self._marks_behind.get(idempotency_key)
        if task is not None:
            await asyncio.wait([task])  # never cancels the mark when this caller is cancelled

    async def reconcile(self, older_than: float = 0) -> int:
        """Finish what a crash interrupted and ask the provider again about refunds whose outcome
        is unknown (it replays the first result for the key). At start-up everything; from the
        periodic loop only instructions untouched for `older_than` seconds, so one still being
        paid by a consumer is left to it. Never a PENDING instruction reserved less than
        `reservation_lease` seconds ago: another replica may be calling the provider for it
        right now, and a second call under its key while the first is in flight could fail and
        announce a RefundFailed for a refund being paid. A holder that died leaves it to be
        driven once the lease has passed."""
        keys = await asyncio.to_thread(self.store.pending_keys, older_than, self.reservation_lease)
        keys += await asyncio.to_thread(self.store.unknown_outcome_keys, older_than)
        keys += await asyncio.to_thread(self.store.unpublished_keys, older_than)
        keys = [key for key in dict.fromkeys(keys) if key not in self._in_flight]
        driven = 0
        for key in keys:
            # Looked at again when its turn comes: paying the ones before may take seconds
            # each, and another replica may have reserved this one meanwhile.
            if await asyncio.to_thread(self._reserved_by_a_live_holder, key):
                continue
            await self.pay(key)
            driven += 1
        log.info("refunds_reconciled", instructions=driven)
        return driven

    def _reserved_by_a_live_holder(self, idempotency_key: str) -> bool:
        stored = self.store.instruction(idempotency_key)
        if stored is None or stored.status != PENDING or not stored.reserved or stored.reserved_at is None:
            return False
        age = (datetime.now(timezone.utc) - stored.reserved_at).total_seconds()
        return age < self.reservation_lease

    async def retry(self, idempotency_key: str) -> StoredInstruction | None:
        """An operator's second try with the same idempotency key: a FAILED refund is reopened;
        a PENDING one (a retry or a service killed midway) is simply driven again."""
        stored = await asyncio.to_thread(self.store.instruction, idempotency_key)
        if stored is not None and stored.status == PENDING:
            log.info("refund_pending_driven_again", idempotency_key=idempotency_key)
            return await self.pay(idempotency_key)
        if not await asyncio.to_thread(self.store.reopen, idempotency_key):
            log.warning("refund_not_retryable", idempotency_key=idempotency_key)
            return await asyncio.to_thread(self.store.instruction, idempotency_key)
        return await self.pay(idempotency_key)

    async def _settle(self, stored: StoredInstruction) -> StoredInstruction:
        self._in_flight.add(stored.idempotency_key)
        settled = None
        try:
            # A held reservation may already be paid at the provider: ask again, never re-check
            # the ceiling (a refusal now would release money that may be gone).
            refusal = None if stored.reserved else await asyncio.to_thread(
                self.store.reserve, _instruction(stored))
            if refusal is not None:
                self.metrics.ceiling_refusals.labels(reason=refusal.reason).inc()
                await self._record_failed(stored, refusal.reason, refusal.retryable)
            else:
                terms = await asyncio.to_thread(self.store.terms, stored.dispute_id)
                if terms is None:  # refusal_for refuses an instruction without terms
                    raise RuntimeError(f"no order terms for dispute {stored.dispute_id}")
                settled = await self._call_provider(replace(stored, reserved=True), terms.order_id)
        except TransitionRefused as refused:  # another replica settled it meanwhile
            log.info("refund_settled_elsewhere", transition=refused.transition,
                     status=refused.state.status)
        finally:
            self._in_flight.discard(stored.idempotency_key)
        return settled or await self._read_back(stored.idempotency_key)

    async def _settle_reserved(self, stored: StoredInstruction, order_reference: str) -> StoredInstruction:
        self._in_flight.add(stored.idempotency_key)
        try:
            settled = await self._call_provider(stored, order_reference)
        finally:
            self._in_flight.discard(stored.idempotency_key)
        return settled or await self._read_back(stored.idempotency_key)

    async def _read_back(self, idempotency_key: str) -> StoredInstruction:
        settled = await asyncio.to_thread(self.store.instruction, idempotency_key)
        if settled is None:  # instructions are never deleted while they are being paid
            raise RuntimeError(f"refund instruction {idempotency_key} vanished")
        return settled

    async def _call_provider(self, stored: StoredInstruction, order_reference: str) -> StoredInstruction | None:
        """Ask the provider (`stored`: the reserved state this process left it in) and record its
        answer: the instruction as recorded when that took one statement, else None (read it)."""
        try:
            result = await self.provider.refund(
                idempotency_key=stored.idempotency_key, amount=stored.amount,
                currency=stored.currency, order_reference=order_reference,
                metadata={"dispute_id": stored.dispute_id, "refund_id": stored.refund_id})
        except ProviderError as error:
            self.after_provider_call()
            if not error.retryable:
                await self._record_refused(stored, error.reason)
                return None
            # Timeouts, broken connections, 5xx: the provider may have paid. The reservation
            # stays and the periodic reconcile asks again with the same key.
            await self._record_failed(stored, error.reason, retryable=True)
            return None
        self.after_provider_call()
        if result.status in UNKNOWN_PROVIDER_STATUSES:
            await self._record_failed(stored, f"PROVIDER_STATUS_{result.status.upper()}", True)
            return None
        if result.status != "succeeded":
            await self._record_refused(stored, f"PROVIDER_STATUS_{result.status.upper()}")
            return None
        settled = await asyncio.to_thread(self.store.issued_from, stored, result.reference)
        if settled is None:  # moved meanwhile (another replica recorded a failure): decide again
            await asyncio.to_thread(self.store.record_issued, stored.idempotency_key, result.reference)
        self.metrics.issued.inc()
        log.info("refund_issued", amount=str(stored.amount), currency=stored.currency,
                 provider_reference=result.reference)
        return settled

    async def _record_failed(self, stored: StoredInstruction, reason: str, retryable: bool) -> None:
        await asyncio.to_thread(self.store.record_failed, stored.idempotency_key, reason, retryable)
        self._count_failed(stored, reason, retryable)

    def _count_failed(self, stored: StoredInstruction, reason: str, retryable: bool) -> None:
        self.metrics.failed.labels(reason=reason, retryable=str(retryable).lower()).inc()
        log.warning("refund_failed", amount=str(stored.amount), reason=reason, retryable=retryable)

    async def _record_refused(self, stored: StoredInstruction, reason: str) -> None:
        await asyncio.to_thread(self.store.record_refused, stored.idempotency_key, reason)
        self.metrics.failed.labels(reason=reason, retryable="false").inc()
        log.warning("refund_refused", amount=str(stored.amount), reason=reason, retryable=False)


def _bound(stored: StoredInstruction):
    return bound_to_logs(
        dispute_id=stored.dispute_id, event_id=stored.cause_event_id,
        correlation_id=stored.correlation_id, refund_id=stored.refund_id)


def _instruction(stored: StoredInstruction) -> RefundInstruction:
    return RefundInstruction(dispute_id=stored.dispute_id, idempotency_key=stored.idempotency_key,
                             amount=stored.amount, currency=stored.currency,
                             cause_event_id=stored.cause_event_id)
