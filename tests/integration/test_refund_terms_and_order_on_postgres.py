"""A resolution's trust gate and ceiling see the dispute's terms and its order as the store
knows them, whether the order was learned, is known only from an OrderRefunded, or was never
seen: on PostgreSQL read (and the order's row locked) in one statement, on SQLite in two; the
same answers on both."""

from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.orders import OrderRefunded
from services.common.database import sqlalchemy_engine
from services.refund.orders import PaidOrders
from services.refund.policy import RefundInstruction, idempotency_key_for
from services.refund.store import Distrusted, RefundStore
from tests.support.orders import order_placed
from tests.support.refunds import terms_of

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request, tmp_path) -> RefundStore:
    url = (request.getfixturevalue("pg_url") if request.param == "postgresql"
           else f"sqlite:///{tmp_path}/refund.sqlite")
    store = RefundStore(sqlalchemy_engine(url, pre_ping=False))
    store.create_tables()
    return store


class Seen:
    """A vet that records what it was shown and refuses, so nothing is written."""

    def __init__(self):
        self.shown: list = []

    def __call__(self, instruction, terms, order):
        self.shown.append((terms, order))
        return "SEEN"


def opened(store: RefundStore, order_id: str) -> str:
    dispute_id = str(uuid4())
    store.accept(event_id=str(uuid4()), terms=terms_of(dispute_id, order_id), instruction=None,
                 correlation_id=None)
    return dispute_id


def shown(store: RefundStore, dispute_id: str) -> tuple:
    event_id, vet = str(uuid4()), Seen()
    instruction = RefundInstruction(dispute_id=dispute_id, amount=Decimal("30.00"), currency="USD",
                                    idempotency_key=idempotency_key_for(dispute_id, event_id),
                                    cause_event_id=event_id)
    with pytest.raises(Distrusted):
        store.accept_resolution(event_id=event_id, instruction=instruction, correlation_id=None, vet=vet)
    assert store.instruction(instruction.idempotency_key) is None
    return vet.shown[0]


def test_a_dispute_never_opened_shows_neither(store):
    assert shown(store, str(uuid4())) == (None, None)


def test_an_order_never_seen_shows_the_terms_alone(store):
    dispute_id = opened(store, "O-unseen")
    assert shown(store, dispute_id) == (store.terms(dispute_id), None)


def test_an_order_known_only_from_a_refund_outside_disputes_is_not_shown(store):
    PaidOrders(store.engine).apply(OrderRefunded(event_id=uuid4(), order_id="O-2", amount=Decimal("5.00"),
                                                 refunded_at=datetime.now(timezone.utc)))
    dispute_id = opened(store, "O-2")
    assert shown(store, dispute_id) == (store.terms(dispute_id), None)


def test_a_learned_order_is_shown_with_the_terms_as_stored(store):
    orders = PaidOrders(store.engine)
    orders.apply(order_placed(order_id="O-3", amount="100.00"))
    orders.apply(OrderRefunded(event_id=uuid4(), order_id="O-3", amount=Decimal("5.00"),
                               refunded_at=datetime.now(timezone.utc)))
    dispute_id = opened(store, "O-3")
    terms, order = shown(store, dispute_id)
    assert terms == store.terms(dispute_id) and terms.order_id == "O-3"
    assert order == orders.order("O-3") and order.refunded_outside == Decimal("5.00")
