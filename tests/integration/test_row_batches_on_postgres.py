"""`insert_rows` (services/common/row_batches.py) refuses what a plain INSERT refuses, on a real
PostgreSQL and on SQLite alike."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, select
from sqlalchemy.exc import DataError, IntegrityError

from services.common.database import sqlalchemy_engine
from services.common.row_batches import insert_rows

pytestmark = pytest.mark.integration

meta = MetaData()
parties = Table("row_batch_parties", meta, Column("id", String(8), primary_key=True),
                Column("name", Text, nullable=False), Column("rank", Integer))


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/rows.sqlite"
    engine = sqlalchemy_engine(url)
    meta.create_all(engine)
    return engine


def stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(parties).order_by(parties.c.id))]


def test_the_rows_are_stored_as_given(engine):
    with engine.begin() as conn:
        insert_rows(conn, parties, [{"id": "b", "name": "Bo", "rank": None}, {"id": "a", "name": "Al", "rank": 2}])
    assert stored(engine) == [("a", "Al", 2), ("b", "Bo", None)]


def test_a_value_longer_than_its_column_fails_and_stores_nothing(pg_url):
    """PostgreSQL only: SQLite never enforces a VARCHAR's length (nor did a plain INSERT)."""
    engine = sqlalchemy_engine(pg_url)
    meta.create_all(engine)
    with pytest.raises(DataError), engine.begin() as conn:  # not cut to 8 characters by a cast
        insert_rows(conn, parties, [{"id": "x" * 9, "name": "Long", "rank": 1}])
    assert stored(engine) == []


def test_a_stored_key_fails_the_batch_as_a_plain_insert_does(engine):
    with engine.begin() as conn:
        insert_rows(conn, parties, [{"id": "a", "name": "Al", "rank": 1}])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        insert_rows(conn, parties, [{"id": "b", "name": "Bo", "rank": 1}, {"id": "a", "name": "Al", "rank": 1}])
    assert stored(engine) == [("a", "Al", 1)]


def test_a_row_without_every_column_is_refused_on_both_databases(engine):
    with pytest.raises(ValueError, match="row_batch_parties"), engine.begin() as conn:
        insert_rows(conn, parties, [{"id": "a", "name": "Al"}])
    assert stored(engine) == []
