"""The audit chain's canonical form is byte for byte what `json.dumps` gave when the stored
chains were hashed (sorted keys, no spaces, UTF-8, anything else as its str): a chain stored
before must still verify."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum, StrEnum
from uuid import UUID

from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.dispute.adapters.audit_chain import DEV_KEYS, GENESIS, canonical, chain_message


class Colour(StrEnum):
    RED = "red"
    BLUE = "blå"


class Plain(Enum):
    ONE = 1


def as_before(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(), st.decimals(allow_nan=False),
    st.datetimes(timezones=st.sampled_from([None, timezone.utc])), st.dates(), st.uuids(),
    st.sampled_from(list(Colour) + list(Plain)))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.text(), inner, max_size=4),
    st.dictionaries(st.integers(), inner, max_size=3),
    # keys of every kind json takes, mixed (sorting them can fail: refused alike) or not
    st.dictionaries(st.one_of(st.text(), st.integers(), st.floats(), st.booleans(), st.none()),
                    inner, max_size=3)), max_leaves=20)


@settings(max_examples=300)
@given(values)
@example({1: "a", "b": 2})  # keys that cannot be sorted together: refused
@example({(1, 2): "a"})  # a key json does not take: refused
def test_every_value_is_encoded_to_the_bytes_it_was(value):
    try:
        expected = as_before(value)
    except (TypeError, ValueError) as refusal:
        try:
            canonical(value)
        except type(refusal):
            return
        raise AssertionError("canonical encoded what json.dumps refused")
    assert canonical(value) == expected


def test_a_stored_link_is_signed_as_it_was():
    state = {"text": "où est mon colis ?\n\"vite\"", "at": datetime(2026, 12, 2, 3, 4, 5, tzinfo=timezone.utc),
             "amount": Decimal("12.50"), "colour": Colour.BLUE, "ids": (UUID(int=7),)}
    message = chain_message(GENESIS, "MessagePosted", UUID(int=1), 3, state, {"key_id": "dev"})
    assert message == GENESIS.encode() + (
        '["MessagePosted","00000000-0000-0000-0000-000000000001",3,{"amount":"12.50",'
        '"at":"2026-12-02 03:04:05+00:00","colour":"blå","ids":["00000000-0000-0000-0000-000000000007"],'
        '"text":"où est mon colis ?\\n\\"vite\\""},{"key_id":"dev"}]').encode()
    assert DEV_KEYS.sign(message) == DEV_KEYS.sign(GENESIS.encode() + as_before(
        ["MessagePosted", str(UUID(int=1)), 3, state, {"key_id": "dev"}]))
