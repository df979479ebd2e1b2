"""The payment-provider adapter: `POST /refunds` with an `Idempotency-Key`, like the big
providers' refund APIs. Transient trouble (5xx, timeouts, broken connections) is retried with
bounded exponential backoff and the same key, so the provider pays at most once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import httpx
import structlog
from tenacity import (AsyncRetrying, retry_if_exception_type, stop_after_attempt,
                      wait_exponential)

from services.refund.provider_http import ProviderHttpClient

log = structlog.get_logger("refund.gateway")


@dataclass(frozen=True)
class ProviderRefund:
    reference: str
    status: str


class ProviderError(Exception):
    def __init__(self, reason: str, retryable: bool):
        super().__init__(reason)
        self.reason, self.retryable = reason, retryable


class TransientProviderError(ProviderError):
    def __init__(self, reason: str):
        super().__init__(reason, retryable=True)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 8.0


class Answer(Protocol):
    status_code: int

    def json(self) -> Any: ...


class PaymentProvider:
    """`client`: the service's ProviderHttpClient, or any httpx.AsyncClient (tests)."""

    def __init__(self, client: httpx.AsyncClient | ProviderHttpClient, retry: RetryPolicy = RetryPolicy()):
        self.client, self.retry = client, retry

    async def refund(self, *, idempotency_key: str, amount: Decimal, currency: str,
                     order_reference: str, metadata: dict[str, str]) -> ProviderRefund:
        """Pay back `amount`; the same key always yields the first result."""
        body = {"amount": str(amount), "currency": currency, "order_reference": order_reference,
                "metadata": metadata}
        async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.retry.attempts), reraise=True,
                wait=wait_exponential(multiplier=self.retry.initial_backoff, max=self.retry.max_backoff),
                retry=retry_if_exception_type(TransientProviderError)):
            with attempt:
                return await self._post(idempotency_key, body, attempt.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _post(self, idempotency_key: str, body: dict, attempt: int) -> ProviderRefund:
        try:
            response: Answer = await self.client.post("/refunds", json=body,
                                                       headers={"Idempotency-Key": idempotency_key})
        except httpx.TransportError as error:  # timeouts and connection errors
            log.warning("provider_unreachable", attempt=attempt, error=repr(error))
            raise TransientProviderError(f"PROVIDER_UNREACHABLE: {type(error).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            log.warning("provider_unavailable", attempt=attempt, status=response.status_code)
            raise TransientProviderError(f"PROVIDER_UNAVAILABLE: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ProviderError(_refusal_code(response), retryable=False)
        data = response.json()
        return ProviderRefund(reference=str(data["id"]), status=str(data["status"]))


def _refusal_code(response: Answer) -> str:
    try:
        return str(response.json().get("code") or f"HTTP_{response.status_code}")
    except ValueError:
        return f"HTTP_{response.status_code}"


def provider_client(base_url: str, timeout: float, connections: int = 32) -> ProviderHttpClient:
    """`connections`: as many as refunds are paid at once (REFUND_CONCURRENCY)."""
    return ProviderHttpClient(base_url, timeout, connections)
