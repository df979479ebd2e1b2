"""The command writer's batching semantics on a real PostgreSQL (tests/support/writer_behaviour.py):
one table lock per batch, key rows in the events' transaction (one statement for all of a
batch's keys), races between two processes."""

import psycopg
import pytest

from services.dispute.application.batch import Answered, Replay
from tests.support.writer_behaviour import WriterBehaviour, message

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


def _noting(sent: list, name: str, original):
    def noted(cursor, query, *args, **kwargs):
        sent.append((name, str(query)))
        return original(cursor, query, *args, **kwargs)
    return noted
