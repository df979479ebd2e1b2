"""CLOSED and WITHDRAWN refuse every command; RESOLVED keeps only the after-care ones."""

import pytest

from tests.unit.domain import support as s

_BEFORE_RESOLUTION = {
    "make_offer": s.offer("Z", at=s.day(22)),
    "accept_offer": s.accept("A", at=s.day(22)),
    "reject_offer": s.reject("A", at=s.day(22)),
    "accept_claim": s.accept_claim(at=s.day(22)),
    "reject_claim": s.reject_claim(at=s.day(22)),
    "escalate": s.escalate(at=s.day(22)),
    "withdraw": s.withdraw(at=s.day(22)),
    "ship_return": s.ship_return(at=s.day(22)),
    "acknowledge_return": s.acknowledge(at=s.day(22)),
    "ship_replacement": s.ship_replacement(at=s.day(22)),
    "confirm_replacement": s.confirm_replacement(at=s.day(22)),
    "request_evidence": s.request_evidence(at=s.day(22)),
    "decide": s.decide(at=s.day(22)),
    "decide_appeal": s.decide_appeal(at=s.day(22)),
}
_AFTER_CARE = {
    "appeal": s.appeal(at=s.day(22)),
    "add_evidence": s.add_evidence("E-late", at=s.day(22)),
    "post_message": s.post_message("M-late", at=s.day(22)),
    "close": s.close(at=s.day(22)),
}


@pytest.mark.parametrize("command", _BEFORE_RESOLUTION.values(), ids=_BEFORE_RESOLUTION.keys())
def test_a_resolved_dispute_refuses_commands_before_resolution(
        dispute_resolved_by_agreement, command):
    assert s.refused(dispute_resolved_by_agreement, command) in {
        "DISPUTE_ALREADY_RESOLVED", "DISPUTE_NOT_OPEN_FOR_NEGOTIATION", "INVALID_TRANSITION",
        "FORBIDDEN"}


@pytest.mark.parametrize("command", {**_BEFORE_RESOLUTION, **_AFTER_CARE}.values(),
                         ids={**_BEFORE_RESOLUTION, **_AFTER_CARE}.keys())
def test_a_closed_dispute_refuses_every_command(dispute_closed, command):
    assert s.refused(dispute_closed, command)


@pytest.mark.parametrize("command", {**_BEFORE_RESOLUTION, **_AFTER_CARE}.values(),
                         ids={**_BEFORE_RESOLUTION, **_AFTER_CARE}.keys())
def test_a_withdrawn_dispute_refuses_every_command(dispute_withdrawn, command):
    assert s.refused(dispute_withdrawn, command)


def test_a_withdrawn_dispute_records_no_refund(dispute_withdrawn):
    assert s.refused(dispute_withdrawn, s.refund_issued(at=s.day(2))) == "INVALID_TRANSITION"


def test_a_withdrawn_dispute_ignores_timers(dispute_withdrawn):
    assert s.when(dispute_withdrawn, s.expire(s.day(100))) == []


def test_a_closed_dispute_ignores_timers(dispute_closed):
    assert s.when(dispute_closed, s.expire(s.day(100))) == []
