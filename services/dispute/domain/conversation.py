"""What the parties say along the way: evidence, messages and, at the end, feedback."""

from __future__ import annotations

from datetime import datetime

from services.dispute.domain import errors, rules
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import (
    FINAL_STATES, Actor, EvidenceFile, Role, Status, Visibility,
)

_FEEDBACK_STATES = frozenset({Status.RESOLVED, Status.APPEALED, Status.CLOSED, Status.WITHDRAWN})
_NOT_FINAL = frozenset(Status) - FINAL_STATES


class ConversationCommands:
    """Mixed into `Dispute`: `self` is the aggregate."""

    def add_evidence(self, *, evidence_id: str, sha256: str, content_type: str, size: int,
                     filename: str, description: str = "", actor: Actor, at: datetime,
                     policy: DisputePolicy = DisputePolicy()) -> None:
        """A party adds a file (jpg, png, gif or pdf, up to 10 MB); evidence is append-only."""
        rules.require_parties(self, actor)
        rules.require_status(self, _NOT_FINAL, errors.InvalidTransition)
        rules.require_evidence_room(self, 1, policy)
        file = EvidenceFile(evidence_id, sha256, content_type, size, filename, description)
        rules.require_evidence_file(file, self.evidence)
        self._add_evidence_files([file], actor, at)

    def post_message(self, *, message_id: str, text: str, visibility: str = Visibility.PARTIES,
                     actor: Actor, at: datetime, policy: DisputePolicy = DisputePolicy()) -> None:
        """A party or the operator writes to everyone, or to the platform only."""
        rules.require_party(self, actor, Role.BUYER, Role.SELLER, Role.OPERATOR)
        rules.require_status(self, _NOT_FINAL, errors.InvalidTransition)
        rules.require_room("messages", len(self.messages), 1, policy.max_messages,
                           errors.TooManyMessages)
        rules.require_new_id("message", message_id, [m["message_id"] for m in self.messages])
        rules.require_text("text", text)
        if visibility not in set(Visibility):
            raise errors.ValidationFailed(f"unknown visibility {visibility}", field="visibility")
        self._message_posted(message_id=message_id, text=text, visibility=str(visibility),
                             actor=actor.as_dict(), at=at)

    def leave_feedback(self, *, rating: int, comment: str = "", actor: Actor,
                       at: datetime) -> None:
        """Each party rates, once, how the other handled the dispute after it ended."""
        rules.require_parties(self, actor)
        rules.require_status(self, _FEEDBACK_STATES, errors.InvalidTransition)
        if actor.role in self.feedback:
            raise errors.InvalidTransition("feedback was already left and cannot be edited")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise errors.ValidationFailed("rating is a whole number from 1 to 5", field="rating")
        if len(comment) > rules.MESSAGE_MAX_LENGTH:
            raise errors.ValidationFailed("comment is too long", field="comment")
        self._feedback_left(rating=rating, comment=comment, actor=actor.as_dict(), at=at)
