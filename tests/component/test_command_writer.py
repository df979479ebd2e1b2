"""The command writer's batching semantics on SQLite (tests/support/writer_behaviour.py)."""

import pytest

from tests.support.writer_behaviour import WriterBehaviour


class TestCommandWriterOnSQLite(WriterBehaviour):
    @pytest.fixture
    def url(self, tmp_path):
        return f"sqlite:///{tmp_path}/dispute.sqlite"
