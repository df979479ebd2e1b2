"""A principal is (role, id) in the dispute API too (issue 9, point 4): a buyer and a seller
who share an id never share an Idempotency-Key."""

from sqlalchemy import select

from services.dispute.adapters.idempotency_store import idempotency_keys, principal_key
from tests.component.test_api_support import OPENING, Clock, running_api
from tests.support.orders import order_placed

KEY = {"Idempotency-Key": "same-key-for-both"}
MESSAGE = {"text": "hello"}


def test_a_buyer_and_a_seller_with_one_id_each_have_their_own_idempotency_keys(tmp_path):
    buyer, seller = ("buyer", "P-1"), ("seller", "P-1")
    with running_api(tmp_path, Clock(), order_placed(buyer="P-1", seller="P-1")) as api:
        api.dispute_id = api.ok(api.post("/v1/disputes", json=OPENING, who=buyer), 201)["id"]
        as_buyer = api.ok(api.post("/messages", json=MESSAGE, headers=KEY, who=buyer), 201)
        as_seller = api.post("/messages", json=MESSAGE, headers=KEY, who=seller)
        with api.app.state.idempotency.engine.connect() as conn:
            principals = sorted(conn.execute(select(idempotency_keys.c.principal)).scalars())
    assert as_seller.status_code == 201 and "idempotent-replayed" not in as_seller.headers
    assert as_seller.json()["message"]["message_id"] != as_buyer["message"]["message_id"]
    assert principals == ["buyer:P-1", "seller:P-1"]


def test_a_short_principal_key_is_its_role_and_id():
    assert principal_key("seller", "S-1") == "seller:S-1"


def test_a_long_id_cannot_be_impersonated_by_a_short_id_that_looks_like_its_digest():
    long_id = "B-" + "x" * 400
    hashed = principal_key("buyer", long_id)
    assert len(hashed) <= 300 and hashed.startswith("buyer#sha256:")
    assert principal_key("buyer", hashed.removeprefix("buyer#")) != hashed
