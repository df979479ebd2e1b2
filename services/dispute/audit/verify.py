"""audit verify: walk the store once, in notification order, check every dispute's keyed chain
and compare it with the signed checkpoints (audit/checkpoints.py); report every finding.

Kinds of finding, each with the dispute id and version:
  edited          one event's content does not match its (original) hash
  rehashed        hashes from this version on were recomputed without the key
  hash_missing    an event after the legacy point has no keyed hash (stripped, or forged)
  unknown_key     a hash names a key id that is not configured
  event_missing   a gap in a dispute's versions (events deleted)
  tail_missing    a checkpoint recorded a later version than the store holds (tail deleted)
  head_rewritten  the stored hash at a checkpointed version is not the checkpointed one
  unreadable      a stored state that cannot be decoded
  checkpoint_refused  a checkpoint whose signature does not match (dispute and version unknown)

Memory: a small head per dispute for the KEPT_HEADS disputes touched last, for any whose chain
is in doubt (a legacy chain, tampered), and one per checkpointed dispute; never the events. A
dispute seen again after its head was dropped has it read back from the last of its events the
walk passed (one query), so memory follows the disputes active at once, not the history's
length (one head per dispute was ~320 bytes: 92 MB at 1,000,000 events). A store whose recorder
keeps no notification ids (in memory) keeps every head.
A sharded store is walked shard after shard (`verify_shards`), each against the checkpointed
heads of its own disputes; every finding names its shard.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from functools import partial
from itertools import chain
from typing import Any, Callable
from uuid import UUID

from services.dispute.adapters.replay_reads import last_walked, reads_last_walked
from services.dispute.adapters.shards import shard_apps, shard_index
from services.dispute.audit.history import head, notifications
from services.dispute.adapters.audit_chain import GENESIS, ChainKeys, UnknownKey, chain_message, legacy_hash
from services.dispute.audit.checkpoints import CheckpointBook

Progress = Callable[[int, int], None]
BATCH = 1000
KEPT_FINDINGS = 1000


@dataclass
class Finding:
    kind: str
    dispute_id: str | None
    version: int | None
    notification_id: int | None
    detail: str
    shard: int = 0


@dataclass
class ChainReport:
    events: int = 0
    disputes: int = 0
    legacy: int = 0
    checkpoints: int = 0
    checkpointed_disputes: int = 0
    uncheckpointed: int = 0  # disputes of the store no checkpoint mentions (yet)
    findings: list[Finding] = field(default_factory=list)
    problems: int = 0

    @property
    def ok(self) -> bool:
        return self.problems == 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class _Head:
    version: int = 0
    hash: str = GENESIS
    keyed: bool = False  # a keyed event was seen: every later one must be keyed too
    resync: bool = False  # the previous hash is unknown (gap, stripped): its link is not checked
    run: tuple[int, int] | None = None  # (version, notification id) where mismatches began
    run_length: int = 0
    legacy_upto: int = 0  # the last legacy version: the first keyed event also covers 1..it

    @property
    def settled(self) -> bool:
        """Its last event verified under a key: the head is that event's stored hash and
        version, all a later event needs (`legacy_upto` only names a run that began right
        after it, and such a run is not settled), so it can be read back from the store."""
        return self.keyed and not self.resync and self.run is None


class ChainWalk:
    KEPT_HEADS = 50_000
    """Heads kept in memory, least recently touched dropped first (~400 bytes each, ~20 MB;
    `audit verify --heads`): the disputes active at once in a window of history. A dispute
    beyond them costs one read of its last event when it comes back (~0.2 ms: a walk where
    every event comes back runs ~6x slower), never a wrong verdict. Heads that are not
    `settled` (a legacy chain's computed hash, a run of mismatches) are never dropped."""

    def __init__(self, mapper, keys: ChainKeys, legacy_until: int, book: CheckpointBook | None,
                 recorder=None, kept_heads: int | None = None):
        self.mapper, self.keys, self.legacy_until = mapper, keys, legacy_until
        self.kept_heads = self.KEPT_HEADS if kept_heads is None else kept_heads
        self.book, self.report, self.recorder = book, ChainReport(), recorder
        self.bounded = recorder is not None and reads_last_walked(recorder)
        self.dropped = False  # a head was dropped: a dispute not in memory may have been seen
        self.heads: OrderedDict[UUID, _Head] = OrderedDict()  # least recently touched first
        self.unsettled: dict[UUID, _Head] = {}  # pushed out of `heads` but never dropped
        self.held: dict[UUID, int] = {}  # last version of a checkpointed dispute whose head was dropped
        self.disputes = 0

    def found(self, kind: str, dispute_id: Any, version: int | None, notification_id: int | None,
              detail: str) -> None:
        self.report.problems += 1
        if len(self.report.findings) < KEPT_FINDINGS:
            self.report.findings.append(Finding(kind, dispute_id and str(dispute_id), version,
                                                notification_id, detail))

    def check(self, n) -> None:
        head = self._head(n)
        self.report.events += 1
        if n.originator_version != head.version + 1:
            self._end_run(n.originator_id, head)
            self.found("event_missing", n.originator_id, n.originator_version, n.id,
                       f"versions {head.version + 1}..{n.originator_version - 1} are missing: deleted")
            head.resync = True
        head.version = n.originator_version
        try:
            state, meta = self.mapper.decoded(n)
        except Exception as error:
            self.found("unreadable", n.originator_id, n.originator_version, n.id,
                       f"stored state cannot be decoded ({type(error).__name__})")
            head.resync = True
            return
        stored_hash = meta.pop("hash", None)
        self._against_checkpoint(n, stored_hash)
        if meta.get("key_id") is None or stored_hash is None:
            self._unkeyed(n, head, state, stored_hash, meta.get("key_id"))
        else:
            self._keyed(n, head, state, meta, stored_hash)

    def _head(self, n) -> _Head:
        dispute_id = n.originator_id
        head = self.heads.get(dispute_id)
        if head is not None:
            self.heads.move_to_end(dispute_id)
            return head
        head = self.unsettled.pop(dispute_id, None) or self._read_back(n)
        self.heads[dispute_id] = head
        while self.bounded and len(self.heads) > self.kept_heads:
            gone_id, gone = self.heads.popitem(last=False)
            if not gone.settled:
                self.unsettled[gone_id] = gone
                continue
            self.dropped = True
            if self.book is not None and gone_id in self.book.recorded:
                self.held[gone_id] = gone.version
        return head

    def _read_back(self, n) -> _Head:
        """The head of a dispute not in memory: a new dispute's, unless the walk passed one of
        its events before (then its head was dropped, settled) and it is read back from the
        last of them. Before any head was dropped, every dispute not in memory is new; after,
        a version 1 is taken as new without asking the store (one query for every new dispute
        would double a long walk's time): only a first event deleted and inserted again later
        in the log, whose dispute's head was dropped meanwhile, then starts a chain of its
        own (and counts its dispute twice), the deletion still named at the event after it."""
        if self.dropped and n.originator_version > 1:
            last = last_walked(self.recorder, n.originator_id, n.id)
            if last is not None:
                self.held.pop(n.originator_id, None)
                return self._head_of(last)
        self.disputes += 1
        return _Head()

    def _head_of(self, stored) -> _Head:
        """A dropped head again: its event was verified when the walk passed it (a head is
        only dropped settled), so its stored hash is the link the next event must chain from."""
        try:
            stored_hash = self.mapper.stored_link(stored)[0]
        except Exception:  # changed since it was verified: the next link cannot be checked
            stored_hash = None
        return _Head(stored.originator_version, stored_hash or GENESIS, keyed=True,
                     resync=stored_hash is None)

    def _against_checkpoint(self, n, stored_hash: str | None) -> None:
        recorded = self.book and self.book.recorded.get(n.originator_id)
        if recorded and recorded.version == n.originator_version and recorded.hash != stored_hash:
            self.found("head_rewritten", n.originator_id, n.originator_version, n.id,
                       f"the checkpoint of {recorded.at.isoformat()} (position {recorded.position}) "
                       f"recorded hash {recorded.hash}, the store has {stored_hash}")

    def _unkeyed(self, n, head: _Head, state: dict, stored_hash: str | None, key_id: str | None) -> None:
        if key_id is None and not head.keyed and n.id <= self.legacy_until:
            self.report.legacy += 1
            head.legacy_upto = n.originator_version
            head.hash = legacy_hash(head.hash, n.topic, n.originator_id, n.originator_version, state)
            return
        self._end_run(n.originator_id, head)
        what = "no hash" if stored_hash is None else "a hash without a key id"
        self.found("hash_missing", n.originator_id, n.originator_version, n.id,
                   f"has {what}: stripped (only events up to notification {self.legacy_until}, "
                   "before any keyed one of their dispute, may lack a keyed hash)")
        head.keyed, head.resync = True, True

    def _keyed(self, n, head: _Head, state: dict, meta: dict, stored_hash: str) -> None:
        head.keyed = True
        message = chain_message(head.hash, n.topic, n.originator_id, n.originator_version, state, meta)
        try:
            expected = self.keys.sign(message, meta["key_id"])
        except UnknownKey:
            self._end_run(n.originator_id, head)
            self.found("unknown_key", n.originator_id, n.originator_version, n.id,
                       f"hashed with key id {meta['key_id']!r}, which is not configured")
            head.hash, head.resync = stored_hash, True
            return
        if head.resync or expected == stored_hash:
            self._end_run(n.originator_id, head)
        elif head.run is None:
            head.run, head.run_length = (n.originator_version, n.id), 1
        else:
            head.run_length += 1
        head.hash, head.resync = stored_hash, False

    def _end_run(self, dispute_id: UUID, head: _Head) -> None:
        """A mismatch followed by a good link is one edited event; a run of them, a chain
        recomputed without the key (the next link fails too, its hash is not keyed)."""
        if head.run is None:
            return
        (version, notification_id), length = head.run, head.run_length
        if length == 1:
            self.found("edited", dispute_id, version, notification_id,
                       "its content does not match its hash: edited" + (
                           f" (or a legacy version 1..{head.legacy_upto} it covers)"
                           if head.legacy_upto and version == head.legacy_upto + 1 else ""))
        else:
            self.found("rehashed", dispute_id, version, notification_id,
                       f"versions {version}..{version + length - 1} do not chain under the key: "
                       "hashes recomputed without it")
        head.run, head.run_length = None, 0

    def finish(self) -> ChainReport:
        # the runs still open, in the order they began in the log (as every other finding)
        open_runs = sorted(((d, h) for d, h in chain(self.heads.items(), self.unsettled.items())
                            if h.run is not None), key=lambda item: item[1].run[1])  # type: ignore[index]
        for dispute_id, last in open_runs:
            self._end_run(dispute_id, last)
        if self.book is not None:
            self._tails_against_checkpoints(self.book)
        self.report.disputes = self.disputes
        return self.report

    def _held_version(self, dispute_id: UUID) -> int:
        """The last version the walk saw of the dispute (0: none)."""
        last = self.heads.get(dispute_id) or self.unsettled.get(dispute_id)
        return last.version if last is not None else self.held.get(dispute_id, 0)

    def _tails_against_checkpoints(self, book: CheckpointBook) -> None:
        self.report.checkpoints, self.report.checkpointed_disputes = book.read, len(book.recorded)
        self.report.uncheckpointed = self.disputes - sum(1 for d in book.recorded if self._held_version(d))
        for refused in book.refused:
            self.found("checkpoint_refused", None, None, None, f"{refused.where}: {refused.problem}")
        for dispute_id, recorded in book.recorded.items():
            held = self._held_version(dispute_id)
            if recorded.version > held:
                self.found("tail_missing", dispute_id, held + 1, None,
                           f"the checkpoint of {recorded.at.isoformat()} (position {recorded.position}) "
                           f"recorded version {recorded.version}, the store ends at version {held}: "
                           f"versions {held + 1}..{recorded.version} deleted")


def verify(app, checkpoints: CheckpointBook | None = None, legacy_until: int = 0,
           progress: Progress | None = None, kept_heads: int | None = None) -> ChainReport:
    """Walk the store and check every dispute's keyed chain (read `checkpoints` before the
    store, so the store can only be ahead of them); `kept_heads`: ChainWalk.KEPT_HEADS."""
    walk = ChainWalk(app.mapper, app.chain_keys, legacy_until, checkpoints, app.recorder, kept_heads)
    total = head(app.recorder)
    for n in notifications(app.recorder):
        walk.check(n)
        if progress and walk.report.events % BATCH == 0:
            progress(walk.report.events, total)
    if progress:
        progress(walk.report.events, total)
    return walk.finish()


def verify_shards(store, checkpoints: CheckpointBook | None = None, legacy_until: int = 0,
                  progress: Progress | None = None, kept_heads: int | None = None) -> ChainReport:
    """`verify` over every shard of the store, as one report (`legacy_until` is a notification
    id: it applies to the first shard, the store as it was before it was sharded)."""
    shards = shard_apps(store)
    total, merged = sum(head(s.recorder) for s in shards), ChainReport()
    for index, shard in enumerate(shards):
        book = checkpoints.restricted(partial(_in_shard, index, len(shards)), with_refused=index == 0) \
            if checkpoints is not None else None
        step = partial(_overall, progress, merged.events, total) if progress else None
        report = verify(shard, book, legacy_until if index == 0 else 0, step, kept_heads)
        _merge(merged, report, index)
    return merged


def _in_shard(shard: int, count: int, dispute_id: UUID) -> bool:
    return shard_index(dispute_id, count) == shard


def _overall(progress: Progress, before: int, total: int, done: int, _shard_total: int) -> None:
    progress(before + done, total)


def _merge(merged: ChainReport, report: ChainReport, shard: int) -> None:
    for name in ("events", "disputes", "legacy", "checkpoints", "checkpointed_disputes",
                 "uncheckpointed", "problems"):
        setattr(merged, name, getattr(merged, name) + getattr(report, name))
    room = KEPT_FINDINGS - len(merged.findings)
    merged.findings.extend(Finding(**{**asdict(f), "shard": shard}) for f in report.findings[:room])
