"""Carrying out refund instructions: check, pay through the provider, record, publish.

Every step can be repeated: the provider call keeps its idempotency key, recording only moves
a PENDING instruction on, and a re-published result keeps its event id.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Protocol

import structlog

from services.refund.gateway import PaymentProvider, ProviderError
from services.refund.policy import RefundInstruction
from services.refund.publishing import refund_event
from services.refund.store import PENDING, RefundStore, StoredInstruction

log = structlog.get_logger("refund")


class Publisher(Protocol):
    async def publish(self, event) -> None: ...


class RefundDesk:
    def __init__(self, store: RefundStore, provider: PaymentProvider, publisher: Publisher,
                 after_provider_call: Callable[[], None] = lambda: None):
        self.store, self.provider, self.publisher = store, provider, publisher
        self.after_provider_call = after_provider_call

    async def pay(self, idempotency_key: str) -> StoredInstruction | None:
        """Bring one instruction to a published result, wherever it stopped before."""
        stored = await asyncio.to_thread(self.store.instruction, idempotency_key)
        if stored is None:
            return None
        with structlog.contextvars.bound_contextvars(
                dispute_id=stored.dispute_id, event_id=stored.cause_event_id,
                correlation_id=stored.correlation_id, refund_id=stored.refund_id):
            if stored.status == PENDING:
                stored = await self._settle(stored)
            if not stored.published:
                await self.publisher.publish(refund_event(stored))
                await asyncio.to_thread(self.store.mark_published, idempotency_key, stored.attempt)
        return stored

    async def reconcile(self) -> int:
        """At start-up: finish what a crash interrupted (provider replays the first result)."""
        keys = await asyncio.to_thread(self.store.pending_keys)
        keys += await asyncio.to_thread(self.store.unpublished_keys)
        for key in dict.fromkeys(keys):
            await self.pay(key)
        log.info("refunds_reconciled", instructions=len(keys))
        return len(keys)

    async def retry(self, idempotency_key: str) -> StoredInstruction | None:
        """An operator's second try of a FAILED refund, with the same idempotency key."""
        if not await asyncio.to_thread(self.store.reopen, idempotency_key):
            log.warning("refund_not_retryable", idempotency_key=idempotency_key)
            return await asyncio.to_thread(self.store.instruction, idempotency_key)
        return await self.pay(idempotency_key)

    async def _settle(self, stored: StoredInstruction) -> StoredInstruction:
        refusal = await asyncio.to_thread(self.store.reserve, _instruction(stored))
        if refusal is not None:
            await self._record_failed(stored, refusal.reason, refusal.retryable)
        else:
            terms = await asyncio.to_thread(self.store.terms, stored.dispute_id)
            await self._call_provider(stored, terms.order_id)
        return await asyncio.to_thread(self.store.instruction, stored.idempotency_key)

    async def _call_provider(self, stored: StoredInstruction, order_reference: str) -> None:
        try:
            result = await self.provider.refund(
                idempotency_key=stored.idempotency_key, amount=stored.amount,
                currency=stored.currency, order_reference=order_reference,
                metadata={"dispute_id": stored.dispute_id, "refund_id": stored.refund_id})
        except ProviderError as error:
            self.after_provider_call()
            return await self._record_failed(stored, error.reason, error.retryable)
        self.after_provider_call()
        if result.status != "succeeded":
            return await self._record_failed(stored, f"PROVIDER_STATUS_{result.status.upper()}", False)
        await asyncio.to_thread(self.store.record_issued, stored.idempotency_key, result.reference)
        log.info("refund_issued", amount=str(stored.amount), currency=stored.currency,
                 provider_reference=result.reference)

    async def _record_failed(self, stored: StoredInstruction, reason: str, retryable: bool) -> None:
        await asyncio.to_thread(self.store.record_failed, stored.idempotency_key, reason, retryable)
        log.warning("refund_failed", amount=str(stored.amount), reason=reason, retryable=retryable)


def _instruction(stored: StoredInstruction) -> RefundInstruction:
    return RefundInstruction(dispute_id=stored.dispute_id, idempotency_key=stored.idempotency_key,
                             amount=stored.amount, currency=stored.currency,
                             cause_event_id=stored.cause_event_id)
