"""The checked-in JSON Schemas and AsyncAPI documents are what the code generates today."""

from tools.gen_docs import ASYNCAPI_DIR, SCHEMA_DIR, asyncapi_documents, contract_schemas, stale


def test_contract_schemas_are_current():
    problems = stale(contract_schemas(), SCHEMA_DIR)
    assert not problems, "run `make contracts`:\n" + "\n".join(problems)


def test_asyncapi_documents_are_current():
    problems = stale(asyncapi_documents(), ASYNCAPI_DIR)
    assert not problems, "run `make asyncapi`:\n" + "\n".join(problems)


def test_every_public_dispute_event_has_a_schema_file():
    from contracts.disputes import REGISTRY

    names = {path.name for path in contract_schemas()}
    assert {f"{event_type}.v{version}.json" for event_type, (version, _) in REGISTRY.items()} <= names


def _messages():
    import json

    for path, text in asyncapi_documents().items():
        for name, message in json.loads(text)["components"]["messages"].items():
            yield f"{path.name} {name}", message


def test_every_correlation_id_points_at_a_header_the_message_declares():
    """issue 12: faststream's default pointed at a `correlation_id` header nobody sets."""
    located = 0
    for label, message in _messages():
        if "correlationId" in message:
            header = message["correlationId"]["location"].removeprefix("$message.header#/")
            assert header in message["headers"]["properties"], label
            located += 1
    assert located > 0


def test_the_declared_headers_of_disputes_events_are_those_the_relay_sets():
    from tests.support.envelopes import opened

    declared = dict(_messages())["dispute.json disputes.events:relay:Message"]["headers"]
    assert set(declared["properties"]) == {name for name, _ in opened().kafka_headers()}
    assert set(declared["required"]) == set(declared["properties"])
