"""A rebuild of the timeline reads each stored event's JSON straight into its row
(timeline_facts.stored_facts): the same row, byte for byte in its details, as through the
domain event (timeline_entry), and the domain event wherever the stored JSON cannot give it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.dispute.adapters.event_store import META_KEY
from services.dispute.bootstrap import build_application
from services.dispute.projections.timeline import TimelineProjection, entry_of, timeline_entry
from services.dispute.projections.timeline_facts import stored_facts
from services.dispute.settings import DisputeSettings
from tests.support.stored_states import amounts, an_offer_made, restored, result_or_error, stored, times
from tests.unit.domain.support import offer, open_dispute
from tests.unit.test_contracts import domain_event_names, events_of, every_kind_of_event


@pytest.fixture(scope="module")
def mapper(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('store')}/store.sqlite"
    return build_application(DisputeSettings(database_url=url)).mapper


def from_the_store(mapper, stored_event, currency="EUR"):
    facts = stored_facts(mapper.plain_state(stored_event), stored_event.topic,
                         str(stored_event.originator_id), stored_event.originator_version)
    return None if facts is None else entry_of(facts, currency)


def through_the_domain_event(mapper, stored_event, currency="EUR"):
    return timeline_entry(mapper.to_domain_event(stored_event), currency)


def same_row(found: dict, expected: dict) -> bool:
    return found == expected and json.dumps(found["details"]) == json.dumps(expected["details"])


def test_every_kind_of_stored_event_gives_the_domain_events_row_from_its_json(mapper):
    kinds = set()
    for event in every_kind_of_event():
        stored_event = stored(mapper, event)
        found = from_the_store(mapper, stored_event)
        assert found is not None, type(event).__name__
        assert same_row(found, through_the_domain_event(mapper, stored_event))
        kinds.add(type(event).__name__)
    assert kinds == domain_event_names()


def test_an_event_of_an_older_class_version_is_left_to_its_domain_event(mapper):
    opened = stored(mapper, events_of(open_dispute())[0])

    def as_v1(state):
        for later in ("escalation_allowed_from", "refunded_before", "class_version"):
            state.pop(later)
        state["deadlines"].pop("NEGOTIATION_MAX")

    v1 = restored(mapper, opened, as_v1)
    assert from_the_store(mapper, v1) is None
    upcast = through_the_domain_event(mapper, v1)
    assert upcast["details"]["refunded_before"] == "0"  # the upcast's default
    assert TimelineProjection.prepare(replaying(), [v1], CountingShard(mapper))[0].fields["refunded_before"] == 0


def test_a_transcoding_it_does_not_know_or_a_malformed_one_is_left_to_the_domain_event(mapper):
    made = stored(mapper, an_offer_made())
    for odd in ({"_type_": "complex", "_data_": "1+2j"}, {"_type_": "decimal_str", "_data_": 1},
                {"_type_": "decimal_str", "_data_": "1", "more": 2}):
        assert from_the_store(mapper, restored(mapper, made, lambda s, odd=odd: s.update(note=odd))) is None


def test_the_sentence_reads_amounts_as_decimals_as_the_domain_event_has_them(mapper):
    """A zero amount is false as a Decimal and true as text: the opening then names the price."""
    opened = restored(mapper, stored(mapper, events_of(open_dispute())[0]),
                      lambda s: s.update(request_amount=Decimal("0.00"), paid_amount=Decimal("80.00")))
    found = from_the_store(mapper, opened)
    assert found is not None and same_row(found, through_the_domain_event(mapper, opened))
    assert "asking for a full refund of 80.00 EUR" in found["summary"]


def test_lists_and_nested_values_are_read_as_the_domain_event_has_them(mapper):
    at = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    nested = restored(mapper, stored(mapper, an_offer_made()), lambda s: s.update(
        note=[Decimal("1.50"), {"when": at, "plain": ["a", 1, None]}, []]))
    found = from_the_store(mapper, nested)
    assert found is not None and same_row(found, through_the_domain_event(mapper, nested))
    assert found["details"]["note"] == ["1.50", {"when": "2026-03-01T07:30:00Z", "plain": ["a", 1, None]}, []]


def test_a_rebuild_reads_its_events_from_their_json_and_a_follower_through_the_domain_events(mapper):
    events = [stored(mapper, e) for e in events_of(open_dispute(), offer("A", "30.00"))]
    counting = CountingShard(mapper)
    rebuilt = TimelineProjection.prepare(replaying(), events, counting)
    assert counting.built == 0
    followed = TimelineProjection.prepare(following(), events, counting)
    assert counting.built == len(events)
    assert [entry_of(f, "EUR") for f in rebuilt] == [entry_of(f, "EUR") for f in followed]




@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=times, respond_by=times, amount=amounts | st.none())
def test_stored_times_and_amounts_give_the_domain_events_row_or_its_error(mapper, at, respond_by, amount):
    def with_values(state):
        state.update(at=at, respond_by=respond_by, amount=amount)
        state[META_KEY] = {"correlation_id": "corr-1"}

    made = restored(mapper, stored(mapper, an_offer_made()), with_values)
    expected = result_or_error(lambda: through_the_domain_event(mapper, made))
    found = result_or_error(lambda: from_the_store(mapper, made))
    assert found == expected
    if isinstance(expected, dict):
        assert json.dumps(found["details"]) == json.dumps(expected["details"])


class CountingShard:
    """A shard whose mapper counts the domain events built."""

    def __init__(self, mapper):
        self.built, outer = 0, self

        class Counting:
            def plain_state(self, stored_event):
                return mapper.plain_state(stored_event)

            def to_domain_event(self, stored_event):
                outer.built += 1
                return mapper.to_domain_event(stored_event)

        self.mapper = Counting()


def replaying() -> TimelineProjection:
    projection = object.__new__(TimelineProjection)
    projection.replaying = True
    return projection


def following() -> TimelineProjection:
    projection = object.__new__(TimelineProjection)
    projection.replaying = False
    return projection
