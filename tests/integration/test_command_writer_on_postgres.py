"""The command writer's batching semantics on a real PostgreSQL (tests/support/writer_behaviour.py):
one table lock per batch, key rows in the events' transaction (one statement for all of a
batch's keys), races between two processes."""

from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Composed

from services.dispute.application.batch import Answered, Replay
from tests.support.writer_behaviour import SELLER, WriterBehaviour, message, process_on

pytestmark = pytest.mark.integration


class TestCommandWriterOnPostgres(WriterBehaviour):
    @pytest.fixture
    def url(self, pg_url):
        return pg_url

    def test_the_keys_of_a_batch_are_stored_in_one_statement(self, one, dispute_id, monkeypatch):
        sent = []
        for name in ("execute", "executemany"):
            original = getattr(psycopg.Cursor, name)
            monkeypatch.setattr(psycopg.Cursor, name, _noting(sent, name, original))
        outcomes = one.writer.run([message(dispute_id, f"m-{n}", key=f"k-{n}") for n in range(5)])
        assert outcomes == [Answered(n) for n in range(2, 7)]
        monkeypatch.undo()
        assert [name for name, query in sent if "INSERT INTO idempotency_keys" in query] == ["execute"]
        assert one.kept_keys() == 5
        [again] = one.writer.run([message(dispute_id, "m-3", key="k-3")])
        assert isinstance(again, Replay) and again.earlier.body == "5"

    def test_a_batch_reads_its_keys_and_its_disputes_news_on_one_connection(self, one, dispute_id, url,
                                                                           monkeypatch):
        """Before it runs, a batch with keys and cached disputes checks out one connection
        (its keys' rows and the events another process stored, together); the insert one more."""
        one.writer.run([message(dispute_id, "mine", key="k-1")])  # cached, key recorded
        process_on(url).writer.run([message(dispute_id, "theirs", SELLER)])  # the cache is behind
        checkouts, checkout = [], one.disputes.recorder.datastore.get_connection
        monkeypatch.setattr(one.disputes.recorder.datastore, "get_connection",
                            lambda: checkouts.append(1) or checkout())
        monkeypatch.setattr(one.writer.keys.engine, "connect", _raise(AssertionError("SQLAlchemy used")))
        again, new = one.writer.run([message(dispute_id, "mine", key="k-1"),
                                     message(dispute_id, "next", key="k-2")])
        assert isinstance(again, Replay) and again.earlier.body == "2"
        assert new == Answered(4) and len(checkouts) == 2

    def test_a_save_and_a_load_send_plain_text_the_same_as_the_librarys(self, one, dispute_id, monkeypatch):
        """The recorder renders its statements once (psycopg rendered a composed statement
        again on every execute): what reaches the server is the library's own text."""
        recorder = one.disputes.recorder
        library = PostgresApplicationRecorder(recorder.datastore, events_table_name=recorder.events_table_name)
        with recorder.datastore.get_connection() as conn:
            def text(statement):
                return statement.as_string(conn)
            assert [text(s) for s in recorder.lock_table_statements] == \
                [text(s) for s in library.lock_table_statements]
            assert text(recorder.select_events_statement) == text(library.select_events_statement)
            assert text(recorder.notify_statement) == f'NOTIFY "{recorder.channel_name}"'
        sent = []
        original = psycopg.Cursor.execute
        monkeypatch.setattr(psycopg.Cursor, "execute", _noting_text(sent, original))
        one.writer.run([message(dispute_id, "hello", key="k-1")])
        one.disputes.get_dispute(dispute_id)  # a load through the library's select_events
        monkeypatch.undo()
        assert not [query for query, escaped in sent if escaped]  # no identifier nor literal left to render
        assert any("LOCK TABLE" in query for query, _ in sent)
        assert any(query.startswith("NOTIFY") for query, _ in sent)
        assert any("WHERE originator_id = %s" in query for query, _ in sent)


def _raise(error):
    def raises(*args, **kwargs):
        raise error
    return raises


def _noting_text(sent: list, original):
    """Notes each query's text as sent, and whether psycopg had parts of it to escape."""
    def noted(cursor, query, *args, **kwargs):
        escaped = isinstance(query, Composed) and not all(isinstance(part, SQL) for part in query)
        sent.append((query if isinstance(query, str) else query.as_string(cursor.connection), escaped))
        return original(cursor, query, *args, **kwargs)
    return noted


def _noting(sent: list, name: str, original):
    def noted(cursor, query, *args, **kwargs):
        sent.append((name, str(query)))
        return original(cursor, query, *args, **kwargs)
    return noted


def test_a_batch_of_events_is_stored_in_the_order_given_under_the_table_lock(pg_url, monkeypatch):
    """The keyed recorder sends the events as binary arrays (not the library's composite
    text): every state's bytes are stored exactly, the notification ids follow the order
    given across disputes, and the lock and the NOTIFY still come before the insert."""
    process = process_on(pg_url)  # kept: the application closes its pool when collected
    recorder = process.disputes.recorder
    first, second = uuid4(), uuid4()
    events = [StoredEvent(first, 1, "t:A", b'{"a": "\\" quote"}'),
              StoredEvent(second, 1, "t:B", bytes(range(256))),
              StoredEvent(first, 2, "t:C", b"\x00\\x00 {}"),
              StoredEvent(second, 2, "t:D", b"")]
    sent = []
    monkeypatch.setattr(psycopg.Cursor, "execute", _noting(sent, "execute", psycopg.Cursor.execute))
    recorder.insert_events(events)
    monkeypatch.undo()
    stored = recorder.select_notifications(None, 10)
    assert [(n.originator_id, n.originator_version, n.topic, n.state) for n in stored] == \
        [(e.originator_id, e.originator_version, e.topic, e.state) for e in events]
    assert [n.id for n in stored] == sorted(n.id for n in stored)
    steps = [next((word for word in ("LOCK TABLE", "NOTIFY", "INSERT INTO") if word in query), None)
             for _, query in sent]
    assert [step for step in steps if step] == ["LOCK TABLE", "NOTIFY", "INSERT INTO"]
    with pytest.raises(IntegrityError):  # a version stored already fails the whole insert
        recorder.insert_events([StoredEvent(second, 3, "t:E", b"{}"), StoredEvent(first, 2, "t:F", b"{}")])
    assert recorder.max_notification_id() == stored[-1].id
