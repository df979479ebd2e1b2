"""Audit on real PostgreSQL: the hash chain catches an edited row, as-of history is stable."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from services.common.database import sqlalchemy_engine
from services.dispute import audit
from services.dispute.domain import Actor, Role
from services.dispute.main import build_application
from services.dispute.orders import OrderBook
from services.dispute.settings import DisputeSettings
from services.dispute.timeline import TimelineProjection, read_timeline
from tests.support.orders import NOW, order_placed

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


@pytest.fixture
def store(pg_url):
    app = build_application(DisputeSettings(database_url=pg_url))
    ids = [open_and_negotiate(app, n) for n in range(3)]
    return app, sqlalchemy_engine(pg_url), ids


def test_an_untouched_store_verifies(store):
    app, _, _ = store
    report = audit.verify(app)
    assert report.broken is None and (report.events, report.disputes, report.unchained) == (15, 3, 0)


def test_verify_names_the_row_edited_directly_in_postgresql(store):
    app, engine, ids = store
    with engine.begin() as conn:
        conn.execute(text(
            "UPDATE disputes_events SET state = convert_to(replace(convert_from(state, 'UTF8'), "
            "'30.00', '3.00'), 'UTF8') WHERE originator_id = :id AND originator_version = 3"),
            {"id": ids[1]})
        notification_id = conn.execute(text(
            "SELECT notification_id FROM disputes_events WHERE originator_id = :id AND "
            "originator_version = 3"), {"id": ids[1]}).scalar()
    broken = audit.verify(app).broken
    assert (broken.dispute_id, broken.version, broken.notification_id) == (str(ids[1]), 3, notification_id)
    assert broken.problem == "content does not match its hash" and broken.expected != broken.found


def test_verify_names_a_deleted_row_as_a_gap(store):
    app, engine, ids = store
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM disputes_events WHERE originator_id = :id AND originator_version = 2"),
                     {"id": ids[0]})
    broken = audit.verify(app).broken
    assert (broken.dispute_id, broken.version) == (str(ids[0]), 3)
    assert "missing" in broken.problem


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
    assert audit.replay(app, dispute.id, as_of=moment)["timeline"] == captured


def test_replay_by_version_gives_the_state_as_it_was(store):
    app, _, ids = store
    result = audit.replay(app, ids[0], version=3)
    assert result["state"]["status"] == "AWAITING_BUYER_RESPONSE"
    assert [e["event_type"] for e in result["timeline"]] == ["DisputeOpened", "SellerResponded", "OfferMade"]
