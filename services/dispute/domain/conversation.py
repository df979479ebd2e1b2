"""What the parties say along the way: evidence, messages and, at the end, feedback.

Each function is the decision of the `Dispute` command of the same name (see negotiation).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.dispute.domain import errors, records, rules
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.records import Record
from services.dispute.domain.state import DisputeState
from services.dispute.domain.values import (
    ENDED_STATES, FINAL_STATES, Actor, EvidenceFile, EvidenceRequestStatus, Role, Status,
    Visibility,
)

_NOT_FINAL = frozenset(Status) - FINAL_STATES


def add_evidence(state: DisputeState, file: EvidenceFile, actor: Actor,
                 policy: DisputePolicy) -> list[Record]:
    """A party adds a file (jpg, png, gif or pdf, up to 10 MB); evidence is append-only."""
    rules.require_parties(state, actor)
    rules.require_status(state, _NOT_FINAL, errors.InvalidTransition)
    rules.require_evidence_room(state, 1, policy)
    rules.require_evidence_file(file, state.evidence)
    return [*evidence_added(state, [file], actor)]


def post_message(state: DisputeState, message_id: str, text: str, visibility: str,
                 actor: Actor, policy: DisputePolicy) -> list[Record]:
    """A party or the operator writes to everyone, or to the platform only."""
    rules.require_party(state, actor, Role.BUYER, Role.SELLER, Role.OPERATOR)
    rules.require_status(state, _NOT_FINAL, errors.InvalidTransition)
    rules.require_room("messages", len(state.messages), 1, policy.max_messages,
                       errors.TooManyMessages)
    rules.require_new_id("message", message_id, state.message_ids)
    rules.require_text("text", text)
    if visibility not in set(Visibility):
        raise errors.ValidationFailed(f"unknown visibility {visibility}", field="visibility")
    return [records.MessagePosted(message_id=message_id, text=text,
                                  visibility=Visibility(visibility))]


def leave_feedback(state: DisputeState, rating: int, comment: str,
                   actor: Actor) -> list[Record]:
    """Each party rates, once, how the other handled the dispute after it ended."""
    rules.require_parties(state, actor)
    rules.require_status(state, ENDED_STATES, errors.InvalidTransition)
    if actor.role in state.feedback:
        raise errors.InvalidTransition("feedback was already left and cannot be edited")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise errors.ValidationFailed("rating is a whole number from 1 to 5", field="rating")
    if len(comment) > rules.MESSAGE_MAX_LENGTH:
        raise errors.ValidationFailed("comment is too long", field="comment")
    return [records.FeedbackLeft(rating=rating, comment=comment)]


def reply_to_feedback(state: DisputeState, feedback_of: str, text: str,
                      actor: Actor) -> list[Record]:
    """The party the feedback is about answers it, once; the reply cannot be edited."""
    rules.require_parties(state, actor)
    author = _party_named(feedback_of)
    if author == actor.role:
        raise errors.Forbidden("only the other party may reply to this feedback")
    given = state.feedback.get(author)
    if given is None:
        raise errors.InvalidTransition(f"the {author.value} has left no feedback to reply to")
    if given.reply is not None:
        raise errors.InvalidTransition("this feedback was already replied to and the reply "
                                       "cannot be edited")
    rules.require_text("text", text)
    return [records.FeedbackReplied(feedback_of=author, text=text)]


def _party_named(name: str) -> Role:
    if name not in (Role.BUYER.value, Role.SELLER.value):
        raise errors.ValidationFailed("feedback is left by the buyer or the seller",
                                      field="feedback_of")
    return Role(name)


def evidence_added(state: DisputeState, files: Iterable[EvidenceFile],
                   actor: Actor) -> list[records.EvidenceAdded]:
    """Files the rules accepted, each with what it means at the time it is added: whether it
    came after the resolution (appeals need such), and which open evidence request it answers
    (the first file of the party the operator asked)."""
    request = state.evidence_request
    answers = (request.request_id if request is not None
               and request.status == EvidenceRequestStatus.OPEN
               and request.from_party == actor.role else None)
    added = []
    for file in files:
        added.append(records.EvidenceAdded(
            evidence_id=file.evidence_id, sha256=file.sha256, content_type=file.content_type,
            size=file.size, filename=file.filename, description=file.description,
            after_resolution=state.status == Status.RESOLVED, answered_request_id=answers))
        answers = None
    return added
