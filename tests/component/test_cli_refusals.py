"""Operator tools refuse a store that does not exist (exit 2, one line naming the setting) instead
of creating an empty one, read the local settings file under the environment, and end no command
with a traceback."""

import asyncio
import sqlite3

import pytest
from typer.testing import CliRunner

from infra.ports import free_port
from services.common.local_env import write_local_env
from services.dispute.adapters.order_book import OrderBook
from services.dispute.bootstrap import build_application
from services.dispute.domain import Actor, Role
from services.dispute.entrypoints.cli import app as disputectl
from services.dispute.settings import DisputeSettings
from services.refund.main import retry_refund
from services.refund.settings import RefundSettings
from tests.support.orders import NOW, order_placed

STORE_COMMANDS = [["audit", "verify", "--checkpoints", "none"], ["audit", "export"],
                  ["audit", "replay", "3fa85f64-5717-4562-b3fc-2c963f66afa6"],
                  ["projections", "rebuild"], ["projections", "status"]]


@pytest.fixture(autouse=True)
def no_local_settings(tmp_path, monkeypatch):
    """No `make run` beside the test unless it writes one (a developer's .run/ stays out)."""
    monkeypatch.setenv("PLATFORM_LOCAL_ENV", str(tmp_path / "no-local.env"))


@pytest.fixture
def store_with_one_dispute(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/d.sqlite"
    build_application(DisputeSettings(database_url=url)).open_dispute(
        order=OrderBook.facts_from(order_placed()), item_id="I-1", actor=Actor(Role.BUYER, "B-1"),
        reason="DAMAGED", request="FULL_REFUND", request_amount=None, description="", at=NOW)
    return url


def run(env, *args):
    return CliRunner().invoke(disputectl, list(args), env=env, catch_exceptions=False)


def assert_refused_in_one_line(result, naming: str):
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and naming in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_a_command_refuses_a_missing_sqlite_store_and_creates_none(command, tmp_path):
    missing = tmp_path / "var" / "dispute.sqlite"
    result = run({"DISPUTE_DATABASE_URL": f"sqlite:///{missing}"}, *command)
    assert_refused_in_one_line(result, "DISPUTE_DATABASE_URL")
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_a_command_refuses_a_database_without_the_event_tables(command, tmp_path):
    empty = tmp_path / "other.sqlite"
    sqlite3.connect(empty).execute("create table unrelated (x int)").connection.commit()
    result = run({"DISPUTE_DATABASE_URL": f"sqlite:///{empty}"}, *command)
    assert_refused_in_one_line(result, "no table stored_events")


def test_the_local_settings_file_names_the_store_when_the_environment_does_not(store_with_one_dispute, tmp_path):
    write_local_env(tmp_path / "local.env", {"DISPUTE_DATABASE_URL": store_with_one_dispute})
    result = run({"PLATFORM_LOCAL_ENV": str(tmp_path / "local.env"), "DISPUTE_DATABASE_URL": None},
                 "audit", "verify", "--checkpoints", "none")
    assert result.exit_code == 0 and "OK: 1 events of 1 disputes" in result.output, result.output


def test_the_environment_wins_over_the_local_settings_file(store_with_one_dispute, tmp_path):
    write_local_env(tmp_path / "local.env", {"DISPUTE_DATABASE_URL": f"sqlite:///{tmp_path}/absent.sqlite"})
    result = run({"PLATFORM_LOCAL_ENV": str(tmp_path / "local.env"), "DISPUTE_DATABASE_URL": store_with_one_dispute},
                 "audit", "verify", "--checkpoints", "none")
    assert result.exit_code == 0 and "OK: 1 events of 1 disputes" in result.output, result.output


def test_verify_refuses_a_checkpoints_file_that_does_not_exist(store_with_one_dispute, tmp_path):
    result = run({"DISPUTE_DATABASE_URL": store_with_one_dispute}, "audit", "verify",
                 "--checkpoints", str(tmp_path / "missing.jsonl"))
    assert_refused_in_one_line(result, "cannot read --checkpoints")


def test_rebuild_refuses_an_unknown_projection(store_with_one_dispute):
    result = run({"DISPUTE_DATABASE_URL": store_with_one_dispute}, "projections", "rebuild", "nonsense")
    assert_refused_in_one_line(result, "no projection 'nonsense'")


def test_export_refuses_an_output_folder_that_does_not_exist(store_with_one_dispute, tmp_path):
    result = run({"DISPUTE_DATABASE_URL": store_with_one_dispute}, "audit", "export",
                 "-o", str(tmp_path / "nowhere" / "events.jsonl"))
    assert_refused_in_one_line(result, "No such file or directory")


@pytest.mark.parametrize("command", [["kafka", "replay", "--group", "notification", "--to-datetime", "2026-01-01"],
                                     ["audit", "checkpoints"]], ids=" ".join)
def test_a_kafka_command_refuses_an_unreachable_broker_in_one_line(command):
    result = run({"DISPUTE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}, *command)
    assert_refused_in_one_line(result, "DISPUTE_KAFKA_BOOTSTRAP")


def test_bad_dates_and_ids_are_usage_errors_not_tracebacks(store_with_one_dispute):
    env = {"DISPUTE_DATABASE_URL": store_with_one_dispute}
    for args in (["audit", "export", "--from", "2026-13-45"], ["audit", "replay", "not-a-uuid"],
                 ["kafka", "replay", "--group", "g", "--to-datetime", "yesterday"]):
        result = run(env, *args)
        assert result.exit_code == 2 and "Invalid value" in result.output and "Traceback" not in result.output


def test_the_refund_retry_refuses_a_missing_store_and_creates_none(tmp_path, capsys):
    missing = tmp_path / "refund.sqlite"
    settings = RefundSettings(database_url=f"sqlite:///{missing}")
    assert asyncio.run(retry_refund(settings, "some-key")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "REFUND_DATABASE_URL" in err and not missing.exists()
