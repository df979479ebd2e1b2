"""The dispute service on an event store of two PostgreSQL shards and a real Kafka, through
its HTTP API: disputes land in both shards (and only in their own), commands on each work,
the operators' queue and timelines show both, each shard's relay publishes, every dispute's
events reach Kafka in order, audit verify passes over both and a rebuild gives the live rows.

One scenario for the module (six disputes, three per shard), then one behaviour per test."""

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from contracts.envelope import EventEnvelope
from services.common.database import sqlalchemy_engine
from services.common.kafka import ensure_topics
from services.dispute.adapters.shards import shard_apps
from services.dispute.adapters.translation import is_public
from services.dispute.entrypoints.cli import app as disputectl
from services.dispute.entrypoints.relay_process import run_relays
from services.dispute.entrypoints.serve import create_app
from services.dispute.projections.dispute_index import live_index_table
from services.dispute.projections.timeline import live_timeline_table
from services.dispute.relay.relay import RelayPosition
from services.dispute.settings import DisputeSettings
from tests.support import tampering
from tests.support.kafka import drain_topic, eventually
from tests.support.orders import NOW, order_placed
from tests.support.shards import orders_per_shard
from tests.support.tokens import SECRET, bearer

pytestmark = pytest.mark.integration
BUYER, SELLER, OPERATOR = bearer("buyer", "B-1"), bearer("seller", "S-1"), bearer("operator", "OP-1")


@dataclass
class Scenario:
    settings: DisputeSettings
    app: object
    http: httpx.AsyncClient
    opened: dict[int, list[str]]  # shard -> dispute ids

    @property
    def every_dispute(self) -> list[str]:
        return self.opened[0] + self.opened[1]


@pytest.fixture(scope="module")
async def scenario(postgres, kafka):
    suffix = uuid4().hex[:8]
    urls = [postgres.create_database(f"sharded_{suffix}_{name}") for name in ("service", "s0", "s1")]
    settings = DisputeSettings(database_url=urls[0], shard_urls=",".join(urls[1:]), jwt_secret=SECRET,
                               **kafka.settings(), events_topic=f"disputes.events.{suffix}",
                               audit_topic=f"disputes.audit.{suffix}", relay_metrics_port=0,
                               relay_poll_interval=0.05)
    await ensure_topics(kafka.admin, {settings.events_topic: {}, settings.audit_topic: {}}, 3)
    orders = orders_per_shard(settings, shards=2, per_shard=3)
    app = create_app(settings, clock=lambda: NOW, run_consumers=False, run_workers=True)
    for order_id in orders[0] + orders[1]:
        app.state.orders.apply(order_placed(order_id=order_id))
    stopping = asyncio.Event()
    relays = asyncio.create_task(run_relays(settings, stopping))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://dispute") as http:
        opened = await asyncio.gather(*(converse(http, o) for o in orders[0] + orders[1]))
        yield Scenario(settings, app, http, {0: opened[:3], 1: opened[3:]})
    stopping.set()
    await relays


async def converse(http, order_id: str) -> str:
    """Opened by the buyer, then three messages (seller, buyer, seller) read back at once."""
    opened = await http.post("/v1/disputes", headers=BUYER, json={
        "order_id": order_id, "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND"})
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    for n, party in enumerate((SELLER, BUYER, SELLER)):
        posted = await http.post(f"/v1/disputes/{dispute_id}/messages?wait=true", headers=party,
                                 json={"text": f"message {n}"})
        assert posted.status_code == 201 and "x-projections-lag" not in posted.headers, posted.text
    return dispute_id


def stored_disputes(url: str) -> set[str]:
    with sqlalchemy_engine(url).connect() as conn:
        return {str(d) for d in conn.execute(text("SELECT DISTINCT originator_id FROM disputes_events")).scalars()}


def public_versions(scenario, dispute_id: str) -> list[int]:
    shard = scenario.app.state.disputes.app_for(UUID(dispute_id))
    events = [shard.mapper.to_domain_event(s) for s in shard.recorder.select_events(UUID(dispute_id))]
    return [e.originator_version for e in events if is_public(e)]


def cli_env(settings) -> dict[str, str]:
    return {"DISPUTE_DATABASE_URL": settings.database_url, "DISPUTE_SHARD_URLS": settings.shard_urls,
            "DISPUTE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "DISPUTE_KAFKA_USERNAME": settings.kafka_username,
            "DISPUTE_KAFKA_PASSWORD": settings.kafka_password.get_secret_value(),
            "DISPUTE_AUDIT_TOPIC": settings.audit_topic, "DISPUTE_EVENTS_TOPIC": settings.events_topic}


