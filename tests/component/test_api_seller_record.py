"""GET /v1/sellers/{id}/dispute-record over HTTP: any authenticated principal reads it; it
names no buyer and carries no comment; the window is checked."""

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OTHER_BUYER, OTHER_SELLER, SELLER

RECORD = "/v1/sellers/S-1/dispute-record"


def caught_up(api):
    for projection in api.app.state.projections:
        projection.catch_up()


def test_anyone_signed_in_reads_a_sellers_record(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    api.ok(api.post("/feedback", json={"rating": 2, "comment": "never again"}, who=BUYER))
    caught_up(api)
    for who in (OTHER_BUYER, OTHER_SELLER, SELLER):
        response = api.client.get(RECORD, headers=bearer(*who))
        record = api.ok(response)
        assert (record["disputes_opened"], record["disputes_ended"]) == (1, 1)
        assert record["outcome_shares"]["BUYER_FAVOUR"] == 1.0
        assert (record["average_feedback"], record["feedback_count"]) == (2.0, 1)
        assert record["orders_seen"] == 1 and record["window"] == "P90D"
        assert "B-1" not in response.text and "never again" not in response.text


def test_the_record_needs_a_token(api):
    assert api.client.get(RECORD).status_code == 401


def test_a_window_out_of_range_is_a_validation_problem(api):
    for window in ("PT1H", "P4000D", "soon"):
        response = api.client.get(RECORD, params={"window": window}, headers=bearer(*BUYER))
        assert response.status_code == 422, window
        assert response.json()["code"] == "VALIDATION_FAILED"


def test_a_seller_without_disputes_has_an_empty_record(api):
    record = api.ok(api.client.get("/v1/sellers/S-404/dispute-record", headers=bearer(*BUYER)))
    assert (record["orders_seen"], record["disputes_opened"], record["dispute_rate"]) == (0, 0, None)


def test_times_and_durations_are_text_as_the_document_says_not_seconds(api_with_dispute_awaiting_seller):
    """pydantic alone would take a number of seconds for a date-time or a duration."""
    api = api_with_dispute_awaiting_seller
    asked = [(RECORD, {"as_of": "0.5"}), (RECORD, {"window": "7776000"}),
             (f"/v1/disputes/{api.dispute_id}/timeline", {"as_of": "1700000000"}),
             ("/v1/disputes", {"due_within": "3600"})]
    for path, params in asked:
        response = api.client.get(path, params=params, headers=bearer(*OTHER_BUYER if path == RECORD else BUYER))
        assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED"), (path, params)
    assert api.client.get(RECORD, params={"window": "P30D", "as_of": "2026-03-10T12:00:00Z"},
                          headers=bearer(*BUYER)).status_code == 200
