"""The one seam between private domain events and the public `disputes.events` contract.

Each domain event class maps to one contract model (contracts/disputes.py). The payload is the
event's attributes (names kept) minus who/when (those go in the envelope), adapted by a small
function where the public shape differs, then validated by the model: a producer typo, or a
domain attribute the contract does not know yet, fails here and never reaches Kafka.

What stays internal, and why:
- `MessagePosted` with visibility PLATFORM_ONLY: operators' notes; `disputes.events` is read by
  every consumer group and kept forever, so it is not published at all.
- The `text` of every message: conversation between the parties may carry personal data that
  an unlimited-retention topic could never erase; consumers learn that a message was posted
  (`message_id`, `visibility`) and the API serves the text with its visibility check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID

from pydantic import create_model

from contracts import disputes as public
from contracts.envelope import ActorRef, EventEnvelope, event_id_for

Adapt = Callable[[dict[str, Any]], dict[str, Any]]
BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "at"}


def _same(fields: dict[str, Any]) -> dict[str, Any]:
    return fields


def _appeal_decided(fields: dict[str, Any]) -> dict[str, Any]:
    """Public name `refund_amount` for the domain's `extra_refund`, "0" when none was awarded."""
    extra = fields.pop("extra_refund")
    return {**fields, "refund_amount": "0" if extra is None else extra}


def _evidence_added(fields: dict[str, Any]) -> dict[str, Any]:
    """What the evidence meant when added (after the resolution, answering a request) is the
    domain's own bookkeeping: not part of the public contract."""
    internal = {"after_resolution", "answered_request_id"}
    return {name: value for name, value in fields.items() if name not in internal}


def _message_posted(fields: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": fields["message_id"], "visibility": fields["visibility"]}


PUBLIC_EVENTS: dict[str, tuple[type[public.DisputePayload], Adapt]] = {
    "Opened": (public.DisputeOpened, _same),
    "SellerResponded": (public.SellerResponded, _same),
    "OfferMade": (public.OfferMade, _same),
    "OfferAccepted": (public.OfferAccepted, _same),
    "OfferRejected": (public.OfferRejected, _same),
    "OfferSuperseded": (public.OfferSuperseded, _same),
    "OfferExpired": (public.OfferExpired, _same),
    "OfferWithdrawn": (public.OfferWithdrawn, _same),
    "ClaimAccepted": (public.ClaimAccepted, _same),
    "ClaimRejected": (public.ClaimRejected, _same),
    "EvidenceAdded": (public.EvidenceAdded, _evidence_added),
    "EvidenceRequested": (public.EvidenceRequested, _same),
    "MessagePosted": (public.MessagePosted, _message_posted),
    "DeadlineMissed": (public.DeadlineMissed, _same),
    "Escalated": (public.Escalated, _same),
    "ReturnRequested": (public.ReturnRequested, _same),
    "ReturnShipped": (public.ReturnShipped, _same),
    "ReturnReceived": (public.ReturnReceived, _same),
    "ReplacementShipped": (public.ReplacementShipped, _same),
    "ReplacementReceived": (public.ReplacementReceived, _same),
    "Resolved": (public.Resolved, _same),
    "RefundIssued": (public.RefundIssued, _same),
    "RefundFailed": (public.RefundFailed, _same),
    "RefundedOutsideDispute": (public.RefundedOutsideDispute, _same),
    "Withdrawn": (public.DisputeWithdrawn, _same),
    "Appealed": (public.Appealed, _same),
    "AppealDecided": (public.AppealDecided, _appeal_decided),
    "Closed": (public.DisputeClosed, _same),
    "FeedbackLeft": (public.FeedbackLeft, _same),
    "FeedbackReplied": (public.FeedbackReplied, _same),
}
"""Domain event class name -> (contract model, adapter)."""

INTERNAL: dict[str, Callable[[Any], bool]] = {
    "MessagePosted": lambda event: event.visibility == "PLATFORM_ONLY",
}
"""Domain event class name -> which of its events stay internal (see the module docstring)."""


class UnmappedDomainEvent(LookupError):
    """A domain event with no public contract and no internal decision: add one of the two."""


def is_public(domain_event: Any) -> bool:
    internal = INTERNAL.get(type(domain_event).__name__)
    return not (internal and internal(domain_event))


def public_event_type(domain_event: Any) -> str:
    return _contract(domain_event)[0].event_type


def to_envelope(domain_event: Any, meta: dict[str, Any]) -> EventEnvelope:
    model = _contract(domain_event)[0]
    dispute_id, version = domain_event.originator_id, domain_event.originator_version
    return EventEnvelope(
        event_id=event_id_for(dispute_id, version),
        event_type=model.event_type,
        schema_version=model.schema_version,
        dispute_id=dispute_id,
        dispute_version=version,
        occurred_at=getattr(domain_event, "at", None) or domain_event.timestamp,
        correlation_id=meta.get("correlation_id") or _opening_event_id(dispute_id),
        causation_id=meta.get("causation_id"),
        actor=ActorRef(**domain_event.actor),
        payload=to_payload(domain_event).model_dump(mode="json"),
    )


@dataclass(frozen=True)
class KafkaRecord:
    """A public event as it goes onto `disputes.events`."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def to_kafka_record(domain_event: Any, meta: dict[str, Any]) -> KafkaRecord:
    """What `to_envelope(...).kafka_value()` etc. give, byte for byte, in one validation and one
    serialisation: the envelope and the payload are checked against their contracts together
    (the payload typed as its own contract model), then written once, never dumped to a dict
    and checked again (pydantic.ValidationError when either does not fit)."""
    model, adapt = _contract(domain_event)
    dispute_id, version = domain_event.originator_id, domain_event.originator_version
    envelope = _typed_envelope(model).model_validate({
        "event_id": event_id_for(dispute_id, version), "event_type": model.event_type,
        "schema_version": model.schema_version, "dispute_id": dispute_id, "dispute_version": version,
        "occurred_at": getattr(domain_event, "at", None) or domain_event.timestamp,
        "correlation_id": meta.get("correlation_id") or _opening_event_id(dispute_id),
        "causation_id": meta.get("causation_id"), "actor": domain_event.actor,
        "payload": adapt(_payload_fields(domain_event))})
    return KafkaRecord(envelope.kafka_key(), type(envelope).__pydantic_serializer__.to_json(envelope),
                       envelope.kafka_headers())


@lru_cache(maxsize=None)
def _typed_envelope(model: type[public.DisputePayload]) -> type[EventEnvelope]:
    """The envelope whose payload is `model` (one per contract, made once)."""
    return create_model(f"{model.__name__}Envelope", __base__=EventEnvelope, payload=(model, ...))


@lru_cache(maxsize=4096)
def _opening_event_id(dispute_id: UUID) -> str:
    """The correlation id of an event stored without one: its dispute's first event id (a
    uuid5, cached: the relay and the export ask it for every such event of a dispute)."""
    return str(event_id_for(dispute_id, 1))


def to_payload(domain_event: Any) -> public.DisputePayload:
    """The contract model of a public domain event; pydantic.ValidationError if it does not fit."""
    model, adapt = _contract(domain_event)
    return model.model_validate(adapt(_payload_fields(domain_event)))


def _payload_fields(domain_event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(domain_event).items() if k not in BASE_FIELDS}


def _contract(domain_event: Any) -> tuple[type[public.DisputePayload], Adapt]:
    try:
        return PUBLIC_EVENTS[type(domain_event).__name__]
    except KeyError:
        raise UnmappedDomainEvent(type(domain_event).__qualname__) from None
