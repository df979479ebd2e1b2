"""audit verify in bounded memory, on real PostgreSQL: with room for one head only, every
event of an interleaved history comes back to a dropped head, read back from the store, and
each tampering is reported exactly as by a walk that keeps every head."""

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from services.common.database import sqlalchemy_engine
from services.dispute.adapters.audit_chain import DEV_AUDIT_KEY
from services.dispute.adapters.order_book import OrderBook
from services.dispute.audit import verify as audit_verify
from services.dispute.audit.checkpoints import CheckpointBook, Recorded
from services.dispute.audit.history import notifications
from services.dispute.bootstrap import build_application
from services.dispute.domain import Actor, Role
from services.dispute.settings import DisputeSettings
from tests.support import tampering
from tests.support.orders import NOW, order_placed

pytestmark = pytest.mark.integration
BUYER, SELLER = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1")
KEY = "audit-key-of-these-tests-0123456789abcdef"


@pytest.fixture
def store(pg_url):
    """Three disputes opened (versions 1-2 of each), then their events interleaved: v3 of each,
    v4 of each, v5 of each."""
    app = build_application(DisputeSettings(database_url=pg_url, audit_key=SecretStr(KEY),
                                            audit_key_id="test-1"))
    ids = [app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=f"O-{n}")), item_id="I-1",
                            actor=BUYER, reason="DAMAGED", request="FULL_REFUND", request_amount=None,
                            description="cracked", at=NOW).id for n in range(3)]
    day, p = NOW + timedelta(days=1), app.policy
    steps = [lambda d: d.make_offer(offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"),
                                    actor=SELLER, at=day, policy=p),
             lambda d: d.reject_offer(offer_id="OF-1", reason="too little", actor=BUYER, at=day, policy=p),
             lambda d: d.post_message(message_id="M-1", text="see photos", actor=BUYER, at=day)]
    for step in steps:
        for dispute_id in ids:
            app.execute(dispute_id, day, step)
    return app, sqlalchemy_engine(pg_url), ids


def report_of(app, monkeypatch, kept: int, book=None):
    with monkeypatch.context() as patch:
        patch.setattr(audit_verify.ChainWalk, "KEPT_HEADS", kept)
        report = audit_verify.verify(app, book)
    found = sorted((f.kind, f.dispute_id, f.version, f.notification_id, f.detail) for f in report.findings)
    return found, (report.events, report.disputes, report.problems, report.checkpointed_disputes,
                   report.uncheckpointed)


def same_either_way(app, monkeypatch, book=None):
    bounded, whole = report_of(app, monkeypatch, 1, book), report_of(app, monkeypatch, 10_000, book)
    assert bounded == whole
    return whole


def test_an_untouched_interleaved_history_verifies_with_one_head_kept(store, monkeypatch):
    app, _, _ = store
    assert same_either_way(app, monkeypatch) == ([], (15, 3, 0, 0, 0))


def test_the_walk_holds_no_more_heads_than_it_keeps(store, monkeypatch):
    app, _, _ = store
    monkeypatch.setattr(audit_verify.ChainWalk, "KEPT_HEADS", 1)
    walk, most = audit_verify.ChainWalk(app.mapper, app.chain_keys, 0, None, app.recorder), 0
    for n in notifications(app.recorder):
        walk.check(n)
        most = max(most, len(walk.heads) + len(walk.unsettled))
    assert most == 1 and walk.finish().ok


def test_an_edited_row_is_named_once_when_its_head_came_back_from_the_store(store, monkeypatch):
    app, engine, ids = store
    tampering.replace_in_state(engine, ids[1], 4, "too little", "fine by me")
    found, _ = same_either_way(app, monkeypatch)
    assert [f[:3] for f in found] == [("edited", str(ids[1]), 4)]


def test_a_stripped_hash_and_a_rehashed_chain_are_named_as_by_the_whole_walk(store, monkeypatch):
    app, engine, ids = store
    tampering.strip_hash(engine, ids[2], 3)
    tampering.replace_in_state(engine, ids[0], 3, "30.00", "3.00")
    tampering.rehash_from(app, engine, ids[0], 3, guessed_key=DEV_AUDIT_KEY.encode())
    found, _ = same_either_way(app, monkeypatch)
    assert sorted(f[:3] for f in found) == sorted([("hash_missing", str(ids[2]), 3),
                                                   ("rehashed", str(ids[0]), 3)])


# the dispute seen before (3, 4: read back from the store), or not (1; 1 and 2)
@pytest.mark.parametrize("deleted", [(3,), (4,), (1,), (1, 2)])
def test_deleted_rows_are_a_gap(store, monkeypatch, deleted):
    app, engine, ids = store
    tampering.delete_versions(engine, ids[0], *deleted)
    found, counts = same_either_way(app, monkeypatch)
    assert [f[:3] for f in found] == [("event_missing", str(ids[0]), max(deleted) + 1)]
    assert counts[:2] == (15 - len(deleted), 3)


@pytest.mark.parametrize("moved", [3, 4])
def test_a_row_moved_to_the_end(store, monkeypatch, moved):
    """...of the log is named as by the whole walk: a head is read back by notification id, not
    by version (the row inserted again is not the link)."""
    app, engine, ids = store
    tampering.reinsert(engine, ids[1], moved)
    found, counts = same_either_way(app, monkeypatch)
    assert ("event_missing", str(ids[1]), moved + 1) in [f[:3] for f in found]
    assert counts[:2] == (15, 3)


def test_the_runs_open_at_the_end_are_named_in_the_order_they_began(store, monkeypatch):
    app, engine, ids = store
    for dispute_id, version in ((ids[2], 3), (ids[0], 4)):
        old, new = ("30.00", "3.00") if version == 3 else ("too little", "fine by me")
        tampering.replace_in_state(engine, dispute_id, version, old, new)
        tampering.rehash_from(app, engine, dispute_id, version, guessed_key=DEV_AUDIT_KEY.encode())
    report = audit_verify.verify(app)
    assert [(f.kind, f.dispute_id, f.version) for f in report.findings] == [
        ("rehashed", str(ids[2]), 3), ("rehashed", str(ids[0]), 4)]


def test_checkpoints_are_held_against_the_last_version_of_dropped_heads(store, monkeypatch):
    app, engine, ids = store
    last = {d: app.recorder.select_events(d, desc=True, limit=1)[0] for d in ids}
    book = CheckpointBook()
    book.recorded = {d: Recorded(5, app.mapper.stored_link(last[d])[0], position=15, at=NOW) for d in ids[:2]}
    tampering.delete_versions(engine, ids[1], 5)  # its tail: only the checkpoint knows it was there
    found, counts = same_either_way(app, monkeypatch, book)
    assert [f[:3] for f in found] == [("tail_missing", str(ids[1]), 5)]
    assert counts == (14, 3, 1, 2, 1)
