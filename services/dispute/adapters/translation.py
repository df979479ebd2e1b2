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
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from types import UnionType
from typing import Annotated, Any, Mapping, Protocol, Union, get_args, get_origin
from uuid import UUID

from pydantic import AwareDatetime, ValidationError, create_model

from contracts import disputes as public
from contracts.envelope import ActorRef, EventEnvelope, event_id_for, event_id_text, kafka_headers
from services.dispute.adapters.event_store import META_KEY, TextFields

Adapt = Callable[[dict[str, Any]], dict[str, Any]]
DECIMAL, DATETIME = "decimal_str", "datetime_iso"  # the library's names of the two transcodings
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


KEEPS_NAMES = {_same, _evidence_added, _message_posted}
"""The adapters that pass fields through or drop them, never rename one."""

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

INTERNAL: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "MessagePosted": lambda fields: fields["visibility"] == "PLATFORM_ONLY",
}
"""Domain event class name -> which of its events (by their fields) stay internal (see the
module docstring)."""


class UnmappedDomainEvent(LookupError):
    """A domain event with no public contract and no internal decision: add one of the two."""


def is_public(domain_event: Any) -> bool:
    return _is_public(type(domain_event).__name__, vars(domain_event))


def _is_public(event_class: str, fields: Mapping[str, Any]) -> bool:
    internal = INTERNAL.get(event_class)
    return not (internal and internal(fields))


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
    occurred_at = getattr(domain_event, "at", None) or domain_event.timestamp
    return _record(_contract(domain_event), domain_event.originator_id,
                   domain_event.originator_version, vars(domain_event), occurred_at, meta)


def _record(contract: tuple[type[public.DisputePayload], Adapt], dispute_id: UUID, version: int,
            fields: Mapping[str, Any], occurred_at: Any, meta: dict[str, Any]) -> KafkaRecord:
    envelope, event_id, dispute_text = _checked(contract, dispute_id, version, fields, occurred_at, meta)
    headers = kafka_headers(envelope.event_type, envelope.schema_version, envelope.correlation_id,
                            event_id, envelope._rfc3339(envelope.occurred_at), dispute_text)
    return KafkaRecord(dispute_text.encode(), _json(envelope), headers)


def _checked(contract: tuple[type[public.DisputePayload], Adapt], dispute_id: UUID, version: int,
             fields: Mapping[str, Any], occurred_at: Any,
             meta: dict[str, Any]) -> tuple[EventEnvelope, str, str]:
    """(the envelope, checked with its payload typed as its contract; its event id and dispute
    id as text)."""
    model, adapt = contract
    dispute_text = str(dispute_id)
    event_id = event_id_text(dispute_text, version)
    envelope = _typed_envelope(model).__pydantic_validator__.validate_python({
        "event_id": event_id, "event_type": model.event_type,
        "schema_version": model.schema_version, "dispute_id": dispute_id, "dispute_version": version,
        "occurred_at": occurred_at,
        "correlation_id": meta.get("correlation_id") or _opening_event_id(dispute_id),
        "causation_id": meta.get("causation_id"), "actor": fields["actor"],
        "payload": adapt({k: v for k, v in fields.items() if k not in BASE_FIELDS})})
    return envelope, event_id, dispute_text


def _json(envelope: EventEnvelope) -> bytes:
    return type(envelope).__pydantic_serializer__.to_json(envelope)


class StoredEvents(Protocol):
    """What the stored path reads through (the dispute application's mapper, event_store.py)."""

    def event_class(self, stored_event: Any) -> type: ...

    def state_as_text(self, stored_event: Any, text: TextFields) -> dict | None: ...

    def to_domain_event_with_meta(self, stored_event: Any) -> tuple[Any, dict]: ...


