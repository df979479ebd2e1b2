"""Schema evolution: stored events upcast by the domain (class_version), public payloads upcast
by the contracts (schema_version) for consumers reading older records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from pydantic import ValidationError

from contracts import disputes as public
from services.dispute.application.disputes import DisputeApplication
from services.dispute.adapters.event_store import command_context
from services.dispute.domain import Actor, Role
from services.dispute.adapters.translation import to_envelope
from tests.support.skeleton_events import store_skeleton_dispute
from tests.unit.domain.support import IDS, open_dispute

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def app() -> DisputeApplication:
    return DisputeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                   "SQLITE_DBNAME": ":memory:"}, ids=IDS)


def test_a_dispute_stored_by_the_walking_skeleton_loads_with_todays_windows(app):
    old = store_skeleton_dispute(app, T0)
    dispute = app.repository.get(old.id)
    assert dispute.escalation_allowed_from == T0 + timedelta(days=3)
    assert dispute.deadlines == {"SELLER_RESPONSE": T0 + timedelta(days=5),
                                 "NEGOTIATION_MAX": T0 + timedelta(days=15)}


def test_a_dispute_stored_by_the_walking_skeleton_publishes_as_todays_contract(app):
    with command_context(correlation_id="corr-skeleton"):
        store_skeleton_dispute(app, T0)
    [notification] = app.recorder.select_notifications(0, 10)
    envelope = to_envelope(*app.mapper.to_domain_event_with_meta(notification))
    payload = public.parse_payload(envelope)
    assert (envelope.event_type, envelope.schema_version, envelope.correlation_id) == (
        "DisputeOpened", 1, "corr-skeleton")
    assert payload.escalation_allowed_from == T0 + timedelta(days=3)


def test_a_dispute_stored_by_the_walking_skeleton_takes_todays_commands(app):
    dispute = app.repository.get(store_skeleton_dispute(app, T0).id)
    dispute.escalate(note="", actor=Actor(Role.BUYER, "B-1"), at=T0 + timedelta(days=4))
    app.save(dispute)
    assert app.repository.get(dispute.id).status == "UNDER_REVIEW"


def test_disputes_opened_today_are_stored_as_opened_version_3(app):
    dispute = open_dispute()
    app.save(dispute)
    [stored] = app.recorder.select_events(dispute.id)
    assert app.mapper.transcoder.decode(stored.state)["class_version"] == 3


def test_a_dispute_stored_as_opened_version_2_loads_with_nothing_refunded_before(app):
    dispute = open_dispute()
    app.save(dispute)
    [stored] = app.recorder.select_events(dispute.id)
    state = app.mapper.transcoder.decode(stored.state)
    del state["refunded_before"]
    state["class_version"] = 2
    old = type(stored)(originator_id=stored.originator_id, originator_version=1,
                       topic=stored.topic, state=app.mapper.transcoder.encode(state))
    loaded = app.mapper.to_domain_event(old)
    assert loaded.refunded_before == 0


# Consumers: a chain of payload upcasters per event type -----------------------------------

class OfferMadeV3(public.OfferMade):
    """A hypothetical future: v2 added `expires_in_days`, v3 renamed `note` to `message`."""

    schema_version: ClassVar[int] = 3
    note: str = ""
    message: str
    expires_in_days: int


@pytest.fixture
def offer_made_v3(monkeypatch):
    monkeypatch.setitem(public.REGISTRY, "OfferMade", (3, OfferMadeV3))
    monkeypatch.setitem(public.UPCASTERS, ("OfferMade", 1), lambda p: {**p, "expires_in_days": 5})
    monkeypatch.setitem(public.UPCASTERS, ("OfferMade", 2),
                        lambda p: {**{k: v for k, v in p.items() if k != "note"},
                                   "message": p["note"]})


V1_OFFER = {"offer_id": "A", "offer_type": "PARTIAL_REFUND", "amount": "30.00", "currency": "USD",
            "round_number": 1, "made_by": "seller", "respond_by": "2025-03-16T12:00:00Z",
            "note": "half the box was fine"}


def test_a_v1_payload_is_upcast_through_every_version_to_the_latest(offer_made_v3):
    upcast = public.upcast_payload("OfferMade", 1, V1_OFFER)
    assert (upcast["message"], upcast["expires_in_days"]) == ("half the box was fine", 5)
    assert "note" not in upcast


def test_a_consumer_validates_an_old_payload_as_the_latest_model(offer_made_v3):
    offer = public.validate_payload("OfferMade", 1, V1_OFFER)
    assert isinstance(offer, OfferMadeV3) and offer.message == "half the box was fine"


def test_the_latest_version_is_validated_as_it_is(offer_made_v3):
    v3 = {**V1_OFFER, "message": "m", "expires_in_days": 2}
    del v3["note"]
    assert public.validate_payload("OfferMade", 3, v3).expires_in_days == 2


def test_a_payload_from_a_newer_producer_is_refused_not_guessed():
    with pytest.raises(public.UnknownDisputeEvent, match="v2"):
        public.upcast_payload("OfferMade", 2, V1_OFFER)


def test_an_unknown_event_type_is_refused():
    with pytest.raises(public.UnknownDisputeEvent):
        public.validate_payload("OrderShipped", 1, {})


def test_an_upcast_payload_is_still_checked_for_unknown_fields(offer_made_v3):
    with pytest.raises(ValidationError):
        public.validate_payload("OfferMade", 1, {**V1_OFFER, "surprise": True})
