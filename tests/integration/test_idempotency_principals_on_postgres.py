"""Idempotency keys on a real PostgreSQL, which (unlike SQLite) enforces the principal
column's length: a principal is (role, id) whatever the length of its id."""

from datetime import datetime, timezone

import pytest

from services.common.database import sqlalchemy_engine
from services.dispute.adapters.idempotency_store import IdempotencyStore, principal_key

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(pg_url):
    store = IdempotencyStore(sqlalchemy_engine(pg_url))
    store.create_tables()
    return store


def test_a_principal_with_a_very_long_id_claims_its_key(store):
    token, earlier = store.claim(principal_key("buyer", "B-" + "x" * 5000), "k-1", "f" * 64, NOW)
    assert token is not None and earlier is None


def test_two_long_ids_and_two_roles_of_one_long_id_keep_their_keys_apart(store):
    long_id = "P-" + "x" * 400
    keys = {principal_key("buyer", long_id), principal_key("seller", long_id),
            principal_key("buyer", long_id + "y")}
    for principal in keys:
        assert store.claim(principal, "k-1", "f" * 64, NOW)[1] is None
    assert len(keys) == 3
