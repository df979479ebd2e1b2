"""Event ids are uuid5(NAMESPACE_URL, "urn:dispute-event:<dispute id>:<version>"): consumers
already de-duplicate on the ids published before, so the fast computation must give them."""

from uuid import NAMESPACE_URL, UUID, uuid5

from hypothesis import given, strategies as st

from contracts.envelope import event_id_for, event_id_text


@given(st.uuids(), st.integers(min_value=1, max_value=10**9))
def test_the_event_id_is_the_uuid5_of_the_dispute_and_version(dispute_id, version):
    expected = uuid5(NAMESPACE_URL, f"urn:dispute-event:{dispute_id}:{version}")
    found = event_id_for(dispute_id, version)
    assert found == expected and str(found) == str(expected)
    assert found.version == 5 and found.variant == expected.variant


def test_a_known_event_id_stays_what_it_was():
    dispute_id = UUID("39890f77-0000-4000-8000-000000000001")
    assert event_id_for(dispute_id, 1) == UUID("a92089e2-5d74-56f3-9b79-6904eaac1ad5")  # published ids: never to change


@given(st.uuids(), st.integers(min_value=1, max_value=10**9))
def test_the_event_id_as_text_is_the_uuid5_written_out(dispute_id, version):
    expected = uuid5(NAMESPACE_URL, f"urn:dispute-event:{dispute_id}:{version}")
    assert event_id_text(str(dispute_id), version) == str(expected)
