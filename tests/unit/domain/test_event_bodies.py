"""The bodies of the `@event` methods run again on every replay: they only assign state. No
rule is checked there (no raise, no guard, no policy), and no decision module is called."""

import ast
from pathlib import Path

import pytest

DISPUTE = Path(__file__).resolve().parents[3] / "services" / "dispute" / "domain" / "dispute.py"
DECISIONS = {"rules", "errors", "policy", "opening", "negotiation", "fulfilment", "review",
             "conversation", "refunds", "timers"}


def _event_bodies() -> list[ast.FunctionDef]:
    [dispute] = [node for node in ast.parse(DISPUTE.read_text()).body
                 if isinstance(node, ast.ClassDef) and node.name == "Dispute"]
    return [node for node in dispute.body if isinstance(node, ast.FunctionDef)
            and any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "event"
                    for d in node.decorator_list)]


def test_the_dispute_has_event_bodies_to_check():
    assert len(_event_bodies()) == 30  # 29 + FeedbackReplied


@pytest.mark.parametrize("body", _event_bodies(), ids=lambda body: body.name)
def test_an_event_body_raises_nothing(body):
    assert not [node for node in ast.walk(body) if isinstance(node, ast.Raise | ast.Assert)]


@pytest.mark.parametrize("body", _event_bodies(), ids=lambda body: body.name)
def test_an_event_body_calls_no_rule_and_no_decision(body):
    names = {node.id for node in ast.walk(body) if isinstance(node, ast.Name)}
    assert not names & DECISIONS
