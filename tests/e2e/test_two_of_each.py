"""Two of each, on one broker and one database: consumers scale by partitions and groups.

Two dispute API processes, two relays (one publishes, the other stands by), two notification
services and two refund services run as real processes, each as its own Kafka principal,
beside the payment simulator and the SMTP sink. Whole lifecycles of many disputes are driven
over both API processes; halfway, the publishing relay and one instance of each consumer
service are killed with SIGKILL. Then the ledger is counted: every stored event is on
`disputes.events` once per event id (after de-duplication) and in per-dispute order; every
resolution with a refund is paid exactly once at the provider; every (event, recipient) has
exactly one inbox entry and at most one e-mail; and every instance had partitions and handled
records.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import psycopg
import pytest

from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS
from services.notification.notices import audience
from tests.e2e.conftest import stop_system
from tests.e2e.fleet import Fleet, handled, kill_one_of_each, start_two_of_each, takeovers
from tests.e2e.lifecycles import Lifecycle, drive
from tests.support.dispute_api import Party
from tests.support.kafka import drain_topic, eventually

pytestmark = pytest.mark.e2e
DISPUTES = 40


@pytest.fixture
def fleet(postgres, kafka, tmp_path):
    running = start_two_of_each(postgres, kafka, tmp_path)
    yield running
    stop_system(running)


# The ledger -----------------------------------------------------------------------------

async def settled_views(fleet: Fleet, http: httpx.AsyncClient, lifecycles: list[Lifecycle],
                        awards: dict[str, Decimal]) -> dict[str, dict]:
    """Each dispute once the refund it awards is recorded on it (the refund result came back
    through refunds.events to one of the API processes)."""
    operator = Party(http, fleet.url["dispute-1"], "operator", "OP-two")

    async def settled():
        views = {lc.dispute_id: await operator.dispute(lc.dispute_id) for lc in lifecycles}
        done = all(Decimal(str(v["refunded_total"])) == awards[d] for d, v in views.items())
        return views if done else None

    views = await eventually(settled, timeout=120, interval=1)
    assert views, "some awarded refunds never came back to their disputes"
    return views


async def published(fleet: Fleet, views: dict[str, dict]) -> dict[str, list[EventEnvelope]]:
    """Every dispute's records on disputes.events, once its last stored version is there."""
    async def read():
        records = await drain_topic(fleet.reader, DISPUTES_EVENTS, quiet_ms=1000, limit=60)
        envelopes = defaultdict(list)
        for record in records:
            envelope = EventEnvelope.model_validate_json(record.value)
            if str(envelope.dispute_id) in views:
                envelopes[str(envelope.dispute_id)].append((record.partition, envelope))
        complete = all(max((e.dispute_version for _, e in envelopes[d]), default=0) >= v["version"]
                       for d, v in views.items())
        return envelopes if complete else None

    envelopes = await eventually(read, timeout=120, interval=1)
    assert envelopes, "some stored events never reached disputes.events"
    fleet.records_read = sum(len(pairs) for pairs in envelopes.values())
    partitions = {d: {p for p, _ in pairs} for d, pairs in envelopes.items()}
    assert all(len(p) == 1 for p in partitions.values()), f"a dispute on two partitions: {partitions}"
    return {d: [e for _, e in pairs] for d, pairs in envelopes.items()}


def deduplicated(envelopes: list[EventEnvelope]) -> list[EventEnvelope]:
    """As a consumer that skips an event id it has seen (a relay may publish a batch twice)."""
    seen: dict = {}
    for envelope in envelopes:
        first = seen.setdefault(envelope.event_id, envelope)
        assert first.model_dump() == envelope.model_dump(), "one event id, two contents"
    return list(seen.values())


def inbox_entries(database_url: str, dispute_ids: set[str]) -> Counter:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT event_id, recipient_role, recipient, dispute_id FROM notifications"
                            ).fetchall()
    return Counter((e, role, who) for e, role, who, d in rows if d in dispute_ids)


def mails_by_event_and_recipient(folder: Path) -> Counter:
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in folder.glob("*.eml")]
    return Counter((str(m["X-Dispute-Event-Id"]), str(m["To"])) for m in mails)


def expected_recipients(stream: list[EventEnvelope], buyer: str, seller: str) -> set:
    ids = {"buyer": buyer, "seller": seller, "operators": "operators"}
    return {(str(e.event_id), role, ids[role]) for e in stream
            for role in audience(e.event_type, e.payload, e.actor.role)}


async def refunds_paid(fleet: Fleet, http: httpx.AsyncClient, order_id: str) -> list[Decimal]:
    response = await http.get(f"{fleet.url['payments']}/refunds", params={"order_reference": order_id})
    return [Decimal(str(r["amount"])) for r in response.json()["data"]]


