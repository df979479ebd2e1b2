"""The command writer's batching semantics, one behavioural class run on SQLite (component)
and on PostgreSQL (integration): a subclass gives the `url` fixture of its store.

A "process" here is one DisputeApplication with its idempotency store and writer on the
shared database, as a second API process would have.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from services.common.database import sqlalchemy_engine
from services.dispute.adapters.idempotency_store import IdempotencyStore, KeyClaim
from services.dispute.adapters.order_book import OrderBook
from services.dispute.application import commands
from services.dispute.application.batch import Answered, Failed, Refused, Replay, Submission
from services.dispute.application.commands import Acting
from services.dispute.application.writer import CommandWriter, WriterSettings
from services.dispute.bootstrap import build_application
from services.dispute.domain import Actor, Role
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed

BUYER, SELLER = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1")


@dataclass
class Process:
    writer: CommandWriter
    orders: OrderBook

    @property
    def disputes(self):
        return self.writer.disputes

    def versions(self, dispute_id: UUID) -> int:
        return len(self.disputes.recorder.select_events(dispute_id))

    def kept_keys(self) -> int:
        with self.writer.keys.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM idempotency_keys").scalar_one()


def process_on(url: str) -> Process:
    settings = DisputeSettings(database_url=url)
    engine = sqlalchemy_engine(url)
    keys, orders = IdempotencyStore(engine), OrderBook(engine)
    keys.create_tables(), orders.create_tables()
    return Process(CommandWriter(build_application(settings), keys), orders)


def by(actor: Actor, at=NOW, correlation: str = "c-1") -> Acting:
    return Acting(actor, at, correlation, correlation)


def version_of(dispute) -> int:
    return dispute.version


def message(dispute_id: UUID, text: str, actor: Actor = BUYER, key: str | None = None,
            **more) -> Submission:
    claim = key and KeyClaim(f"{actor.role.value}:{actor.id}", key, f"print-{text}", NOW)
    return Submission(dispute_id, commands.PostMessage(str(uuid4()), text, "PARTIES"), by(actor),
                      version_of, key=claim, kept=lambda v: (201, "text/plain", {}, str(v)), **more)


def offer_by_buyer(dispute_id: UUID) -> Submission:
    command = commands.MakeOffer("OF-1", "PARTIAL_REFUND", None, None, "")
    return Submission(dispute_id, command, by(BUYER), version_of)


def messages_of(process: Process, dispute_id: UUID) -> list[str]:
    return [m.text for m in process.disputes.get_dispute(dispute_id).messages]


class WriterBehaviour:
    @pytest.fixture
    def one(self, url) -> Process:
        return process_on(url)

    @pytest.fixture
    def dispute_id(self, one) -> UUID:
        return self.open(one, "O-1")

    @staticmethod
    def open(process: Process, order_id: str) -> UUID:
        process.orders.apply(order_placed(order_id=order_id))
        command = commands.OpenDispute(process.orders.facts(order_id), "I-1", "DAMAGED",
                                       "FULL_REFUND", None)
        dispute_id, _ = process.disputes.dispute_ids_for_item(order_id, "I-1")
        [opened] = process.writer.run([Submission(dispute_id, command, by(BUYER), version_of)])
        assert opened == Answered(1)
        return dispute_id

    def test_a_refused_command_does_not_fail_the_others_in_its_batch(self, one, dispute_id):
        outcomes = one.writer.run([message(dispute_id, "a"), offer_by_buyer(dispute_id),
                                   message(dispute_id, "b", SELLER)])
        assert [type(o) for o in outcomes] == [Answered, Refused, Answered]
        assert outcomes[1].error.code == "NOT_YOUR_TURN"
        assert messages_of(one, dispute_id) == ["a", "b"]

    def test_a_refused_command_keeps_the_deadlines_that_fired_before_it(self, one, dispute_id):
        late = Submission(dispute_id, offer_by_buyer(dispute_id).command,
                          by(BUYER, NOW + timedelta(days=30)), version_of)
        [outcome] = one.writer.run([late])
        assert isinstance(outcome, Refused)
        assert one.versions(dispute_id) > 1  # the seller's missed deadline is stored

    def test_two_commands_on_one_dispute_in_a_batch_apply_in_arrival_order(self, one, dispute_id):
        outcomes = one.writer.run([message(dispute_id, "first"),
                                   message(dispute_id, "second", expected_version=2)])
        assert outcomes == [Answered(2), Answered(3)]
        assert messages_of(one, dispute_id) == ["first", "second"]

    def test_a_store_failure_fails_the_whole_batch_and_stores_nothing(self, one, dispute_id,
                                                                    monkeypatch):
        other = self.open(one, "O-2")
        insert = one.disputes.recorder._insert_events

        def fails_after_writing(curs, stored_events, **kwargs):
            insert(curs, stored_events, **kwargs)
            raise OperationalError("the disk went away")

        monkeypatch.setattr(one.disputes.recorder, "_insert_events", fails_after_writing)
        outcomes = one.writer.run([message(dispute_id, "a", key="k-1"), message(other, "b")])
        assert [type(o) for o in outcomes] == [Failed, Failed]
        assert one.writer.cache.get(dispute_id) is None and one.writer.cache.get(other) is None
        monkeypatch.undo()
        assert (one.versions(dispute_id), one.versions(other), one.kept_keys()) == (1, 1, 0)

    def test_a_retry_after_a_failed_batch_runs_the_command_once(self, one, dispute_id, monkeypatch):
        monkeypatch.setattr(one.disputes.recorder, "insert_events", _raise(OperationalError))
        assert isinstance(one.writer.run([message(dispute_id, "a", key="k-1")])[0], Failed)
        monkeypatch.undo()
        assert one.writer.run([message(dispute_id, "a", key="k-1")]) == [Answered(2)]
        [again] = one.writer.run([message(dispute_id, "a", key="k-1")])
        assert isinstance(again, Replay) and again.earlier.body == "2"
        assert messages_of(one, dispute_id) == ["a"]

    def test_one_key_twice_in_one_batch_records_the_command_once(self, one, dispute_id):
        first, second = one.writer.run([message(dispute_id, "a", key="k-1"),
                                        message(dispute_id, "a", key="k-1")])
        assert first == Answered(2) and isinstance(second, Replay)
        assert messages_of(one, dispute_id) == ["a"] and one.kept_keys() == 1

    def test_a_key_another_process_records_meanwhile_is_replayed(self, one, dispute_id, url,
                                                                 monkeypatch):
        two = process_on(url)
        lookups, lookup = [], one.writer.keys.live  # every look-up's rows are judged by `live`

        def looked_before_the_other_committed(rows, claims):
            lookups.append(claims)
            return {} if len(lookups) == 1 else lookup(rows, claims)

        monkeypatch.setattr(one.writer.keys, "live", looked_before_the_other_committed)
        assert two.writer.run([message(dispute_id, "a", key="k-1")]) == [Answered(2)]
        [late] = one.writer.run([message(dispute_id, "a", key="k-1")])
        assert isinstance(late, Replay) and late.earlier.body == "2"
        assert messages_of(one, dispute_id) == ["a"]

    def test_a_key_past_its_retention_runs_the_command_again(self, one, dispute_id):
        assert one.writer.run([message(dispute_id, "a", key="k-1")]) == [Answered(2)]
        one.writer.keys.retention = timedelta(0)  # the row recorded at NOW is now past it
        assert one.writer.run([message(dispute_id, "a", key="k-1")]) == [Answered(3)]
        assert messages_of(one, dispute_id) == ["a", "a"] and one.kept_keys() == 1

    def test_a_write_behind_another_processes_write_is_retried_on_the_stored_dispute(
            self, one, dispute_id, url):
        other = self.open(one, "O-2")
        one.writer.run([message(dispute_id, "mine")])  # cached at version 2
        process_on(url).writer.run([message(dispute_id, "theirs", SELLER)])  # now 3
        outcomes = one.writer.run([message(dispute_id, "again"), message(other, "unrelated")])
        assert outcomes == [Answered(4), Answered(2)]
        assert messages_of(one, dispute_id) == ["mine", "theirs", "again"]

    def test_a_refusal_is_judged_on_the_stored_dispute_not_a_stale_copy(self, one, dispute_id, url):
        one.writer.run([message(dispute_id, "mine")])  # cached: awaiting the seller
        offer = commands.MakeOffer("OF-1", "PARTIAL_REFUND", Decimal("30.00"), None, "")
        process_on(url).writer.run([Submission(dispute_id, offer, by(SELLER), version_of)])
        accept = Submission(dispute_id, commands.AcceptOffer("OF-1"), by(BUYER), version_of)
        [accepted] = one.writer.run([accept])
        assert isinstance(accepted, Answered)

    def test_an_expected_version_past_the_cached_one_reloads(self, one, dispute_id, url):
        one.writer.run([message(dispute_id, "mine")])  # cached at version 2
        process_on(url).writer.run([message(dispute_id, "theirs", SELLER)])
        assert one.writer.run([message(dispute_id, "next", expected_version=3)]) == [Answered(4)]

    def test_the_loser_of_a_race_alone_gets_a_conflict(self, one, dispute_id, monkeypatch):
        other = self.open(one, "O-2")
        insert = one.disputes.recorder.insert_events

        def race_lost_on_the_first(stored_events, **kwargs):
            if any(e.originator_id == dispute_id for e in stored_events):
                raise IntegrityError("another process saved this version first")
            return insert(stored_events, **kwargs)

        monkeypatch.setattr(one.disputes.recorder, "insert_events", race_lost_on_the_first)
        lost, won = one.writer.run([message(dispute_id, "a"), message(other, "b")])
        assert isinstance(lost, Refused) and lost.error.code == "CONCURRENCY_CONFLICT"
        assert won == Answered(2)

    @staticmethod
    def count_inserts(process: Process, monkeypatch, collisions: int = 0) -> list[int]:
        """The size of every insert the writer tries; the first `collisions` collide."""
        inserts: list[int] = []
        insert = process.disputes.recorder.insert_events

        def counted(stored_events, **kwargs):
            inserts.append(len(stored_events))
            if len(inserts) <= collisions:
                raise IntegrityError("another process saved this version first")
            return insert(stored_events, **kwargs)

        monkeypatch.setattr(process.disputes.recorder, "insert_events", counted)
        return inserts

    def test_a_batch_behind_another_process_is_caught_up_and_stored_at_once(
            self, one, dispute_id, url, monkeypatch):
        """Two API processes on the same disputes: the cached copies are brought up to date
        before the batch runs (no collision, no reload), one transaction for the batch."""
        other = self.open(one, "O-2")
        one.writer.run([message(dispute_id, "mine"), message(other, "mine too")])  # cached
        process_on(url).writer.run([message(dispute_id, "theirs", SELLER)])
        inserts = self.count_inserts(one, monkeypatch)
        outcomes = one.writer.run([message(dispute_id, "again"), message(other, "again")])
        assert outcomes == [Answered(4), Answered(3)]
        assert inserts == [2]
        assert messages_of(one, dispute_id) == ["mine", "theirs", "again"]
        assert one.writer.cache.get(dispute_id).dispute.version == 4

    def test_a_batch_that_collides_is_stored_again_as_one_batch(self, one, dispute_id, monkeypatch):
        other = self.open(one, "O-2")
        inserts = self.count_inserts(one, monkeypatch, collisions=1)
        outcomes = one.writer.run([message(dispute_id, "a"), message(other, "b")])
        assert outcomes == [Answered(2), Answered(2)]
        assert inserts == [2, 2]  # the batch, then the same batch on fresh loads

    def test_a_valid_command_that_loses_races_is_decided_again_not_refused(self, one, dispute_id,
                                                                          monkeypatch):
        insert, lost = one.disputes.recorder.insert_events, []

        def lost_twice(stored_events, **kwargs):
            if len(lost) < 3:  # the batch, its fresh retry, then the first attempt alone
                lost.append(1)
                raise IntegrityError("another process saved this version first")
            return insert(stored_events, **kwargs)

        monkeypatch.setattr(one.disputes.recorder, "insert_events", lost_twice)
        assert one.writer.run([message(dispute_id, "a")]) == [Answered(2)]
        assert messages_of(one, dispute_id) == ["a"]

    def test_a_stale_expected_version_is_still_a_conflict(self, one, dispute_id, url):
        """Only the client's own precondition makes a conflict of a newer dispute."""
        one.writer.run([message(dispute_id, "mine")])  # version 2, cached
        process_on(url).writer.run([message(dispute_id, "theirs", SELLER)])  # now 3
        [late] = one.writer.run([message(dispute_id, "next", expected_version=2)])
        assert isinstance(late, Refused) and late.error.code == "CONCURRENCY_CONFLICT"
        assert messages_of(one, dispute_id) == ["mine", "theirs"]

    def test_no_answer_before_the_batch_commits(self, one, dispute_id, monkeypatch):
        entered, release = threading.Event(), threading.Event()
        insert = one.disputes.recorder.insert_events

        def held(stored_events, **kwargs):
            entered.set()
            release.wait(30)
            return insert(stored_events, **kwargs)

        monkeypatch.setattr(one.disputes.recorder, "insert_events", held)
        answers: list = []
        submitted = message(dispute_id, "a")
        caller = threading.Thread(target=lambda: answers.append(asyncio.run(one.writer.submit(submitted))))
        caller.start()
        assert entered.wait(30)
        caller.join(0.2)
        assert answers == [] and one.versions(dispute_id) == 1
        release.set()
        caller.join(30)
        assert answers == [2] and one.versions(dispute_id) == 2

    def test_the_callers_of_a_batch_are_answered_by_one_wake_up_of_their_loop(self, one, dispute_id):
        writer = CommandWriter(one.disputes, one.writer.keys, WriterSettings(max_batch=3, max_wait=5))
        wake_ups = []

        async def three_at_once():
            loop = asyncio.get_running_loop()
            original = loop.call_soon_threadsafe
            loop.call_soon_threadsafe = lambda *args, **kwargs: wake_ups.append(1) or original(*args, **kwargs)
            return await asyncio.gather(*(writer.submit(message(dispute_id, text)) for text in "abc"))

        try:
            answers = asyncio.run(three_at_once())
        finally:
            writer.close()
        assert sorted(answers) == [2, 3, 4] and sorted(messages_of(one, dispute_id)) == ["a", "b", "c"]
        assert len(wake_ups) == 1  # one batch (max_batch 3), one callback for its three callers

    def test_a_caller_whose_settling_fails_leaves_no_one_waiting(self, one, dispute_id, monkeypatch):
        writer = CommandWriter(one.disputes, one.writer.keys, WriterSettings(max_batch=3, max_wait=5))
        settle, settled = writer._settle, []

        def second_fails(pending, outcome):
            settled.append(pending)
            if len(settled) == 2:
                raise RuntimeError("a metric's registry refused the sample")
            settle(pending, outcome)

        monkeypatch.setattr(writer, "_settle", second_fails)

        async def three_then_one():
            answers = await asyncio.wait_for(asyncio.gather(
                *(writer.submit(message(dispute_id, text)) for text in "abc")), 30)
            return answers, await asyncio.wait_for(writer.submit(message(dispute_id, "d")), 30)

        try:
            answers, later = asyncio.run(three_then_one())
        finally:
            writer.close()
        # every caller of the batch answered, and the writer's thread still takes commands
        assert sorted(answers) == [2, 3, 4] and later == 5
        assert sorted(messages_of(one, dispute_id)) == ["a", "b", "c", "d"]


def _raise(error):
    def failing(*_args, **_kwargs):
        raise error("the database is restarting")
    return failing
