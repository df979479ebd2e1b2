"""The command writer's batching semantics on a real PostgreSQL (tests/support/writer_behaviour.py):
one table lock per batch, key rows in the events' transaction, races between two processes."""

import pytest

from tests.support.writer_behaviour import WriterBehaviour

pytestmark = pytest.mark.integration


class TestCommandWriterOnPostgres(WriterBehaviour):
    @pytest.fixture
    def url(self, pg_url):
        return pg_url
