"""The refund service's provider adapter against the simulator (in-process, no network)."""

from decimal import Decimal

import httpx
import pytest

from standins.payment_provider.app import create_app
from standins.payment_provider.settings import SimulatorSettings
from services.refund.gateway import (PaymentProvider, ProviderError, RetryPolicy,
                                     TransientProviderError)

FAST = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.02)


@pytest.fixture
def gateway(tmp_path):
    def connect(retry: RetryPolicy = FAST, **faults) -> PaymentProvider:
        settings = SimulatorSettings(database_url=f"sqlite:///{tmp_path}/paysim.sqlite", **faults)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)),
                                   base_url="http://provider")
        return PaymentProvider(client, retry)
    return connect


async def pay(provider: PaymentProvider, key: str = "refund:d-1:e-1", amount: str = "30.00"):
    return await provider.refund(idempotency_key=key, amount=Decimal(amount), currency="USD",
                                 order_reference="O-1", metadata={"dispute_id": "d-1"})


async def test_a_refund_comes_back_succeeded_with_the_providers_reference(gateway):
    result = await pay(gateway())
    assert result.status == "succeeded" and result.reference.startswith("re_")


async def test_provider_500s_are_retried_until_the_refund_succeeds(gateway):
    assert (await pay(gateway(fail_first_n=2))).status == "succeeded"


async def test_retries_stop_after_the_configured_attempts(gateway):
    with pytest.raises(TransientProviderError):
        await pay(gateway(fail_first_n=3))


async def test_paying_the_same_key_twice_returns_the_first_refund(gateway):
    provider = gateway()
    assert (await pay(provider)).reference == (await pay(provider)).reference


async def test_a_reused_key_with_another_amount_is_a_permanent_error(gateway):
    provider = gateway()
    await pay(provider)
    with pytest.raises(ProviderError) as refused:
        await pay(provider, amount="31.00")
    assert (refused.value.reason, refused.value.retryable) == (
        "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD", False)


async def test_an_unreachable_provider_is_a_transient_error():
    client = httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(TransientProviderError):
        await pay(PaymentProvider(client, FAST))
