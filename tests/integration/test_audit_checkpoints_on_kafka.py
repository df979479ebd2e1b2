"""Signed checkpoints on a real Kafka topic catch what the chain alone cannot: events deleted
at the end of a dispute (or the whole dispute), a rewritten last event; a checkpoint forged
without the key is refused. Tampering is SQL on the PostgreSQL events table."""

import asyncio
from datetime import datetime, timezone
from uuid import uuid4

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from infra.ports import free_port
from services.common.database import sqlalchemy_engine
from services.common.kafka import ensure_topics, idempotent_producer
from services.common.topics import DISPUTES_AUDIT, platform_topics
from services.dispute.audit import verify as audit_verify
from services.dispute.entrypoints import relay_process
from services.dispute.adapters.audit_chain import DEV_AUDIT_KEY, DEV_KEYS
from services.dispute.audit.checkpoints import Checkpoint, Head, signed_record
from services.dispute.audit.checkpoint_topic import CheckpointPublisher, read_checkpoints
from services.dispute.entrypoints.cli import app as disputectl
from services.dispute.bootstrap import build_application
from services.dispute.relay.relay import Relay, RelayPosition
from services.dispute.settings import DisputeSettings
from tests.integration.test_audit_on_postgres import TEST_KEY, open_and_negotiate
from tests.support import tampering
from tests.support.kafka import eventually
from tests.support.relay_streams import topic_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(pg_url, kafka):
    suffix = uuid4().hex[:8]
    settings = DisputeSettings(database_url=pg_url, **kafka.settings(),
                               events_topic=f"disputes.events.{suffix}", audit_topic=f"disputes.audit.{suffix}",
                               audit_key=SecretStr(TEST_KEY), audit_key_id="test-1")
    # provisioned as in production (no topic is created by a client's first use)
    asyncio.run(ensure_topics(kafka.admin, {settings.events_topic: {}, settings.audit_topic: {}}, 1))
    return settings


async def relay_everything(app, settings) -> int:
    """Publish the store in batches of 4 (15 events: 4 checkpoints); the number of batches."""
    position = RelayPosition(sqlalchemy_engine(settings.database_url), settings.events_topic)
    position.create_tables()
    producer = idempotent_producer(settings.kafka_connection(), "test-audit-relay")
    await producer.start()
    try:
        relay = Relay(app, producer, position, batch_size=4, topic=settings.events_topic,
                      checkpoints=CheckpointPublisher(producer, settings.audit_topic, app.chain_keys))
        batches = 0
        while await relay.publish_next_batch():
            batches += 1
        return batches
    finally:
        await producer.stop()


@pytest.fixture
def published(settings):
    """Three disputes of five events each, stored, published and checkpointed."""
    app = build_application(settings)
    ids = [open_and_negotiate(app, n) for n in range(3)]
    assert asyncio.run(relay_everything(app, settings)) == 4
    return app, sqlalchemy_engine(settings.database_url), ids


def verify(app, settings):
    book = asyncio.run(read_checkpoints(settings.kafka_connection(), settings.audit_topic, app.chain_keys))
    return audit_verify.verify(app, book)


def findings(report) -> list[tuple]:
    return sorted((f.kind, f.dispute_id, f.version) for f in report.findings)


def test_an_untouched_store_matches_its_checkpoints(published, settings):
    app, _, _ = published
    report = verify(app, settings)
    assert report.ok and report.findings == []
    assert (report.events, report.checkpoints, report.checkpointed_disputes) == (15, 4, 3)


def test_a_dispute_stored_after_the_last_checkpoint_is_counted_as_not_yet_checkpointed(published, settings):
    app, _, _ = published
    open_and_negotiate(app, 7)
    report = verify(app, settings)
    assert report.ok and (report.disputes, report.checkpointed_disputes, report.uncheckpointed) == (4, 3, 1)


def test_a_deleted_tail_is_named_with_the_versions_the_checkpoint_recorded(published, settings):
    app, engine, ids = published
    tampering.delete_versions(engine, ids[1], 4, 5)
    report = verify(app, settings)
    assert findings(report) == [("tail_missing", str(ids[1]), 4)]
    assert "recorded version 5, the store ends at version 3" in report.findings[0].detail


def test_a_dispute_deleted_whole_is_named(published, settings):
    app, engine, ids = published
    tampering.delete_versions(engine, ids[2], 1, 2, 3, 4, 5)
    assert findings(verify(app, settings)) == [("tail_missing", str(ids[2]), 1)]


