"""A stream replays as it was recorded: the decisions a command took travel in its events, and
what an upcaster fills in for an older event version is pinned, never today's rule or policy."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta
from functools import reduce

import pytest
from eventsourcing.application import Application

from services.dispute.domain import Deadline, Dispute, DisputePolicy, records
from services.dispute.domain import dispute as dispute_module
from tests.support.skeleton_events import store_skeleton_dispute
from tests.unit.domain.support import (
    T0, add_evidence, day, decide, escalate, given, offer, open_dispute, request_evidence,
)


@pytest.fixture
def app() -> Application:
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                            "SQLITE_DBNAME": ":memory:"})


def _replayed(events: list[object]) -> Dispute:
    return reduce(lambda dispute, event: event.mutate(dispute), events, None)


def _evidence_event(dispute: Dispute, command) -> object:
    dispute.collect_events()
    command(dispute)
    [added] = dispute.collect_events()
    return added


def test_evidence_records_that_it_came_after_the_resolution(dispute_resolved_for_buyer):
    added = _evidence_event(dispute_resolved_for_buyer, add_evidence("E-9", at=day(6)))
    assert (added.after_resolution, added.answered_request_id) == (True, None)


def test_evidence_records_the_evidence_request_it_answers(dispute_under_review):
    given(dispute_under_review, request_evidence("RQ-1", at=day(5)))
    added = _evidence_event(dispute_under_review, add_evidence("E-9", at=day(6)))
    assert (added.after_resolution, added.answered_request_id) == (False, "RQ-1")


def test_evidence_of_the_party_not_asked_answers_no_request(dispute_under_review):
    given(dispute_under_review, request_evidence("RQ-1", from_party="seller", at=day(5)))
    added = _evidence_event(dispute_under_review, add_evidence("E-9", at=day(6)))
    assert added.answered_request_id is None


def test_replay_keeps_what_the_evidence_meant_when_it_was_added():
    dispute = open_dispute()
    events = dispute.collect_events()
    add_evidence("E-1", at=day(1))(dispute)
    [added] = dispute.collect_events()
    # As if the rule of the day had counted this file as new evidence for an appeal:
    replayed = _replayed([*events, replace(added, after_resolution=True)])
    assert replayed.evidence["E-1"].after_resolution is True


def test_evidence_stored_as_version_1_is_read_as_version_1_did(app):
    loaded = _reloaded_with_last_event_as_v1(
        app, offer("A", "30.00"), escalate(at=day(4)), request_evidence("RQ-1", at=day(5)),
        add_evidence("E-9", at=day(6)))
    assert loaded.evidence["E-9"].after_resolution is False
    assert loaded.evidence_request.status == "ANSWERED"
    assert Deadline.EVIDENCE_REQUEST not in loaded.deadlines


def test_evidence_stored_as_version_1_after_the_resolution_still_counts_for_an_appeal(app):
    loaded = _reloaded_with_last_event_as_v1(
        app, offer("A", "30.00"), escalate(at=day(4)), decide(at=day(5)),
        add_evidence("E-9", at=day(6)))
    assert loaded.evidence["E-9"].after_resolution is True


def _reloaded_with_last_event_as_v1(app: Application, *commands) -> Dispute:
    """The dispute after `commands`, its last event (an `EvidenceAdded`) stored as v1 stored it."""
    dispute = open_dispute()
    for command in commands:
        command(dispute)
    app.save(dispute)
    *earlier, last = app.recorder.select_events(dispute.id)
    state = app.mapper.transcoder.decode(last.state)
    del state["after_resolution"], state["answered_request_id"]
    state["class_version"] = 1
    old = replace(last, state=app.mapper.transcoder.encode(state))
    return _replayed([app.mapper.to_domain_event(event) for event in [*earlier, old]])


def test_a_skeleton_dispute_keeps_the_skeletons_windows_whatever_todays_policy(
        app, monkeypatch):
    faster = DisputePolicy(escalation_opens_after=timedelta(days=1),
                           negotiation_max=timedelta(days=2))
    monkeypatch.setattr(dispute_module, "DisputePolicy", lambda: faster)
    loaded = app.repository.get(store_skeleton_dispute(app, T0).id)
    assert loaded.escalation_allowed_from == T0 + timedelta(days=3)
    assert loaded.deadlines[Deadline.NEGOTIATION_MAX] == T0 + timedelta(days=15)


_WHO_AND_WHEN = {"originator_id", "originator_version", "timestamp", "originator_topic",
                 "actor", "at"}


def _record_types() -> list[type[records.Record]]:
    return [kind for kind in vars(records).values()
            if isinstance(kind, type) and issubclass(kind, records.Record)
            and kind is not records.Record]


@pytest.mark.parametrize("record", _record_types(), ids=lambda kind: kind.__name__)
def test_each_record_names_an_event_with_the_same_fields(record):
    event_fields = {field.name for field in fields(getattr(Dispute, record.__name__))}
    assert {field.name for field in fields(record)} == event_fields - _WHO_AND_WHEN


def test_every_event_of_the_dispute_has_its_record():
    events = {name for name, value in vars(Dispute).items()
              if isinstance(value, type) and issubclass(value, Dispute.Event)
              and name not in {"Event", "Created"}}
    assert events == {kind.__name__ for kind in _record_types()}
