"""A real Prometheus (Debian's package) scrapes every process of a running platform while
disputes are played to refunds; the counters are read back through its HTTP API, as a
dashboard or an alert would read them."""

from __future__ import annotations

from urllib.parse import urlparse
from uuid import uuid4

import httpx
import pytest

from contracts.topics import ORDERS_EVENTS
from infra.ports import free_port
from infra.prometheus import PrometheusServer, prometheus_binary
from services.common.kafka import idempotent_producer
from tests.e2e.conftest import start_system, stop_system
from tests.support.dispute_api import Party
from tests.support.kafka import eventually

pytestmark = pytest.mark.e2e
WINDOW = "PT4S"  # the seller's response window: a dispute left alone times out in seconds
DISPUTE_ID_IN_A_LABEL = '{handler=~".*[0-9a-f]{8}-[0-9a-f]{4}-.*"}'


@pytest.fixture(scope="module")
def platform(postgres, kafka, tmp_path_factory):
    try:
        prometheus_binary()
    except RuntimeError as missing:
        pytest.fail(str(missing), pytrace=False)
    relay_port = free_port()
    running = start_system(postgres, kafka, tmp_path_factory.mktemp("scraped"), {
        "DISPUTE_RELAY_METRICS_PORT": str(relay_port), "DISPUTE_SELLER_RESPONSE_WINDOW": WINDOW,
        **{f"{prefix}_CONSUMER_LAG_INTERVAL": "1" for prefix in ("DISPUTE", "NOTIFICATION", "REFUND")}})
    jobs = {job: urlparse(running.url[name]).netloc for job, name in
            (("dispute-api", "dispute"), ("notification", "notification"), ("refund", "refund"),
             ("payment-simulator", "payments"), ("smtp-sink", "mailbox"))}
    prometheus = PrometheusServer(running.log_dir / "prometheus", {**jobs, "dispute-relay": f"127.0.0.1:{relay_port}"})
    try:
        prometheus.start()
    except Exception:
        stop_system(running)
        raise
    yield running, prometheus
    prometheus.stop()
    stop_system(running)


async def at_least(prometheus: PrometheusServer, promql: str, minimum: float = 1) -> float | None:
    """The value of `promql` once it reaches `minimum` (scrapes come every second), else the
    last value seen."""
    seen: list[float | None] = [None]

    def reached() -> bool:
        seen[0] = prometheus.value(promql)
        return seen[0] is not None and seen[0] >= minimum

    await eventually(reached, timeout=45, interval=0.5)
    return seen[0]


@pytest.fixture(scope="module")
async def played(platform):
    """Two disputes to a refund: one agreed (open, offer, accept), one the seller leaves to
    its deadline; and one unreadable order record, dead-lettered by its consumers."""
    system, _ = platform
    async with httpx.AsyncClient(timeout=15) as http:
        base = system.url["dispute"]
        buyer, seller = Party(http, base, "buyer", "B-1"), Party(http, base, "seller", "S-1")
        agreed, ignored = f"O-{uuid4().hex[:8]}", f"O-{uuid4().hex[:8]}"
        for order_id in (agreed, ignored):
            await system.publish_order(order_id)
        dispute_id = (await buyer.open_dispute(agreed)).json()["id"]
        offer = await seller.post(f"/v1/disputes/{dispute_id}/offers",
                                  {"type": "PARTIAL_REFUND", "amount": "30.00"}, expect=201)
        await buyer.post(f"/v1/disputes/{dispute_id}/offers/{offer.json()['offer']['offer_id']}/accept",
                         expect=200)
        await buyer.open_dispute(ignored)
    await publish_unreadable_order(system)
    return dispute_id


async def publish_unreadable_order(system) -> None:
    producer = idempotent_producer(system.kafka, "e2e-unreadable-order")
    await producer.start()
    try:
        await producer.send_and_wait(ORDERS_EVENTS, b"this is not an order event", key=b"O-broken")
    finally:
        await producer.stop()


