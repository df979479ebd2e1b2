"""Body limits: 1 MB for every request, one 10 MB file (and its form) for an evidence upload."""

import asyncio

from services.common.body_limit import ONE_MB as BODY_MAX_BYTES, BodyLimit
from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPENING, PNG

MB = 1024 * 1024


def problem(response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json"
    return response.status_code, response.json()["code"]


def test_a_body_over_one_megabyte_is_too_large(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json={"text": "x" * MB})
    assert problem(response) == (413, "PAYLOAD_TOO_LARGE")


def test_opening_with_a_body_over_one_megabyte_is_too_large(api):
    response = api.post("/v1/disputes", json={**OPENING, "description": "x" * MB})
    assert problem(response) == (413, "PAYLOAD_TOO_LARGE")


def test_a_streamed_body_without_a_length_is_cut_off_at_one_megabyte(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    chunks = (b'{"text": "' if i == 0 else b"x" * 64 * 1024 for i in range(20))
    response = api.post("/messages", content=chunks, headers={"content-type": "application/json"})
    assert problem(response) == (413, "PAYLOAD_TOO_LARGE")


def test_a_body_under_the_limit_is_judged_on_its_content(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json={"text": "x" * (MB // 2)})
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_an_upload_over_the_evidence_limit_is_rejected_evidence(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.upload(who=BUYER, content=PNG + b"\x00" * (11 * MB))
    assert problem(response) == (422, "EVIDENCE_REJECTED")
    assert api.view()["evidence"] == []


def test_the_middleware_stops_reading_a_stream_as_soon_as_it_passes_the_limit():
    read, sent = [], []

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass

    async def receive():
        read.append(1)
        return {"type": "http.request", "body": b"x" * 100 * 1024, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/disputes", "headers": []}
    asyncio.run(BodyLimit(app)(scope, receive, send))
    assert len(read) == BODY_MAX_BYTES // (100 * 1024) + 1
    assert sent[0]["status"] == 413
