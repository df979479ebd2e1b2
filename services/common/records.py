"""Reading a Kafka record through its public contract: the first decision of every consumer,
"this record can be handled" or "dead-letter it, for this reason".

A record is read in a fixed order, and the first check it fails names the reason (the
`dlq-reason` header of its dead letter):
- `RECORD_TOO_LARGE`: more bytes than the consumer's limit (`<PREFIX>_KAFKA_MAX_RECORD_BYTES`),
  refused before it is parsed at all;
- `MALFORMED_RECORD`: not UTF-8 JSON (truncated, NaN, a lone surrogate...), or JSON that is not
  an object;
- `UNKNOWN_EVENT_TYPE`: an event type the contracts do not know (a consumer of
  `disputes.events` that acts on a few types only may skip these instead);
- `UNKNOWN_SCHEMA_VERSION`: a schema version the contracts do not know (on `orders.events` and
  `refunds.events` any but 1; on `disputes.events` one below 1 or newer than the event type's
  latest): upgrade contracts/ and replay the dead letters;
- `CONTRACT_VIOLATION`: anything the contract refuses: a wrong type, a missing field, an
  extra field, a value out of its limits (lengths, digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, TypeGuard, TypeVar

from pydantic import ValidationError
from pydantic_core import from_json

from contracts import orders, refunds
from contracts.disputes import REGISTRY, DisputePayload, upcast_payload
from contracts.envelope import EventEnvelope

RECORD_TOO_LARGE = "RECORD_TOO_LARGE"
MALFORMED_RECORD = "MALFORMED_RECORD"
UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
UNKNOWN_SCHEMA_VERSION = "UNKNOWN_SCHEMA_VERSION"
CONTRACT_VIOLATION = "CONTRACT_VIOLATION"
REASONS = (RECORD_TOO_LARGE, MALFORMED_RECORD, UNKNOWN_EVENT_TYPE, UNKNOWN_SCHEMA_VERSION,
           CONTRACT_VIOLATION)
# Far above any record the platform writes (a dispute event is a few kB, an order with a
# thousand items some 200 kB), below Kafka's default 1 MB message size: a bigger record is not
# ours, and is refused before its JSON is parsed.
DEFAULT_MAX_RECORD_BYTES = 512 * 1024
DETAIL_LENGTH = 500
T = TypeVar("T")


class Refused(ValueError):
    """This record will never be handled: dead-letter it with `reason`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}"[:DETAIL_LENGTH])
        self.reason, self.detail = reason, detail[:DETAIL_LENGTH]


def json_object(body: bytes | None, max_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> dict[str, Any]:
    body = body or b""
    if len(body) > max_bytes:
        raise Refused(RECORD_TOO_LARGE, f"{len(body)} bytes, the limit is {max_bytes}")
    try:
        value = from_json(body, allow_inf_nan=False)
    except ValueError as error:  # invalid UTF-8 and too deep nesting included
        raise Refused(MALFORMED_RECORD, f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise Refused(MALFORMED_RECORD, f"JSON {type(value).__name__}, not an object")
    return value


def by_contract(validate: Callable[[Any], T], value: Any) -> T:
    try:
        return validate(value)
    except ValidationError as error:
        raise Refused(CONTRACT_VIOLATION, _summary(error)) from None


def _summary(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}"
                     for e in error.errors(include_url=False, include_input=False)[:5])


def _known_kind(record: dict[str, Any], types: frozenset[str], versions: frozenset[int]) -> None:
    """A record without a version is at version 1 (the contracts' default); an event type or
    a version that is not even a string or an integer is the contract's to refuse."""
    event_type, version = record.get("event_type"), record.get("schema_version", 1)
    if isinstance(event_type, str) and event_type not in types:
        raise Refused(UNKNOWN_EVENT_TYPE, f"no such event type {event_type[:100]!r}")
    if _integer(version) and version not in versions:
        raise Refused(UNKNOWN_SCHEMA_VERSION, f"schema_version {version} (known: {sorted(versions)})")


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def read_order_event(body: bytes | None, max_bytes: int = DEFAULT_MAX_RECORD_BYTES):
    """An `orders.events` record, or Refused."""
    record = json_object(body, max_bytes)
    _known_kind(record, orders.EVENT_TYPES, orders.SCHEMA_VERSIONS)
    return by_contract(orders.ORDER_EVENT.validate_python, record)  # parsed once, above


def read_refund_event(body: bytes | None, max_bytes: int = DEFAULT_MAX_RECORD_BYTES):
    """A `refunds.events` record, or Refused."""
    record = json_object(body, max_bytes)
    _known_kind(record, refunds.EVENT_TYPES, refunds.SCHEMA_VERSIONS)
    return by_contract(refunds.REFUND_EVENT.validate_python, record)


@dataclass(frozen=True)
class DisputeRecord:
    envelope: EventEnvelope
    payload: DisputePayload | None
    """None for an event type the contracts do not know, when the consumer skips those."""
    upcast: dict[str, Any] | None
    """The payload as a plain dict in the latest version's shape (what templates read)."""


def read_dispute_event(body: bytes | None, max_bytes: int = DEFAULT_MAX_RECORD_BYTES, *,
                       skip_unknown_types: bool = False) -> DisputeRecord:
    """A `disputes.events` record, its envelope and its payload read through the contract of
    its event type and version, or Refused."""
    record = json_object(body, max_bytes)
    claimed = record.get("schema_version")
    if _integer(claimed) and claimed < 1:
        raise Refused(UNKNOWN_SCHEMA_VERSION, f"schema_version {claimed}: versions start at 1")
    envelope = by_contract(EventEnvelope.model_validate, record)
    event_type, version = envelope.event_type, envelope.schema_version
    if event_type not in REGISTRY:
        if skip_unknown_types:
            return DisputeRecord(envelope, None, None)
        raise Refused(UNKNOWN_EVENT_TYPE, f"no public dispute event {event_type[:100]!r}")
    if version > REGISTRY[event_type][0]:
        raise Refused(UNKNOWN_SCHEMA_VERSION, f"{event_type} v{version} (latest known: "
                                              f"v{REGISTRY[event_type][0]})")
    try:
        upcast = upcast_payload(event_type, version, envelope.payload)
    except (KeyError, TypeError, ValueError) as error:  # an upcaster could not read it
        raise Refused(CONTRACT_VIOLATION, f"{event_type} v{version}: {error!r}") from None
    payload = by_contract(REGISTRY[event_type][1].model_validate, upcast)
    return DisputeRecord(envelope, payload, upcast)
