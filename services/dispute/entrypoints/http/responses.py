"""What each kind of route of the dispute API may answer, declared once (`responses=` of the
route decorators): the problem codes per status, the headers, and the OpenAPI links from a
created dispute or item to what can be done with it next (schemathesis' stateful phase follows
them; so can a client generator).

The codes come from where they are raised: `errors.STATUS` (domain codes to statuses, every
other domain code is 409), the HTTP layer (`deps`, `idempotency`, the limits) and the
use cases. tests/component/test_api_contract_document.py keeps every domain error's code
declared by some route.
"""

from __future__ import annotations

from typing import Any

from services.common.conditional import ETAG_HEADER, NOT_MODIFIED
from services.common.problems import Responses, StatusCodes, codes, problem_responses
from services.dispute.entrypoints.http.errors import STATUS


def _of(status: int) -> frozenset[str]:
    return frozenset(code for code, given in STATUS.items() if given == status)


CONFLICTS = frozenset({
    "CONCURRENCY_CONFLICT", "INVALID_TRANSITION", "NOT_YOUR_TURN",
    "DISPUTE_NOT_OPEN_FOR_NEGOTIATION", "OFFER_NOT_CURRENT", "MAX_OFFER_ROUNDS_REACHED",
    "ESCALATION_NOT_YET_ALLOWED", "DISPUTE_ALREADY_RESOLVED", "RETURN_WINDOW_CLOSED",
    "APPEAL_WINDOW_CLOSED", "MAX_APPEALS_REACHED"})
OPENING_REFUSALS = frozenset({"ORDER_NOT_FOUND", "FILING_WINDOW_CLOSED",
                              "PROMISED_DELIVERY_NOT_ELAPSED"})
OPENING_AMOUNT = frozenset({"REFUND_EXCEEDS_REFUNDABLE_AMOUNT"})  # a request_amount above the price
EVERY_ROUTE: StatusCodes = {401: frozenset({"UNAUTHENTICATED"}),
                            422: frozenset({"VALIDATION_FAILED"}),
                            503: frozenset({"SERVICE_UNAVAILABLE"})}
WRITES: StatusCodes = {400: frozenset({"VALIDATION_FAILED"}),  # a body that is not even text
                       413: frozenset({"PAYLOAD_TOO_LARGE"}), 429: frozenset({"RATE_LIMITED"}),
                       422: frozenset({"IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD"}),
                       409: frozenset({"CONCURRENCY_CONFLICT"}), 403: frozenset({"FORBIDDEN"})}
ON_A_DISPUTE: StatusCodes = {404: frozenset({"DISPUTE_NOT_FOUND"})}
COMMAND_ERRORS = codes(EVERY_ROUTE, WRITES, ON_A_DISPUTE, {
    403: _of(403), 409: CONFLICTS, 412: frozenset({"CONCURRENCY_CONFLICT"}),
    422: _of(422) - OPENING_REFUSALS - {"IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD"}})
OPEN_ERRORS = codes(EVERY_ROUTE, WRITES, {
    409: frozenset({"DISPUTE_ALREADY_EXISTS_FOR_ITEM", "DISPUTE_PREVIOUSLY_CLOSED_FOR_ITEM"}),
    422: OPENING_REFUSALS | OPENING_AMOUNT})
READ_ERRORS = codes(EVERY_ROUTE, ON_A_DISPUTE, {403: frozenset({"FORBIDDEN"})})
ITEM_READ_ERRORS = codes(READ_ERRORS, {404: frozenset({"NOT_FOUND"})})
LIST_ERRORS = codes(EVERY_ROUTE, {403: frozenset({"FORBIDDEN"})})

# Operations on one dispute, by operationId (the route function's name), and what names the
# dispute in each answer that leads to them.
DISPUTE_OPERATIONS = (
    "get_dispute", "get_timeline", "list_messages", "make_offer", "accept_claim",
    "reject_claim", "escalate", "withdraw", "post_message", "leave_feedback", "ship_return",
    "acknowledge_return", "ship_replacement", "confirm_replacement", "add_evidence",
    "request_evidence", "decide", "appeal", "close")
CURRENT_OFFER_OPERATIONS = ("get_offer", "accept_offer", "reject_offer")
ITEM_OPERATIONS = {  # created item kind -> (its id parameter, the operations on it)
    "offer": ("offer_id", ("get_offer", "accept_offer", "reject_offer")),
    "message": ("message_id", ("get_message",)),
    "appeal": ("appeal_id", ("get_appeal", "decide_appeal")),
    "evidence": ("evidence_id", ("download_evidence",)),
    "evidence_request": ("request_id", ("get_evidence_request",)),
}
LOCATION = {"Location": {"description": "the created resource", "required": True,
                         "schema": {"type": "string"}}}


def _link(operation: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation,
            "parameters": {name: f"$response.body#{pointer}" for name, pointer in parameters.items()}}


def dispute_links(at: str = "") -> dict[str, Any]:
    """Links to every operation on the dispute whose view is at JSON pointer `at`, and on its
    current offer."""
    links = {op: _link(op, dispute_id=f"{at}/id") for op in DISPUTE_OPERATIONS}
    for op in CURRENT_OFFER_OPERATIONS:
        links[f"{op}_current"] = _link(op, dispute_id=f"{at}/id", offer_id=f"{at}/current_offer_id")
    return links


def item_links(kind: str) -> dict[str, Any]:
    parameter, operations = ITEM_OPERATIONS[kind]
    links = dispute_links("/dispute")
    for op in operations:
        links[f"{op}_created"] = _link(op, dispute_id="/dispute/id", **{parameter: f"/{kind}/{parameter}"})
    return links


def _ok(description: str, status: int = 200, headers: dict | None = None,
        links: dict | None = None) -> Responses:
    answer: dict[str, Any] = {"description": description, "headers": {**ETAG_HEADER, **(headers or {})}}
    if links:
        answer["links"] = links
    return {status: answer}


OPEN: Responses = {**_ok("Opened: the dispute; Location names it", 201, LOCATION, dispute_links()),
        **problem_responses(OPEN_ERRORS)}
COMMAND: Responses = {**_ok("Recorded: the dispute after the command", links=dispute_links()),
           **problem_responses(COMMAND_ERRORS)}


def creating(kind: str) -> Responses:
    """A command that creates an item: 201 with {kind: item, "dispute": view} and Location."""
    return {**_ok(f"Recorded: the new {kind} and the dispute after it", 201, LOCATION,
                  item_links(kind)), **problem_responses(COMMAND_ERRORS)}


DISPUTE_READ: Responses = {**_ok("The dispute as this caller may see it; its version is the ETag",
                    links=dispute_links()), **NOT_MODIFIED, **problem_responses(READ_ERRORS)}
READ: Responses = {**_ok("The current representation"), **NOT_MODIFIED, **problem_responses(READ_ERRORS)}
ITEM_READ: Responses = {**_ok("The current representation"), **NOT_MODIFIED,
             **problem_responses(ITEM_READ_ERRORS)}
ORDER_READ: Responses = {**_ok("The order as the dispute service knows it"), **NOT_MODIFIED,
                          **problem_responses(codes(EVERY_ROUTE, {404: frozenset({"ORDER_NOT_FOUND"})}))}
LIST: Responses = {**_ok("One page"), **NOT_MODIFIED, **problem_responses(LIST_ERRORS)}