async def test_prometheus_scrapes_every_process(platform):
    _, prometheus = platform
    assert await at_least(prometheus, "count(up == 1)", 6) == 6


async def test_commands_are_counted_by_type_and_outcome(platform, played):
    _, prometheus = platform
    for command in ("OpenDispute", "MakeOffer", "AcceptOffer"):
        assert await at_least(prometheus, f'sum(dispute_commands_total{{command="{command}",outcome="accepted"}})') >= 1


async def test_http_requests_are_counted_by_route_template_method_and_status(platform, played):
    _, prometheus = platform
    offers = ('http_requests_total{job="dispute-api",handler="/v1/disputes/{dispute_id}/offers",'
              'method="POST",status="201"}')
    assert await at_least(prometheus, offers) == 1
    assert await at_least(prometheus, 'sum(http_requests_total{job="payment-simulator",'
                                      'handler="/refunds",method="POST",status="201"})') >= 1
    assert await at_least(prometheus, 'sum(http_request_duration_seconds_count{job="dispute-api",'
                                      'handler="/v1/disputes"})', 2) >= 2
    assert prometheus.query(f"http_requests_total{DISPUTE_ID_IN_A_LABEL}") == []


async def test_events_are_counted_as_appended_and_published(platform, played):
    _, prometheus = platform
    assert await at_least(prometheus, "dispute_events_appended_total", 5) >= 5
    assert await at_least(prometheus, "sum(dispute_relay_events_published_total)", 5) >= 5
    assert await at_least(prometheus, "dispute_relay_active") == 1


async def test_the_ignored_dispute_fires_its_deadline(platform, played):
    _, prometheus = platform
    assert await at_least(prometheus, "sum(dispute_deadlines_fired_total)") >= 1
    assert prometheus.value("dispute_deadline_worker_last_pass_timestamp_seconds") > 0


async def test_refunds_are_counted_as_issued(platform, played):
    _, prometheus = platform
    assert await at_least(prometheus, "sum(refund_refunds_issued_total)", 2) >= 2
    assert await at_least(prometheus, 'sum(refund_refunds_held)', 0) == 0


async def test_notifications_are_counted_by_channel_and_outcome(platform, played):
    _, prometheus = platform
    assert await at_least(prometheus, 'sum(notification_notifications_sent_total{channel="inbox",outcome="stored"})') >= 1
    assert await at_least(prometheus, 'sum(notification_notifications_sent_total{channel="email",outcome="sent"})') >= 1
    assert await at_least(prometheus, "smtp_sink_mails_accepted_total") >= 1


async def test_kafka_consumption_is_counted_by_service_topic_and_group(platform, played):
    _, prometheus = platform
    for service, topic in (("dispute", "orders.events"), ("notification", "disputes.events"),
                           ("refund", "disputes.events"), ("dispute", "refunds.events")):
        labels = f'app_name="{service}",handler="{topic}",group="{service}"'
        assert await at_least(prometheus, f"sum(faststream_received_messages_total{{{labels}}})") >= 1
        assert await at_least(prometheus, "sum(faststream_received_processed_messages_duration_seconds_count"
                                          f"{{{labels}}})") >= 1


async def test_consumer_lag_is_reported_per_group_and_partition(platform, played):
    _, prometheus = platform
    for group, topic in (("dispute", "orders.events"), ("notification", "disputes.events"),
                         ("refund", "orders.events")):
        assert await at_least(prometheus, f'count(kafka_consumer_group_lag_records{{group="{group}",topic="{topic}"}})') >= 1


async def test_an_unreadable_record_is_counted_as_dead_lettered_by_topic_and_reason(platform, played):
    _, prometheus = platform
    for service in ("dispute", "refund"):
        assert await at_least(prometheus, f'sum({service}_dead_lettered_records_total{{topic="orders.events",'
                                          'reason="MALFORMED_RECORD"})') >= 1
