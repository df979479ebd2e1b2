"""The API process's projections following the store together: one read of each shard's log
per round for all of them, each stored event decoded once, and every projection's rows and
position written in ONE transaction.

Each projection on its own (TrackedProjection.run) cost, per round, two connections for its
generation and position, a read of the log, a decode of every event and a transaction: under
load the rounds were small (a few events each), so three projections following the store
were a third of the API process's CPU, nearly all of it that per-round overhead.

Nothing about a projection's meaning changes: its rows and its position (per generation, per
shard, guarded by the position it started from) still commit together, and it stays
rebuildable from history. A round whose projections stand at different positions (one was
just rebuilt), or whose shared transaction fails for any reason (a row one projection cannot
write, another runner's batch first), is done again projection by projection
(TrackedProjection's own path), so one projection's trouble never holds the others back.

`batch_wait`: after a round that read something but less than a full batch, wait this long
before the next, so the next round carries the events of that time in one go (the lag this
adds is at most that long; a full batch is followed at once, an empty round waits
`poll_interval`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

import structlog
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from services.dispute.adapters.shards import shard_position_name
from services.dispute.projections.tracked import (PositionMoved, TrackedProjection, _set_position,
                                               projection_positions, projection_versions)

log = structlog.get_logger("projection")

# A round's three small statements, built once: building them anew every round (and SQLAlchemy
# working out each one's cache key) was most of a round's fixed cost of CPU.
_VERSIONS = select(projection_versions.c.name, projection_versions.c.version).where(
    projection_versions.c.name.in_(bindparam("names", expanding=True)))
_POSITIONS = select(projection_positions.c.name, projection_positions.c.position).where(
    projection_positions.c.name.in_(bindparam("names", expanding=True)))
_MOVE = (update(projection_positions)
         .where(projection_positions.c.name.in_(bindparam("names", expanding=True)),
                projection_positions.c.position == bindparam("expected"))
         .values(position=bindparam("moved_to"))
         .returning(projection_positions.c.name))


class ProjectionFollower:
    def __init__(self, projections: Sequence[TrackedProjection], batch_size: int = 500):
        if not projections:
            raise ValueError("nothing to follow")
        self.projections = list(projections)
        first = self.projections[0]
        self.engine, self.shards, self.batch_size = first.engine, first.shards, batch_size

    def follow_once(self) -> int:
        """One round over every shard; returns how many stored events were read (the largest
        read of a shard, summed over shards)."""
        done = 0
        for shard in range(len(self.shards)):
            try:
                done += self._round(shard)
            except Exception as error:  # that shard's database away: the others go on
                log.error("projection_failed", projection="*", shard=shard, error=repr(error))
        return done

    def catch_up(self) -> int:
        done = 0
        while (batch := self.follow_once()):
            done += batch
        return done

    async def run(self, stopping: asyncio.Event, poll_interval: float = 0.2,
                  batch_wait: float = 0.0) -> None:
        while not stopping.is_set():
            try:
                done = await asyncio.to_thread(self.follow_once)
            except Exception as error:  # keep following; the next round retries
                log.error("projection_failed", projection="*", error=repr(error))
                done = 0
            pause = 0.0 if done >= self.batch_size else batch_wait if done else poll_interval
            if pause:
                try:
                    await asyncio.wait_for(stopping.wait(), pause)
                except TimeoutError:
                    pass

    def _round(self, shard: int) -> int:
        with self.engine.connect() as conn:  # one connection for both reads
            tables = self._live_tables(conn)
            names = [shard_position_name(table.name, shard) for table in tables]
            stored: dict[str, int] = {name: position for name, position in
                                      conn.execute(_POSITIONS, {"names": names})}
        starts = [stored.get(name, 0) for name in names]
        if len(set(starts)) != 1:
            return self._one_by_one(tables, shard)
        start, source = starts[0], self.shards[shard]
        notifications = source.recorder.select_notifications(start, self.batch_size,
                                                              inclusive_of_start=False)
        if not notifications:
            return 0
        decoded = DecodedOnce(source)
        try:
            # inside the try: one projection failing to prepare (an event it cannot decode) must
            # not hold the others back; each is then followed alone, as before
            prepared = [p.prepare(notifications, decoded) for p in self.projections]
            with self.engine.begin() as conn:
                for projection, table, rows in zip(self.projections, tables, prepared):
                    projection.write(conn, table, rows)
                _set_positions(conn, names, notifications[-1].id, expected=start)
        except (PositionMoved, IntegrityError):
            return self._one_by_one(tables, shard)  # another runner came first: each sees to it
        except Exception as error:
            log.warning("projections_together_failed", shard=shard, error=repr(error)[:300])
            return self._one_by_one(tables, shard)
        return len(notifications)

    def _live_tables(self, conn) -> list:
        """Each projection's live generation's table, read in one query."""
        wanted = [p.name for p in self.projections if p.fixed_version is None]
        versions: dict[str, int] = {}
        if wanted:
            versions = dict(conn.execute(_VERSIONS, {"names": wanted}).all())
        return [p.table(p.fixed_version if p.fixed_version is not None else versions.get(p.name) or 1)
                for p in self.projections]

    def _one_by_one(self, tables: list, shard: int) -> int:
        done = 0
        for projection, table in zip(self.projections, tables):
            try:
                done = max(done, projection._catch_up_shard(table, shard))
            except PositionMoved:
                done = max(done, 1)  # another runner projected it: look again at once
            except Exception as error:
                log.error("projection_failed", projection=projection.name, shard=shard, error=repr(error))
        return done


def _set_positions(conn, names: list[str], position: int, expected: int) -> None:
    """Every name's position moved from `expected` to `position` in one statement; a name it
    did not move (none stored yet, or another runner's) goes the one-name way (tracked.py:
    inserted, or PositionMoved)."""
    moved = set(conn.execute(_MOVE, {"names": names, "expected": expected,
                                     "moved_to": position}).scalars())
    for name in names:
        if name not in moved:
            _set_position(conn, name, position, expected)


class DecodedOnce:
    """A shard application whose mapper decodes each stored event once per round, whichever
    projection asks first (the events are immutable; each projection only reads them)."""

    def __init__(self, shard: Any):
        self._shard = shard
        self.mapper = _MemoMapper(shard.mapper)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shard, name)


class _MemoMapper:
    def __init__(self, mapper: Any):
        self._mapper = mapper
        self._events: dict[tuple[Any, int], Any] = {}

    def to_domain_event(self, stored: Any) -> Any:
        key = (stored.originator_id, stored.originator_version)
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = self._mapper.to_domain_event(stored)
        return event

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mapper, name)

