"""What the system holds once the load stopped, read from each place the ledger counts: the
event store, disputes.events, the payment simulator, the inbox, the outbox and the mails."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS
from services.common.kafka import KafkaConnection
from services.dispute.audit import history
from services.dispute.bootstrap import build_disputes
from services.dispute.settings import DisputeSettings


@dataclass
class Observed:
    stored: dict[str, list[dict]] = field(default_factory=dict)  # dispute -> export lines, in version order
    published: list[tuple[int, EventEnvelope]] = field(default_factory=list)  # (partition, envelope), topic order
    refunds: list[dict] = field(default_factory=list)  # at the payment simulator
    inbox: Counter = field(default_factory=Counter)  # (event_id, role, recipient) -> entries
    outbox: list[tuple[str, bool, bool, str]] = field(default_factory=list)  # event, sent, failed, error
    mails: Counter = field(default_factory=Counter)  # (event_id, to) -> mails

    @property
    def stored_events(self) -> int:
        return sum(len(lines) for lines in self.stored.values())

    def public(self) -> dict[str, list[dict]]:
        """Each dispute's stored events that have a public envelope (what the relay publishes)."""
        return {d: [line for line in lines if line["envelope"]] for d, lines in self.stored.items()}


def disputes_store(database_url: str, audit_key: str):
    return build_disputes(DisputeSettings(database_url=database_url, audit_key=audit_key))


def read_store(disputes) -> dict[str, list[dict]]:
    out = io.StringIO()
    history.export(disputes, out)
    stored: dict[str, list[dict]] = defaultdict(list)
    for text in out.getvalue().splitlines():
        line = json.loads(text)
        stored[line["dispute_id"]].append(line)
    return {d: sorted(lines, key=lambda line: line["version"]) for d, lines in stored.items()}


async def read_topic(connection: KafkaConnection, topic: str = DISPUTES_EVENTS) -> list[tuple[int, EventEnvelope]]:
    """Every record of the topic up to its end offsets now, in each partition's order."""
    consumer = AIOKafkaConsumer(**connection.client_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic)
                                                               or await _partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[int, EventEnvelope]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for tp, batch in (await consumer.getmany(timeout_ms=1000)).items():
                records += [(tp.partition, EventEnvelope.model_validate_json(r.value)) for r in batch]
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 (the first metadata is lazy)
    return consumer.partitions_for_topic(topic) or set()


async def read_refunds(http: httpx.AsyncClient, payments_url: str) -> list[dict]:
    response = await http.get(f"{payments_url}/refunds")
    response.raise_for_status()
    return response.json()["data"]


def read_inbox(database_url: str) -> tuple[Counter, list[tuple[str, bool, bool, str]]]:
    with psycopg.connect(database_url) as conn:
        entries = conn.execute("SELECT event_id, recipient_role, recipient FROM notifications").fetchall()
        outbox = conn.execute("SELECT event_id, sent_at, failed_at, last_error FROM email_outbox").fetchall()
    return (Counter((e, role, who) for e, role, who in entries),
            [(e, sent is not None, failed is not None, error or "") for e, sent, failed, error in outbox])


def read_mails(folder: Path) -> Counter:
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in folder.glob("*.eml")]
    return Counter((str(m["X-Dispute-Event-Id"]), str(m["To"])) for m in mails)
