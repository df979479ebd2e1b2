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
