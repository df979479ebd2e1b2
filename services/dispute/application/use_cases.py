"""The use cases of a dispute, run the same way for HTTP routes and Kafka consumers.

`run` is the one command runner: it loads the dispute once, answers a buyer or seller who is
not its party as for a dispute that does not exist, applies the deadlines due, runs the named
command (commands.py) and saves, under the command's correlation and causation ids.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from uuid import UUID

from services.dispute.adapters.event_store import command_context
from services.dispute.application.commands import Acting, Command, OpenDispute
from services.dispute.application.metrics import counted
from services.dispute.application.shards import Disputes
from services.dispute.domain import Dispute


def run(disputes: Disputes, dispute_id: UUID, command: Command, by: Acting, *,
        expected_version: int | None = None, deadlines_at: datetime | None = None) -> Dispute:
    """The dispute after `command`; deadlines are applied at `deadlines_at` (this service's
    clock, when `by.at` is another's), else at `by.at`. A stale `expected_version` is a
    concurrency conflict; a refusal (DomainError) still saves the deadlines that fired."""
    with counted(command), command_context(by.correlation_id, by.causation_id):
        dispute, _ = disputes.execute(dispute_id, deadlines_at or by.at,
                                      partial(command.apply_to, by=by, policy=disputes.policy),
                                      expected_version, actor=by.actor)
    return dispute


def open_dispute(disputes: Disputes, command: OpenDispute, by: Acting) -> Dispute:
    """The buyer opens one dispute per item of their order (refused if the item has one)."""
    with counted(command), command_context(by.correlation_id, by.causation_id):
        return disputes.open_dispute(order=command.order, item_id=command.item_id,
                                     actor=by.actor, reason=command.reason,
                                     request=command.request,
                                     request_amount=command.request_amount,
                                     description=command.description, at=by.at)
