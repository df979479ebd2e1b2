"""Random command sequences through the Dispute aggregate keep its promises.

A hypothesis state machine plays every party (and strangers) at random, with random amounts,
on a clock that only moves forward, the way the command runner does: due deadlines are
applied first, then the command; a refusal (DomainError) is an allowed answer. After every
step the invariants hold: money refunded stays within what was paid, a final state stays
final, a dispute is resolved at most once, a deadline is never moved earlier nor set in the
past, a refusal records nothing, and the stored history replays to the live state.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from eventsourcing.application import Application
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from services.dispute.domain import (
    FINAL_STATES, Actor, AppealOutcome, Dispute, DomainError, OfferTerms, RequestType,
    ReturnCondition, Status,
)
from tests.unit.domain.support import (
    BUYER, ORDER, OPERATOR, OTHER_BUYER, OTHER_SELLER, POLICY, SELLER, SERVICE, T0,
    day, decide, escalate, open_dispute, photo,
)

ACTORS = st.sampled_from([BUYER, SELLER, OPERATOR, SERVICE, OTHER_BUYER, OTHER_SELLER])


def acting(*proper: Actor) -> st.SearchStrategy[Actor]:
    """Half the time one who may act, half the time anyone (strangers included)."""
    return st.one_of(st.sampled_from(proper), ACTORS)


PARTIES, OPERATORS = acting(BUYER, SELLER), acting(OPERATOR)
AMOUNTS = st.one_of(st.none(), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("150"),
                                           places=2))
KINDS = st.sampled_from([kind.value for kind in RequestType])
# Offer terms: mostly a partial refund (the common offer), else any kind with any amount.
TERMS = st.one_of(st.tuples(st.just("PARTIAL_REFUND"), st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("120"), places=2)), st.tuples(KINDS, AMOUNTS))
# None: the party whose move it is; else anyone, strangers included.
IN_TURN = st.one_of(st.none(), ACTORS)
OUTCOMES = st.sampled_from(["BUYER_FAVOUR", "SELLER_FAVOUR", "PARTIAL", "SOMETHING_ELSE"])
APPEAL_OUTCOMES = st.sampled_from([*(outcome.value for outcome in AppealOutcome), "NONSENSE"])
IDS = st.sampled_from(["A", "B", "C", "D"])
# Mostly hours or days between two steps, sometimes weeks: every deadline is missed sometimes.
PAUSES = st.one_of(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
                   st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=21)))
# After a dispute ends, only money already in flight and the parties' feedback may still arrive.
AFTER_FINAL = {"RefundIssued", "RefundFailed", "FeedbackLeft"}


# Where a run starts: random steps rarely reach the platform's part on their own (escalating
# needs three days of negotiation that an accepted claim usually ends before).
STARTS = {
    "opened": [],
    "under review": [(day(4), escalate(at=day(4)))],
    "resolved for the seller": [(day(4), escalate(at=day(4))),
                                (day(5), decide("SELLER_FAVOUR", None, at=day(5)))],
    "resolved for the buyer": [(day(4), escalate(at=day(4))),
                               (day(5), decide("PARTIAL", "40.00", at=day(5)))],
}


class DisputeLifecycles(RuleBasedStateMachine):
    """One dispute of order O-1 (100.00 USD) under random commands."""

    @initialize(request=st.sampled_from(["FULL_REFUND", "PARTIAL_REFUND", "REPLACEMENT",
                                         "RETURN_AND_REFUND"]),
                amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2),
                start=st.sampled_from(["opened", "opened", *STARTS]))
    def open(self, request: str, amount: Decimal, start: str) -> None:
        self.now, self.runner_stepped = T0, True
        needs_amount = request in ("PARTIAL_REFUND", "RETURN_AND_REFUND")
        self.dispute = open_dispute(request=request, amount=str(amount) if needs_amount else None)
        self.history = list(self.dispute.collect_events())
        self.store = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                      "SQLITE_DBNAME": ":memory:"})
        self.store.save(*self.history)
        self.final_status: Status | None = None
        self.deadlines_before = dict(self.dispute.deadlines)
        for at, command in STARTS[start]:
            self.now = at
            self._run(command)

    def _run(self, command) -> None:
        """As the command runner does: due deadlines first, then the command, saved."""
        self.runner_stepped = True
        self.dispute.expire_due_deadlines(at=self.now, policy=POLICY)
        fired = self.dispute.collect_events()
        version = self.dispute.version
        try:
            command(self.dispute)
        except DomainError as refusal:
            assert self.dispute.version == version, f"{refusal.code} recorded events"
        self._keep([*fired, *self.dispute.collect_events()])

    def _keep(self, events: list) -> None:
        if self.final_status is not None:
            late = {type(e).__name__ for e in events} - AFTER_FINAL
            assert not late, f"{late} recorded after the dispute became {self.final_status}"
        self.history.extend(events)
        self.store.save(*events)

    # The clock and the timer --------------------------------------------------------------

    @rule(pause=PAUSES)
    def time_passes(self, pause: timedelta) -> None:
        self.now += pause
        self.runner_stepped = False

    @rule()
    def deadline_worker_fires(self) -> None:
        self.runner_stepped = True
        self.dispute.expire_due_deadlines(at=self.now, policy=POLICY)
        self._keep(self.dispute.collect_events())

    # Negotiation --------------------------------------------------------------------------

    @rule(actor=IN_TURN, offer_id=IDS, terms=TERMS)
    def make_offer(self, actor: Actor | None, offer_id: str,
                   terms: tuple[str, Decimal | None]) -> None:
        actor = actor or self._in_turn()
        self._run(lambda d: d.make_offer(offer_id=offer_id, offer_type=terms[0], amount=terms[1],
                                         actor=actor, at=self.now, policy=POLICY))

    @rule(actor=IN_TURN, offer_id=st.one_of(st.none(), IDS))
    def accept_offer(self, actor: Actor | None, offer_id: str | None) -> None:
        actor, offer_id = actor or self._in_turn(), offer_id or self._current_offer()
        self._run(lambda d: d.accept_offer(offer_id=offer_id, actor=actor, at=self.now,
                                           policy=POLICY))

    @rule(actor=IN_TURN, offer_id=st.one_of(st.none(), IDS),
          counter=st.one_of(st.none(), st.tuples(IDS, TERMS)))
    def reject_offer(self, actor: Actor | None, offer_id: str | None, counter) -> None:
        actor, offer_id = actor or self._in_turn(), offer_id or self._current_offer()
        terms = (OfferTerms(f"{counter[0]}-{len(self.history)}", *counter[1]) if counter
                 else None)
        self._run(lambda d: d.reject_offer(offer_id=offer_id, counter_offer=terms, reason="no",
                                           actor=actor, at=self.now, policy=POLICY))

    def _in_turn(self) -> Actor:
        """The party whose move it is (the seller when it is nobody's)."""
        return BUYER if self.dispute.awaiting == "buyer" else SELLER

    def _current_offer(self) -> str:
        return self.dispute.current_offer_id or "A"

    @rule(actor=acting(SELLER))
    def accept_claim(self, actor: Actor) -> None:
        self._run(lambda d: d.accept_claim(actor=actor, at=self.now, policy=POLICY))

    @rule(actor=acting(SELLER), offer_id=IDS, amount=AMOUNTS)
    def reject_claim(self, actor: Actor, offer_id: str, amount: Decimal | None) -> None:
        terms = OfferTerms(f"{offer_id}-claim", "PARTIAL_REFUND", amount) if amount else None
        self._run(lambda d: d.reject_claim(evidence=(photo(f"S-{len(self.history)}"),),
                                           counter_offer=terms, reason="as described",
                                           actor=actor, at=self.now, policy=POLICY))

    @rule(actor=PARTIES)
    def escalate(self, actor: Actor) -> None:
        self._run(lambda d: d.escalate(note="decide please", actor=actor, at=self.now))

    @rule(actor=acting(BUYER))
    def withdraw(self, actor: Actor) -> None:
        self._run(lambda d: d.withdraw(reason="never mind", actor=actor, at=self.now))

    # Returns and replacements --------------------------------------------------------------

    @rule(actor=acting(BUYER))
    def ship_return(self, actor: Actor) -> None:
        self._run(lambda d: d.ship_return(carrier="UPS", tracking_number="1Z", actor=actor,
                                          at=self.now, policy=POLICY))

    @rule(actor=acting(SELLER), condition=st.sampled_from([c.value for c in ReturnCondition]))
    def acknowledge_return(self, actor: Actor, condition: str) -> None:
        self._run(lambda d: d.acknowledge_return(
            condition=condition, evidence=(photo(f"R-{len(self.history)}"),), actor=actor,
            at=self.now, policy=POLICY))

    @rule(actor=acting(SELLER))
    def ship_replacement(self, actor: Actor) -> None:
        self._run(lambda d: d.ship_replacement(carrier="DHL", tracking_number="JD", actor=actor,
                                               at=self.now))

    @rule(actor=acting(BUYER))
    def confirm_replacement(self, actor: Actor) -> None:
        self._run(lambda d: d.confirm_replacement(actor=actor, at=self.now, policy=POLICY))

    # The platform's part ------------------------------------------------------------------

    @rule(actor=OPERATORS, from_party=st.sampled_from(["buyer", "seller", "operator"]))
    def request_evidence(self, actor: Actor, from_party: str) -> None:
        request_id = f"RQ-{len(self.history)}"
        self._run(lambda d: d.request_evidence(request_id=request_id, from_party=from_party,
                                               note="photos", actor=actor, at=self.now,
                                               policy=POLICY))

    @rule(actor=OPERATORS, outcome=OUTCOMES, amount=AMOUNTS, return_required=st.booleans())
    def decide(self, actor: Actor, outcome: str, amount: Decimal | None,
               return_required: bool) -> None:
        self._run(lambda d: d.decide(outcome=outcome, refund_amount=amount,
                                     return_required=return_required, note="decided",
                                     actor=actor, at=self.now, policy=POLICY))

    @rule(actor=PARTIES)
    def add_evidence(self, actor: Actor) -> None:
        evidence_id = f"E-{len(self.history)}"
        self._run(lambda d: d.add_evidence(evidence_id=evidence_id, sha256="b" * 64,
                                           content_type="image/png", size=1024,
                                           filename="box.png", actor=actor, at=self.now,
                                           policy=POLICY))

    @rule(actor=PARTIES, appeal_id=IDS)
    def appeal(self, actor: Actor, appeal_id: str) -> None:
        fresh = [e.evidence_id for e in self.dispute.evidence.values()
                 if e.after_resolution and e.added_by == actor.role]
        self._run(lambda d: d.appeal(appeal_id=appeal_id, evidence_ids=fresh, reason="look again",
                                     actor=actor, at=self.now, policy=POLICY))

    @rule(actor=PARTIES, appeal_id=IDS)
    def a_party_appeals_with_new_evidence(self, actor: Actor, appeal_id: str) -> None:
        """What an appellant does in one go: add a file, then appeal with it."""
        self.add_evidence(actor)
        self.appeal(actor, appeal_id)

    @rule(actor=OPERATORS, outcome=APPEAL_OUTCOMES, extra=AMOUNTS)
    def decide_appeal(self, actor: Actor, outcome: str, extra: Decimal | None) -> None:
        appeal_id = self.dispute.appeals[-1].appeal_id if self.dispute.appeals else "A"
        self._run(lambda d: d.decide_appeal(appeal_id=appeal_id, outcome=outcome,
                                            extra_refund=extra, note="on appeal", actor=actor,
                                            at=self.now))

    @rule(actor=OPERATORS)
    def close(self, actor: Actor) -> None:
        self._run(lambda d: d.close(actor=actor, at=self.now))

    @rule(actor=acting(BUYER, SELLER, OPERATOR), text=st.text(max_size=20))
    def post_message(self, actor: Actor, text: str) -> None:
        message_id = f"M-{len(self.history)}"
        self._run(lambda d: d.post_message(message_id=message_id, text=text, actor=actor,
                                           at=self.now))

    @rule(actor=PARTIES, rating=st.integers(min_value=0, max_value=6))
    def leave_feedback(self, actor: Actor, rating: int) -> None:
        self._run(lambda d: d.leave_feedback(rating=rating, comment="", actor=actor, at=self.now))

    # Money learned from the refund service and the order service ----------------------------

    @rule()
    def refund_service_pays_what_is_awarded(self) -> None:
        """As the refund service does: it pays what was awarded and not paid yet, re-checked
        against what is still refundable at the moment of paying (DOMAIN.md)."""
        owed = min(self._awarded() - self._paid_by_dispute(), self.dispute.refundable_amount)
        if owed > 0:
            refund_id = f"R-{len(self.history)}"
            self._run(lambda d: d.record_refund_issued(refund_id=refund_id, amount=owed,
                                                       currency="USD", actor=SERVICE,
                                                       at=self.now))

    @rule(refunded=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2))
    def order_refunded_outside_the_dispute(self, refunded: Decimal) -> None:
        order = replace(ORDER, refunded_outside_disputes=refunded)
        event_id = f"OR-{len(self.history)}"
        self._run(lambda d: d.note_refund_outside_dispute(order=order, order_event_id=event_id,
                                                          actor=SERVICE, at=self.now))

    def _awarded(self) -> Decimal:
        resolution = self.dispute.resolution
        extras = sum((a.extra_refund or Decimal("0") for a in self.dispute.appeals), Decimal("0"))
        return (resolution.refund_amount if resolution else Decimal("0")) + extras

    def _paid_by_dispute(self) -> Decimal:
        return sum((r.amount for r in self.dispute.refunds.values()), Decimal("0"))

    # Invariants ---------------------------------------------------------------------------

    @invariant()
    def refunded_total_stays_within_the_paid_amount(self) -> None:
        assert Decimal("0") <= self.dispute.refunded_total <= self.dispute.paid_amount

    @invariant()
    def a_final_state_stays_final(self) -> None:
        if self.final_status is not None:
            assert self.dispute.status == self.final_status
        elif self.dispute.status in FINAL_STATES:
            self.final_status = self.dispute.status

    @invariant()
    def a_dispute_is_resolved_at_most_once_and_each_appeal_decided_once(self) -> None:
        names = [type(e).__name__ for e in self.history]
        assert names.count("Resolved") <= 1
        assert names.count("AppealDecided") <= names.count("Appealed") <= POLICY.max_appeals

    @invariant()
    def deadlines_only_move_forward(self) -> None:
        for name, due in self.dispute.deadlines.items():
            before = self.deadlines_before.get(name)
            assert before is None or due >= before, f"{name} moved from {before} to {due}"
        self.deadlines_before = dict(self.dispute.deadlines)

    @invariant()
    def no_deadline_is_left_due_after_a_step_of_the_runner(self) -> None:
        """Every step of the runner applies what is due at its time; a pause may leave some."""
        if self.dispute.deadlines and self.runner_stepped:
            assert min(self.dispute.deadlines.values()) > self.now

    @invariant()
    def the_stored_history_replays_to_the_live_state(self) -> None:
        stored = self.store.repository.get(self.dispute.id)
        assert stored.version == self.dispute.version
        assert _state(stored) == _state(self.dispute)

    def teardown(self) -> None:
        self.store.close()


def _state(dispute: Dispute) -> dict:
    return {k: v for k, v in vars(dispute).items() if k != "_pending_events"}


DisputeLifecycles.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_random_command_sequences_keep_the_dispute_invariants = DisputeLifecycles.TestCase
