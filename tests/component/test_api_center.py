"""What the dispute center's pages need from the API: the local sign-in (local mode only) and
the buyer's orders with what each item allows."""

from datetime import timedelta

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPERATOR, SELLER, Clock, running_api
from tests.support.orders import order_placed
from tests.support.tokens import bearer


def test_in_local_mode_the_sign_in_mints_a_token_the_api_accepts(memory_folder, clock, api_template):
    with running_api(memory_folder, clock, order_placed(), template=api_template,
                     local_mode=True) as api:
        signed = api.ok(api.client.post("/v1/local/sign-in", json={"role": "seller", "id": "S-1"}))
        assert (signed["role"], signed["id"]) == ("seller", "S-1")
        listed = api.client.get("/v1/disputes", headers={"Authorization": f"Bearer {signed['token']}"})
        assert listed.status_code == 200
        refused = api.client.post("/v1/local/sign-in", json={"role": "service", "id": "x"})
        assert refused.status_code == 422


def test_outside_local_mode_there_is_no_sign_in(api):
    assert api.client.post("/v1/local/sign-in", json={"role": "operator", "id": "OP-1"}).status_code == 401
    with_token = api.client.post("/v1/local/sign-in", json={"role": "operator", "id": "OP-1"},
                                 headers=bearer(*BUYER))
    assert with_token.status_code == 404 and with_token.json()["code"] == "LOCAL_MODE_ONLY"


def test_the_buyer_sees_each_item_with_its_dispute_or_what_it_allows(memory_folder, api_template):
    clock = Clock()
    not_due = order_placed(order_id="O-2", promised_in=timedelta(days=2))
    late = order_placed(order_id="O-3", promised_in=timedelta(days=-40))
    with running_api(memory_folder, clock, order_placed(), not_due, late, template=api_template) as api:
        dispute = api.open()
        for projection in api.app.state.projections:
            projection.catch_up()
        orders = {o["order_id"]: o for o in api.ok(api.client.get("/v1/my/orders", headers=bearer(*BUYER)))}
        [disputed] = orders["O-1"]["items"]
        assert (disputed["dispute_id"], disputed["may_open_for"]) == (dispute["id"], [])
        [early] = orders["O-2"]["items"]
        assert "DAMAGED" in early["may_open_for"]
        assert early["refused"] == {"ITEM_NOT_RECEIVED": "PROMISED_DELIVERY_NOT_ELAPSED"}
        [closed] = orders["O-3"]["items"]
        assert closed["may_open_for"] == [] and set(closed["refused"].values()) == {"FILING_WINDOW_CLOSED"}
        assert api.client.get("/v1/my/orders", headers=bearer(*SELLER)).status_code == 403


def test_the_pages_are_served_and_the_console_leads_to_the_desk(api):
    page = api.client.get("/")
    assert page.status_code == 200 and "Dispute center" in page.text
    assert api.client.get("/app/center.js").headers["content-type"].startswith("text/javascript")
    assert api.client.get("/app/secrets.txt").status_code == 404
    moved = api.client.get("/console", follow_redirects=False)
    assert moved.status_code in (302, 307) and moved.headers["location"] == "/#/desk"


def test_a_view_kept_by_a_cache_is_never_given_to_another_principal(api_with_dispute_awaiting_seller):
    """One tag (the version) names different views for different principals: every read says
    Vary: Authorization, so a browser signed in as an operator, then as the buyer, asks anew
    instead of showing the buyer the operator's internal notes."""
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json={"text": "internal: watch this seller",
                                       "visibility": "PLATFORM_ONLY"}, who=OPERATOR), 201)
    for path in ("", "/timeline", "/messages"):
        answer = api.get(path, who=OPERATOR)
        assert answer.headers["vary"] == "Authorization", path
    assert "watch this seller" not in api.get("", who=BUYER).text


def test_the_order_is_read_by_operators_and_its_own_parties_only(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    for who in (OPERATOR, BUYER, SELLER):
        order = api.ok(api.client.get("/v1/orders/O-1", headers=bearer(*who)))
        assert (order["buyer_id"], order["seller_id"], order["total_amount"]) == ("B-1", "S-1", "100.00")
        assert order["promised_delivery_date"] and order["items"] == {"I-1": "100.00"}
    for who, path in ((("buyer", "B-2"), "/v1/orders/O-1"), (("seller", "S-2"), "/v1/orders/O-1"),
                      (OPERATOR, "/v1/orders/O-404")):
        refused = api.client.get(path, headers=bearer(*who))
        assert (refused.status_code, refused.json()["code"]) == (404, "ORDER_NOT_FOUND"), (who, path)
