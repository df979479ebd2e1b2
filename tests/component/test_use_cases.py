"""The named use cases: one runner for HTTP and Kafka, one load of the dispute per command,
the party check done in that load (the HTTP pre-check for strangers reads the parties alone)."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from services.dispute.application import commands, use_cases
from services.dispute.application.dispute_cache import Parties
from services.dispute.domain import Actor, DomainError, Role
from services.dispute.entrypoints import kafka_subscribers
from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import OPERATOR, OTHER_SELLER, SELLER

ENTRYPOINTS = Path(kafka_subscribers.__file__).parent


@pytest.fixture
def loads(api_with_dispute_awaiting_seller):
    """The versions the dispute is loaded at from now on (None: the whole stream)."""
    repository = api_with_dispute_awaiting_seller.app.state.disputes.repository
    seen, get = [], repository.get

    def counting_get(aggregate_id, *args, version=None, **kwargs):
        seen.append(version)
        return get(aggregate_id, *args, version=version, **kwargs)

    repository.get = counting_get
    yield seen
    repository.get = get


def test_a_partys_command_on_a_dispute_the_writer_holds_loads_nothing(
        api_with_dispute_awaiting_seller, loads):
    api = api_with_dispute_awaiting_seller
    api.offer(who=SELLER)
    assert loads == []


def test_the_party_check_reads_the_opening_event_once_then_remembers_the_parties(
        api_with_dispute_awaiting_seller, loads):
    api = api_with_dispute_awaiting_seller
    api.app.state.writer.writers[0].parties = Parties(10)  # as after a restart
    api.offer(who=SELLER)
    api.ok(api.post("/messages", json={"text": "hi"}, who=SELLER), 201)
    assert loads == [1]


def test_a_partys_command_verifies_its_token_once(api_with_dispute_awaiting_seller, monkeypatch):
    api = api_with_dispute_awaiting_seller
    tokens, read = api.app.state.tokens, api.app.state.tokens.read
    verified = []
    monkeypatch.setattr(tokens, "read", lambda header: verified.append(header) or read(header))
    api.offer(who=SELLER)
    assert len(verified) == 1


def test_an_operators_command_on_a_dispute_the_writer_holds_loads_nothing(
        api_with_dispute_awaiting_seller, loads):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json={"text": "looking into it"}, who=OPERATOR), 201)
    assert loads == []


def test_a_command_on_a_dispute_the_writer_does_not_hold_loads_it_once(
        api_with_dispute_awaiting_seller, loads):
    api = api_with_dispute_awaiting_seller
    api.app.state.writer.writers[0].cache.forget([UUID(api.dispute_id)])
    api.ok(api.post("/messages", json={"text": "looking into it"}, who=OPERATOR), 201)
    assert loads == [None]


def test_a_strangers_command_is_refused_without_loading_the_dispute(
        api_with_dispute_awaiting_seller, loads):
    api = api_with_dispute_awaiting_seller
    api.app.state.writer.writers[0].parties = Parties(10)
    response = api.post("/messages", json={"text": "hello"}, who=OTHER_SELLER)
    assert (response.status_code, response.json()["code"]) == (404, "DISPUTE_NOT_FOUND")
    assert loads == [1]


def test_the_runner_answers_a_stranger_as_for_a_missing_dispute_and_records_nothing(
        api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    disputes, dispute_id = api.app.state.disputes, UUID(api.dispute_id)
    before = disputes.get_dispute(dispute_id).version
    stranger = commands.Acting(Actor(Role.SELLER, "S-2"), api.clock() + timedelta(days=30), "c-1")
    with pytest.raises(DomainError) as refused:
        use_cases.run(disputes, dispute_id, commands.PostMessage("M-1", "hi", "PARTIES"), stranger)
    assert refused.value.code == "DISPUTE_NOT_FOUND"
    assert disputes.get_dispute(dispute_id).version == before  # no deadline saved either


def test_the_runner_runs_a_named_command_under_its_correlation(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    disputes, dispute_id = api.app.state.disputes, UUID(api.dispute_id)
    seller = commands.Acting(Actor(Role.SELLER, "S-1"), api.clock(), "corr-7", "cause-7")
    dispute = use_cases.run(disputes, dispute_id, commands.PostMessage("M-1", "hi", "PARTIES"),
                            seller)
    assert [m.message_id for m in dispute.messages] == ["M-1"]  # typed value objects (h-aggregate)
    stored = disputes.recorder.select_events(dispute_id, desc=True, limit=1)[0]
    meta = disputes.mapper.decoded(stored)[1]
    assert (meta["correlation_id"], meta["causation_id"]) == ("corr-7", "cause-7")


@pytest.mark.parametrize("module", sorted(p.name for p in (ENTRYPOINTS / "http").glob("*.py"))
                         + ["kafka_subscribers.py"])
def test_no_route_or_consumer_writes_its_command_as_a_lambda(module):
    path = ENTRYPOINTS / "http" / module if module != "kafka_subscribers.py" else ENTRYPOINTS / module
    lambdas = [node.lineno for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Lambda)]
    assert lambdas == []
