"""The payment-provider adapter: `POST /refunds` with an `Idempotency-Key`, like the big
providers' refund APIs. Transient trouble (5xx, timeouts, broken connections) is retried with
bounded exponential backoff and the same key, so the provider pays at most once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import httpx
import structlog
from tenacity import (AsyncRetrying, retry_if_exception_type, stop_after_attempt,
                      wait_exponential)

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


class PaymentProvider:
    def __init__(self, client: httpx.AsyncClient | SpreadClient, retry: RetryPolicy = RetryPolicy()):
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
            response = await self.client.post("/refunds", json=body,
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


def _refusal_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("code") or f"HTTP_{response.status_code}")
    except ValueError:
        return f"HTTP_{response.status_code}"


CONNECTIONS_PER_CLIENT = 4
"""httpcore's pool looks at every connection of its client, twice over, on each request and each
answer (its cost grows with the square of the connections: with 32, a fifth of the refund
service's CPU went to it); small clients keep that look short."""


class SpreadClient:
    """The provider's HTTP client for `connections` calls at once, spread round-robin over
    small httpx clients (`post`, `aclose`, `is_closed`: what the adapter and the service use)."""

    def __init__(self, base_url: str, timeout: float, connections: int):
        per_client = httpx.Limits(max_connections=CONNECTIONS_PER_CLIENT,
                                  max_keepalive_connections=CONNECTIONS_PER_CLIENT)
        count = max(1, -(-connections // CONNECTIONS_PER_CLIENT))
        self.clients = [httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=per_client)
                        for _ in range(count)]
        self._turn = 0

    async def post(self, url: str, **options) -> httpx.Response:
        self._turn = (self._turn + 1) % len(self.clients)
        return await self.clients[self._turn].post(url, **options)

    @property
    def is_closed(self) -> bool:
        return all(client.is_closed for client in self.clients)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def provider_client(base_url: str, timeout: float, connections: int = 32) -> SpreadClient:
    """`connections`: as many as refunds are paid at once (REFUND_CONCURRENCY)."""
    return SpreadClient(base_url, timeout, connections)
