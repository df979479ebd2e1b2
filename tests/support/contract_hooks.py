"""schemathesis hooks of the contract test (loaded by `st run` through its config file).

positive_data_acceptance takes 422 as an expected answer here (the config says why): the
domain refuses schema-valid requests by its rules (ORDER_NOT_FOUND, an amount above what is
refundable, a cursor this API never gave out). What must never happen is the API's own
request validation (FastAPI/pydantic: `VALIDATION_FAILED` with its `errors` list) refusing a
request the document calls valid: then the document lies. This check fails on exactly that.
"""

from __future__ import annotations

import json
import os

import schemathesis
from schemathesis.specs.openapi import stateful
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

_likely_root = stateful.is_likely_root_transition


def _dispute_roots(operation, node, produced_anywhere) -> bool:
    """Where the stateful phase starts: opening a dispute (schemathesis takes `order_id` for a
    resource nothing produces and would never start there, but the test seeded the orders,
    as orders.events would) and the lists; an operation on one dispute is reached through
    the links from the dispute that was opened or listed, not with a random id."""
    if operation.path == "/v1/disputes":
        return True
    if "{dispute_id}" in operation.path:
        return False
    return _likely_root(operation, node, produced_anywhere)


stateful.is_likely_root_transition = _dispute_roots


@schemathesis.check
def schema_valid_requests_pass_validation(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    if is_unexpected_http_status_case(case):  # a probe of the server, not a schema-valid request
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("code") == "VALIDATION_FAILED" and "errors" in body:
        raise AssertionError("a request the schema calls valid failed the API's request "
                             f"validation: {body['errors']}")
    return None


# The cast run (stateful only): each operation spoken by the party whose part it is (the seller
# offers, the buyer accepts, an operator decides), so a dispute is followed from its opening
# through its lifecycle. {"speaker": the run's own token, "by_operation": {label: token}}.
CAST = json.loads(os.environ.get("CONTRACT_CAST") or "{}")


@schemathesis.hook
def before_call(context, case, kwargs):
    """Only the run's own token is replaced: a request sent without one, or with a broken one
    (ignored_auth), stays as it is."""
    if CAST and case.headers and case.headers.get("Authorization") == CAST["speaker"]:
        actor = CAST["by_operation"].get(case.operation.label)
        if actor:
            case.headers["Authorization"] = actor


LOG = os.environ.get("CONTRACT_ANSWERS_LOG")  # optional: one line per answer, to see what a run reached


@schemathesis.hook
def after_call(context, case, response):
    if not LOG:
        return
    code = ""
    if response.status_code >= 400:
        try:
            code = json.loads(response.content).get("code", "")
        except (ValueError, AttributeError):
            code = "?"
    with open(LOG, "a") as log:
        log.write(f"{case.method} {case.operation.path} {response.status_code} {code}\n")
