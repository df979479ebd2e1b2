"""The dispute application: load, one domain call, save. Persistence is chosen by environment."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper

from services.dispute.adapters.audit_chain import DEV_KEYS, GENESIS, ChainKeys, legacy_digest
from services.dispute.adapters.event_store import ContextMapper, hash_chain
from services.dispute.adapters.keyed_recorders import recorder_topic
from services.dispute.domain import Dispute, DisputeIds, DisputePolicy, DomainError, OrderFacts
from services.dispute.domain.values import FINAL_STATES, Actor, Role

T = TypeVar("T")


def dispute_not_found(dispute_id: UUID) -> DomainError:
    """The one answer for a dispute that does not exist, and for one the caller may not see."""
    return DomainError(f"no dispute {dispute_id}", code="DISPUTE_NOT_FOUND")


def may_act_on(buyer_id: str, seller_id: str, actor: Actor) -> bool:
    """Operators and services may act on any dispute; a buyer or seller only on their order's."""
    own = {Role.BUYER: buyer_id, Role.SELLER: seller_id}.get(actor.role)
    return actor.role not in (Role.BUYER, Role.SELLER) or own == actor.id


class DisputeApplication(Application):
    name = "disputes"
    mapper: ContextMapper  # construct_mapper's class, with the chain's links and one decode

    # With database functions eventsourcing inserts without its table lock: notification ids
    # could then commit out of order and the relay or a projection skip one for good.
    PINNED = {"POSTGRES_ENABLE_DB_FUNCTIONS": "n", "DISPUTES_POSTGRES_ENABLE_DB_FUNCTIONS": "n"}

    def __init__(self, env: dict[str, str], *, ids: DisputeIds,
                 policy: DisputePolicy | None = None, chain_keys: ChainKeys = DEV_KEYS):
        recorder = recorder_topic(env.get("PERSISTENCE_MODULE"))
        keyed = {"APPLICATION_RECORDER_TOPIC": recorder} if recorder else {}
        super().__init__(env={**env, **self.PINNED, **keyed})
        self.ids, self.policy, self.chain_keys = ids, policy or DisputePolicy(), chain_keys

    def construct_mapper(self) -> Mapper:
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=ContextMapper)

    def save(self, *objs: Any, **kwargs: Any):
        """Store the pending events, each chained to its dispute's previous event
        (adapters/event_store.py)."""
        heads = {obj.id: self.chain_head(obj.id, pending[0].originator_version)
                 for obj in objs if (pending := getattr(obj, "_pending_events", None))}
        with hash_chain(heads, self.chain_keys):
            return super().save(*objs, **kwargs)

    def chain_head(self, dispute_id: UUID, first_pending_version: int) -> str:
        """The hash the next event chains from: the last event's keyed hash or, for a dispute
        stored before the chain was keyed, the legacy digest of all its events
        (adapters/audit_chain.py)."""
        if first_pending_version == 1:
            return GENESIS
        last = self.recorder.select_events(dispute_id, lte=first_pending_version - 1, desc=True, limit=1)
        found, key_id = self.mapper.stored_link(last[0]) if last else (None, None)
        if found is not None and key_id is not None:
            return found
        stored = self.recorder.select_events(dispute_id, lte=first_pending_version - 1)
        return legacy_digest((s.topic, s.originator_id, s.originator_version, self.mapper.decoded(s)[0])
                             for s in stored)

    def open_dispute(self, *, order: OrderFacts, item_id: str, actor: Actor, reason: str,
                     request: str, request_amount: Any, description: str, at: datetime) -> Dispute:
        """One dispute per (order, item): none under the item's keyed id, nor under the id a
        dispute opened before keyed ids carries (no new one is ever created under that)."""
        dispute = self.new_dispute(order=order, item_id=item_id, actor=actor, reason=reason,
                                   request=request, request_amount=request_amount,
                                   description=description, at=at)
        dispute_id = dispute.id
        try:
            self.save(dispute)
        except IntegrityError:
            self._refuse_second_dispute(dispute_id)
            raise
        return dispute

    def new_dispute(self, *, order: OrderFacts, item_id: str, actor: Actor, reason: str,
                    request: str, request_amount: Any, description: str, at: datetime,
                    known: Dispute | None = None) -> Dispute:
        """The dispute opened, not saved yet; refused when the item has one (`known`: the
        dispute under its keyed id, when the caller holds it already)."""
        dispute_id, former_id = self.ids.for_item(order.order_id, item_id)
        if known is not None:
            raise second_dispute(known)
        self._refuse_second_dispute(former_id)
        self._refuse_second_dispute(dispute_id)
        return Dispute.open(dispute_id=dispute_id, order=order, item_id=item_id, actor=actor,
                            reason=reason, request=request, request_amount=request_amount,
                            description=description, at=at, policy=self.policy)

    def dispute_ids_for_item(self, order_id: str, item_id: str) -> tuple[UUID, UUID]:
        """Every id the item's dispute may exist under (keyed, then former uuid5)."""
        return self.ids.for_item(order_id, item_id)

    def get_dispute(self, dispute_id: UUID, version: int | None = None) -> Dispute:
        """The dispute now, or as it stood at `version`."""
        try:
            return self.repository.get(dispute_id, version=version)
        except AggregateNotFoundError:
            raise dispute_not_found(dispute_id) from None

    def parties_of(self, dispute_id: UUID) -> tuple[str, str]:
        """(buyer id, seller id), read from the dispute's first event alone (they never change):
        what a check for strangers needs, without loading the whole stream."""
        opened = self.get_dispute(dispute_id, version=1)
        return opened.buyer_id, opened.seller_id

    def execute(self, dispute_id: UUID, at: datetime, command: Callable[[Dispute], T],
                expected_version: int | None = None,
                actor: Actor | None = None) -> tuple[Dispute, T]:
        """Load the dispute once; a buyer or seller `actor` who is not its party gets the
        answer of a dispute that does not exist. Apply due deadlines first (a late command is
        late even before the timer fires), then the command; a stale `expected_version` is a
        concurrency conflict."""
        dispute = self.get_dispute(dispute_id)
        self.check_may_change(dispute, expected_version, actor)
        try:
            result = self.decide(dispute, at, command)
        except DomainError:
            self._save_or_conflict(dispute)
            raise
        self._save_or_conflict(dispute)
        return dispute, result

    @staticmethod
    def check_may_change(dispute: Dispute, expected_version: int | None = None,
                         actor: Actor | None = None) -> None:
        """A buyer or seller `actor` who is not a party gets the answer of a dispute that does
        not exist; a stale `expected_version` is a concurrency conflict."""
        if actor is not None and not may_act_on(dispute.buyer_id, dispute.seller_id, actor):
            raise dispute_not_found(dispute.id)
        if expected_version is not None and expected_version != dispute.version:
            raise DomainError("the dispute has changed since you read it",
                              code="CONCURRENCY_CONFLICT", current_version=dispute.version)

    def decide(self, dispute: Dispute, at: datetime, command: Callable[[Dispute], T]) -> T:
        """Due deadlines first (a late command is late even before the timer fires), then the
        command, on the dispute in memory: the events stay pending, even after a refusal."""
        dispute.expire_due_deadlines(at=at, policy=self.policy)
        return command(dispute)

    def fire_deadlines(self, dispute_id: UUID, at: datetime) -> list[str]:
        """The timer command: apply every deadline due at `at`; the names of those that fired."""
        dispute = self.get_dispute(dispute_id)
        fired = dispute.expire_due_deadlines(at=at, policy=self.policy)
        if fired:
            self._save_or_conflict(dispute)
        return fired

    def _save_or_conflict(self, dispute: Dispute) -> None:
        try:
            self.save(dispute)
        except IntegrityError:
            raise DomainError("another change to this dispute was saved first; retry",
                              code="CONCURRENCY_CONFLICT") from None

    def _refuse_second_dispute(self, dispute_id: UUID) -> None:
        try:
            existing: Dispute = self.repository.get(dispute_id)
        except AggregateNotFoundError:
            return
        raise second_dispute(existing)


def second_dispute(existing: Dispute) -> DomainError:
    """The refusal of a second dispute for the item `existing` is about."""
    code = ("DISPUTE_PREVIOUSLY_CLOSED_FOR_ITEM" if existing.status in FINAL_STATES
            else "DISPUTE_ALREADY_EXISTS_FOR_ITEM")
    return DomainError("this item already has a dispute", code=code,
                       existing_dispute_id=str(existing.id))
