"""Pure: who is told what about a dispute event. No I/O here.

`notices_for` decides the audience of each public event type (buyer, seller, operators) and
fills that audience's template (loaded from files by the caller) for each recipient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from string import Template
from typing import Any

from services.notification.rendering import one_line, template_values

BUYER, SELLER, OPERATORS = "buyer", "seller", "operators"
BOTH = (BUYER, SELLER)
PARTIES_UNKNOWN = "PartiesUnknown"
"""Template for operators when an event names a dispute whose DisputeOpened we never saw."""


@dataclass(frozen=True)
class Parties:
    buyer_id: str
    seller_id: str


@dataclass(frozen=True)
class Recipient:
    """Who is told: a party in its role, or the operators' shared inbox (role `operators`).
    A buyer and a seller with the same id are two recipients, as they are two principals."""

    role: str
    id: str

    @property
    def key(self) -> str:
        """`role:id`, unambiguous as no role holds a colon."""
        return f"{self.role}:{self.id}"

    @classmethod
    def parse(cls, key: str, roles: tuple[str, ...] = BOTH) -> "Recipient":
        role, _, recipient_id = key.partition(":")
        if role not in roles or not recipient_id:
            raise ValueError(f"{key!r} is not <role>:<id> with a role among {', '.join(roles)}")
        return cls(role, recipient_id)


@dataclass(frozen=True)
class Notice:
    recipient: str
    recipient_role: str
    subject: str
    body: str

    @property
    def to(self) -> Recipient:
        return Recipient(self.recipient_role, self.recipient)


@dataclass(frozen=True)
class MessageTemplate:
    """`string.Template` sources: `$order_id`, `$respond_by`, ..."""

    subject: str
    body: str


class UnknownEvent(Exception):
    """An event type or schema version this service has no words for."""


class MalformedEvent(Exception):
    """A known event whose payload lacks what its template needs."""


def _other(role: str | None) -> tuple[str, ...]:
    """The party that did not act; both parties when the platform acted."""
    return {BUYER: (SELLER,), SELLER: (BUYER,)}.get(role or "", BOTH)


def _message_audience(payload: dict[str, Any], actor: str | None) -> tuple[str, ...]:
    if payload["visibility"] == "PLATFORM_ONLY":
        return () if actor == "operator" else (OPERATORS,)
    return _other(actor)


Audience = Callable[[dict[str, Any], "str | None"], tuple[str, ...]]
NOBODY: Audience = lambda payload, actor: ()  # noqa: E731
AUDIENCES: dict[str, Audience] = {
    "DisputeOpened": lambda p, a: (SELLER, BUYER),
    "SellerResponded": NOBODY,
    "OfferMade": lambda p, a: _other(p["made_by"]),
    "OfferSuperseded": NOBODY,
    "OfferWithdrawn": NOBODY,
    "OfferAccepted": lambda p, a: _other(a),
    "OfferRejected": lambda p, a: _other(a),
    "OfferExpired": lambda p, a: BOTH,
    "ClaimAccepted": lambda p, a: (BUYER,),
    "ClaimRejected": lambda p, a: (BUYER,),
    "EvidenceAdded": lambda p, a: (*_other(a), OPERATORS),
    "EvidenceRequested": lambda p, a: (p["from_party"],),
    "MessagePosted": _message_audience,
    "DeadlineMissed": lambda p, a: BOTH,
    "Escalated": lambda p, a: (*BOTH, OPERATORS),
    "ReturnRequested": lambda p, a: BOTH,
    "ReturnShipped": lambda p, a: (SELLER,),
    "ReturnReceived": lambda p, a: (BUYER,),
    "ReplacementShipped": lambda p, a: (BUYER,),
    "ReplacementReceived": lambda p, a: (SELLER,),
    "Resolved": lambda p, a: BOTH,
    "RefundIssued": lambda p, a: (BUYER,),
    "RefundFailed": lambda p, a: (OPERATORS,),
    "RefundedOutsideDispute": NOBODY,
    "DisputeWithdrawn": lambda p, a: (SELLER,),
    "Appealed": lambda p, a: (*_other(a), OPERATORS),
    "AppealDecided": lambda p, a: BOTH,
    "DisputeClosed": lambda p, a: BOTH,
    "FeedbackLeft": lambda p, a: (OPERATORS,),
    "FeedbackReplied": lambda p, a: (p["feedback_of"], OPERATORS),
}


def is_known(event_type: str) -> bool:
    """Schema versions are the contract's business: payloads arrive here upcast to the latest."""
    return event_type in AUDIENCES


def parties_from(event_type: str, payload: dict[str, Any]) -> Parties | None:
    if event_type == "DisputeOpened":
        return Parties(buyer_id=payload["buyer_id"], seller_id=payload["seller_id"])
    return None


def audience(event_type: str, payload: dict[str, Any], actor_role: str | None) -> tuple[str, ...]:
    """The roles told about this event, in order, without repeats."""
    if event_type not in AUDIENCES:
        raise UnknownEvent(event_type)
    try:
        roles = AUDIENCES[event_type](payload, actor_role)
    except KeyError as missing:
        raise MalformedEvent(f"{event_type} payload lacks {missing}") from None
    return tuple(dict.fromkeys(roles))


def notices_for(event_type: str, payload: dict[str, Any], dispute_id: str,
                parties: Parties | None, *, templates: Mapping[str, MessageTemplate],
                actor_role: str | None = None,
                time_zones: Mapping[Recipient, str] | None = None,
                operators: str = OPERATORS) -> list[Notice]:
    """One notice per recipient, a recipient being a (role, id): a buyer who is also the
    seller, or a party whose id reads like the operators' inbox, is told once in each role,
    in the inbox of that role. Without the parties, only operators are told."""
    roles = audience(event_type, payload, actor_role)
    if parties is None and roles:
        key = event_type if OPERATORS in roles else PARTIES_UNKNOWN
        return [_notice(key, Recipient(OPERATORS, operators), event_type, payload, dispute_id,
                        actor_role, templates, time_zones or {})]
    ids = {BUYER: parties.buyer_id, SELLER: parties.seller_id, OPERATORS: operators} if parties else {}
    return [_notice(event_type, Recipient(role, ids[role]), event_type, payload, dispute_id,
                    actor_role, templates, time_zones or {}) for role in roles]


class _Blank(dict):
    """A field an older or leaner payload lacks reads as blank instead of failing the event."""

    def __missing__(self, key: str) -> str:
        return ""


def _notice(key: str, to: Recipient, event_type: str, payload: dict[str, Any],
            dispute_id: str, actor_role: str | None, templates: Mapping[str, MessageTemplate],
            time_zones: Mapping[Recipient, str]) -> Notice:
    template = templates.get(f"{key}.{to.role}")
    if template is None:
        raise UnknownEvent(f"no template {key}.{to.role}")
    try:
        values = template_values(payload, dispute_id, actor_role, time_zones.get(to))
        values = _Blank(values, event_type=event_type)
        return Notice(to.id, to.role, one_line(Template(template.subject).substitute(values)),
                      Template(template.body).substitute(values).strip() + "\n")
    except (KeyError, ValueError, TypeError) as error:
        raise MalformedEvent(f"{event_type} for {to.role}: {error!r}") from None
