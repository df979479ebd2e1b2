"""disputectl over an event store of two shards (two SQLite files): verify, export, replay and
projections rebuild read every shard, and a finding names the shard it is in."""

import json
import sqlite3
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from services.common.database import sqlalchemy_engine
from services.dispute.projections.rebuild import PROJECTIONS
from services.dispute.adapters.order_book import OrderBook
from services.dispute.bootstrap import build_disputes
from services.dispute.domain import Actor, Role
from services.dispute.entrypoints.cli import app as disputectl
from services.dispute.projections.dispute_index import DisputeIndexProjection, live_index_table
from services.dispute.projections.timeline import TimelineProjection, live_timeline_table
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed
from tests.support.shards import orders_per_shard

BUYER, SELLER = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1")


@pytest.fixture
def store(tmp_path):
    """Two disputes per shard, each opened and then offered 30.00 (3 events); projected."""
    env = {"DISPUTE_DATABASE_URL": f"sqlite:///{tmp_path}/service.sqlite",
           "DISPUTE_SHARD_URLS": f"sqlite:///{tmp_path}/s0.sqlite,sqlite:///{tmp_path}/s1.sqlite"}
    settings = DisputeSettings(database_url=env["DISPUTE_DATABASE_URL"], shard_urls=env["DISPUTE_SHARD_URLS"])
    disputes = build_disputes(settings)
    orders = orders_per_shard(settings, shards=2, per_shard=2)
    ids = {shard: [open_with_offer(disputes, o) for o in orders[shard]] for shard in (0, 1)}
    engine = sqlalchemy_engine(settings.database_url)
    for kind in (DisputeIndexProjection, TimelineProjection):
        projection = kind(disputes, engine)
        projection.create_tables()
        projection.catch_up()
    return env, ids, engine, tmp_path


def open_with_offer(disputes, order_id):
    dispute = disputes.open_dispute(order=OrderBook.facts_from(order_placed(order_id=order_id)),
                                    item_id="I-1", actor=BUYER, reason="DAMAGED",
                                    request="FULL_REFUND", request_amount=None, description="", at=NOW)
    at = NOW + timedelta(days=1)
    disputes.execute(dispute.id, at, lambda d: d.make_offer(
        offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"), actor=SELLER, at=at,
        policy=disputes.policy))
    return str(dispute.id)


def run(env, *args):
    return CliRunner().invoke(disputectl, list(args), env=env, catch_exceptions=False)


def rows(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


def test_verify_walks_every_shard(store):
    env, *_ = store
    result = run(env, "audit", "verify", "--checkpoints", "none")
    assert result.exit_code == 0, result.output
    assert "OK: 12 events of 4 disputes chain correctly under the key" in result.output


def test_a_broken_chain_is_reported_with_its_shard(store):
    env, ids, _, folder = store
    with sqlite3.connect(folder / "s1.sqlite") as db:
        db.execute("DELETE FROM stored_events WHERE originator_id = ? AND originator_version = 2",
                   [UUID(ids[1][0]).hex])
    result = run(env, "audit", "verify", "--checkpoints", "none")
    assert result.exit_code == 1
    assert f"EVENT_MISSING shard 1 dispute {ids[1][0]} version 3" in result.output


def test_export_writes_the_events_of_every_shard_saying_which(store, tmp_path):
    env, ids, *_ = store
    out = tmp_path / "events.jsonl"
    assert run(env, "audit", "export", "-o", str(out)).exit_code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    exported = {(line["shard"], line["dispute_id"]) for line in lines}
    assert len(lines) == 12 and exported == {(s, d) for s in (0, 1) for d in ids[s]}


def test_export_and_replay_of_one_dispute_read_its_shard(store, tmp_path):
    env, ids, *_ = store
    out = tmp_path / "one.jsonl"
    run(env, "audit", "export", "--dispute", ids[1][1], "-o", str(out))
    assert [json.loads(line)["version"] for line in out.read_text().splitlines()] == [1, 2, 3]
    replayed = json.loads(run(env, "audit", "replay", ids[1][1], "--json").output)
    assert (replayed["version"], replayed["state"]["status"]) == (3, "AWAITING_BUYER_RESPONSE")


def test_a_rebuild_over_both_shards_gives_the_live_rows(store):
    env, _, engine, _ = store
    before = [rows(engine, live_index_table(engine)), rows(engine, live_timeline_table(engine))]
    result = run(env, "projections", "rebuild", "--grace", "0")
    assert result.exit_code == 0, result.output
    assert "dispute_index: v1 -> v2 (dispute_index_v2), 12 events" in result.output
    assert [rows(engine, live_index_table(engine)), rows(engine, live_timeline_table(engine))] == before
    status = run(env, "projections", "status").output
    assert "dispute_index      v2  shard 1  table dispute_index_v2" in status
    assert status.count("behind 0") == 2 * len(PROJECTIONS)  # each projection, in each shard
