"""Pure: the lifecycle of a refund instruction, and which moves it allows. No I/O here.

    (written) -> PENDING --reserve--> PENDING, reserved
    PENDING  --issue-->  ISSUED                       (terminal)
    PENDING  --fail-->   FAILED, reservation kept     (held: outcome unknown; not held: known)
    PENDING  --refuse--> FAILED, reservation released (outcome known: nothing was paid)
    FAILED   --issue-->  ISSUED   (a late success: the provider paid under this key after all)
    FAILED, outcome unknown --refuse--> FAILED, outcome known (announced anew)
    FAILED   --reopen--> PENDING  (an operator's retry, same key; the reservation is kept)
    ISSUED or FAILED --announce--> the same state, announced on `refunds.events`

The reservation holds the amount against the ceiling from just before the provider is called
until its answer is known: a FAILED instruction still holding it may have been paid. Every move
into a result, and a reopening, leaves the instruction unannounced; `attempt` counts the results
announced (a result announced anew gets a new public event id).

Each move is a function from the state it starts from to the state it leads to, or raises
`TransitionRefused`; the store writes the new state only where the stored one is still the
state it started from (compare-and-set).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    ISSUED = "ISSUED"
    FAILED = "FAILED"


PENDING, ISSUED, FAILED = RefundStatus.PENDING, RefundStatus.ISSUED, RefundStatus.FAILED


@dataclass(frozen=True)
class InstructionState:
    status: RefundStatus
    reserved: bool = False
    attempt: int = 1
    published: bool = False

    @property
    def outcome_unknown(self) -> bool:
        """FAILED while still holding its reservation: the provider may have paid."""
        return self.status == FAILED and self.reserved

    @property
    def to_announce(self) -> bool:
        """A result (ISSUED or FAILED) not yet published on `refunds.events`; PENDING has none."""
        return self.status != PENDING and not self.published

    @property
    def awaiting_provider(self) -> bool:
        """The provider must still be asked (again, with the same key) for a result."""
        return self.status == PENDING or self.outcome_unknown


WRITTEN = InstructionState(PENDING)
"""The state an instruction is written in, with the event that asked for it."""


class TransitionRefused(Exception):
    """This move is not allowed from the instruction's state."""

    def __init__(self, transition: str, state: InstructionState):
        super().__init__(f"{transition} refused from {state}")
        self.transition, self.state = transition, state


def reserve(state: InstructionState) -> InstructionState:
    """Hold the amount just before the provider is called (again, for another replica)."""
    _require("reserve", state, state.status == PENDING)
    return replace(state, reserved=True)


def issue(state: InstructionState) -> InstructionState:
    """The provider paid under this key: the truth even after a FAILED (its call timed out, a
    later one got the answer), so that one is announced anew as issued."""
    _require("issue", state, state.status in (PENDING, FAILED))
    return replace(state, status=ISSUED, published=False)


def fail(state: InstructionState) -> InstructionState:
    """Not paid, or not known to be: the reservation stays, so an unknown outcome keeps holding
    the amount, and a refusal before the provider was called holds nothing anyway."""
    _require("fail", state, state.status == PENDING)
    return replace(state, status=FAILED, published=False)


def refuse(state: InstructionState) -> InstructionState:
    """The provider refused for good: nothing was paid, the reservation is released. A FAILED
    instruction whose outcome was unknown learns it here and announces it anew."""
    _require("refuse", state, state.status == PENDING or state.outcome_unknown)
    attempt = state.attempt + 1 if state.status == FAILED else state.attempt
    return replace(state, status=FAILED, reserved=False, attempt=attempt, published=False)


def reopen(state: InstructionState) -> InstructionState:
    """An operator's retry of a FAILED refund, with the same key. The reservation is kept as it
    is: one the provider may have paid must stay held."""
    _require("reopen", state, state.status == FAILED)
    return replace(state, status=PENDING, attempt=state.attempt + 1, published=False)


def announce(state: InstructionState) -> InstructionState:
    """The result of this attempt was published; a PENDING instruction has none to publish."""
    _require("announce", state, state.to_announce)
    return replace(state, published=True)


def _require(transition: str, state: InstructionState, allowed: bool) -> None:
    if not allowed:
        raise TransitionRefused(transition, state)
