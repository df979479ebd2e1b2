"""One human sentence per dispute event, for the timeline: pure, no I/O.

`summarise(event_type, fields, currency)` takes the event's class name (`OfferMade`), its
attributes (`actor` {role, id} included) and the dispute's currency (events that carry an
amount without one, like `OfferAccepted`, are in the order's currency).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

Fields = dict[str, Any]
WHO = {"buyer": "Buyer", "seller": "Seller", "operator": "Operator", "service": "The platform"}
THE = {"buyer": "the buyer", "seller": "the seller", "operator": "the platform"}
REMEDIES = {"FULL_REFUND": "a full refund", "PARTIAL_REFUND": "a partial refund",
            "REPLACEMENT": "a replacement", "RETURN_AND_REFUND": "a return and refund",
            "NONE": "no remedy"}
OUTCOMES = {"BUYER_FAVOUR": "in the buyer's favour", "SELLER_FAVOUR": "in the seller's favour",
            "PARTIAL": "with a partial outcome", "AGREED": "by agreement"}
RESOLVED_BY = {"AGREEMENT": "the parties agreed", "SELLER_ACCEPTED_CLAIM": "the seller accepted the claim",
               "PLATFORM_DECISION": "platform decision", "TIMEOUT_SELLER": "the seller did not answer in time",
               "TIMEOUT_BUYER": "the buyer did not answer in time"}
DEADLINES = {"SELLER_RESPONSE": "seller's response", "BUYER_RESPONSE": "buyer's response",
             "NEGOTIATION_MAX": "negotiation", "RETURN_SHIPMENT": "return shipment",
             "RETURN_ACKNOWLEDGEMENT": "return acknowledgement", "EVIDENCE_REQUEST": "evidence",
             "APPEAL_WINDOW": "appeal"}


def when(value: datetime | str | None) -> str:
    """`3 Dec 14:00 UTC`."""
    if value is None:
        return "no date"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    value = value.astimezone(timezone.utc) if value.tzinfo else value
    return f"{value.day} {value:%b %H:%M} UTC"


def money(amount: Decimal | str | None, currency: str) -> str:
    return f"{Decimal(str(amount or 0)).quantize(Decimal('0.01'))} {currency}"


def words(code: str | None) -> str:
    return (code or "").replace("_", " ").lower()


def remedy(kind: str, amount: Any, currency: str) -> str:
    text = REMEDIES.get(kind, words(kind))
    if kind in ("REPLACEMENT", "NONE") or amount in (None, ""):
        return text
    return f"{text} of {money(amount, currency)}"


def _who(f: Fields) -> str:
    return WHO.get(f["actor"]["role"], "The platform")


def _opened(f: Fields, c: str) -> str:
    due = f.get("deadlines", {}).get("SELLER_RESPONSE")
    asked = remedy(f["request"], f.get("request_amount") or f.get("paid_amount"), c)
    return (f"Buyer opened a dispute ({words(f['reason'])}) asking for {asked}; "
            f"the seller has until {when(due)} to respond")


def _offer_made(f: Fields, c: str) -> str:
    other = "buyer" if f["made_by"] == "seller" else "seller"
    offer = remedy(f["offer_type"], f.get("amount"), f.get("currency") or c)
    return f"{WHO[f['made_by']]} offered {offer}; the {other} has until {when(f['respond_by'])} to answer"


def _offer_rejected(f: Fields, c: str) -> str:
    other = "buyer" if f["actor"]["role"] == "seller" else "seller"
    return f"{_who(f)} rejected the offer; the {other} has until {when(f['respond_by'])} to answer"


def _claim_rejected(f: Fields, c: str) -> str:
    return f"Seller rejected the claim; the buyer has until {when(f['respond_by'])} to answer"


def _evidence_added(f: Fields, c: str) -> str:
    return f"{_who(f)} added evidence: {f['filename']} ({f['content_type']}, {f['size']:,} bytes)"


def _evidence_requested(f: Fields, c: str) -> str:
    return f"Operator asked {THE.get(f['from_party'], f['from_party'])} for evidence by {when(f['due'])}"


def _message_posted(f: Fields, c: str) -> str:
    if f.get("visibility") == "PLATFORM_ONLY":
        return f"{_who(f)} added an internal note (platform only)"
    return f"{_who(f)} posted a message"


def _deadline_missed(f: Fields, c: str) -> str:
    name = DEADLINES.get(f["deadline"], words(f["deadline"]))
    return f"The {name} deadline of {when(f['due'])} passed"


def _escalated(f: Fields, c: str) -> str:
    if f.get("automatic"):
        return f"The dispute was escalated to the platform automatically ({words(f['trigger'])})"
    return f"{_who(f)} escalated the dispute to the platform"


def _return_requested(f: Fields, c: str) -> str:
    return (f"A return was agreed: the buyer must ship the item by {when(f['ship_by'])}, "
            f"then gets a refund of {money(f['refund_amount'], c)}")


def _return_shipped(f: Fields, c: str) -> str:
    return (f"Buyer shipped the return with {f['carrier']} (tracking {f['tracking_number']}); "
            f"the seller has until {when(f['acknowledge_by'])} to acknowledge it")


def _resolved(f: Fields, c: str) -> str:
    how = RESOLVED_BY.get(f["resolved_by"], words(f["resolved_by"]))
    granted = remedy(f["remedy"], f.get("refund_amount"), f.get("currency") or c)
    return (f"Resolved {OUTCOMES.get(f['outcome'], words(f['outcome']))} ({how}): {granted}; "
            f"appeals are possible until {when(f['appeal_until'])}")


def _appeal_decided(f: Fields, c: str) -> str:
    extra = f.get("extra_refund")
    award = f", with a further refund of {money(extra, f.get('currency') or c)}" if extra else ""
    return f"Operator decided the appeal: {words(f['outcome'])}{award}"


def _feedback_left(f: Fields, c: str) -> str:
    return f"{_who(f)} left feedback: {f['rating']} out of 5"


def _feedback_replied(f: Fields, c: str) -> str:
    return f"{_who(f)} replied to the {f['feedback_of']}'s feedback"


SENTENCES: dict[str, Callable[[Fields, str], str]] = {
    "Opened": _opened,
    "SellerResponded": lambda f, c: "Seller responded to the dispute",
    "OfferMade": _offer_made,
    "OfferSuperseded": lambda f, c: "The previous offer was superseded by a new one",
    "OfferAccepted": lambda f, c: f"{_who(f)} accepted the offer of {remedy(f['remedy'], f.get('refund_amount'), c)}",
    "OfferRejected": _offer_rejected,
    "OfferExpired": lambda f, c: "The open offer expired unanswered",
    "OfferWithdrawn": lambda f, c: "The open offer was withdrawn",
    "ClaimAccepted": lambda f, c: f"Seller accepted the claim: {remedy(f['remedy'], f.get('refund_amount'), c)}",
    "ClaimRejected": _claim_rejected,
    "EvidenceAdded": _evidence_added,
    "EvidenceRequested": _evidence_requested,
    "MessagePosted": _message_posted,
    "DeadlineMissed": _deadline_missed,
    "Escalated": _escalated,
    "ReturnRequested": _return_requested,
    "ReturnShipped": _return_shipped,
    "ReturnReceived": lambda f, c: f"Seller acknowledged the returned parcel: {words(f['condition'])}",
    "ReplacementShipped": lambda f, c: f"Seller shipped a replacement with {f['carrier']} (tracking {f['tracking_number']})",
    "ReplacementReceived": lambda f, c: "Buyer confirmed the replacement arrived",
    "Resolved": _resolved,
    "RefundIssued": lambda f, c: f"A refund of {money(f['amount'], f.get('currency') or c)} was paid",
    "RefundedOutsideDispute": lambda f, c: f"The order was refunded outside the dispute; {money(f['refunded_before'], c)} of this item's price now counts as refunded",
    "RefundFailed": lambda f, c: f"A refund failed ({words(f['reason'])}){'; it will be retried' if f.get('retryable') else ''}",
    "Withdrawn": lambda f, c: "Buyer withdrew the dispute",
    "Appealed": lambda f, c: f"{_who(f)} appealed the decision",
    "AppealDecided": _appeal_decided,
    "Closed": lambda f, c: f"The dispute was closed ({words(f['reason'])})",
    "FeedbackLeft": _feedback_left,
    "FeedbackReplied": _feedback_replied,
}


def summarise(event_type: str, fields: Fields, currency: str) -> str:
    sentence = SENTENCES.get(event_type)
    if sentence is None:
        return f"{_who(fields)}: {words(event_type)}"
    return sentence(fields, currency)
