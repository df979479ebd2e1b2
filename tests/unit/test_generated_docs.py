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
