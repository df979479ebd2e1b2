"""Pure guard functions: each checks one rule and raises the named error, or returns quietly."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.state import DisputeState, awaiting
from services.dispute.domain.values import (
    DECIDED_STATES, Actor, Deadline, EvidenceFile, Outcome, RequestType, Role, Status,
)

EVIDENCE_CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "application/pdf"})
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
MESSAGE_MAX_LENGTH = 5000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PARTIES = (Role.BUYER, Role.SELLER)
# Deadlines whose passing changes the state: a command arriving after one of them is late.
_STATE_CHANGING = frozenset(Deadline) - {Deadline.EVIDENCE_REQUEST}


def require_party(dispute: DisputeState, actor: Actor, *roles: Role) -> None:
    """FORBIDDEN unless the actor plays one of `roles` and, for a party, is this order's party."""
    if actor.role not in roles:
        raise errors.Forbidden(f"a {actor.role} may not do this", role=str(actor.role))
    own_id = {Role.BUYER: dispute.buyer_id, Role.SELLER: dispute.seller_id}.get(actor.role)
    if own_id is not None and actor.id != own_id:
        raise errors.Forbidden("only the order's own parties may act on its dispute")


def require_parties(dispute: DisputeState, actor: Actor) -> None:
    require_party(dispute, actor, *_PARTIES)


def require_status(dispute: DisputeState, allowed: Collection[Status],
                   otherwise: type[errors.DomainError] | None = None) -> None:
    if dispute.status in allowed:
        return
    if otherwise is None:
        otherwise = (errors.AlreadyResolved if dispute.status in DECIDED_STATES
                     else errors.InvalidTransition)
    raise otherwise(f"not allowed while the dispute is {dispute.status}",
                    status=str(dispute.status))


def require_turn(dispute: DisputeState, actor: Actor) -> None:
    if awaiting(dispute) != actor.role:
        raise errors.NotYourTurn(f"waiting for the {awaiting(dispute)}",
                                 awaiting=awaiting(dispute))


def require_on_time(dispute: DisputeState, at: datetime, late: type[errors.DomainError]) -> None:
    """A command at or after a state-changing deadline is late, even before the timer fires."""
    overdue = sorted(name for name, due in dispute.deadlines.items()
                     if due <= at and name in _STATE_CHANGING)
    if overdue:
        raise late(f"the {overdue[0]} deadline has passed", deadline=overdue[0])


def require_escalation_open(dispute: DisputeState, at: datetime) -> None:
    if at < dispute.escalation_allowed_from:
        raise errors.EscalationNotYetAllowed(
            "escalation is not allowed yet",
            escalation_allowed_from=dispute.escalation_allowed_from.isoformat())


def require_refund_amount(amount: object, *, refundable: Decimal, currency: str | None,
                          dispute_currency: str) -> Decimal:
    """The amount rule: 0 < amount <= refundable, in the dispute's currency."""
    require_currency(currency, dispute_currency)
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise errors.ValidationFailed("an amount must be a finite decimal", field="amount")
    if amount <= 0:
        raise errors.ValidationFailed("an amount must be greater than zero", field="amount")
    if amount > refundable:
        raise errors.RefundExceedsRefundable(
            f"at most {refundable} {dispute_currency} can be refunded",
            refundable_amount=str(refundable), amount=str(amount))
    return amount


def require_remedy(kind: str) -> RequestType:
    if kind not in set(RequestType):
        raise errors.ValidationFailed(f"unknown remedy {kind}", field="type")
    return RequestType(kind)


def require_terms_amount(kind: str, amount: Decimal | None, *, refundable: Decimal,
                         currency: str | None, dispute_currency: str) -> Decimal | None:
    """The amount a request or offer of `kind` stands for (None for a replacement)."""
    if kind not in set(RequestType):
        raise errors.ValidationFailed(f"unknown remedy {kind}", field="type")
    if kind == RequestType.REPLACEMENT:
        if amount is not None:
            raise errors.ValidationFailed("a replacement carries no amount", field="amount")
        require_currency(currency, dispute_currency)
        return None
    if kind == RequestType.FULL_REFUND:
        if amount is not None and amount != refundable:
            raise errors.ValidationFailed("a full refund is the refundable amount", field="amount")
        amount = refundable
    return require_refund_amount(amount, refundable=refundable, currency=currency,
                                 dispute_currency=dispute_currency)


def require_currency(currency: str | None, dispute_currency: str) -> None:
    if currency is not None and currency != dispute_currency:
        raise errors.CurrencyMismatch(f"amounts are in {dispute_currency}",
                                      expected=dispute_currency, got=currency)


def require_new_id(kind: str, new_id: object, known: Collection[str]) -> None:
    if not isinstance(new_id, str) or not new_id.strip():
        raise errors.ValidationFailed(f"a {kind} id is required", field=f"{kind}_id")
    if new_id in known:
        raise errors.ValidationFailed(f"{kind} {new_id} already exists", field=f"{kind}_id")


def require_text(field: str, value: object, max_length: int = MESSAGE_MAX_LENGTH) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise errors.ValidationFailed(f"{field} must be 1 to {max_length} characters", field=field)


def require_room(kind: str, count: int, adding: int, cap: int,
                 full: type[errors.DomainError]) -> None:
    """A dispute holds at most `cap` items of `kind` (a policy cap): refuse what would pass it.
    Checked by commands only, so a stream recorded before a lower cap still loads."""
    if count + adding > cap:
        raise full(f"a dispute holds at most {cap} {kind}", max=cap, count=count)


def require_evidence_room(dispute: DisputeState, adding: int, policy: DisputePolicy) -> None:
    require_room("evidence files", len(dispute.evidence), adding, policy.max_evidence_files,
                 errors.TooManyEvidenceFiles)


def require_evidence_files(files: Iterable[EvidenceFile], known: Collection[str]) -> None:
    seen = set(known)
    for file in files:
        require_evidence_file(file, seen)
        seen.add(file.evidence_id)


def require_evidence_file(file: EvidenceFile, known: Collection[str]) -> None:
    require_new_id("evidence", file.evidence_id, known)
    if not isinstance(file.sha256, str) or not _SHA256.match(file.sha256):
        raise errors.ValidationFailed("sha256 must be 64 lowercase hex digits", field="sha256")
    if file.content_type not in EVIDENCE_CONTENT_TYPES:
        raise errors.EvidenceRejected("evidence must be jpg, png, gif or pdf",
                                      content_type=file.content_type)
    if not isinstance(file.size, int) or not 0 < file.size <= EVIDENCE_MAX_BYTES:
        raise errors.EvidenceRejected("evidence files are 1 byte to 10 MB", size=file.size)


def require_own_evidence(dispute: DisputeState, evidence_ids: Iterable[str], actor: Actor) -> None:
    """Evidence referred to by id must already be on the dispute, added by the same party."""
    for evidence_id in evidence_ids:
        known = dispute.evidence.get(evidence_id)
        if known is None or known.added_by != actor.role:
            raise errors.ValidationFailed(f"no evidence {evidence_id} of yours on this dispute",
                                          field="evidence_ids")


def losing_parties(outcome: Outcome) -> frozenset[Role]:
    """Who may appeal: whoever the outcome went against; nobody appeals an agreement."""
    return _LOSERS.get(outcome, frozenset())


_LOSERS = {
    Outcome.BUYER_FAVOUR: frozenset({Role.SELLER}),
    Outcome.SELLER_FAVOUR: frozenset({Role.BUYER}),
    Outcome.PARTIAL: frozenset({Role.BUYER, Role.SELLER}),
}
