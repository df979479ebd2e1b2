"""What the dispute API's OpenAPI document promises, and the conditional reads (issue 12: the
document declared only a 422 the API never gave, allowed what the API refuses, had no links;
reads had no ETag and If-None-Match never gave 304). schemathesis checks the whole document
against the running service (tests/e2e/test_api_contract.py); these pin its parts."""

import pytest

from services.dispute.domain import errors as domain_errors
from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPERATOR, SELLER
from tests.support.tokens import bearer

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def document(api_template, tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("doc"), Clock(), template=api_template) as api:  # noqa: F405
        return api.client.get("/openapi.json").json()


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def declared_codes(operation) -> set[str]:
    return {code for status, answer in operation["responses"].items() if status >= "400"
            for code in answer["content"][PROBLEM]["schema"]["properties"]["code"]["enum"]}


def test_every_operation_requires_the_bearer_scheme_and_shows_no_authorization_parameter(document):
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for label, operation in operations(document):
        assert operation["security"] == [{"bearer": []}], label
        names = [p["name"].lower() for p in operation.get("parameters", [])]
        assert "authorization" not in names, label


def test_operation_ids_are_the_names_of_the_routes(document):
    assert document["paths"]["/v1/disputes/{dispute_id}/offers"]["post"]["operationId"] == "make_offer"
    ids = [operation["operationId"] for _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if "_v1_" in i or not i.isidentifier()] == []


def test_every_operation_has_one_tag(document):
    assert [label for label, operation in operations(document) if len(operation.get("tags", [])) != 1] == []


