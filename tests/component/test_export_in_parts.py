"""audit export by worker processes (DISPUTE_REPLAY_WORKERS) writes the very bytes a
sequential export writes: every line, in notification order, with the time filter applied."""

from datetime import timedelta
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from services.dispute.adapters.order_book import OrderBook
from services.dispute.audit import history
from services.dispute.bootstrap import build_application
from services.dispute.domain import Actor, Role
from services.dispute.entrypoints.cli import app as disputectl
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed

BUYER, SELLER = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1")


@pytest.fixture
def store(tmp_path):
    """Twelve disputes, their events interleaved in the log (an opening, an offer, a note)."""
    url = f"sqlite:///{tmp_path}/d.sqlite"
    app = build_application(DisputeSettings(database_url=url))
    disputes = [app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=f"O-{n}")), item_id="I-1",
                                 actor=BUYER, reason="DAMAGED", request="FULL_REFUND", request_amount=None,
                                 description=f"dispute {n} é", at=NOW + timedelta(hours=n)) for n in range(12)]
    for n, dispute in enumerate(disputes):
        at = NOW + timedelta(days=1, hours=n)
        app.execute(dispute.id, at, lambda d: d.make_offer(
            offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"), actor=SELLER, at=at,
            policy=app.policy))
    for dispute in disputes[::2]:
        at = NOW + timedelta(days=2)
        app.execute(dispute.id, at, lambda d: d.post_message(
            message_id="M-1", text="internal", visibility="PLATFORM_ONLY", actor=Actor(Role.OPERATOR, "OP-1"),
            at=at))
    return url


def export(url, tmp_path, name, workers, *options):
    out = tmp_path / name
    env = {"DISPUTE_DATABASE_URL": url, "DISPUTE_REPLAY_WORKERS": str(workers),
           "DISPUTE_REPLAY_MIN_EVENTS_PER_WORKER": "1"}
    result = CliRunner().invoke(disputectl, ["audit", "export", "-o", str(out), *options], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out.read_bytes(), result.output


@pytest.mark.parametrize("options", [[], ["--from", "2026-03-11T03:00:00Z", "--to", "2026-03-11T20:00:00Z"]])
def test_an_export_in_parts_is_byte_for_byte_the_sequential_one(store, tmp_path, monkeypatch, options):
    monkeypatch.setattr(history, "PART_MIN", 5)  # 42 events: 7 parts over 2 workers
    in_parts = []
    monkeypatch.setattr(history, "_export_in_parts", lambda *args, real=history._export_in_parts:
                        in_parts.append(real(*args)) or in_parts[-1])
    sequential, _ = export(store, tmp_path, "one.jsonl", 1, *options)
    assert not in_parts
    parted, said = export(store, tmp_path, "parts.jsonl", 2, *options)
    assert in_parts and in_parts[0][0] == 42  # the parts covered the whole log
    assert parted == sequential
    lines = len(sequential.splitlines())
    assert lines == 42 if not options else 0 < lines < 42
    assert f"exported {lines} events" in said


def test_the_number_of_workers_follows_the_store_size():
    from services.dispute.adapters.replay_workers import ReplayWorkers

    workers = ReplayWorkers(4, 50_000, lambda: None)
    assert [workers.for_events(n) for n in (0, 49_999, 100_000, 1_000_000)] == [1, 1, 2, 4]
    assert ReplayWorkers(1, 1, lambda: None).for_events(10**6) == 1
