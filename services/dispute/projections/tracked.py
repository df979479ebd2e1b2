"""Tracked projections of the event store, each rebuildable without downtime.

A projection's rows live in a physical table per generation: `<name>` for the first,
`<name>_v<N>` after rebuilds. `projection_versions` names the live generation; readers
resolve it per request. Each generation has its own position in `projection_positions`
(keyed by the physical table name), written in the same transaction as its rows, guarded by
the position the batch started from, so two runners never apply one batch twice.

A sharded store has one notification log per shard: a generation keeps one position per
shard (`<table>` for the first, `<table>@<shard>` for the others, adapters/shards.py) and
follows every log. Rows are per dispute and a dispute lives in one shard, so the order
between shards never matters.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterable, Sequence

import structlog
from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.common.database import create_missing_indexes
from services.dispute.adapters.part_reads import part_notifications
from services.dispute.adapters.replay_reads import read_notifications
from services.dispute.adapters.shards import shard_apps, shard_position_name

log = structlog.get_logger("projection")
metadata = MetaData()
projection_positions = Table(
    "projection_positions", metadata,
    Column("name", String(64), primary_key=True), Column("position", BigInteger, nullable=False),
)
projection_versions = Table(
    "projection_versions", metadata,
    Column("name", String(64), primary_key=True), Column("version", Integer, nullable=False),
)


class PositionMoved(Exception):
    """Another runner projected the same batch first; its rows are already there."""


class VersionMoved(Exception):
    """The live generation changed under a switch-over (another rebuild won)."""


def physical_name(name: str, version: int) -> str:
    return name if version == 1 else f"{name}_v{version}"


def live_version(conn, name: str) -> int:
    value = conn.execute(select(projection_versions.c.version)
                         .where(projection_versions.c.name == name)).scalar()
    return value or 1


def switch_live_version(conn, name: str, old: int, new: int) -> None:
    moved = conn.execute(update(projection_versions)
                         .where(projection_versions.c.name == name,
                                projection_versions.c.version == old)
                         .values(version=new)).rowcount
    if moved:
        return
    if old == 1 and conn.execute(select(projection_versions.c.version)
                                 .where(projection_versions.c.name == name)).scalar() is None:
        conn.execute(insert(projection_versions).values(name=name, version=new))
        return
    raise VersionMoved(name)


class TrackedProjection:
    """Subclasses name the projection, define its table and turn a batch into writes:
    `prepare(notifications, shard)` outside the transaction (`shard`: the application whose
    log they come from), `write(conn, table, prepared)` inside. `app` is the store followed:
    one application, or a sharded store (every shard's log)."""

    name: str = ""

    def __init__(self, app, engine: Engine, batch_size: int = 500, version: int | None = None):
        self.app, self.engine, self.batch_size = app, engine, batch_size
        self.shards = shard_apps(app)
        self.fixed_version = version
        self._tables: dict[int, Table] = {}

    def define_table(self, table_name: str, meta: MetaData) -> Table:
        raise NotImplementedError

    def prepare(self, notifications: Sequence[Any], shard: Any) -> Any:
        return notifications

    def write(self, conn, table: Table, prepared: Any) -> None:
        raise NotImplementedError

    def held_back(self) -> Iterable[Any]:
        """What the batches of a `fresh` generation held back from `write` (the rows of disputes
        still being followed), handed over once, in parts each as `prepare` gives a batch."""
        return ()

    def write_held_back(self, conn, table: Table) -> None:
        """Write what the generation's batches held back: before its switch, at a part's end."""
        for prepared in self.held_back():
            self.write(conn, table, prepared)

    def table(self, version: int) -> Table:
        if version not in self._tables:
            self._tables[version] = self.define_table(physical_name(self.name, version), MetaData())
        return self._tables[version]

    def version(self) -> int:
        if self.fixed_version is not None:
            return self.fixed_version
        with self.engine.connect() as conn:
            return live_version(conn, self.name)

    def live_table(self) -> Table:
        return self.table(self.version())

    def create_tables(self) -> None:
        metadata.create_all(self.engine)
        live = self.table(self.version())
        live.metadata.create_all(self.engine)
        create_missing_indexes(self.engine, live)  # an index added since the generation was made

    def position(self, shard: int = 0) -> int:
        """The last notification id of shard `shard`'s log the live generation has projected."""
        with self.engine.connect() as conn:
            return _position(conn, shard_position_name(self.live_table().name, shard))

    def positions(self) -> list[int]:
        """The live generation's position in each shard's log, in shard order."""
        name = self.live_table().name
        with self.engine.connect() as conn:
            return [_position(conn, shard_position_name(name, i)) for i in range(len(self.shards))]

    def catch_up_once(self) -> int:
        """Project the next batch of stored events of each shard; returns how many were read."""
        table = self.live_table()
        return sum(self._catch_up_shard(table, i) for i in range(len(self.shards)))

    def _follow_every_shard(self) -> int:
        """One batch of each shard; a shard that fails (its database away) is logged and
        retried next round while the others' events go on being projected."""
        table, done = self.live_table(), 0
        for shard in range(len(self.shards)):
            try:
                done += self._catch_up_shard(table, shard)
            except PositionMoved:
                done += 1  # another runner projected it: look again at once
            except Exception as error:
                log.error("projection_failed", projection=self.name, shard=shard, error=repr(error))
        return done

    def _catch_up_shard(self, table: Table, shard: int) -> int:
        source, name = self.shards[shard], shard_position_name(table.name, shard)
        with self.engine.connect() as conn:
            start = _position(conn, name)
        notifications = (read_notifications(source.recorder, start, self.batch_size) if self.replaying
                         else source.recorder.select_notifications(start, self.batch_size,
                                                                   inclusive_of_start=False))
        if not notifications:
            return 0
        prepared = self.prepare(notifications, source)
        try:
            with self.engine.begin() as conn:
                self.write(conn, table, prepared)
                _set_position(conn, name, notifications[-1].id, expected=start)
        except IntegrityError:
            # Two runners (two API processes) read the same batch: the other one's rows, then
            # its position, got in first. Nothing was written twice; it is not a failure.
            if self.position(shard) != start:
                raise PositionMoved(name) from None
            raise
        return len(notifications)

    replaying = False
    """True in a rebuild: the log is read by `read_notifications` (the same rows, less CPU);
    the projections following the store read it through the recorder as before."""

    fresh = False
    """True while a rebuild fills its generation, before the switch: nobody else writes it and
    every row is new (a projection may then write without looking for stored ones), and rows
    may be held back from a batch's write until the generation is finished (`held_back`):
    a fresh generation that fails is started again from nothing."""

    rows_per_dispute = False
    """True when every row comes from one dispute's events alone: the disputes can then be
    projected in parts, by separate processes, into the same rows (`project_part`)."""

    def project_part(self, shard: int, part: int, parts: int, stop: int) -> int:
        """Rows of the disputes of part `part` of `parts` (adapters/part_reads.py), from shard
        `shard`'s log up to notification `stop`, without a position: the rebuild sets it once
        every part is in (`mark_projected`). Returns how many of the part's events it projected."""
        source, table, start, done = self.shards[shard], self.live_table(), 0, 0
        while start < stop:
            mine, start = part_notifications(source.recorder, start, stop, self.batch_size, part, parts)
            if mine:
                prepared = self.prepare(mine, source)
                with self.engine.begin() as conn:
                    self.write(conn, table, prepared)
                done += len(mine)
        with self.engine.begin() as conn:
            self.write_held_back(conn, table)
        return done

    def mark_projected(self, shard: int, position: int) -> None:
        """The live generation has projected shard `shard`'s log up to `position` (a fresh one)."""
        with self.engine.begin() as conn:
            _set_position(conn, shard_position_name(self.live_table().name, shard), position, expected=0)

    def catch_up(self) -> int:
        done = 0
        while (batch := self.catch_up_once()):
            done += batch
        return done

    async def run(self, stopping: asyncio.Event, poll_interval: float = 0.2) -> None:
        while not stopping.is_set():
            try:
                done = await asyncio.to_thread(self._follow_every_shard)
            except Exception as error:  # keep following; the next round retries the batch
                log.error("projection_failed", projection=self.name, error=repr(error))
                done = 0
            if not done:
                try:
                    await asyncio.wait_for(stopping.wait(), poll_interval)
                except TimeoutError:
                    pass


def _position(conn, name: str) -> int:
    value = conn.execute(select(projection_positions.c.position)
                         .where(projection_positions.c.name == name)).scalar()
    return value or 0


def _set_position(conn, name: str, position: int, expected: int) -> None:
    moved = conn.execute(update(projection_positions)
                         .where(projection_positions.c.name == name,
                                projection_positions.c.position == expected)
                         .values(position=position)).rowcount
    if moved:
        return
    if expected == 0 and _position(conn, name) == 0:
        conn.execute(insert(projection_positions).values(name=name, position=position))
        return
    raise PositionMoved(name)
