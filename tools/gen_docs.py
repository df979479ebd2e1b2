"""Documents generated from the code, kept current by tests/unit/test_generated_docs.py.

python -m tools.gen_docs contracts   JSON Schema of every contract -> contracts/schema/<topic>/
python -m tools.gen_docs asyncapi    AsyncAPI 3.0 of every service -> docs/asyncapi/<service>.json

AsyncAPI comes from each service's faststream broker (`build_broker` in services/*/main.py,
built unconnected, from default settings, so the environment cannot change the document).
Three things faststream cannot see are added here: the relay and the refund service publish
with plain idempotent aiokafka producers, so their publications are declared below; handlers
take the raw `KafkaMessage` (to dead-letter what does not parse), so each channel's message is
filled in from the topic's contract; and the Kafka headers our producers set (`kafka_headers()`
of the contracts), with `correlationId` at the `correlation-id` header. `orders.events` is
written upstream: its headers are not ours to promise, so it names no correlation id.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Union, get_args

from pydantic import BaseModel, TypeAdapter

from contracts import disputes
from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS, ORDERS_EVENTS, REFUNDS_EVENTS

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "contracts" / "schema"
ASYNCAPI_DIR = ROOT / "docs" / "asyncapi"
JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"


class DisputeEvent(EventEnvelope):
    """A record of `disputes.events`: the envelope, its payload chosen by `event_type`."""

    payload: Union[disputes.LATEST_MODELS]  # type: ignore[valid-type]


def _union_members(union: Any) -> tuple[type[BaseModel], ...]:
    """The models of an `Annotated[Union[...], Field(discriminator=...)]`."""
    return get_args(get_args(union)[0])


def _refund_event() -> Any | None:
    """contracts/refunds.py belongs to the refund service's issue; documented once it exists."""
    try:
        return importlib.import_module("contracts.refunds").RefundEvent
    except ModuleNotFoundError:
        return None


def _versioned(models: Iterable[type[BaseModel]]) -> list[tuple[str, int, type[BaseModel]]]:
    return [(m.model_fields["event_type"].default, m.model_fields["schema_version"].default, m)
            for m in models]


def contract_models() -> dict[str, list[tuple[str, int | None, type[BaseModel]]]]:
    """topic -> (name, schema version or None, model) of every message on it."""
    from contracts import orders

    dispute_payloads = [(m.event_type, m.schema_version, m)
                        for m in (*disputes.LATEST_MODELS, *disputes.OLDER_MODELS)]
    topics = {DISPUTES_EVENTS: [("EventEnvelope", None, EventEnvelope), *dispute_payloads],
              ORDERS_EVENTS: _versioned(_union_members(orders.OrderEvent))}
    if refunds := _refund_event():
        topics[REFUNDS_EVENTS] = _versioned(_union_members(refunds))
    return topics


def contract_schemas() -> dict[Path, str]:
    """Relative path -> JSON text of every contract's schema (serialisation: the wire form)."""
    documents = {}
    for topic, models in contract_models().items():
        for name, version, model in models:
            suffix = "" if version is None else f".v{version}"
            schema = {"$schema": JSON_SCHEMA, "$id": f"urn:dispute-platform:{topic}:{name}{suffix}",
                      **model.model_json_schema(mode="serialization")}
            documents[Path("contracts/schema") / topic / f"{name}{suffix}.json"] = _json(schema)
    return documents


# AsyncAPI ------------------------------------------------------------------------------------

def _topic_messages() -> dict[str, Any]:
    from contracts import orders

    messages: dict[str, Any] = {DISPUTES_EVENTS: DisputeEvent, ORDERS_EVENTS: orders.OrderEvent}
    if refunds := _refund_event():
        messages[REFUNDS_EVENTS] = refunds
    return messages


def _dispute_broker():
    from services.dispute.entrypoints import serve
    from services.dispute.settings import DisputeSettings

    broker = serve.build_broker(DisputeSettings.model_construct())
    broker.publisher(DISPUTES_EVENTS, title="disputes.events:relay",
                     description="the relay publishes every public event of the store, in "
                                 "order, key = dispute id (python -m services.dispute.main relay)")
    return broker


def _notification_broker():
    from services.notification import main
    from services.notification.settings import NotificationSettings

    return main.build_broker(NotificationSettings.model_construct())


def _refund_broker():
    from services.refund import main
    from services.refund.settings import RefundSettings

    broker = main.build_broker(RefundSettings.model_construct())
    if _refund_event():
        broker.publisher(REFUNDS_EVENTS, title="refunds.events:refund",
                         description="the outcome of each refund instruction, key = dispute id")
    return broker


SERVICES: dict[str, tuple[str, Callable[[], Any]]] = {
    "dispute": ("Dispute service", _dispute_broker),
    "notification": ("Notification service", _notification_broker),
    "refund": ("Refund service", _refund_broker),
}


def asyncapi_documents() -> dict[Path, str]:
    from faststream.specification import AsyncAPI

    documents = {}
    for name, (title, build) in SERVICES.items():
        spec = AsyncAPI(build(), title=title, version="1", schema_version="3.0.0")
        jsonable = _attach_contracts(spec.to_specification().to_jsonable())
        documents[Path("docs/asyncapi") / f"{name}.json"] = _json(jsonable)
    return documents


