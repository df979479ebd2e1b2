"""Commands are counted by their type and outcome: accepted, the refusal's code, or error."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from services.dispute.application.metrics import COMMANDS, counted
from services.dispute.domain import DomainError


@dataclass(frozen=True)
class PlaceBid:  # a command of this test's own: the counter names it by its class
    pass


@pytest.fixture
def count():
    registry = CollectorRegistry()
    registry.register(COMMANDS)
    before = {}

    def now(outcome: str) -> float:
        labels = {"command": "PlaceBid", "outcome": outcome}
        return registry.get_sample_value("dispute_commands_total", labels) or 0.0

    for outcome in ("accepted", "OFFER_NOT_CURRENT", "error"):
        before[outcome] = now(outcome)
    return lambda outcome: now(outcome) - before[outcome]


def test_a_command_that_runs_is_counted_as_accepted(count):
    with counted(PlaceBid()):
        pass
    assert (count("accepted"), count("error")) == (1, 0)


def test_a_refused_command_is_counted_by_its_code_and_the_refusal_goes_on(count):
    with pytest.raises(DomainError):
        with counted(PlaceBid()):
            raise DomainError("not the current offer", code="OFFER_NOT_CURRENT")
    assert (count("OFFER_NOT_CURRENT"), count("accepted")) == (1, 0)


def test_a_command_that_fails_unexpectedly_is_counted_as_error(count):
    with pytest.raises(RuntimeError):
        with counted(PlaceBid()):
            raise RuntimeError("the store is away")
    assert (count("error"), count("accepted")) == (1, 0)
