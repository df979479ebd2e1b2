"""The API and the relay of a first `make run` create the same SQLite tables at once: the loser
tries again instead of dying; any other database error still stops it at once."""

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from services.common.database import create_schema_racing_others


def failing_first(error: Exception):
    calls = []

    def create():
        calls.append(1)
        if len(calls) == 1:
            raise error
        return "created"

    return create, calls


def test_a_sqlite_table_another_process_just_created_is_tried_again():
    create, calls = failing_first(OperationalError(
        "CREATE TABLE relay_positions", {}, sqlite3.OperationalError("table relay_positions already exists")))
    assert create_schema_racing_others(create) == "created" and len(calls) == 2


def test_another_operational_error_is_raised_at_once():
    create, calls = failing_first(OperationalError("CREATE TABLE x", {}, sqlite3.OperationalError("disk I/O error")))
    with pytest.raises(OperationalError):
        create_schema_racing_others(create)
    assert len(calls) == 1
