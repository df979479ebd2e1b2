"""Hypothesis strategies of records that must never be handled, derived from the contracts.

Each topic's contract is read from its pydantic models: the JSON Schema of each model (every
property, its JSON types, `required`, `maxLength`, `minimum`/`maximum`, extra properties
refused) and the digit limits pydantic keeps beside it (`max_digits`, `decimal_places`), the
event types and the schema versions the contracts know. From that:

- `valid_records(topic)`: records the contract accepts (generated from the schema, then checked
  by the contract itself: a schema that says less than the model is no excuse);
- `bad_records(topic, max_bytes)`: `BadRecord(kind, body, reason)`, `reason` being the
  `dlq-reason` a consumer must give it (services/common/records.py):
  - malformed bytes: not JSON, truncated JSON, invalid UTF-8, JSON that is not an object,
    the empty record (MALFORMED_RECORD);
  - oversized: a valid record padded past the byte limit (RECORD_TOO_LARGE); a field past its
    limit: length, digits, decimals, range (CONTRACT_VIOLATION);
  - wrongly typed: one property of any object in the record (payloads, nested items and the
    actor included) replaced by a value of a JSON type its schema does not admit; a required
    property removed; an unknown property added (CONTRACT_VIOLATION);
  - unknown versions: a known event type in a schema version the contracts do not know
    (UNKNOWN_SCHEMA_VERSION); an event type they do not know (UNKNOWN_EVENT_TYPE).
The JSON Schema is the oracle: what it refuses, the models must refuse too (a model that takes
`true` for an integer or a number for a time does not tell the truth, and a consumer would
handle what the published contract calls invalid).
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, given, reject, seed, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contracts import disputes, orders, refunds
from contracts.envelope import EventEnvelope
from services.common import records

ORDERS, DISPUTES, REFUNDS = "orders.events", "disputes.events", "refunds.events"
JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")


@dataclass(frozen=True)
class BadRecord:
    kind: str
    body: bytes
    reason: str


@dataclass(frozen=True)
class Shape:
    """One kind of record on a topic: its fully inlined JSON Schema and the known versions."""
    event_type: str
    schema: dict[str, Any]
    versions: frozenset[int]


# --- the contracts, read ------------------------------------------------------------------------

def inline(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        return inline(defs[schema["$ref"].split("/")[-1]], defs)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$defs":
            continue
        if isinstance(value, dict):
            out[key] = inline(value, defs) if key != "properties" else {
                name: inline(sub, defs) for name, sub in value.items()}
        elif isinstance(value, list) and key in ("anyOf", "oneOf", "allOf"):
            out[key] = [inline(sub, defs) for sub in value]
        else:
            out[key] = value
    return out


def with_digit_limits(model: type[BaseModel], schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic keeps max_digits / decimal_places out of the JSON Schema: put them in, as
    `x-max-digits` / `x-decimal-places`, nested models included."""
    for name, field in model.model_fields.items():
        prop = schema.get("properties", {}).get(name)
        if prop is None:
            continue
        for meta in field.metadata:
            if getattr(meta, "max_digits", None) is not None:
                prop["x-max-digits"], prop["x-decimal-places"] = meta.max_digits, meta.decimal_places
        nested = _nested_model(field.annotation)
        if nested is not None:
            with_digit_limits(nested, prop.get("items", prop))
    return schema


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def model_shape(model: type[BaseModel], versions: frozenset[int]) -> Shape:
    schema = with_digit_limits(model, inline(model.model_json_schema()))
    return Shape(model.model_fields["event_type"].default, schema, versions)


def dispute_shape(event_type: str) -> Shape:
    """The envelope with the payload schema of its event type at its latest version."""
    version, model = disputes.REGISTRY[event_type]
    schema = inline(EventEnvelope.model_json_schema())
    schema["properties"]["event_type"] = {"type": "string", "const": event_type}
    schema["properties"]["schema_version"] = {"type": "integer", "const": version}
    schema["properties"]["payload"] = with_digit_limits(model, inline(model.model_json_schema()))
    return Shape(event_type, schema, frozenset({version}))


