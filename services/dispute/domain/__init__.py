"""The dispute domain: pure rules, no I/O. Time, ids and order facts come in from outside."""

from services.dispute.domain.dispute import Dispute
from services.dispute.domain.errors import DomainError
from services.dispute.domain.ids import DisputeIds, former_dispute_id, keyed_dispute_id
from services.dispute.domain.orders import OrderFacts
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import (
    DEADLINE_WORKER, FINAL_STATES, Actor, AppealOutcome, Deadline, EscalationTrigger,
    EvidenceFile, OfferTerms, Outcome, Reason, RequestType, ResolvedBy, ReturnCondition, Role,
    Status, Visibility,
)

__all__ = [
    "DEADLINE_WORKER", "FINAL_STATES", "Actor", "AppealOutcome", "Deadline", "Dispute",
    "DisputeIds", "DisputePolicy",
    "DomainError", "EscalationTrigger", "EvidenceFile", "OfferTerms", "OrderFacts", "Outcome",
    "Reason", "RequestType", "ResolvedBy", "ReturnCondition", "Role", "Status", "Visibility",
    "former_dispute_id", "keyed_dispute_id",
]