HEADER_MEANINGS = {
    "event-type": "the payload's event type (what `event_type` says)",
    "schema-version": "the payload's schema version, a number",
    "correlation-id": "the request or message that caused this event, carried end to end",
    "content-type": "application/json: the value is the JSON of the message",
    "event-id": "the refund event's id (consumers de-duplicate on it)",
    "dispute-id": "the dispute the refund is for (also the record's key)",
    "ce_specversion": "CloudEvents 1.0 Kafka binding (binary mode): spec version",
    "ce_id": "CloudEvents id: the event id", "ce_source": "CloudEvents source",
    "ce_type": "CloudEvents type: com.dispute-platform.<event type>",
    "ce_time": "CloudEvents time (RFC 3339, UTC)", "ce_subject": "CloudEvents subject: the dispute id",
}


def _header_names() -> dict[str, list[str]]:
    """topic -> the headers its producer sets, read from the contracts' own `kafka_headers()`."""
    from datetime import datetime, timezone
    from uuid import uuid4

    sample = EventEnvelope.model_construct(event_id=uuid4(), event_type="Sample", schema_version=1,
                                           dispute_id=uuid4(), occurred_at=datetime.now(timezone.utc),
                                           correlation_id="c")
    names = {DISPUTES_EVENTS: [name for name, _ in sample.kafka_headers()]}
    if refunds := _refund_event():
        issued = _union_members(refunds)[0].model_construct(correlation_id="c", event_id=uuid4(),
                                                            dispute_id=uuid4())
        names[REFUNDS_EVENTS] = [name for name, _ in issued.kafka_headers()]
    return names


def _headers_schema(names: list[str]) -> dict[str, Any]:
    return {"type": "object", "required": names,
            "properties": {name: {"type": "string", "description": HEADER_MEANINGS[name]}
                           for name in names}}


def _describe_headers(message: dict[str, Any], topic: str, headers: dict[str, list[str]]) -> None:
    if topic not in headers:
        message.pop("correlationId", None)
        return
    message["headers"] = _headers_schema(headers[topic])
    message["correlationId"] = {"location": "$message.header#/correlation-id",
                                "description": HEADER_MEANINGS["correlation-id"]}


def _attach_contracts(spec: dict[str, Any]) -> dict[str, Any]:
    """Each channel's messages carry its topic's contract, with the models in components
    (generated together, so models of the same name on two topics get distinct names)."""
    topics = _topic_messages()
    together = TypeAdapter(tuple[tuple(topics.values())]).json_schema(  # type: ignore[misc]
        mode="serialization", ref_template="#/components/schemas/{model}")
    by_topic = dict(zip(topics, together["prefixItems"]))
    messages = spec.setdefault("components", {}).setdefault("messages", {})
    headers = _header_names()
    for channel in spec.get("channels", {}).values():
        if channel["address"] not in by_topic:
            continue
        for ref in channel["messages"].values():
            message = messages[ref["$ref"].rsplit("/", 1)[-1]]
            message["payload"] = by_topic[channel["address"]]
            _describe_headers(message, channel["address"], headers)
    everything = {**spec["components"].get("schemas", {}), **together.get("$defs", {})}
    spec["components"]["schemas"] = {
        name: everything[name] for name in everything
        if name in _referenced([m["payload"] for m in messages.values()], everything)}
    return spec


def _referenced(roots: list[Any], schemas: dict[str, Any]) -> set[str]:
    """The names of the schemas reachable from `roots` through `$ref`s."""
    seen: set[str] = set()
    todo = [json.dumps(root) for root in roots]
    while todo:
        for part in todo.pop().split('"#/components/schemas/')[1:]:
            name = part.split('"')[0]
            if name not in seen:
                seen.add(name)
                todo.append(json.dumps(schemas[name]))
    return seen


# Writing and checking -------------------------------------------------------------------------

def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def stale(documents: dict[Path, str], folder: Path) -> list[str]:
    """What differs between the generated documents and the files under `folder`."""
    on_disk = {p.relative_to(ROOT) for p in folder.rglob("*.json")} if folder.exists() else set()
    problems = [f"{p}: not generated any more" for p in sorted(on_disk - set(documents))]
    for path, text in sorted(documents.items()):
        file = ROOT / path
        if not file.exists():
            problems.append(f"{path}: missing")
        elif file.read_text() != text:
            problems.append(f"{path}: out of date")
    return problems


def write(documents: dict[Path, str], folder: Path) -> None:
    for old in (folder.rglob("*.json") if folder.exists() else ()):
        if old.relative_to(ROOT) not in documents:
            old.unlink()
    for path, text in documents.items():
        (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / path).write_text(text)
    print(f"wrote {len(documents)} files under {folder.relative_to(ROOT)}/")


def main(argv: list[str]) -> int:
    targets = {"contracts": (contract_schemas, SCHEMA_DIR), "asyncapi": (asyncapi_documents, ASYNCAPI_DIR)}
    if len(argv) != 1 or argv[0] not in targets:
        print(f"usage: python -m tools.gen_docs {{{'|'.join(targets)}}}", file=sys.stderr)
        return 2
    generate, folder = targets[argv[0]]
    write(generate(), folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