SHAPES: dict[str, list[Shape]] = {
    ORDERS: [model_shape(m, orders.SCHEMA_VERSIONS) for m in
             (orders.OrderPlaced, orders.OrderShipped, orders.OrderDelivered, orders.OrderRefunded)],
    REFUNDS: [model_shape(m, refunds.SCHEMA_VERSIONS) for m in (refunds.RefundIssued, refunds.RefundFailed)],
    DISPUTES: [dispute_shape(event_type) for event_type in sorted(disputes.REGISTRY)],
}
KNOWN_TYPES = {ORDERS: orders.EVENT_TYPES, REFUNDS: refunds.EVENT_TYPES,
               DISPUTES: frozenset(disputes.REGISTRY)}


def accepts(topic: str, document: Any) -> bool:
    """The contract alone (the models, the known versions): does it take this record?"""
    body = json.dumps(document).encode()
    try:
        if topic == DISPUTES:
            envelope = EventEnvelope.model_validate_json(body)
            disputes.validate_payload(envelope.event_type, envelope.schema_version, envelope.payload)
            return True
        parse = orders.parse_order_event if topic == ORDERS else refunds.parse_refund_event
        event = parse(body)
        versions = orders.SCHEMA_VERSIONS if topic == ORDERS else refunds.SCHEMA_VERSIONS
        return event.schema_version in versions
    except (ValidationError, disputes.UnknownDisputeEvent):
        return False


# --- valid values from a schema -----------------------------------------------------------------

SAFE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        kinds = [s.get("type") for s in schema["anyOf"]]
        if kinds == ["number", "string"] and "pattern" not in schema["anyOf"][1]:  # an amount
            return st.integers(1, 10**6) | st.decimals("0.01", "99999.99", places=2).map(str)
        return st.one_of([from_schema(s) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object":
        return _object(schema)
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), min_size=schema.get("minItems", 0),
                        max_size=max(schema.get("minItems", 0), 3))
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum", -10**6), schema.get("maximum", 10**6))
    if kind == "number":
        return st.integers(1, 10**6)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return SAFE_TEXT


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if schema.get("format") == "uuid":
        return st.uuids().map(str)
    if schema.get("format") == "date-time":
        return st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(timezone.utc)
                            ).map(lambda d: d.isoformat().replace("+00:00", "Z"))
    if "pattern" in schema:
        return st.from_regex(schema["pattern"].replace(r"\d", "[0-9]"), fullmatch=True)
    low = schema.get("minLength", 0)
    return st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=low,
                   max_size=min(schema.get("maxLength", 12), max(low, 12)))


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties")
    if properties is None:
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            keys = from_schema(schema.get("propertyNames", {"type": "string"}))
            return st.dictionaries(keys, from_schema(extra), max_size=3)
        return st.dictionaries(SAFE_TEXT, SAFE_TEXT, max_size=2)
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {name: from_schema(sub) for name, sub in properties.items() if name in required},
        optional={name: from_schema(sub) for name, sub in properties.items() if name not in required})


@functools.cache
def valid_documents(topic: str, limited: bool = False) -> st.SearchStrategy[tuple[Shape, dict[str, Any]]]:
    """(shape, document) the contract accepts; built once per topic (a strategy built on every
    draw costs hypothesis more than the test). `limited`: only kinds with a field limit."""
    def document(shape: Shape) -> st.SearchStrategy[tuple[Shape, dict[str, Any]]]:
        body = from_schema(shape.schema)
        if topic != DISPUTES:  # the version is optional (default 1): a known one, or none; the
            # event type has a default in its model, but the topic's union is told by it
            body = st.tuples(body, st.sampled_from([None, *sorted(shape.versions)])).map(
                lambda pair, t=shape.event_type: {
                    **{k: v for k, v in pair[0].items() if k != "schema_version"}, "event_type": t,
                    **({"schema_version": pair[1]} if pair[1] is not None else {})})
        return st.tuples(st.just(shape), body)

    shapes = [shape for shape in SHAPES[topic] if not limited or _has_limits(shape.schema)]
    return st.one_of([document(shape) for shape in shapes]).filter(lambda sd: accepts(topic, sd[1]))


