"""The JSON shape of a replayed dispute's state (`disputectl audit replay --json`): every value
the aggregate may hold becomes JSON, a set in a stable order (a set attribute once made the
command fail with "Object of type set is not JSON serializable")."""

import json
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

from services.dispute.projections.timeline import jsonable


def test_sets_become_sorted_lists_and_the_whole_is_json():
    value = {"ids": {"m-2", "m-1"}, "frozen": frozenset({3, 1}), "amount": Decimal("30.00"),
             "at": datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc),
             "id": UUID("1bbcdfca-96ce-8169-8093-a9729e40b2af"), "nested": [({"m-3"},)]}
    shaped = jsonable(value)
    assert shaped["ids"] == ["m-1", "m-2"] and shaped["frozen"] == [1, 3]
    assert shaped["nested"] == [[["m-3"]]]
    assert json.loads(json.dumps(shaped))["at"] == "2026-12-02T01:00:00Z"
