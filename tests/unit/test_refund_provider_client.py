"""The payment provider's HTTP client: calls spread over small httpx clients (httpcore's pool
costs grow with the square of one client's connections), enough of them for every refund paid
at once."""

import asyncio

from services.refund.gateway import CONNECTIONS_PER_CLIENT, provider_client


def test_there_are_enough_small_clients_for_every_refund_paid_at_once():
    assert len(provider_client("http://127.0.0.1:9", 5.0, connections=32).clients) * CONNECTIONS_PER_CLIENT >= 32
    assert len(provider_client("http://127.0.0.1:9", 5.0, connections=1).clients) == 1


def test_calls_take_the_clients_in_turn():
    client, used = provider_client("http://127.0.0.1:9", 5.0, connections=12), []
    for n, one in enumerate(client.clients):
        async def post(url, n=n, **options):
            used.append(n)
        one.post = post  # type: ignore[method-assign]

    async def calls():
        for _ in range(6):
            await client.post("/refunds", json={})
        await client.aclose()

    asyncio.run(calls())
    assert sorted(used) == [0, 0, 1, 1, 2, 2] and client.is_closed
