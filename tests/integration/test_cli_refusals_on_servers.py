"""disputectl against real servers that are not what it needs: a PostgreSQL database without the
event tables, a Kafka broker that refuses the login. One line, exit 2, nothing created."""

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from services.dispute.entrypoints.cli import app as disputectl


@pytest.fixture(autouse=True)
def no_local_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PLATFORM_LOCAL_ENV", str(tmp_path / "no-local.env"))


def run(env, *args):
    return CliRunner().invoke(disputectl, list(args), env=env, catch_exceptions=False)


def test_verify_refuses_a_postgres_database_without_the_event_tables_and_creates_none(pg_url):
    result = run({"DISPUTE_DATABASE_URL": pg_url}, "audit", "verify", "--checkpoints", "none")
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "DISPUTE_DATABASE_URL" in result.output and "no table disputes_events" in result.output
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_kafka_replay_refuses_a_login_the_broker_rejects_in_one_line(kafka):
    result = run({"DISPUTE_KAFKA_BOOTSTRAP": kafka.bootstrap, "DISPUTE_KAFKA_USERNAME": "ops",
                  "DISPUTE_KAFKA_PASSWORD": "not-the-password"},
                 "kafka", "replay", "--group", "notification", "--to-datetime", "2026-01-01")
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "DISPUTE_KAFKA_USERNAME=ops" in result.output and "Traceback" not in result.output


def test_verify_accepts_a_postgres_store_the_service_made(pg_url):
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings

    build_application(DisputeSettings(database_url=pg_url))
    result = run({"DISPUTE_DATABASE_URL": pg_url}, "audit", "verify", "--checkpoints", "none")
    assert result.exit_code == 0 and "OK: 0 events of 0 disputes" in result.output, result.output
