"""The keyed chain over a long history with every kind of event (in-memory SQLite store)."""

from services.dispute.audit import verify as audit_verify
from services.dispute.application.disputes import DisputeApplication
from services.dispute.adapters.audit_chain import ChainKeys
from services.dispute.domain import DisputeIds
from tests.unit.domain.test_persistence import _long_history

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}


def store_long_history(keys: ChainKeys) -> tuple[DisputeApplication, list]:
    app = DisputeApplication(env=MEMORY, ids=DisputeIds(b"test-id-key"), chain_keys=keys)
    dispute = _long_history()
    app.save(dispute)
    return app, [app.mapper.stored_link(e) for e in app.recorder.select_events(dispute.id)]


def test_a_long_history_of_every_kind_of_event_verifies_under_its_key():
    app, links = store_long_history(ChainKeys.single("k1", "a-key-long-enough-for-these-tests-0123"))
    report = audit_verify.verify(app)
    assert report.ok and report.events == len(links) > 15


def test_the_same_history_under_another_key_has_other_hashes_from_the_first_event():
    _, mine = store_long_history(ChainKeys.single("k1", "a-key-long-enough-for-these-tests-0123"))
    _, theirs = store_long_history(ChainKeys.single("k1", "another-key-long-enough-for-tests-456"))
    assert all(a[0] != b[0] for a, b in zip(mine, theirs))


def test_a_walk_keeping_one_head_reads_the_others_back_from_sqlite(monkeypatch):
    """The embedded store: dropped heads come back by notification id from SQLite too."""
    from datetime import timedelta

    from services.dispute.adapters.order_book import OrderBook
    from services.dispute.adapters.replay_reads import last_walked
    from services.dispute.domain import Actor, Role
    from tests.support.orders import NOW, order_placed

    app = DisputeApplication(env=MEMORY, ids=DisputeIds(b"test-id-key"),
                             chain_keys=ChainKeys.single("k1", "a-key-long-enough-for-these-tests-0123"))
    buyer = Actor(Role.BUYER, "B-1")
    ids = [app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=f"O-{n}")), item_id="I-1",
                            actor=buyer, reason="DAMAGED", request="FULL_REFUND", request_amount=None,
                            description="cracked", at=NOW).id for n in range(2)]
    day = NOW + timedelta(days=1)
    for n in range(3):  # interleaved: each dispute's head is dropped before its next event
        for dispute_id in ids:
            app.execute(dispute_id, day, lambda d, n=n: d.post_message(
                message_id=f"M-{n}", text="see photos", actor=buyer, at=day))
    log = app.recorder.select_notifications(1, 100)
    last = last_walked(app.recorder, ids[0], log[-1].id)
    assert (last.id, last.originator_id, last.originator_version) == max(
        (n.id, n.originator_id, n.originator_version) for n in log if n.originator_id == ids[0])
    assert last_walked(app.recorder, ids[0], log[0].id) is None
    monkeypatch.setattr(audit_verify.ChainWalk, "KEPT_HEADS", 1)
    read_back: list = []
    monkeypatch.setattr(audit_verify, "last_walked", lambda *a: read_back.append(a) or last_walked(*a))
    report = audit_verify.verify(app)
    assert report.ok and (report.events, report.disputes) == (len(log), 2)
    assert len(read_back) == 6  # every message's dispute came back after the other's event
