"""The notification consumer on a real broker and PostgreSQL, with e-mail into a real SMTP
sink (aiosmtpd) on a free port. Each test consumes its own topic, so tests never interfere."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from faststream.kafka import KafkaBroker

from services.common.kafka import kafka_broker
from sqlalchemy.exc import OperationalError

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from contracts.topics import dead_letter_topic
from infra.ports import free_port
from services.common.database import sqlalchemy_engine
from services.common.kafka import ensure_topics
from services.notification.consumer import GROUP, NotifyConfig, register_dispute_consumer
from services.notification.mail_sender import Backoff, EmailSender, SmtpServer
from services.notification.email_outbox import EmailOutbox
from standins.smtp_sink import SmtpSink
from services.notification.store import NotificationStore
from tests.support.kafka import eventually, read_topic
from tests.support.orders import NOW

pytestmark = pytest.mark.integration


def opened(seller: str = "S-7", dispute_id=None, schema_version: int = 1) -> EventEnvelope:
    dispute_id = dispute_id or uuid4()
    return EventEnvelope(
        event_id=event_id_for(dispute_id, 1), event_type="DisputeOpened",
        schema_version=schema_version, dispute_id=dispute_id, dispute_version=1,
        occurred_at=NOW, correlation_id="c-1", actor=ActorRef(role="buyer", id="B-7"),
        payload={"order_id": "O-7", "item_id": "I-1", "buyer_id": "B-7", "seller_id": seller,
                 "reason": "DAMAGED", "request": "FULL_REFUND", "request_amount": None,
                 "description": "cracked", "paid_amount": "100.00", "currency": "USD",
                 "deadlines": {"SELLER_RESPONSE": "2026-03-15T12:00:00Z"},
                 "escalation_allowed_from": "2026-03-13T12:00:00Z"})


@dataclass
class Notifier:
    broker: KafkaBroker
    store: NotificationStore
    outbox: EmailOutbox
    topic: str
    smtp_port: int
    mail_dir: Path

    async def publish(self, *messages, key: bytes = b"dispute-1") -> None:
        for message in messages:
            body = message if isinstance(message, bytes) else message.kafka_value()
            await self.broker.publish(body, topic=self.topic, key=key)

    def sink(self) -> SmtpSink:
        return SmtpSink(self.mail_dir, port=self.smtp_port, http_port=None)


class FlakyStore(NotificationStore):
    """The database drops the first two writes, as during a failover."""

    failures = 2

    def record_all(self, effects) -> None:  # the consumer's write: a batch in one transaction
        if self.failures:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        super().record_all(effects)


@contextlib.asynccontextmanager
async def running(pg_url, kafka, tmp_path, store_class=NotificationStore):
    engine = sqlalchemy_engine(pg_url)
    store, outbox = store_class(engine), EmailOutbox(engine)
    store.create_tables()
    topic = f"disputes.events.test-{uuid4().hex[:8]}"
    await ensure_topics(kafka.admin, {topic: {}, dead_letter_topic(topic, GROUP): {}}, 3)
    broker = kafka_broker(kafka.admin, "tests")
    register_dispute_consumer(broker, store, NotifyConfig(topic=topic, backoff=0.05))
    port = free_port()
    sender = EmailSender(outbox, SmtpServer(port=port, timeout=2),
                         Backoff(max_attempts=50, initial=0.2, maximum=0.5), poll_interval=0.1)
    await broker.start()
    sending = asyncio.create_task(sender.run())
    try:
        yield Notifier(broker, store, outbox, topic, port, tmp_path / "mail")
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await broker.stop()


async def test_a_redelivered_event_sends_no_second_email_and_makes_no_second_inbox_entry(
        pg_url, kafka, tmp_path):
    async with running(pg_url, kafka, tmp_path) as notifier:
        sink = notifier.sink().start()
        try:
            first, marker = opened(), opened()
            await notifier.publish(first, first)
            await notifier.publish(marker)  # same partition: handled after both copies of first
            await eventually(lambda: len(sink.mails()) >= 4)
            await asyncio.sleep(1.0)  # time enough for a second e-mail to show up, if any
            mails = sink.mails()
        finally:
            sink.stop()
    assert sorted(m["to"] for m in mails) == ["B-7@example.invalid", "B-7@example.invalid",
                                              "S-7@example.invalid", "S-7@example.invalid"]
    assert sorted(n["event_id"] for n in notifier.store.inbox("S-7")) == sorted(
        [str(first.event_id), str(marker.event_id)])


async def test_a_poison_message_goes_to_the_dlq_and_the_next_good_message_is_processed(
        pg_url, kafka, tmp_path):
    async with running(pg_url, kafka, tmp_path) as notifier:
        await notifier.publish(b'{"not": "an envelope"}', opened(seller="S-8"))
        inbox = await eventually(lambda: notifier.store.inbox("S-8"))
    assert len(inbox) == 1
    [dead] = await read_topic(kafka.admin, dead_letter_topic(notifier.topic, GROUP), expect=1)
    headers = dict(dead.headers)
    assert dead.value == b'{"not": "an envelope"}' and headers["dlq-reason"] == b"CONTRACT_VIOLATION"
    assert headers["dlq-source-topic"] == notifier.topic.encode()


async def test_an_unknown_schema_version_goes_to_the_dlq_and_the_next_good_message_is_processed(
        pg_url, kafka, tmp_path):
    async with running(pg_url, kafka, tmp_path) as notifier:
        future = opened(seller="S-9", schema_version=99)
        await notifier.publish(future, opened(seller="S-9"))
        inbox = await eventually(lambda: notifier.store.inbox("S-9"))
    assert [n["event_id"] for n in inbox] != [str(future.event_id)] and len(inbox) == 1
    [dead] = await read_topic(kafka.admin, dead_letter_topic(notifier.topic, GROUP), expect=1)
    assert b"v99" in dict(dead.headers)["dlq-error"]
    assert dict(dead.headers)["dlq-reason"] == b"UNKNOWN_SCHEMA_VERSION"


async def test_inbox_entries_are_written_at_once_and_emails_follow_when_smtp_comes_back(
        pg_url, kafka, tmp_path):
    async with running(pg_url, kafka, tmp_path) as notifier:
        await notifier.publish(opened(seller="S-10"))
        inbox = await eventually(lambda: notifier.store.inbox("S-10"), timeout=15)
        retried = await eventually(lambda: all(e["attempts"] >= 2 for e in notifier.outbox.emails()))
        assert inbox and retried and not any(e["sent_at"] for e in notifier.outbox.emails())
        sink = notifier.sink().start()
        try:
            mails = await eventually(lambda: len(sink.mails()) == 2 and sink.mails())
        finally:
            sink.stop()
    assert sorted(m["to"] for m in mails) == ["B-7@example.invalid", "S-10@example.invalid"]
    assert all(e["sent_at"] is not None for e in notifier.outbox.emails())


async def test_a_transient_database_fault_is_retried_and_the_event_still_handled(
        pg_url, kafka, tmp_path):
    async with running(pg_url, kafka, tmp_path, store_class=FlakyStore) as notifier:
        await notifier.publish(opened(seller="S-11"))
        inbox = await eventually(lambda: notifier.store.inbox("S-11"))
    assert len(inbox) == 1 and notifier.store.failures == 0
    assert await read_topic(kafka.admin, dead_letter_topic(notifier.topic, GROUP), expect=1,
                            timeout=3) == []


async def test_a_dispute_whose_buyer_is_its_seller_reaches_that_id_once_in_each_role(
        pg_url, kafka, tmp_path):
    async with running(pg_url, kafka, tmp_path) as notifier:
        sink = notifier.sink().start()
        try:
            await notifier.publish(opened(seller="B-7"), opened(seller="S-12"))
            await eventually(lambda: len(sink.mails()) >= 4)
            await asyncio.sleep(0.5)
            mails = sink.mails()
        finally:
            sink.stop()
    assert sorted(m["to"] for m in mails) == ["B-7@example.invalid"] * 3 + ["S-12@example.invalid"]
    assert sorted(n["recipient_role"] for n in notifier.store.inbox("B-7")) == [
        "buyer", "buyer", "seller"]
