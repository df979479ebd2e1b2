"""Events are plain JSON-able data and the @event bodies rebuild the same state on replay."""

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.application import Application

from services.dispute.domain import Dispute
from tests.unit.domain.support import (
    SELLER, add_evidence, appeal, day, decide, decide_appeal, escalate, feedback, offer,
    open_dispute, photo, post_message, refund_failed, refund_issued, reject, request_evidence,
    terms,
)

_PLAIN = (str, int, bool, type(None), Decimal, datetime, UUID)


def _state(dispute: Dispute) -> dict:
    return {k: v for k, v in vars(dispute).items() if k != "_pending_events"}


def test_a_long_history_reloads_to_the_same_state():
    app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                           "SQLITE_DBNAME": ":memory:"})
    dispute = _long_history()
    app.save(dispute)
    reloaded = app.repository.get(dispute.id)
    assert reloaded.version == dispute.version
    assert _state(reloaded) == _state(dispute)
    assert reloaded.status == "CLOSED"


def _long_history() -> Dispute:
    dispute = open_dispute(evidence=[photo("E-1")])
    for command in _commands():
        command(dispute)
    return dispute


def _commands():
    return [
        offer("A", "20.00"), reject("A", counter=terms("B", "60.00")),
        offer("C", "40.00", at=day(3)), escalate(at=day(4)),
        request_evidence(at=day(4.5)), add_evidence("E-2", at=day(5)),
        post_message("M-1", by=SELLER, at=day(5)),
        decide("PARTIAL", "45.00", at=day(6)),
        refund_failed("R-1", at=day(6.5)), refund_issued("R-1", "45.00", at=day(7)),
        add_evidence("S-new", by=SELLER, at=day(8)),
        appeal("AP-1", ["S-new"], by=SELLER, at=day(8)),
        decide_appeal(outcome="UPHELD", extra_refund=None, at=day(9)),
        feedback(4, at=day(10))]


def test_every_event_carries_who_acted_and_when():
    for event in _long_history().collect_events():
        assert set(event.actor) == {"role", "id"}
        assert isinstance(event.at, datetime)


def test_event_attributes_are_plain_data():
    for event in _long_history().collect_events():
        for value in vars(event).values():
            _assert_plain(value)


def _assert_plain(value: object) -> None:
    if isinstance(value, (list, tuple)):
        for item in value:
            _assert_plain(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            _assert_plain(item)
    else:
        assert type(value) in _PLAIN, f"{value!r} is {type(value)}"
