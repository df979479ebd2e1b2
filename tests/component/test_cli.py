"""disputectl against an SQLite store: verify, export, replay, projections rebuild and status."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from services.dispute.entrypoints.cli import app as disputectl
from services.dispute.domain import Actor, Role
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.projections.dispute_index import DisputeIndexProjection
from services.dispute.settings import DisputeSettings
from services.dispute.projections.timeline import TimelineProjection
from tests.support.orders import NOW, order_placed


@pytest.fixture
def env(tmp_path):
    """One dispute: opened, then the seller offers 30.00 USD a day later."""
    url = f"sqlite:///{tmp_path}/d.sqlite"
    app = build_application(DisputeSettings(database_url=url))
    dispute = app.open_dispute(order=OrderBook.facts_from(order_placed()), item_id="I-1",
                               actor=Actor(Role.BUYER, "B-1"), reason="DAMAGED", request="FULL_REFUND",
                               request_amount=None, description="", at=NOW)
    at = NOW + timedelta(days=1)
    app.execute(dispute.id, at, lambda d: d.make_offer(
        offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"),
        actor=Actor(Role.SELLER, "S-1"), at=at, policy=app.policy))
    return {"DISPUTE_DATABASE_URL": url, "DISPUTE_ID": str(dispute.id)}


def run(env, *args):
    return CliRunner().invoke(disputectl, list(args), env=env, catch_exceptions=False)


def test_verify_reports_an_intact_chain(env):
    result = run(env, "audit", "verify", "--checkpoints", "none")
    assert result.exit_code == 0
    assert "OK: 3 events of 1 disputes chain correctly under the key" in result.output
    assert "checkpoints not read: a deleted tail goes unnoticed" in result.output


def test_verify_keeps_the_heads_it_is_told_to(env, monkeypatch):
    from services.dispute.audit import verify as audit_verify
    walks: list = []
    real = audit_verify.ChainWalk.__init__
    monkeypatch.setattr(audit_verify.ChainWalk, "__init__",
                        lambda self, *a, **k: (real(self, *a, **k), walks.append(self.kept_heads))[0])
    result = run(env, "audit", "verify", "--checkpoints", "none", "--heads", "1")
    assert result.exit_code == 0 and walks == [1]
    assert "OK: 3 events of 1 disputes chain correctly under the key" in result.output
    assert run(env, "audit", "verify", "--checkpoints", "none", "--heads", "0").exit_code == 2


def test_export_writes_one_json_line_per_event_with_its_public_envelope(env, tmp_path):
    out = tmp_path / "events.jsonl"
    result = run(env, "audit", "export", "--output", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert result.exit_code == 0 and len(lines) == 3
    assert [line["envelope"]["event_type"] for line in lines] == ["DisputeOpened", "SellerResponded", "OfferMade"]
    assert lines[2]["envelope"]["payload"]["amount"] == "30.00" and len(lines[2]["hash"]) == 64


def test_export_keeps_only_events_inside_the_time_range(env, tmp_path):
    out = tmp_path / "events.jsonl"
    run(env, "audit", "export", "--from", "2026-03-11T00:00:00Z", "--dispute", env["DISPUTE_ID"],
        "-o", str(out))
    assert [json.loads(line)["version"] for line in out.read_text().splitlines()] == [2, 3]


def test_replay_as_of_shows_the_state_and_timeline_of_that_moment(env):
    result = run(env, "audit", "replay", env["DISPUTE_ID"], "--as-of", "2026-03-10T18:00:00+00:00")
    assert result.exit_code == 0
    assert "at version 1: AWAITING_SELLER_RESPONSE" in result.output
    assert "OfferMade" not in result.output and "Buyer opened a dispute" in result.output


def test_replay_by_version_as_json(env):
    result = run(env, "audit", "replay", env["DISPUTE_ID"], "--version", "3", "--json")
    body = json.loads(result.output)
    assert body["state"]["status"] == "AWAITING_BUYER_RESPONSE"
    assert body["timeline"][-1]["summary"].startswith("Seller offered a partial refund of 30.00 USD")


def test_rebuild_switches_to_a_new_generation_and_status_shows_it(env):
    app = build_application(DisputeSettings(database_url=env["DISPUTE_DATABASE_URL"]))
    from services.common.database import sqlalchemy_engine
    engine = sqlalchemy_engine(env["DISPUTE_DATABASE_URL"])
    for kind in (DisputeIndexProjection, TimelineProjection):
        kind(app, engine).create_tables()
    result = run(env, "projections", "rebuild", "timeline", "--grace", "0")
    assert "timeline_entries: v1 -> v2 (timeline_entries_v2), 3 events" in result.output
    status = run(env, "projections", "status").output
    assert "timeline_entries   v2" in status and "behind 0" in status


def test_an_unknown_projection_name_is_refused(env):
    result = CliRunner().invoke(disputectl, ["projections", "rebuild", "nope"], env=env)
    assert result.exit_code == 2 and "no projection 'nope'" in result.output
    assert isinstance(result.exception, SystemExit)  # a refusal, not an exception ending in a traceback


def test_verify_refuses_to_pass_when_the_checkpoints_cannot_be_read(env):
    from infra.ports import free_port

    result = run({**env, "DISPUTE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}, "audit", "verify")
    assert result.exit_code == 2
    assert "cannot read the checkpoints from disputes.audit" in result.output
