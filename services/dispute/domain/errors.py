"""Named domain errors. Each carries its public `code` (DOMAIN.md); the API maps codes to HTTP."""


class DomainError(Exception):
    code = "INVALID_TRANSITION"

    def __init__(self, message: str, *, code: str | None = None, **details: object):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details


class Forbidden(DomainError):
    code = "FORBIDDEN"


class ValidationFailed(DomainError):
    code = "VALIDATION_FAILED"


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


class NotYourTurn(DomainError):
    code = "NOT_YOUR_TURN"


class NotOpenForNegotiation(DomainError):
    code = "DISPUTE_NOT_OPEN_FOR_NEGOTIATION"


class OfferNotCurrent(DomainError):
    code = "OFFER_NOT_CURRENT"


class MaxOfferRoundsReached(DomainError):
    code = "MAX_OFFER_ROUNDS_REACHED"


class EscalationNotYetAllowed(DomainError):
    code = "ESCALATION_NOT_YET_ALLOWED"


class AlreadyResolved(DomainError):
    code = "DISPUTE_ALREADY_RESOLVED"


class RefundExceedsRefundable(DomainError):
    code = "REFUND_EXCEEDS_REFUNDABLE_AMOUNT"


class CurrencyMismatch(DomainError):
    code = "CURRENCY_MISMATCH"


class ReturnWindowClosed(DomainError):
    code = "RETURN_WINDOW_CLOSED"


class AppealWindowClosed(DomainError):
    code = "APPEAL_WINDOW_CLOSED"


class AppealRequiresNewEvidence(DomainError):
    code = "APPEAL_REQUIRES_NEW_EVIDENCE"


class OnlyLosingPartyMayAppeal(DomainError):
    code = "ONLY_LOSING_PARTY_MAY_APPEAL"


class MaxAppealsReached(DomainError):
    code = "MAX_APPEALS_REACHED"


class EvidenceRejected(DomainError):
    code = "EVIDENCE_REJECTED"


class OrderNotFound(DomainError):
    code = "ORDER_NOT_FOUND"


class FilingWindowClosed(DomainError):
    code = "FILING_WINDOW_CLOSED"


class PromisedDeliveryNotElapsed(DomainError):
    code = "PROMISED_DELIVERY_NOT_ELAPSED"


class TooManyMessages(DomainError):
    code = "TOO_MANY_MESSAGES"


class TooManyEvidenceFiles(DomainError):
    code = "TOO_MANY_EVIDENCE_FILES"


class TooManyOffers(DomainError):
    code = "TOO_MANY_OFFERS"
