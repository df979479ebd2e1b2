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


@pytest.mark.parametrize("wrap", ["eventsourcing", "sqlalchemy"])
def test_a_catalogue_row_another_process_updated_at_once_is_tried_again(wrap):
    # PostgreSQL's XX000 when two processes create the same tables at once (seen in a chaos run)
    from eventsourcing.persistence import InternalError as StoreInternalError
    from sqlalchemy.exc import InternalError

    text = "tuple concurrently updated"
    error = StoreInternalError(text) if wrap == "eventsourcing" else InternalError("CREATE TABLE x", {}, Exception(text))
    create, calls = failing_first(error)
    assert create_schema_racing_others(create) == "created" and len(calls) == 2


def test_another_operational_error_is_raised_at_once():
    create, calls = failing_first(OperationalError("CREATE TABLE x", {}, sqlite3.OperationalError("disk I/O error")))
    with pytest.raises(OperationalError):
        create_schema_racing_others(create)
    assert len(calls) == 1


# A service started while PostgreSQL is away (before it is up, or during a restart: seen in the
# chaos run, where notification exited 1) waits for it instead of exiting at once.

def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def failure_connecting_to(url: str) -> Exception:
    """The real error SQLAlchemy + psycopg raise when `url`'s server cannot be reached."""
    from sqlalchemy import text

    from services.common.database import sqlalchemy_engine

    engine = sqlalchemy_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError(f"{url} answered")


def refused_by_postgres() -> Exception:
    """A server that is not there."""
    return failure_connecting_to(f"postgresql://postgres:x@127.0.0.1:{closed_port()}/disputes")


def host_not_resolved() -> Exception:
    """A database container that is down: its name does not resolve."""
    return failure_connecting_to("postgresql://postgres:x@no-such-host.invalid:5432/disputes")


def refused_by_the_event_store() -> Exception:
    """The real error eventsourcing's PostgreSQL recorder raises for a server that is not there."""
    from eventsourcing.application import Application

    from services.common.database import eventsourcing_env

    env = eventsourcing_env(f"postgresql://postgres:x@127.0.0.1:{closed_port()}/disputes")
    env["POSTGRES_CONNECT_TIMEOUT"] = "1"
    try:
        Application(env=env)
    except Exception as error:
        return error
    raise AssertionError("a closed port answered")


class FakeTime:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(error: Exception, times: int):
    calls = []

    def create():
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "created"

    return create, calls


# eventsourcing's Application.__del__ complains about the half-built application of the refusal.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("refusal", [refused_by_postgres, refused_by_the_event_store, host_not_resolved])
def test_a_database_that_does_not_answer_yet_is_waited_for(refusal):
    time = FakeTime()
    create, calls = failing(refusal(), times=4)
    assert create_schema_racing_others(create, sleep=time.sleep, clock=lambda: time.now) == "created"
    assert len(calls) == 5 and time.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_a_database_still_away_after_the_wait_stops_the_process():
    time = FakeTime()
    error = refused_by_postgres()
    create, calls = failing(error, times=1000)
    with pytest.raises(type(error)):
        create_schema_racing_others(create, wait_for_database=30, sleep=time.sleep, clock=lambda: time.now)
    assert time.now <= 30 and time.sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]


def test_a_database_that_does_not_exist_is_not_waited_for(pg_url):
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from services.common.database import sqlalchemy_engine

    wrong = make_url(pg_url).set(database="no_such_database").render_as_string(hide_password=False)
    engine = sqlalchemy_engine(wrong.replace("postgresql+psycopg://", "postgresql://"))

    def create():
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    time = FakeTime()
    with pytest.raises(OperationalError):
        create_schema_racing_others(create, sleep=time.sleep, clock=lambda: time.now)
    engine.dispose()
    assert time.sleeps == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_event_store_whose_database_does_not_exist_is_not_waited_for(pg_url):
    # eventsourcing's pool says only "couldn't get a connection after 30 sec", which reads as a
    # database not up yet: the probe's own connection names the reason, and nothing is waited for
    import psycopg
    from sqlalchemy.engine import make_url

    from services.common.database import postgres_probe
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings

    wrong = make_url(pg_url).set(database="no_such_database").render_as_string(hide_password=False)
    wrong = wrong.replace("postgresql+psycopg://", "postgresql://")
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        build_application(DisputeSettings(), wrong)
    time = FakeTime()
    with pytest.raises(psycopg.OperationalError):
        create_schema_racing_others(lambda: "created", sleep=time.sleep, clock=lambda: time.now,
                                    probe=postgres_probe(wrong))
    assert time.sleeps == [] and postgres_probe("sqlite:///var/x.db") is None
