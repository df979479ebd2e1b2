"""Audit on real PostgreSQL: each tampering done in SQL on the events table is named by verify
(the keyed chain alone; deleted tails and rewritten heads: test_audit_checkpoints_on_kafka.py),
and as-of history is stable."""

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from services.common.database import sqlalchemy_engine
from services.dispute.audit import history
from services.dispute.audit import verify as audit_verify
from services.dispute.adapters.audit_chain import DEV_AUDIT_KEY
from services.dispute.domain import Actor, Role
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.settings import DisputeSettings
from services.dispute.projections.timeline import TimelineProjection, read_timeline
from tests.support import tampering
from tests.support.orders import NOW, order_placed
from tests.support.skeleton_events import store_skeleton_dispute

pytestmark = pytest.mark.integration
BUYER, SELLER, OPERATOR = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1"), Actor(Role.OPERATOR, "OP-1")


def open_and_negotiate(app, n: int):
    """Opened, SellerResponded, OfferMade (30.00), OfferRejected, MessagePosted: versions 1-5."""
    dispute = app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=f"O-{n}")), item_id="I-1",
                               actor=BUYER, reason="DAMAGED", request="FULL_REFUND",
                               request_amount=None, description="cracked", at=NOW)
    p, day = app.policy, NOW + timedelta(days=1)
    app.execute(dispute.id, day, lambda d: d.make_offer(
        offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"), actor=SELLER, at=day, policy=p))
    app.execute(dispute.id, day + timedelta(hours=3), lambda d: d.reject_offer(
        offer_id="OF-1", reason="too little", actor=BUYER, at=day + timedelta(hours=3), policy=p))
    app.execute(dispute.id, day + timedelta(hours=4), lambda d: d.post_message(
        message_id="M-1", text="watching this one", visibility="PLATFORM_ONLY", actor=OPERATOR,
        at=day + timedelta(hours=4)))
    return dispute.id


TEST_KEY = "audit-key-of-these-tests-0123456789abcdef"


def keyed_settings(pg_url, **more) -> DisputeSettings:
    return DisputeSettings(**{"database_url": pg_url, "audit_key": SecretStr(TEST_KEY),
                              "audit_key_id": "test-1", **more})


@pytest.fixture
def store(pg_url):
    app = build_application(keyed_settings(pg_url))
    ids = [open_and_negotiate(app, n) for n in range(3)]
    return app, sqlalchemy_engine(pg_url), ids


def findings(report) -> list[tuple]:
    return [(f.kind, f.dispute_id, f.version) for f in report.findings]


def test_an_untouched_store_verifies(store):
    app, _, _ = store
    report = audit_verify.verify(app)
    assert report.ok and report.findings == []
    assert (report.events, report.disputes, report.legacy) == (15, 3, 0)


def test_every_event_from_the_first_carries_a_hash_under_the_configured_key_id(store):
    app, _, ids = store
    links = [app.mapper.stored_link(e) for e in app.recorder.select_events(ids[0])]
    assert len(links) == 5 and all(len(h) == 64 and key_id == "test-1" for h, key_id in links)


def test_verify_names_the_row_edited_directly_in_postgresql(store):
    app, engine, ids = store
    tampering.replace_in_state(engine, ids[1], 3, "30.00", "3.00")
    report = audit_verify.verify(app)
    assert findings(report) == [("edited", str(ids[1]), 3)]
    assert report.findings[0].notification_id == tampering.notification_id(engine, ids[1], 3)
    assert not report.ok


def test_verify_names_a_stripped_hash_even_when_the_content_was_edited_too(store):
    app, engine, ids = store
    tampering.replace_in_state(engine, ids[2], 3, "30.00", "3.00")
    tampering.strip_hash(engine, ids[2], 3)
    report = audit_verify.verify(app)
    assert findings(report) == [("hash_missing", str(ids[2]), 3)]
    assert "has no hash" in report.findings[0].detail


def test_a_stripped_hash_is_not_taken_for_a_legacy_event_before_the_legacy_point(store):
    app, engine, ids = store
    tampering.strip_hash(engine, ids[0], 1)
    report = audit_verify.verify(app, legacy_until=1_000)
    assert findings(report) == [("hash_missing", str(ids[0]), 1)] and report.legacy == 0


def test_verify_names_a_chain_recomputed_without_the_key(store):
    app, engine, ids = store
    tampering.replace_in_state(engine, ids[0], 3, "30.00", "3.00")
    tampering.rehash_from(app, engine, ids[0], 3, guessed_key=DEV_AUDIT_KEY.encode())
    report = audit_verify.verify(app)
    assert findings(report) == [("rehashed", str(ids[0]), 3)]
    assert "versions 3..5" in report.findings[0].detail


def test_verify_names_a_deleted_row_as_a_gap(store):
    app, engine, ids = store
    tampering.delete_versions(engine, ids[0], 2)
    report = audit_verify.verify(app)
    assert findings(report) == [("event_missing", str(ids[0]), 3)]
    assert "versions 2..2 are missing" in report.findings[0].detail


def test_a_hash_under_a_retired_key_still_verifies_and_an_unknown_key_id_is_named(pg_url):
    old = build_application(keyed_settings(pg_url))
    dispute_id = open_and_negotiate(old, 0)
    rotated = keyed_settings(pg_url, audit_key_id="test-2", audit_key=SecretStr("new-" + TEST_KEY),
                             audit_retired_keys={"test-1": SecretStr(TEST_KEY)})
    app = build_application(rotated)
    app.execute(dispute_id, NOW + timedelta(days=4), lambda d: d.escalate(
        note="no deal", actor=BUYER, at=NOW + timedelta(days=4)))
    assert app.mapper.stored_link(app.recorder.select_events(dispute_id)[-1])[1] == "test-2"
    assert audit_verify.verify(app).ok
    forgetful = build_application(rotated.model_copy(update={"audit_retired_keys": {}}))
    assert findings(audit_verify.verify(forgetful)) == [("unknown_key", str(dispute_id), v) for v in range(1, 6)]


def test_events_before_the_legacy_point_are_listed_apart_and_still_covered(pg_url):
    app = build_application(keyed_settings(pg_url))
    dispute_id = store_skeleton_dispute(app, NOW).id
    dispute = app.repository.get(dispute_id)
    dispute.escalate(note="no answer", actor=BUYER, at=NOW + timedelta(days=4))
    app.save(dispute)
    legacy_point = app.recorder.max_notification_id() - 1
    report = audit_verify.verify(app, legacy_until=legacy_point)
    assert report.ok and (report.events, report.legacy) == (2, 1)
    assert findings(audit_verify.verify(app)) == [("hash_missing", str(dispute_id), 1)]
    tampering.replace_in_state(sqlalchemy_engine(pg_url), dispute_id, 1, "cracked", "pristine")
    [edited] = audit_verify.verify(app, legacy_until=legacy_point).findings
    assert (edited.kind, edited.version) == ("edited", 2) and "legacy version 1..1" in edited.detail


def test_a_timeline_read_as_of_a_moment_matches_the_one_captured_then(pg_url):
    app = build_application(DisputeSettings(database_url=pg_url))
    engine = sqlalchemy_engine(pg_url)
    timeline = TimelineProjection(app, engine)
    timeline.create_tables()
    dispute = app.open_dispute(order=OrderBook.facts_from(order_placed()), item_id="I-1", actor=BUYER,
                               reason="DAMAGED", request="FULL_REFUND", request_amount=None,
                               description="", at=NOW)
    day = NOW + timedelta(days=1)
    app.execute(dispute.id, day, lambda d: d.make_offer(
        offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"), actor=SELLER, at=day,
        policy=app.policy))
    timeline.catch_up()
    captured, moment = read_timeline(engine, dispute.id, None, True), day + timedelta(hours=1)
    later = NOW + timedelta(days=4)
    app.execute(dispute.id, later, lambda d: d.escalate(note="no deal", actor=BUYER, at=later))
    timeline.catch_up()
    assert len(read_timeline(engine, dispute.id, None, True)) == len(captured) + 1
    assert read_timeline(engine, dispute.id, moment, True) == captured
    assert history.replay(app, dispute.id, as_of=moment)["timeline"] == captured


def test_replay_by_version_gives_the_state_as_it_was(store):
    app, _, ids = store
    result = history.replay(app, ids[0], version=3)
    assert result["state"]["status"] == "AWAITING_BUYER_RESPONSE"
    assert [e["event_type"] for e in result["timeline"]] == ["DisputeOpened", "SellerResponded", "OfferMade"]
