"""Both compose files, alone and merged as `docker compose -f docker-compose.yml -f
docker-compose.cluster.yml` merges them, are valid by the Compose Specification's JSON Schema
(fetched once, pinned and checksummed, from compose-go's module: tests/support/compose_schema.py)."""

import jsonschema
import pytest

from tests.support.compose import BASE, CLUSTER, load
from tests.support.compose_schema import compose_schema

SCHEMA = compose_schema()
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)


def problems(document) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in VALIDATOR.iter_errors(document)]


@pytest.mark.parametrize("files", [(BASE,), (CLUSTER,), (BASE, CLUSTER)], ids=["one node", "cluster file", "merged"])
def test_the_compose_files_follow_the_compose_specification(files):
    assert problems(load(*files)) == []


def test_the_schema_refuses_what_compose_would_refuse():
    """The check bites: a misspelt key and an unknown start condition are errors."""
    compose = load(BASE)
    compose["services"]["refund"]["depends-on"] = compose["services"]["refund"].pop("depends_on")
    compose["services"]["notification"]["depends_on"]["smtp-sink"] = {"condition": "service_ready"}
    found = problems(compose)
    assert any("depends-on" in p for p in found) and any("notification" in p for p in found), found
