"""Domain error codes to HTTP statuses (DOMAIN.md, "Error codes")."""

from services.common.problems import Problem
from services.dispute.domain import DomainError

STATUS = {
    "UNAUTHENTICATED": 401, "FORBIDDEN": 403, "ONLY_LOSING_PARTY_MAY_APPEAL": 403,
    "DISPUTE_NOT_FOUND": 404, "PAYLOAD_TOO_LARGE": 413,
    "VALIDATION_FAILED": 422, "ORDER_NOT_FOUND": 422, "FILING_WINDOW_CLOSED": 422,
    "PROMISED_DELIVERY_NOT_ELAPSED": 422, "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD": 422,
    "REFUND_EXCEEDS_REFUNDABLE_AMOUNT": 422, "CURRENCY_MISMATCH": 422,
    "APPEAL_REQUIRES_NEW_EVIDENCE": 422, "EVIDENCE_REJECTED": 422,
    "TOO_MANY_MESSAGES": 422, "TOO_MANY_EVIDENCE_FILES": 422, "TOO_MANY_OFFERS": 422,
    "RATE_LIMITED": 429,
}
# Members of every problem body; a domain detail of the same name (the dispute's `status`)
# is renamed `dispute_<name>` instead of overwriting it.
RESERVED = frozenset({"type", "title", "status", "code", "detail"})


def to_problem(error: DomainError) -> Problem:
    details = {(f"dispute_{k}" if k in RESERVED else k): v
               for k, v in error.details.items() if v is not None}
    return Problem(STATUS.get(error.code, 409), error.code, error.message, **details)
