"""The lifecycle of a refund instruction: every move it allows, and every one it refuses."""

import ast
from pathlib import Path

import pytest

from services.refund import lifecycle
from services.refund.lifecycle import (FAILED, ISSUED, PENDING, WRITTEN, InstructionState,
                                       TransitionRefused)

PENDING_RESERVED = InstructionState(PENDING, reserved=True, attempt=1)
OUTCOME_UNKNOWN = InstructionState(FAILED, reserved=True, attempt=1)
OUTCOME_KNOWN = InstructionState(FAILED, reserved=False, attempt=1)
ISSUED_ONE = InstructionState(ISSUED, reserved=True, attempt=1)
STATES = {"pending": WRITTEN, "pending reserved": PENDING_RESERVED,
          "failed, outcome unknown": OUTCOME_UNKNOWN, "failed, outcome known": OUTCOME_KNOWN,
          "issued": ISSUED_ONE, "issued and announced": InstructionState(ISSUED, True, 1, True),
          "failed and announced": InstructionState(FAILED, False, 1, True)}

ALLOWED = {
    ("reserve", "pending"): PENDING_RESERVED,
    ("reserve", "pending reserved"): PENDING_RESERVED,
    ("issue", "pending"): InstructionState(ISSUED),
    ("issue", "pending reserved"): ISSUED_ONE,
    ("issue", "failed, outcome unknown"): ISSUED_ONE,
    ("issue", "failed, outcome known"): InstructionState(ISSUED),
    ("issue", "failed and announced"): InstructionState(ISSUED),
    ("fail", "pending"): OUTCOME_KNOWN,
    ("fail", "pending reserved"): OUTCOME_UNKNOWN,
    ("refuse", "pending"): OUTCOME_KNOWN,
    ("refuse", "pending reserved"): OUTCOME_KNOWN,
    ("refuse", "failed, outcome unknown"): InstructionState(FAILED, False, attempt=2),
    ("reopen", "failed, outcome unknown"): InstructionState(PENDING, True, attempt=2),
    ("reopen", "failed, outcome known"): InstructionState(PENDING, False, attempt=2),
    ("reopen", "failed and announced"): InstructionState(PENDING, False, attempt=2),
    ("announce", "failed, outcome unknown"): InstructionState(FAILED, True, 1, published=True),
    ("announce", "failed, outcome known"): InstructionState(FAILED, False, 1, published=True),
    ("announce", "issued"): InstructionState(ISSUED, True, 1, published=True),
}
TRANSITIONS = ("reserve", "issue", "fail", "refuse", "reopen", "announce")
REFUSED = [(move, name) for move in TRANSITIONS for name in STATES if (move, name) not in ALLOWED]


@pytest.mark.parametrize(("move", "state"), sorted(ALLOWED))
def test_an_allowed_move_leads_to_its_state(move, state):
    assert getattr(lifecycle, move)(STATES[state]) == ALLOWED[(move, state)]


@pytest.mark.parametrize(("move", "state"), REFUSED)
def test_a_move_not_allowed_from_a_state_is_refused(move, state):
    with pytest.raises(TransitionRefused) as refused:
        getattr(lifecycle, move)(STATES[state])
    assert (refused.value.transition, refused.value.state) == (move, STATES[state])


def test_the_refused_moves_are_the_ones_a_newcomer_would_expect():
    assert sorted(REFUSED) == sorted([
        ("reserve", "failed, outcome unknown"), ("reserve", "failed, outcome known"),
        ("reserve", "issued"), ("reserve", "issued and announced"),
        ("reserve", "failed and announced"),
        ("issue", "issued"), ("issue", "issued and announced"),
        ("fail", "failed, outcome unknown"), ("fail", "failed, outcome known"),
        ("fail", "issued"), ("fail", "issued and announced"), ("fail", "failed and announced"),
        ("refuse", "failed, outcome known"), ("refuse", "issued"),
        ("refuse", "issued and announced"), ("refuse", "failed and announced"),
        ("reopen", "pending"), ("reopen", "pending reserved"), ("reopen", "issued"),
        ("reopen", "issued and announced"),
        ("announce", "pending"), ("announce", "pending reserved"),
        ("announce", "issued and announced"), ("announce", "failed and announced"),
    ])


def test_an_instruction_is_written_pending_unreserved_unannounced_at_its_first_attempt():
    assert WRITTEN == InstructionState(PENDING, reserved=False, attempt=1, published=False)


def test_only_a_failure_still_holding_its_reservation_has_an_unknown_outcome():
    assert [name for name, state in STATES.items() if state.outcome_unknown] == [
        "failed, outcome unknown"]


def test_the_provider_is_asked_for_pending_instructions_and_unknown_outcomes_only():
    assert [name for name, state in STATES.items() if state.awaiting_provider] == [
        "pending", "pending reserved", "failed, outcome unknown"]


def test_only_an_unannounced_result_is_to_be_announced():
    assert [name for name, state in STATES.items() if state.to_announce] == [
        "failed, outcome unknown", "failed, outcome known", "issued"]


def test_the_refund_lifecycle_imports_no_io():
    source = Path(__file__).resolve().parents[2] / "services" / "refund" / "lifecycle.py"
    imported = {node.module.split(".")[0] for node in ast.walk(ast.parse(source.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name.split(".")[0] for node in ast.walk(ast.parse(source.read_text()))
                 if isinstance(node, ast.Import) for alias in node.names}
    assert imported <= {"__future__", "dataclasses", "enum"}