def test_every_error_answer_is_a_problem_naming_its_codes(document):
    for label, operation in operations(document):
        for status, answer in operation["responses"].items():
            if status >= "400":
                schema = answer["content"][PROBLEM]["schema"]
                assert schema["properties"]["status"]["enum"] == [int(status)], label
                assert schema["properties"]["code"]["enum"], (label, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_domain_error_code_is_declared_by_some_route(document):
    raised = {error.code for error in vars(domain_errors).values()
              if isinstance(error, type) and issubclass(error, domain_errors.DomainError)}
    raised |= {"DISPUTE_NOT_FOUND", "CONCURRENCY_CONFLICT", "DISPUTE_ALREADY_EXISTS_FOR_ITEM",
               "DISPUTE_PREVIOUSLY_CLOSED_FOR_ITEM"}
    declared = set().union(*(declared_codes(op) for _, op in operations(document)))
    assert raised - declared == set()


def test_commands_declare_the_statuses_of_stale_versions_limits_and_outages(document):
    command = document["paths"]["/v1/disputes/{dispute_id}/decision"]["post"]["responses"]
    assert {"401", "403", "404", "409", "412", "413", "422", "429", "503"} <= set(command)
    assert "Retry-After" in command["503"]["headers"] and "Retry-After" in command["429"]["headers"]
    assert "ETag" in command["200"]["headers"]


def test_reads_declare_their_etag_and_304(document):
    for path in ("/v1/disputes", "/v1/disputes/{dispute_id}", "/v1/disputes/{dispute_id}/timeline",
                 "/v1/disputes/{dispute_id}/messages", "/v1/disputes/{dispute_id}/offers/{offer_id}"):
        answers = document["paths"][path]["get"]["responses"]
        assert "304" in answers and answers["200"]["headers"]["ETag"]["required"], path


def test_every_body_refuses_unknown_fields_in_its_schema(document):
    schemas = document["components"]["schemas"]
    bodies = [media["schema"]["$ref"].split("/")[-1]
              for _, op in operations(document) if "requestBody" in op
              for media in op["requestBody"]["content"].values() if "$ref" in media["schema"]]
    bodies += [ref["$ref"].split("/")[-1] for _, op in operations(document) if "requestBody" in op
               for media in op["requestBody"]["content"].values()
               for ref in media["schema"].get("anyOf", []) if "$ref" in ref]
    assert "EvidenceUpload" in bodies
    assert [name for name in bodies if schemas[name].get("additionalProperties") is not False] == []


def test_amounts_carry_their_limits(document):
    amount = document["components"]["schemas"]["Decide"]["properties"]["refund_amount"]["anyOf"][0]
    number, text = amount["anyOf"]
    assert (number["exclusiveMinimum"], number["exclusiveMaximum"], number["multipleOf"]) == (0, 1e16, 0.01)
    assert text["pattern"].startswith("^")


def test_links_lead_from_a_created_dispute_and_item_to_operations_that_exist(document):
    ids = {operation["operationId"] for _, operation in operations(document)}
    opened = document["paths"]["/v1/disputes"]["post"]["responses"]["201"]["links"]
    assert opened["make_offer"]["parameters"] == {"dispute_id": "$response.body#/id"}
    offered = document["paths"]["/v1/disputes/{dispute_id}/offers"]["post"]["responses"]["201"]["links"]
    assert offered["accept_offer_created"]["parameters"]["offer_id"] == "$response.body#/offer/offer_id"
    targets = {link["operationId"] for _, op in operations(document)
               for answer in op["responses"].values() for link in answer.get("links", {}).values()}
    assert targets - ids == set()


def test_an_amount_in_exponent_form_is_refused(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "3e1"}, who=SELLER)
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_the_dispute_answers_304_while_its_version_is_the_one_named(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    first = api.get("", who=BUYER)
    assert first.headers["ETag"] == f'"{first.json()["version"]}"'
    again = api.get("", who=BUYER, headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", first.headers["ETag"])


def test_a_changed_dispute_is_sent_again_to_an_old_if_none_match(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    tag = api.get("", who=BUYER).headers["ETag"]
    api.offer()
    assert api.get("", who=BUYER, headers={"If-None-Match": tag}).status_code == 200


@pytest.mark.parametrize("path", ["/timeline", "/messages", "/offers/{offer}", "/v1/disputes",
                                  "/v1/disputes?status=AWAITING_BUYER_RESPONSE"])
def test_every_read_has_an_etag_and_answers_304_to_it(api_with_dispute_awaiting_buyer, path):
    api = api_with_dispute_awaiting_buyer
    path = path.replace("{offer}", api.offer_id)
    first = api.get(path, who=BUYER)
    assert first.status_code == 200 and first.headers["ETag"], first.text
    again = api.get(path, who=BUYER, headers={"If-None-Match": f'W/{first.headers["ETag"]}, "x"'})
    assert (again.status_code, again.content) == (304, b"")


def test_an_evidence_file_answers_304_to_its_sha256(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    evidence = api.ok(api.upload(), 201)["evidence"]
    path = f"/evidence/{evidence['evidence_id']}"
    assert api.get(path, who=SELLER).headers["ETag"] == f'"{evidence["sha256"]}"'
    assert api.get(path, who=SELLER, headers={"If-None-Match": f'"{evidence["sha256"]}"'}).status_code == 304


def test_a_path_of_two_routers_names_both_methods_in_its_405(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.client.delete(api.url("/messages"), headers=bearer(*OPERATOR))
    assert response.status_code == 405
    assert {"GET", "POST"} <= set(response.headers["Allow"].replace(" ", "").split(","))


@pytest.mark.parametrize("path, body", [
    ("/messages", {"text": "hello\u0000"}),
    ("/escalate", {"note": "\u0000"}),
    ("/offers", {"type": "PARTIAL_REFUND", "amount": "10.00", "note": "\u0000"}),
    ("/withdraw", {"reason": "changed my mind\u0000"}),
])
def test_text_with_a_nul_character_is_refused_before_anything_is_stored(
        api_with_dispute_awaiting_seller, path, body):
    """PostgreSQL cannot store a NUL: once in an event, it stopped the timeline projection."""
    api = api_with_dispute_awaiting_seller
    version = api.view()["version"]
    response = api.post(path, json=body, who=SELLER if path == "/offers" else BUYER)
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")
    assert api.view()["version"] == version


def test_a_list_filter_with_a_nul_character_is_refused(api_with_dispute_awaiting_seller):
    response = api_with_dispute_awaiting_seller.get("/v1/disputes?order_id=O%001", who=OPERATOR)
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_a_timeline_cursor_beyond_any_version_is_refused(api_with_dispute_awaiting_seller):
    """PostgreSQL keeps versions in an INTEGER: a 12-digit cursor was a 500 there."""
    response = api_with_dispute_awaiting_seller.get("/timeline?cursor=845461323935", who=OPERATOR)
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")
