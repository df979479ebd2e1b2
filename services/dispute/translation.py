"""The one seam between private domain events and the public `disputes.events` contract."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from contracts.envelope import ActorRef, EventEnvelope, event_id_for

PUBLIC_NAMES = {"Opened": "DisputeOpened", "Withdrawn": "DisputeWithdrawn", "Closed": "DisputeClosed"}
SCHEMA_VERSIONS: dict[str, int] = {}
BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "at"}
INTERNAL_EVENTS: set[str] = set()


def public_event_type(domain_event: Any) -> str:
    name = type(domain_event).__name__
    return PUBLIC_NAMES.get(name, name)


def is_public(domain_event: Any) -> bool:
    return type(domain_event).__name__ not in INTERNAL_EVENTS


def to_envelope(domain_event: Any, meta: dict[str, Any]) -> EventEnvelope:
    dispute_id = domain_event.originator_id
    version = domain_event.originator_version
    event_type = public_event_type(domain_event)
    return EventEnvelope(
        event_id=event_id_for(dispute_id, version),
        event_type=event_type,
        schema_version=SCHEMA_VERSIONS.get(event_type, 1),
        dispute_id=dispute_id,
        dispute_version=version,
        occurred_at=getattr(domain_event, "at", None) or domain_event.timestamp,
        correlation_id=meta.get("correlation_id") or str(event_id_for(dispute_id, 1)),
        causation_id=meta.get("causation_id"),
        actor=ActorRef(**domain_event.actor),
        payload=_payload(domain_event),
    )


def _payload(domain_event: Any) -> dict[str, Any]:
    fields = {k: v for k, v in vars(domain_event).items() if k not in BASE_FIELDS}
    return {k: _jsonable(v) for k, v in fields.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
