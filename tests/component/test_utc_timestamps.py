"""Timestamps come back from every service store as aware UTC, SQLite included (which keeps no
zone: a naive value once crashed the dispute service's refund-result consumer)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from contracts.refunds import RefundIssued
from services.common.database import UtcDateTime, sqlalchemy_engine

BERLIN = timezone(timedelta(hours=1))


@pytest.fixture
def table(tmp_path):
    engine = sqlalchemy_engine(f"sqlite:///{tmp_path}/t.sqlite")
    stamps = Table("stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime()))
    stamps.metadata.create_all(engine)
    return engine, stamps


def stored_and_read(table, value: datetime) -> datetime:
    engine, stamps = table
    with engine.begin() as conn:
        conn.execute(insert(stamps).values(id=1, at=value))
        return conn.execute(select(stamps.c.at)).scalar_one()


def test_an_aware_time_comes_back_aware_in_utc(table):
    read = stored_and_read(table, datetime(2026, 3, 10, 13, 0, tzinfo=BERLIN))
    assert (read, read.tzinfo) == (datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc), timezone.utc)


def test_a_naive_time_is_taken_as_utc(table):
    assert stored_and_read(table, datetime(2026, 3, 10, 12, 0)).tzinfo == timezone.utc


def test_a_refund_result_with_a_naive_time_is_refused_by_its_contract():
    with pytest.raises(ValidationError):
        RefundIssued(event_id=uuid4(), refund_id="R-1", dispute_id=uuid4(), amount=Decimal("1.00"),
                     currency="USD", occurred_at=datetime(2026, 3, 10), causation_id="E-1",
                     provider_reference="re_1")
