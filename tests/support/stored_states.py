"""Stored dispute events for the tests of the paths that read a stored state's JSON directly
(the relay's records, the export, the timeline's rebuild) against the domain event's path."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from hypothesis import strategies as st

from services.dispute.adapters.event_store import command_context
from tests.unit.domain.support import offer, open_dispute
from tests.unit.test_contracts import events_of


def stored(mapper, event, correlation_id: str | None = "corr-1"):
    if correlation_id is None:
        return mapper.to_stored_event(event)
    with command_context(correlation_id, causation_id="cause-1"):
        return mapper.to_stored_event(event)


def restored(mapper, stored_event, change):
    """The stored event with its decoded state changed by `change`, encoded again."""
    state = mapper._decode(stored_event.state)
    change(state)
    return type(stored_event)(stored_event.originator_id, stored_event.originator_version,
                              stored_event.topic, mapper._encode(state))


def an_offer_made():
    return events_of(open_dispute(), offer("A", "30.00"))[-1]


def result_or_error(call: Callable[[], Any]) -> object:
    """What `call` returns, or the type of what it raises: both paths must agree on either."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - whatever the typed path raises, the stored one must
        return type(error)


offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
times = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                     timezones=st.none() | st.builds(timezone, offsets) | st.just(timezone.utc))
amounts = st.decimals(allow_nan=True, allow_infinity=True) | st.decimals(min_value=0, max_value=10**9, places=2)