def rows(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


async def all_published(scenario) -> bool:
    """Every shard's relay has recorded its whole log as published."""
    positions = [RelayPosition(sqlalchemy_engine(url), scenario.settings.events_topic)
                 for url in scenario.settings.shard_database_urls()]
    heads = [s.recorder.max_notification_id() for s in shard_apps(scenario.app.state.disputes)]
    return [p.get() for p in positions] == heads


async def test_each_dispute_is_stored_in_its_own_shard_database_only(scenario):
    s0, s1 = scenario.settings.shard_database_urls()
    assert (stored_disputes(s0), stored_disputes(s1)) == (set(scenario.opened[0]), set(scenario.opened[1]))


async def test_commands_on_the_disputes_of_both_shards_are_read_back(scenario):
    views = [(await scenario.http.get(f"/v1/disputes/{d}", headers=BUYER)).json() for d in scenario.every_dispute]
    assert [v["version"] for v in views] == [public_versions(scenario, d)[-1] for d in scenario.every_dispute]
    assert all(v["version"] >= 4 for v in views)  # opened and three messages, in each shard


async def test_the_operators_queue_and_timelines_show_the_disputes_of_both_shards(scenario):
    queue = (await scenario.http.get("/v1/disputes", headers=OPERATOR)).json()
    assert sorted(d["id"] for d in queue["items"]) == sorted(scenario.every_dispute)
    for dispute_id in scenario.every_dispute:
        timeline = (await scenario.http.get(f"/v1/disputes/{dispute_id}/timeline", headers=OPERATOR)).json()
        texts = [e["details"].get("text") for e in timeline["entries"] if e["event_type"] == "MessagePosted"]
        assert texts == ["message 0", "message 1", "message 2"]


async def test_each_shards_relay_publishes_its_whole_log(scenario):
    assert await eventually(lambda: all_published(scenario), timeout=30)


async def test_each_disputes_events_reach_kafka_in_order_once_each_after_deduplication(scenario, kafka):
    assert await eventually(lambda: all_published(scenario), timeout=30)
    versions, seen = defaultdict(list), set()
    for record in await drain_topic(kafka.admin, scenario.settings.events_topic):
        envelope = EventEnvelope.model_validate_json(record.value)
        assert record.key == str(envelope.dispute_id).encode()
        if envelope.event_id not in seen:  # a relay that restarts may publish a batch again
            seen.add(envelope.event_id)
            versions[str(envelope.dispute_id)].append(envelope.dispute_version)
    assert dict(versions) == {d: public_versions(scenario, d) for d in scenario.every_dispute}


async def test_audit_verify_passes_over_both_shards_against_their_checkpoints(scenario):
    assert await eventually(lambda: all_published(scenario), timeout=30)
    result = await asyncio.to_thread(CliRunner().invoke, disputectl, ["audit", "verify"],
                                     env=cli_env(scenario.settings))
    assert result.exit_code == 0, result.output
    assert "of 6 disputes chain correctly" in result.output and "6 disputes match" in result.output


async def test_a_rebuild_over_both_shards_equals_the_live_projections(scenario):
    engine = scenario.app.state.engine
    before = [rows(engine, live_index_table(engine)), rows(engine, live_timeline_table(engine))]
    result = await asyncio.to_thread(CliRunner().invoke, disputectl, ["projections", "rebuild", "--grace", "0"],
                                     env=cli_env(scenario.settings))
    assert result.exit_code == 0, result.output
    assert "dispute_index: v1 -> v2" in result.output and "timeline_entries: v1 -> v2" in result.output
    assert [rows(engine, live_index_table(engine)), rows(engine, live_timeline_table(engine))] == before


async def test_last_a_deleted_tail_in_the_second_shard_is_reported_there(scenario):
    assert await eventually(lambda: all_published(scenario), timeout=30)
    victim = scenario.opened[1][0]
    last = public_versions(scenario, victim)[-1]
    tampering.delete_versions(sqlalchemy_engine(scenario.settings.shard_database_urls()[1]), UUID(victim), last)
    result = await asyncio.to_thread(CliRunner().invoke, disputectl, ["audit", "verify"],
                                     env=cli_env(scenario.settings))
    assert result.exit_code == 1
    assert f"TAIL_MISSING shard 1 dispute {victim} version {last}" in result.output
