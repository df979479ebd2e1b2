"""The chaos harness's own parts: the fault schedule replays from its seed, and each ledger
check names what does not balance (a ledger that cannot fail would prove nothing)."""

from __future__ import annotations

from collections import Counter
from uuid import uuid4

from contracts.envelope import EventEnvelope
from tools.chaos import ledger
from tools.chaos.client import Ack, Answers
from tools.chaos.faults import KINDS, schedule
from tools.chaos.observed import Observed

DISPUTE = str(uuid4())


def test_the_same_seed_gives_the_same_faults_and_every_kind_comes_once_a_round():
    first, again, other = schedule(7, 300, 15), schedule(7, 300, 15), schedule(8, 300, 15)
    assert first == again and first != other
    assert len(first) == 20 and Counter(f.kind for f in first) == Counter({k: 2 for k in KINDS})
    assert [f.at for f in first] == sorted(f.at for f in first)
    assert all(15 <= f.at <= 240 for f in first)


def test_a_short_run_still_gets_one_fault_of_each_kind():
    assert Counter(f.kind for f in schedule(3, 60, 15)) == Counter(KINDS)


def envelope(version: int, event_type: str, payload: dict, role: str = "buyer") -> dict:
    return EventEnvelope(event_id=uuid4(), event_type=event_type, schema_version=1, dispute_id=DISPUTE,
                         dispute_version=version, occurred_at="2026-12-01T12:00:00Z", correlation_id="c",
                         actor={"role": role, "id": "B-1"}, payload=payload).model_dump(mode="json")


def history() -> list[dict]:
    opened = {"order_id": "O-1", "buyer_id": "B-1", "seller_id": "S-1", "paid_amount": "100.00",
              "refunded_before": "0"}
    envelopes = [envelope(1, "DisputeOpened", opened),
                 envelope(2, "OfferMade", {"offer_id": "OF-1", "amount": "30.00", "made_by": "seller"}, "seller"),
                 envelope(3, "Resolved", {"refund_amount": "30.00"}, "buyer")]
    return [{"dispute_id": DISPUTE, "version": e["dispute_version"], "envelope": e} for e in envelopes]


def observed(lines: list[dict], published: list[dict] | None = None, refunds: list[str] = ()) -> Observed:
    seen = Observed(stored={DISPUTE: lines})
    seen.published = [(0, EventEnvelope.model_validate(e)) for e in
                      (published if published is not None else [line["envelope"] for line in lines])]
    seen.refunds = [{"amount": amount, "metadata": {"dispute_id": DISPUTE, "refund_id": f"R-{n}"}}
                    for n, amount in enumerate(refunds)]
    return seen


def test_an_acknowledged_command_missing_from_the_store_is_named():
    answers = Answers(acks=[Ack(DISPUTE, "offers", 2, "OfferMade", "OF-1"),
                            Ack(DISPUTE, "offers", 3, "OfferMade", "OF-2")])
    check = ledger.acknowledged_in_store(answers, observed(history()))
    assert check.checked == 2 and len(check.mismatches) == 1 and "OF-2" in check.mismatches[0]


def test_an_acknowledged_command_stored_only_after_its_version_does_not_count():
    answers = Answers(acks=[Ack(DISPUTE, "decision", 2, "Resolved")])
    assert not ledger.acknowledged_in_store(answers, observed(history())).ok


def test_a_stored_event_never_published_and_one_out_of_order_are_named():
    lines = history()
    envelopes = [line["envelope"] for line in lines]
    missing = ledger.published_once_in_order(observed(lines, envelopes[:2]))
    assert [m for m in missing.mismatches if "[3] stored, never published" in m]
    swapped = ledger.published_once_in_order(observed(lines, [envelopes[0], envelopes[2], envelopes[1]]))
    assert [m for m in swapped.mismatches if "out of order" in m]
    twice = ledger.published_once_in_order(observed(lines, envelopes + envelopes[1:2]))
    assert twice.ok  # a duplicate of the same record is what a de-duplicating consumer skips


def test_an_award_paid_twice_or_never_is_named():
    assert not ledger.refunds_exactly_once(observed(history(), refunds=["30.00", "30.00"])).ok
    assert not ledger.refunds_exactly_once(observed(history(), refunds=[])).ok


def test_a_payment_the_dispute_never_recorded_is_named():
    check = ledger.refunds_exactly_once(observed(history(), refunds=["30.00"]))
    assert [m for m in check.mismatches if "never recorded on it" in m]


def test_a_missing_or_doubled_notice_and_a_second_mail_are_named():
    seen = observed(history())
    expected = ledger.expected_recipients(seen)
    seen.inbox = Counter({key: 1 for key in expected})
    assert ledger.notified_once(seen).ok
    dropped = sorted(expected)[0]
    seen.inbox[dropped] = 0
    del seen.inbox[dropped]
    seen.inbox[sorted(expected)[1]] = 2
    seen.mails = Counter({(sorted(expected)[1][0], "S-1@example.invalid"): 2})
    named = " ".join(ledger.notified_once(seen).mismatches)
    assert "no inbox entry" in named and "2 inbox entries" in named and "2 e-mails" in named


def test_a_500_is_a_mismatch_and_a_503_is_not():
    answers = Answers(statuses=Counter({503: 3, 200: 5}))
    assert ledger.no_server_errors(answers).ok
    answers.server_errors.append("offers: 500 {}")
    assert not ledger.no_server_errors(answers).ok