def _has_limits(schema: dict[str, Any]) -> bool:
    return bool(_beyond(schema)) or any(
        _has_limits(sub) for sub in [*schema.get("properties", {}).values(), *schema.get("anyOf", ()),
                                     *([schema["items"]] if "items" in schema else [])])


@functools.cache
def valid_records(topic: str) -> st.SearchStrategy[bytes]:
    return valid_documents(topic).map(lambda sd: encode(sd[1]))


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


# --- where a record can be changed --------------------------------------------------------------

def object_nodes(document: dict[str, Any], schema: dict[str, Any], path: tuple = ()):
    """(path, schema) of every object in the document whose schema names its properties."""
    if "properties" not in schema:
        return
    yield path, schema
    for name, sub in schema["properties"].items():
        value = document.get(name)
        for alternative in [sub, *sub.get("anyOf", ())]:
            if isinstance(value, dict) and alternative.get("type") == "object":
                yield from object_nodes(value, alternative, (*path, name))
            elif isinstance(value, list) and alternative.get("type") == "array":
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        yield from object_nodes(item, alternative.get("items", {}), (*path, name, index))


def at(document: Any, path: tuple) -> Any:
    for step in path:
        document = document[step]
    return document


def admitted(schema: dict[str, Any]) -> set[str]:
    """The JSON types a property's schema lets through; every type when it does not say."""
    if "const" in schema:
        return {_json_type(schema["const"])}
    if "enum" in schema:
        return {_json_type(value) for value in schema["enum"]}
    if "anyOf" in schema:
        return set().union(*(admitted(s) for s in schema["anyOf"]))
    kind = schema.get("type")
    if kind is None:
        return set(JSON_TYPES)
    kinds = set(kind if isinstance(kind, list) else [kind])
    return kinds | ({"integer"} if "number" in kinds else set())


def _json_type(value: Any) -> str:
    return {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string",
            list: "array", dict: "object"}[type(value)]


VALUE_OF = {
    "null": st.none(), "boolean": st.booleans(), "integer": st.integers(-10**20, 10**20),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
    "string": SAFE_TEXT, "array": st.lists(st.integers(), max_size=3),
    "object": st.dictionaries(SAFE_TEXT, st.integers(), max_size=2),
}


# --- the classes of bad records -----------------------------------------------------------------

def bad_records(topic: str, max_bytes: int = records.DEFAULT_MAX_RECORD_BYTES) -> st.SearchStrategy[BadRecord]:
    return st.one_of([strategy(topic, max_bytes) for strategy in CLASSES.values()])


def malformed(topic: str, max_bytes: int) -> st.SearchStrategy[BadRecord]:
    valid = valid_records(topic)
    not_json = st.binary(max_size=300).filter(lambda b: not _parses(b))
    truncated = valid.flatmap(lambda body: st.integers(0, len(body) - 1).map(lambda n: body[:n]))
    bad_utf8 = st.tuples(valid, st.sampled_from([b"\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xc3("]),
                         st.integers(0, 10**6)).map(lambda t: t[0][:t[2] % len(t[0])] + t[1] + t[0][t[2] % len(t[0]):])
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | SAFE_TEXT |
                               st.floats(allow_nan=False, allow_infinity=False),
                               lambda inner: st.lists(inner, max_size=3) |
                               st.dictionaries(SAFE_TEXT, inner, max_size=3), max_leaves=6)
    not_object = json_values.filter(lambda v: not isinstance(v, dict)).map(encode)
    return st.one_of(
        not_json.map(lambda b: BadRecord("not JSON", b, records.MALFORMED_RECORD)),
        truncated.map(lambda b: BadRecord("truncated JSON", b, records.MALFORMED_RECORD)),
        bad_utf8.map(lambda b: BadRecord("invalid UTF-8", b, records.MALFORMED_RECORD)),
        not_object.map(lambda b: BadRecord("JSON, not an object", b, records.MALFORMED_RECORD)),
        st.just(BadRecord("empty record", b"", records.MALFORMED_RECORD)))


