"""The payment-provider stand-in's ledger on PostgreSQL: its sessions do not wait for each
commit's flush (as SQLite's synchronous=NORMAL), what it committed is read back by another
session, and other engines on the same database still wait for every flush."""

import pytest
from sqlalchemy import make_url, text

from services.common.database import sqlalchemy_engine
from standins.payment_provider.app import ledger_engine
from standins.payment_provider.store import Ledger


@pytest.fixture
def waiting_database(pg_url) -> str:
    """The tests' server runs without waiting for flushes; this database waits by default, as a
    durable server does, so the ledger's own setting is what is seen."""
    engine = sqlalchemy_engine(pg_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'ALTER DATABASE "{make_url(pg_url).database}" SET synchronous_commit = on'))
    engine.dispose()
    return pg_url


def test_the_ledger_does_not_wait_for_each_flush_and_keeps_what_it_committed(waiting_database):
    engine = ledger_engine(waiting_database)
    ledger = Ledger(engine)
    ledger.create_tables()
    request = {"amount": "5.00", "currency": "EUR", "order_reference": "O-1", "metadata": {"dispute_id": "d"}}
    first, replayed = ledger.refund("refund:d:e", request)
    assert not replayed
    with engine.connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
    assert Ledger(sqlalchemy_engine(waiting_database)).refund("refund:d:e", request) == (first, True)


def test_other_engines_on_the_database_still_wait_for_every_flush(waiting_database):
    ledger_engine(waiting_database).connect().close()
    with sqlalchemy_engine(waiting_database).connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
