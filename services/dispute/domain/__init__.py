"""The dispute domain: pure rules, no I/O. Time, ids and order facts come in from outside."""

from services.dispute.domain.dispute import Dispute
from services.dispute.domain.errors import DomainError
from services.dispute.domain.orders import OrderFacts
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import Actor, Role

__all__ = ["Actor", "Dispute", "DisputePolicy", "DomainError", "OrderFacts", "Role"]