def _parses(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body.decode("utf-8")), dict)
    except ValueError:
        return False


def oversized(topic: str, max_bytes: int) -> st.SearchStrategy[BadRecord]:
    padded = st.tuples(valid_records(topic), st.integers(1, 64)).map(
        lambda t: b"{" + b" " * (max_bytes - len(t[0]) + t[1]) + t[0][1:])
    return st.one_of(padded.map(lambda b: BadRecord("record over the byte limit", b, records.RECORD_TOO_LARGE)),
                     _past_a_limit(topic))


@st.composite
def _past_a_limit(draw, topic: str) -> BadRecord:
    shape, document = draw(valid_documents(topic, limited=True))
    changes = [(path, name, value) for path, schema in object_nodes(document, shape.schema)
               for name, sub in schema["properties"].items() for value in _beyond(sub)]
    if not changes:  # an optional field with a limit was left out
        reject()
    path, name, values = draw(st.sampled_from(changes))
    changed = _replaced(document, path, name, draw(values))
    return BadRecord("a field past its limit", encode(changed), records.CONTRACT_VIOLATION)


def _beyond(schema: dict[str, Any]) -> list[st.SearchStrategy[Any]]:
    """Values just past the limits a property's schema (or pydantic beside it) sets."""
    out = []
    for sub in [schema, *schema.get("anyOf", ())]:
        if "maxLength" in sub:
            out.append(st.integers(1, 64).map(lambda n, top=sub["maxLength"]: "x" * (top + n)))
        if "maximum" in sub:
            out.append(st.integers(sub["maximum"] + 1, sub["maximum"] + 10**6))
        if "minimum" in sub:
            out.append(st.integers(sub["minimum"] - 10**6, sub["minimum"] - 1))
    if "x-max-digits" in schema:
        digits, places = schema["x-max-digits"], schema["x-decimal-places"]
        out.append(st.integers(1, 5).map(lambda n: "9" * (digits - places + n)))
        out.append(st.integers(1, 5).map(lambda n: "1." + "5" * (places + n)))
    return out