def test_a_rewritten_last_event_differs_from_its_checkpoint(published, settings):
    app, engine, ids = published
    tampering.replace_in_state(engine, ids[0], 5, "watching this one", "refund them in full")
    tampering.rehash_from(app, engine, ids[0], 5, guessed_key=DEV_AUDIT_KEY.encode())
    report = verify(app, settings)
    assert findings(report) == [("edited", str(ids[0]), 5), ("head_rewritten", str(ids[0]), 5)]


def test_a_checkpoint_forged_without_the_key_is_refused_and_proves_nothing(published, settings):
    app, _, ids = published
    forged = Checkpoint(999, datetime.now(timezone.utc), (Head(ids[0], 9, "f" * 64),))

    async def produce():
        producer = idempotent_producer(settings.kafka_connection(), "test-forger")
        await producer.start()
        try:
            await producer.send_and_wait(settings.audit_topic, signed_record(forged, DEV_KEYS))
        finally:
            await producer.stop()

    asyncio.run(produce())
    report = verify(app, settings)
    assert findings(report) == [("checkpoint_refused", None, None)]
    assert "signed with an unknown key id 'dev'" in report.findings[0].detail


def cli_env(settings) -> dict:
    return {"DISPUTE_DATABASE_URL": settings.database_url, "DISPUTE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "DISPUTE_KAFKA_USERNAME": settings.kafka_username, "DISPUTE_KAFKA_PASSWORD": settings.kafka_password.get_secret_value(),
            "DISPUTE_AUDIT_TOPIC": settings.audit_topic, "DISPUTE_AUDIT_KEY": TEST_KEY,
            "DISPUTE_AUDIT_KEY_ID": "test-1"}


def test_disputectl_verify_reads_the_topic_and_exits_non_zero_on_a_deleted_tail(published, settings):
    app, engine, ids = published
    clean = CliRunner().invoke(disputectl, ["audit", "verify"], env=cli_env(settings))
    assert clean.exit_code == 0 and "3 disputes match 4 checkpoints" in clean.output
    tampering.delete_versions(engine, ids[1], 5)
    result = CliRunner().invoke(disputectl, ["audit", "verify"], env=cli_env(settings))
    assert result.exit_code == 1
    assert f"TAIL_MISSING dispute {ids[1]} version 5: the checkpoint of" in result.output
    assert "FAILED: 1 findings in 14 events of 3 disputes" in result.output


def test_checkpoints_copied_to_a_file_verify_without_kafka(published, settings, tmp_path):
    app, engine, ids = published
    copy = tmp_path / "checkpoints.jsonl"
    copied = CliRunner().invoke(disputectl, ["audit", "checkpoints", "-o", str(copy)], env=cli_env(settings))
    assert copied.exit_code == 0 and len(copy.read_text().splitlines()) == 4
    tampering.delete_versions(engine, ids[0], 5)
    offline = {**cli_env(settings), "DISPUTE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    result = CliRunner().invoke(disputectl, ["audit", "verify", "--checkpoints", str(copy)], env=offline)
    assert result.exit_code == 1 and f"TAIL_MISSING dispute {ids[0]} version 5" in result.output


async def test_the_relay_process_checkpoints_what_it_publishes(settings):
    app = build_application(settings)
    ids = [open_and_negotiate(app, n) for n in range(2)]
    settings = settings.model_copy(update={"relay_metrics_port": free_port()})
    stopping = asyncio.Event()
    relay = asyncio.create_task(relay_process.run_relay(settings, app, stopping))
    try:
        book = await eventually(lambda: _checkpointed(settings, app, expect=2))
    finally:
        stopping.set()
        await relay
    assert {d: r.version for d, r in book.recorded.items()} == {ids[0]: 5, ids[1]: 5}


async def _checkpointed(settings, app, expect: int):
    book = await read_checkpoints(settings.kafka_connection(), settings.audit_topic, app.chain_keys)
    return book if len(book.recorded) == expect and all(r.version == 5 for r in book.recorded.values()) else None


async def test_the_audit_topic_keeps_checkpoints_forever(kafka):
    topic = f"disputes.audit.{uuid4().hex[:8]}"
    await ensure_topics(kafka.admin, {topic: platform_topics()[DISPUTES_AUDIT]}, partitions=1)
    _, configs = await topic_settings(kafka.admin, topic)
    assert (configs["retention.ms"], configs["retention.bytes"], configs["cleanup.policy"]) == ("-1", "-1", "delete")
