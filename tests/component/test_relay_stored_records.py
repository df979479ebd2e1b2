"""The relay reads a stored event straight into its Kafka record (translation.stored_kafka_record),
and the audit export into its envelope (stored_envelope_json): the same bytes as through the
domain event (to_kafka_record), without building the domain event where the stored text can go
to the contract as it is, and through it where it cannot."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import ValidationError

from services.dispute.adapters.event_store import META_KEY
from services.dispute.adapters.translation import (
    is_public, stored_envelope_json, stored_kafka_record, to_kafka_record,
)
from services.dispute.bootstrap import build_application
from services.dispute.settings import DisputeSettings
from tests.support.stored_states import amounts, an_offer_made, restored, result_or_error, stored, times
from tests.unit.domain.support import open_dispute
from tests.unit.test_contracts import events_of, every_kind_of_event


class CountingMapper:
    """The application's mapper, counting the domain events the stored path had built."""

    def __init__(self, mapper):
        self.mapper, self.built = mapper, []

    def event_class(self, stored):
        return self.mapper.event_class(stored)

    def state_as_text(self, stored, text):
        return self.mapper.state_as_text(stored, text)

    def to_domain_event_with_meta(self, stored):
        event, meta = self.mapper.to_domain_event_with_meta(stored)
        self.built.append(type(event).__name__)
        return event, meta


@pytest.fixture(scope="module")
def mapper(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('store')}/store.sqlite"
    return build_application(DisputeSettings(database_url=url)).mapper


def through_the_domain_event(mapper, stored_event):
    event, meta = mapper.to_domain_event_with_meta(stored_event)
    return to_kafka_record(event, meta) if is_public(event) else None


def test_every_kind_of_stored_event_gives_the_domain_events_record_without_building_it(mapper):
    counting = CountingMapper(mapper)
    for correlation_id in ("corr-1", None):
        for event in every_kind_of_event():
            stored_event = stored(mapper, event, correlation_id)
            record, meta = stored_kafka_record(stored_event, counting)
            assert record == through_the_domain_event(mapper, stored_event)
            assert meta == mapper.to_domain_event_with_meta(stored_event)[1]
    # AppealDecided renames a field (extra_refund): the only one read through its domain event
    assert set(counting.built) == {"AppealDecided"}


def test_the_export_reads_every_kind_of_stored_event_as_the_record_and_the_domain_event_give_it(mapper):
    counting = CountingMapper(mapper)
    for event in every_kind_of_event():
        stored_event = stored(mapper, event)
        typed, meta = mapper.to_domain_event_with_meta(stored_event)
        record = to_kafka_record(typed, meta) if is_public(typed) else None
        assert stored_envelope_json(stored_event, counting) == (
            record and record.value, meta, getattr(typed, "at", None) or typed.timestamp)
    assert set(counting.built) == {"AppealDecided"}


def test_a_platform_only_message_has_no_record_on_the_stored_path_either(mapper):
    internal = [e for e in every_kind_of_event() if not is_public(e)]
    assert internal and all(stored_kafka_record(stored(mapper, e), mapper)[0] is None for e in internal)


def test_an_event_of_an_older_class_version_is_upcast_through_its_domain_event(mapper):
    opened = stored(mapper, events_of(open_dispute())[0])

    def as_v1(state):
        for later in ("escalation_allowed_from", "refunded_before", "class_version"):
            state.pop(later)
        state["deadlines"].pop("NEGOTIATION_MAX")

    v1, counting = restored(mapper, opened, as_v1), CountingMapper(mapper)
    record, _ = stored_kafka_record(v1, counting)
    assert record == through_the_domain_event(mapper, v1)
    assert counting.built == ["Opened"] and b'"escalation_allowed_from"' in record.value


def test_a_decimal_stored_where_the_contract_has_text_is_refused_as_through_the_domain_event(mapper):
    made = restored(mapper, stored(mapper, an_offer_made()), lambda s: s.update(note=Decimal("1")))
    with pytest.raises(ValidationError, match="note"):
        through_the_domain_event(mapper, made)
    with pytest.raises(ValidationError, match="note"):
        stored_kafka_record(made, mapper)


def test_a_stored_field_the_contract_does_not_know_is_refused_as_through_the_domain_event(mapper):
    made = restored(mapper, stored(mapper, an_offer_made()), lambda s: s.update(amont=Decimal("1")))
    with pytest.raises(ValidationError, match="amont"):
        stored_kafka_record(made, mapper)


def test_a_transcoded_value_under_a_key_of_its_own_is_read_through_the_domain_event(mapper):
    """A JSON key "_type_" elsewhere in the state: the stored path does not count it as read."""
    made = restored(mapper, stored(mapper, an_offer_made()),
                    lambda s: s.update(note="", actor={**s["actor"], "_type_": "x"}))
    counting = CountingMapper(mapper)
    with pytest.raises(ValidationError):
        through_the_domain_event(mapper, made)
    with pytest.raises(ValidationError):
        stored_kafka_record(made, counting)
    assert counting.built == ["OfferMade"]




@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=times, respond_by=times, amount=amounts | st.none())
def test_stored_times_and_amounts_give_the_domain_events_bytes_or_its_error(mapper, at, respond_by, amount):
    def with_values(state):
        state.update(at=at, respond_by=respond_by, amount=amount)
        state[META_KEY] = {"correlation_id": "corr-1"}

    made = restored(mapper, stored(mapper, an_offer_made()), with_values)
    expected = result_or_error(lambda: through_the_domain_event(mapper, made))
    found = result_or_error(lambda: stored_kafka_record(made, mapper)[0])
    assert found == expected