def stored_kafka_record(stored_event: Any, mapper: StoredEvents) -> tuple[KafkaRecord | None, dict]:
    """`to_kafka_record` of the stored event (None for an internal one), and its metadata:
    the same bytes, but read from the stored JSON straight into the contract. Its decimals and
    datetimes go to pydantic as the text they are stored as (pydantic parses them as it would
    have checked the Decimal or datetime; tests/component/test_relay_stored_records.py); the
    domain event is built only where that does not hold: a state of an older class version
    (its upcasters need the typed values), a transcoded value where the contract has no decimal
    or datetime, a record the contract refuses (the typed path then raises its own error)."""
    if (read := _stored_as_text(stored_event, mapper)) is not None:
        name, contract, state, meta = read
        if not _is_public(name, state):
            return None, meta
        try:
            return _record(contract, stored_event.originator_id, stored_event.originator_version,
                           state, state["at"] or state["timestamp"], meta), meta
        except ValidationError:
            pass  # the domain event's path below raises the error, as it always did
    domain_event, meta = mapper.to_domain_event_with_meta(stored_event)
    return (to_kafka_record(domain_event, meta) if is_public(domain_event) else None), meta


def stored_envelope_json(stored_event: Any, mapper: StoredEvents) -> tuple[bytes | None, dict, datetime]:
    """What the audit export writes of a stored event: its envelope's JSON (the record's value;
    None for an internal event), its metadata and when it happened (`at`, else `timestamp`),
    read as `stored_kafka_record` reads."""
    if (read := _stored_as_text(stored_event, mapper)) is not None:
        name, contract, state, meta = read
        at = datetime.fromisoformat(state["at"] or state["timestamp"])  # as the library decodes it
        if not _is_public(name, state):
            return None, meta, at
        try:
            return _json(_checked(contract, stored_event.originator_id, stored_event.originator_version,
                                  state, at, meta)[0]), meta, at
        except ValidationError:
            pass
    domain_event, meta = mapper.to_domain_event_with_meta(stored_event)
    at = getattr(domain_event, "at", None) or domain_event.timestamp
    return (to_kafka_record(domain_event, meta).value if is_public(domain_event) else None), meta, at


def _stored_as_text(stored_event: Any, mapper: StoredEvents) -> tuple[str, Any, dict, dict] | None:
    """(event class name, its contract, the state as text, the metadata) where the text path
    holds (see `stored_kafka_record`); None where the domain event must be built."""
    event_class = mapper.event_class(stored_event)
    contract = PUBLIC_EVENTS.get(event_class.__name__)
    if contract is None or type(stored_event.originator_id) is not UUID:
        return None
    state = mapper.state_as_text(stored_event, _text_fields(*contract))
    if (state is None or "at" not in state
            or state.pop("class_version", 1) != getattr(event_class, "class_version", 1)):
        return None
    return event_class.__name__, contract, state, state.pop(META_KEY, None) or {}


@lru_cache(maxsize=None)
def _text_fields(model: type[public.DisputePayload], adapt: Adapt) -> TextFields:
    """The fields of `model` read from their stored text: a decimal or a datetime, or a dict of
    datetimes (only where the adapter keeps the domain's names: a field's value then reaches
    the contract field of its own name); and the envelope's time (the event's `at`, else its
    `timestamp`)."""
    fields: list[tuple[str, str]] = [("at", DATETIME), ("timestamp", DATETIME)]
    values_of: list[tuple[str, str]] = []
    for name, field in model.model_fields.items() if adapt in KEEPS_NAMES else ():
        if (kind := _stored_kind(field.annotation)) is not None:
            fields.append((name, kind))
        elif get_origin(field.annotation) is dict:
            if (kind := _stored_kind(get_args(field.annotation)[1])) is not None:
                values_of.append((name, kind))
    return TextFields(tuple(fields), tuple(values_of))


def _stored_kind(annotation: Any) -> str | None:
    """The transcoding a stored value of this type has; None for every other type."""
    if get_origin(annotation) is Annotated:
        return _stored_kind(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        kinds = {_stored_kind(arg) for arg in get_args(annotation) if arg is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if annotation is Decimal:
        return DECIMAL
    if annotation in (datetime, AwareDatetime):
        return DATETIME
    return None


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
