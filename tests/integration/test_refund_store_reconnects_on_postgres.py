"""The refund service's engine runs without pre-ping (a round trip per checkout, three
checkouts a refund): a pooled connection PostgreSQL dropped (a restart, an operator's
pg_terminate_backend) must not fail a refund; the store runs the call once more on a fresh
connection (services/common/database.once_more_after_a_lost_connection)."""

from decimal import Decimal
from uuid import uuid4

import psycopg
import pytest

from services.refund.lifecycle import PENDING
from services.refund.main import build_parts
from services.refund.policy import RefundInstruction, idempotency_key_for
from services.refund.settings import RefundSettings
from services.refund.store import RefundStore
from tests.support.refunds import opened_on_known_order

pytestmark = pytest.mark.integration


@pytest.fixture
def store(pg_url, tmp_path) -> RefundStore:
    parts = build_parts(RefundSettings(database_url=pg_url, provider_url="http://127.0.0.1:9"))
    return parts.store


def drop_pooled_connections(store: RefundStore, pg_url: str) -> int:
    """What a PostgreSQL restart does to the pool: every connection it holds is gone."""
    with store.engine.connect() as conn:
        pid = conn.connection.dbapi_connection.info.backend_pid  # the one the pool keeps
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


def test_the_refund_service_engine_does_not_ping_before_each_checkout(store):
    assert store.engine.pool._pre_ping is False


def test_the_refund_service_keeps_a_connection_for_each_record_handled_at_once(pg_url):
    parts = build_parts(RefundSettings(database_url=pg_url, provider_url="http://127.0.0.1:9",
                                       concurrency=48))
    assert parts.store.engine.pool.size() == 48


def resolution(store: RefundStore, amount: str) -> tuple[str, RefundInstruction]:
    """A resolution's event id and refund instruction on a dispute of a known order."""
    dispute_id, event_id = opened_on_known_order(store), str(uuid4())
    return event_id, RefundInstruction(dispute_id=dispute_id, amount=Decimal(amount), currency="USD",
                                       idempotency_key=idempotency_key_for(dispute_id, event_id),
                                       cause_event_id=event_id)


def test_a_resolution_is_recorded_on_a_fresh_connection_after_the_pooled_one_died(store, pg_url):
    event_id, instruction = resolution(store, "30.00")
    dropped = drop_pooled_connections(store, pg_url)
    accepted = store.accept_resolution(event_id=event_id, instruction=instruction, correlation_id="c-1")
    assert accepted is not None and accepted.refusal is None
    with store.engine.connect() as conn:
        assert conn.connection.dbapi_connection.info.backend_pid != dropped
    stored = store.instruction(instruction.idempotency_key)
    assert stored is not None and stored.status == PENDING and stored.reserved


def test_an_answer_is_recorded_by_compare_and_set_after_the_pooled_connection_died(store, pg_url):
    event_id, instruction = resolution(store, "10.00")
    accepted = store.accept_resolution(event_id=event_id, instruction=instruction, correlation_id="c-1")
    assert accepted is not None
    drop_pooled_connections(store, pg_url)
    issued = store.issued_from(accepted.stored, "R-1")
    assert issued is not None and issued.status == "ISSUED" and issued.provider_reference == "R-1"