async def all_ready(fleet: Fleet, http: httpx.AsyncClient, names: list[str]) -> bool:
    """`/readyz` of each: a consumer instance is ready only with partitions of every subscriber."""
    async def ready():
        answers = [await http.get(f"{fleet.url[name]}/readyz") for name in names]
        return all(a.status_code == 200 for a in answers)

    return await eventually(ready, timeout=90, interval=0.5)


async def test_two_of_each_service_lose_nothing_and_do_nothing_twice_while_one_of_each_dies(fleet):
    consumers = [f"{kind}-{n}" for kind in ("dispute", "notification", "refund") for n in (1, 2)]
    async with httpx.AsyncClient(timeout=60) as http:
        assert await all_ready(fleet, http, consumers), "an instance never got its partitions"
        lifecycles = [Lifecycle(fleet, http, n) for n in range(DISPUTES)]
        awards = await drive(lifecycles[:DISPUTES // 2])
        second_half = asyncio.create_task(drive(lifecycles[DISPUTES // 2:]))
        await asyncio.sleep(2)  # the second half is under way when one of each dies
        killed, standby, standby_takeovers = kill_one_of_each(fleet)
        awards |= await second_half
        views = await settled_views(fleet, http, lifecycles, awards)
        streams = {d: deduplicated(records) for d, records in (await published(fleet, views)).items()}
        for dispute_id, stream in streams.items():  # each stored event once, in order
            assert [e.dispute_version for e in stream] == list(range(1, views[dispute_id]["version"] + 1))
        paid = {lc.dispute_id: await refunds_paid(fleet, http, lc.order_id) for lc in lifecycles}
    assert paid == {d: [award] if award else [] for d, award in awards.items()}
    entries = await one_inbox_entry_per_recipient(fleet, lifecycles, streams)
    mails = await at_most_one_mail_per_recipient(fleet, {str(e.event_id) for s in streams.values() for e in s})

    assert takeovers(standby) > standby_takeovers, "the standby relay never took over"
    counts = {name: handled(fleet.processes[name]) for name in consumers}
    assert all(counts.values()), f"an instance handled nothing: {counts}"
    for name in ("dispute-1", "dispute-2"):  # two projection runners on one database
        assert '"projection_failed"' not in fleet.processes[name].log_path.read_text(errors="replace")
    print(json.dumps({"disputes": len(views), "events": sum(v["version"] for v in views.values()),
                      "records": fleet.records_read, "refunds": sum(len(p) for p in paid.values()),
                      "inbox": entries, "mails": mails,
                      "conflicts_retried": sum(lc.conflicts for lc in lifecycles),
                      "handled": counts, "killed": [p.name for p in killed]}))


async def one_inbox_entry_per_recipient(fleet: Fleet, lifecycles: list[Lifecycle],
                                        streams: dict[str, list[EventEnvelope]]) -> int:
    """Every (event, recipient) the notification rules name is in the inbox, exactly once."""
    expected = set().union(*(expected_recipients(streams[lc.dispute_id], lc.buyer, lc.seller)
                             for lc in lifecycles))

    async def complete():
        entries = inbox_entries(fleet.notification_database, set(streams))
        return entries if set(entries) >= expected else None

    entries = await eventually(complete, timeout=60, interval=1)
    assert entries, "some notifications were never written"
    assert set(entries) == expected
    assert [key for key, count in entries.items() if count > 1] == []
    return sum(entries.values())


async def at_most_one_mail_per_recipient(fleet: Fleet, event_ids: set[str]) -> dict[str, int]:
    """Once the outbox has nothing left to send for these events (a row whose sender was
    killed during delivery is given up when its lease ends), the sink holds one mail per row
    sent, perhaps one per row given up that way, and never two for one (event, recipient)."""
    settled = await eventually(lambda: outbox_settled(fleet.notification_database, event_ids),
                               timeout=120, interval=1)
    assert settled, "some e-mails never left the outbox"
    mails = mails_by_event_and_recipient(fleet.log_dir / "mail")
    ours = {key: count for key, count in mails.items() if key[0] in event_ids}
    assert [key for key, count in ours.items() if count > 1] == []
    assert settled["sent"] <= len(ours) <= settled["sent"] + settled["outcome_unknown"]
    return settled


def outbox_settled(database_url: str, event_ids: set[str]) -> dict[str, int] | None:
    """How these events' e-mails ended, once none is still waiting to be sent."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT event_id, sent_at, failed_at, last_error FROM email_outbox"
                            ).fetchall()
    ours = [(sent, failed, error or "") for event_id, sent, failed, error in rows if event_id in event_ids]
    if any(sent is None and failed is None for sent, failed, _ in ours):
        return None
    return {"sent": sum(1 for sent, _, _ in ours if sent is not None),
            "outcome_unknown": sum(1 for _, failed, error in ours
                                   if failed is not None and "stopped during delivery" in error)}
