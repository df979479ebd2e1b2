"""The payment provider's HTTP client (services/refund/provider_http.py, on aiohttp): refunds
paid over real HTTP against the simulator, connections kept alive, one the provider closed
replaced, and every transport failure an httpx.TransportError the adapter retries with the
same key."""

import asyncio
from decimal import Decimal

import httpx
import pytest

from services.refund.gateway import PaymentProvider, ProviderError, RetryPolicy, TransientProviderError
from services.refund.provider_http import ProviderHttpClient
from tests.support.payment_simulator import Simulator

FAST = RetryPolicy(attempts=2, initial_backoff=0.01, max_backoff=0.02)


@pytest.fixture
def simulator(tmp_path):
    with Simulator(tmp_path) as running:
        yield running


async def pay(provider: PaymentProvider, key: str = "refund:d-1:e-1", amount: str = "30.00"):
    return await provider.refund(idempotency_key=key, amount=Decimal(amount), currency="USD",
                                 order_reference="O-1", metadata={"dispute_id": "d-1"})


async def test_a_refund_is_paid_once_per_key_over_one_kept_alive_connection(simulator):
    client = ProviderHttpClient(simulator.url, 5.0, connections=4)
    provider = PaymentProvider(client, FAST)
    first, again = await pay(provider), await pay(provider)
    other = await pay(provider, key="refund:d-1:e-2")
    await client.aclose()
    assert first.status == "succeeded" and first.reference == again.reference != other.reference
    assert sorted(r["id"] for r in simulator.refunds("O-1")) == sorted([first.reference, other.reference])
    assert client.connections_opened == 1 and client.is_closed


async def test_a_reused_key_with_another_amount_is_refused_for_good(simulator):
    provider = PaymentProvider(ProviderHttpClient(simulator.url, 5.0, 2), FAST)
    await pay(provider)
    with pytest.raises(ProviderError) as refused:
        await pay(provider, amount="31.00")
    assert (refused.value.reason, refused.value.retryable) == (
        "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD", False)


async def test_calls_at_once_never_open_more_connections_than_allowed(simulator):
    client = ProviderHttpClient(simulator.url, 5.0, connections=3)
    provider = PaymentProvider(client, FAST)
    results = await asyncio.gather(*(pay(provider, key=f"refund:d-1:e-{n}") for n in range(12)))
    await client.aclose()
    assert len({r.reference for r in results}) == 12 and 1 <= client.connections_opened <= 3


CLOSE = b""  # an answer: read the request, then close the connection without a byte


class Server:
    """A provider that misbehaves: `answers` is what it writes for each request it reads
    (None: never answers; CLOSE: closes the connection instead), closing each connection after
    `per_connection` answers without saying so (no `Connection: close`). `heads`: the request
    heads it read."""

    def __init__(self, answers: list[bytes | None], per_connection: int = 100):
        self.answers, self.per_connection, self.connections = list(answers), per_connection, 0
        self.heads: list[bytes] = []

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_):
        self.server.close()

    async def _serve(self, reader, writer):
        self.connections += 1
        for _ in range(self.per_connection):
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            await reader.readexactly(length)
            answer = self.answers.pop(0)
            if answer is None:
                await asyncio.sleep(60)
            if answer == CLOSE:
                break
            writer.write(answer)
            await writer.drain()
        await asyncio.sleep(0.05)  # the close reaches the client after it kept the connection
        writer.close()


def ok(reference: str, chunked: bool = False) -> bytes:
    body = b'{"id": "%s", "status": "succeeded"}' % reference.encode()
    if chunked:
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def test_a_chunked_answer_is_read():
    async with Server([ok("re_1", chunked=True)]) as server:
        client = ProviderHttpClient(server.url, 2.0, 1)
        result = await pay(PaymentProvider(client, FAST))
        await client.aclose()
    assert result.reference == "re_1"


async def test_a_connection_the_provider_closed_while_idle_is_replaced_unseen():
    async with Server([ok("re_1"), ok("re_2")], per_connection=1) as server:
        client = ProviderHttpClient(server.url, 2.0, 1)
        provider = PaymentProvider(client, RetryPolicy(attempts=1))
        first = await pay(provider)
        await asyncio.sleep(0.2)  # the provider has closed the connection by now
        second = await pay(provider, key="refund:d-1:e-2")
        await client.aclose()
    assert (first.reference, second.reference, server.connections) == ("re_1", "re_2", 2)


async def test_a_connection_closed_as_the_request_is_written_is_sent_once_more_on_a_new_one():
    async with Server([ok("re_1"), CLOSE, ok("re_2")], per_connection=2) as server:
        client = ProviderHttpClient(server.url, 2.0, 1)
        provider = PaymentProvider(client, RetryPolicy(attempts=1))  # the adapter does not retry
        await pay(provider)
        second = await pay(provider, key="refund:d-1:e-2")  # read, then the connection closed
        await client.aclose()
    assert second.reference == "re_2" and server.connections == 2
    assert [h.split(b"\r\n")[0] for h in server.heads] == [b"POST /refunds HTTP/1.1"] * 3


async def test_a_provider_closing_every_connection_unanswered_is_a_transport_error():
    async with Server([CLOSE, CLOSE], per_connection=1) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await ProviderHttpClient(server.url, 2.0, 1).post("/refunds", json={}, headers={})
    assert server.connections == 2  # sent once more, never a third time


async def test_a_provider_that_never_answers_is_a_timeout_retried_with_the_same_key():
    async with Server([None, ok("re_1")]) as server:
        client = ProviderHttpClient(server.url, 0.3, 2)
        result = await pay(PaymentProvider(client, FAST))
        await client.aclose()
    assert result.reference == "re_1" and server.connections == 2


async def test_a_timeout_is_an_httpx_timeout_and_a_refused_connection_a_connect_error():
    async with Server([None]) as server:
        client = ProviderHttpClient(server.url, 0.2, 1)
        with pytest.raises(httpx.TimeoutException):
            await client.post("/refunds", json={}, headers={})
    with pytest.raises(httpx.ConnectError):
        await ProviderHttpClient("http://127.0.0.1:9", 0.5, 1).post("/refunds", json={}, headers={})
    with pytest.raises(TransientProviderError):
        await pay(PaymentProvider(ProviderHttpClient("http://127.0.0.1:9", 0.5, 1), FAST))


async def test_an_answer_cut_short_is_a_transport_error():
    async with Server([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"id\""], per_connection=1) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await ProviderHttpClient(server.url, 2.0, 1).post("/refunds", json={}, headers={})


async def test_a_header_with_a_line_break_is_never_sent():
    with pytest.raises(ValueError):
        await ProviderHttpClient("http://127.0.0.1:9", 1.0, 1).post(
            "/refunds", json={}, headers={"Idempotency-Key": "a\r\nX: y"})


async def test_a_base_path_and_an_explicit_port_are_kept():
    async with Server([ok("re_1")]) as server:
        client = ProviderHttpClient(server.url + "/v1/", 2.0, 1)
        await client.post("/refunds", json={}, headers={"Idempotency-Key": "k"})
        await client.aclose()
    port = server.url.rsplit(":", 1)[1]
    assert server.heads[0].startswith(b"POST /v1/refunds HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:%s\r\n" % port.encode() in server.heads[0]
    assert b"\r\nIdempotency-Key: k\r\n" in server.heads[0]


def test_a_provider_url_that_is_not_http_is_refused():
    with pytest.raises(ValueError):
        ProviderHttpClient("ftp://provider.example", 1.0, 1)