def _replaced(document: dict[str, Any], path: tuple, name: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    at(changed, path)[name] = value
    return changed


def wrongly_typed(topic: str, max_bytes: int) -> st.SearchStrategy[BadRecord]:
    return _mistyped(topic)


@st.composite
def _mistyped(draw, topic: str) -> BadRecord:
    shape, document = draw(valid_documents(topic))
    path, schema = draw(st.sampled_from(list(object_nodes(document, shape.schema))))
    node = at(document, path)
    changes = (["type"] if schema["properties"] else []) + (["missing"] if any(n in node for n in schema.get("required", ())) else []) + (
        ["extra"] if schema.get("additionalProperties") is False else [])
    change = draw(st.sampled_from(changes))
    if change == "type":
        name = draw(st.sampled_from(sorted(schema["properties"])))
        wrong = [t for t in JSON_TYPES if t not in admitted(schema["properties"][name])]
        if not wrong:
            reject()
        bad = BadRecord("a field of another type", encode(_replaced(
            document, path, name, draw(VALUE_OF[draw(st.sampled_from(wrong))]))), records.CONTRACT_VIOLATION)
    elif change == "missing":
        name = draw(st.sampled_from([n for n in schema["required"] if n in node]))
        bad = BadRecord("a required field missing", encode(_without(document, path, name)),
                        records.CONTRACT_VIOLATION)
    else:
        name = draw(SAFE_TEXT.filter(lambda k: k not in schema["properties"]))
        bad = BadRecord("an unknown field", encode(_replaced(document, path, name, "x")),
                        records.CONTRACT_VIOLATION)
    return bad  # the schema refuses it: a contract that takes it would not tell the truth


def _without(document: dict[str, Any], path: tuple, name: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    del at(changed, path)[name]
    return changed


def unknown_kinds(topic: str, max_bytes: int) -> st.SearchStrategy[BadRecord]:
    return _unknown_kind(topic)


@st.composite
def _unknown_kind(draw, topic: str) -> BadRecord:
    shape, document = draw(valid_documents(topic))
    if draw(st.booleans()):
        event_type = draw(st.text(min_size=1, max_size=30).filter(lambda t: t not in KNOWN_TYPES[topic]))
        return BadRecord("an unknown event type", encode({**document, "event_type": event_type}),
                         records.UNKNOWN_EVENT_TYPE)
    known = shape.versions
    if topic == DISPUTES:  # below 1, or newer than the latest
        version = draw(st.integers(-10**6, 0) | st.integers(max(known) + 1, 10**9))
    else:
        version = draw(st.integers(-10**9, 10**9).filter(lambda v: v not in known))
    return BadRecord("an unknown schema version", encode({**document, "schema_version": version}),
                     records.UNKNOWN_SCHEMA_VERSION)


REPRESENTATIVE = {"null": None, "boolean": True, "integer": 7, "number": 1.5, "string": "7",
                  "array": [1], "object": {"k": 1}}


def every_field_of_another_type(topic: str, fixed_seed: int = 12) -> list[BadRecord]:
    """Not left to chance: in one valid record of each kind, every property of every object
    (envelope, payload, nested items, actor) replaced in turn by one value of each JSON type its
    schema does not admit, and every required property removed in turn."""
    out, seen = [], set()
    for index, shape in enumerate(SHAPES[topic]):
        document = _with_optionals(shape.schema, drawn(from_schema(shape.schema), fixed_seed + index))
        if topic != DISPUTES:
            document = {**document, "event_type": shape.event_type, "schema_version": 1}
        assert accepts(topic, document), document
        for path, schema in object_nodes(document, shape.schema):
            for name, sub in schema["properties"].items():
                # the envelope's own fields are the same in every kind: mistype them once
                key = (path, name, json.dumps(sub, sort_keys=True))
                if key in seen:
                    continue
                seen.add(key)
                for kind in JSON_TYPES:
                    if kind not in admitted(sub):
                        out.append(BadRecord(f"{shape.event_type} {'.'.join(map(str, (*path, name)))} as {kind}",
                                             encode(_replaced(document, path, name, REPRESENTATIVE[kind])),
                                             records.CONTRACT_VIOLATION))
            for name in schema.get("required", ()):
                if (path, name, "missing") in seen and path != ("payload",):
                    continue
                seen.add((path, name, "missing"))
                out.append(BadRecord(f"{shape.event_type} without {'.'.join(map(str, (*path, name)))}",
                                     encode(_without(document, path, name)), records.CONTRACT_VIOLATION))
    return out


def _with_optionals(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Every optional property present (with a valid value), so that each can be mistyped."""
    for name, sub in schema.get("properties", {}).items():
        if name not in document and name != "schema_version":
            document[name] = sub.get("default", drawn(from_schema(sub), 1))
        if isinstance(document.get(name), dict) and "properties" in sub:
            _with_optionals(sub, document[name])
    return document


CLASSES: dict[str, Callable[[str, int], st.SearchStrategy[BadRecord]]] = {
    "malformed": malformed, "oversized": oversized, "wrongly typed": wrongly_typed,
    "unknown version or type": unknown_kinds,
}


def drawn(strategy: st.SearchStrategy[Any], fixed_seed: int) -> Any:
    """One value of `strategy`, the same on every run (for the tests on a real broker)."""
    found: list[Any] = []

    @settings(max_examples=1, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @seed(fixed_seed)
    @given(strategy)
    def draw(value: Any) -> None:
        found.append(value)

    draw()
    return found[0]
