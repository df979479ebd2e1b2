"""audit export writes each line as json.dumps would, whatever the text in the events."""

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from services.dispute.adapters.order_book import OrderBook
from services.dispute.audit import history
from services.dispute.bootstrap import build_application
from services.dispute.domain import Actor, Role
from services.dispute.projections.timeline import utc
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed

BUYER, SELLER = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1")


@pytest.mark.parametrize("description", [
    "arrived cracked", "arrivé cassé, 破損", 'a "quoted" \\ word', "line\nbreak\ttab", "del\x7fhere",
    "ctrl\x01\x1f chars", "sep\u2028arator", "emoji \U0001F4E6",
])
def test_each_line_is_the_compact_json_of_its_export_line(tmp_path, description):
    app = build_application(DisputeSettings(database_url=f"sqlite:///{tmp_path}/d.sqlite"))
    dispute = app.open_dispute(order=OrderBook.facts_from(order_placed()), item_id="I-1", actor=BUYER,
                               reason="DAMAGED", request="FULL_REFUND", request_amount=None,
                               description=description, at=NOW)
    at = NOW + timedelta(days=1)
    app.execute(dispute.id, at, lambda d: d.make_offer(
        offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"), actor=SELLER, at=at,
        policy=app.policy))
    app.execute(dispute.id, at, lambda d: d.post_message(
        message_id="M-1", text=description, visibility="PLATFORM_ONLY",
        actor=Actor(Role.OPERATOR, "OP-1"), at=at))
    out = io.StringIO()
    assert history.export(app, out) == 4
    expected = []
    for stored in app.recorder.select_notifications(0, 10):
        event, meta = app.mapper.to_domain_event_with_meta(stored)
        line = history.export_line(stored, event, meta, utc(getattr(event, "at", None) or event.timestamp))
        expected.append(json.dumps(line, separators=(",", ":")))
    assert out.getvalue().splitlines() == expected
    assert json.loads(expected[0])["envelope"]["payload"]["description"] == description
    assert json.loads(expected[-1])["envelope"] is None  # the operators' note stays internal


values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.floats(allow_nan=False),
                   st.lists(st.integers(), max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.tuples(*[values] * 8))
def test_a_lines_fields_are_written_as_json_dumps_writes_them(fields):
    names = ["shard", "notification_id", "dispute_id", "version", "topic", "occurred_at", "hash", "key_id"]
    expected = json.dumps(dict(zip(names, fields)), separators=(",", ":"))[:-1]
    assert history._line_text(*fields) == expected
