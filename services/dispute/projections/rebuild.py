"""Rebuild a projection without downtime.

The next generation's table is built beside the live one from the start of history (readers
keep reading the live one), caught up to the head, then `projection_versions` is switched in
one transaction; the running service's projection follows the new generation from its own
position, and the old table is dropped once readers that resolved it have had time to finish.
A sharded store is replayed shard by shard into the new generation (one position per shard)
before the switch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine, delete, or_
from sqlalchemy.schema import CreateTable

from services.dispute.adapters.replay_workers import ReplayWorkers, worker_store
from services.dispute.adapters.shards import shard_apps

from services.dispute.projections.dispute_index import DisputeIndexProjection
from services.dispute.projections.seller_record import SellerRecordProjection
from services.dispute.projections.tracked import (TrackedProjection, live_version,
                                               projection_positions, switch_live_version)
from services.dispute.projections.timeline import TimelineProjection

PROJECTIONS: dict[str, type[TrackedProjection]] = {
    DisputeIndexProjection.name: DisputeIndexProjection,
    TimelineProjection.name: TimelineProjection,
    SellerRecordProjection.name: SellerRecordProjection,
}
ALIASES = {"index": DisputeIndexProjection.name, "timeline": TimelineProjection.name,
           "seller-record": SellerRecordProjection.name}
Progress = Callable[[int, int], None]


@dataclass
class Rebuilt:
    name: str
    old_version: int
    new_version: int
    table: str
    events: int
    seconds: float


def projection_named(name: str) -> type[TrackedProjection]:
    try:
        return PROJECTIONS[ALIASES.get(name, name)]
    except KeyError:
        raise LookupError(f"no projection {name!r}; known: {', '.join(PROJECTIONS)}") from None


def rebuild(kind: type[TrackedProjection], app, engine: Engine, progress: Progress | None = None,
            grace_seconds: float = 2.0, batch_size: int = 5000,
            workers: ReplayWorkers | None = None) -> Rebuilt:
    """With `workers`, history up to the heads of now is projected in parts of the disputes by
    worker processes (`_project_in_parts`) before the rest is caught up here: the same rows."""
    started = time.monotonic()
    with engine.connect() as conn:
        old = live_version(conn, kind.name)
    builder = kind(app, engine, batch_size=batch_size, version=old + 1)
    builder.replaying = True
    _fresh(builder, engine, old + 1)
    builder.fresh = True
    done = _project_in_parts(builder, app, engine, workers, progress) if workers else 0
    while batch := builder.catch_up_once():
        done += batch
        if progress:
            progress(done, store_head(app))
    with engine.begin() as conn:  # the rows held back, its indexes and the switch: one commit
        builder.write_held_back(conn, builder.table(old + 1))
        _indexed(builder, conn, old + 1)
        switch_live_version(conn, kind.name, old, old + 1)
    builder.fresh = False  # live: the service's projections follow it too from now on
    done += builder.catch_up()
    time.sleep(grace_seconds)  # requests that resolved the old table before the switch finish
    _drop(builder, engine, old)
    return Rebuilt(kind.name, old, old + 1, builder.table(old + 1).name, done,
                   round(time.monotonic() - started, 2))


def _project_in_parts(builder: TrackedProjection, app, engine: Engine, workers: ReplayWorkers,
                      progress: Progress | None) -> int:
    """Each shard's log up to its head of now, the disputes cut into parts (`dispute_part`), each
    part projected by a worker process; once all parts of a shard are in, its position is set to
    that head. Nobody reads a generation before the switch, so rows without a position in the
    meantime are safe; a failed part fails the rebuild (the generation is started again next
    time). Only for projections whose rows are per dispute, on PostgreSQL (SQLite writes one at
    a time)."""
    shard_heads = heads(app)
    parts = workers.for_events(sum(shard_heads))
    if parts <= 1 or not builder.rows_per_dispute or engine.dialect.name != "postgresql":
        return 0
    version, done = builder.version(), 0
    with workers.pool(parts) as pool:
        submitted = [(shard, head, [pool.submit(_project_part, builder.name, version, builder.batch_size,
                                                shard, part, parts, head) for part in range(parts)])
                     for shard, head in enumerate(shard_heads) if head]
        for shard, head, futures in submitted:
            for future in futures:
                future.result()
            builder.mark_projected(shard, head)
            done += head
            if progress:
                progress(done, store_head(app))
    return done


def _project_part(name: str, version: int, batch_size: int, shard: int, part: int, parts: int,
                  stop: int) -> int:
    """In a worker process: one part of the disputes of one shard, into generation `version`."""
    store, engine = worker_store()
    builder = PROJECTIONS[name](store, engine, batch_size=batch_size, version=version)
    builder.fresh = True  # a generation before its switch; the parts' disputes are disjoint
    builder.replaying = True
    return builder.project_part(shard, part, parts, stop)


def _fresh(builder: TrackedProjection, engine: Engine, version: int) -> None:
    """A table left by an interrupted rebuild is not live: start it again from nothing. Its
    secondary indexes come once its rows are in (`_indexed`): nobody reads a generation before
    the switch, and every upsert of a row (a dispute's row is written again in each batch that
    touches it) had to update each of the index's seven."""
    _drop(builder, engine, version)
    with engine.begin() as conn:
        conn.execute(CreateTable(builder.table(version)))


def _indexed(builder: TrackedProjection, conn, version: int) -> None:
    """The new generation's secondary indexes, built over its rows before it goes live."""
    for index in builder.table(version).indexes:
        index.create(conn)


def _drop(builder: TrackedProjection, engine: Engine, version: int) -> None:
    table = builder.table(version)
    table.drop(engine, checkfirst=True)
    with engine.begin() as conn:
        names = projection_positions.c.name
        conn.execute(delete(projection_positions).where(
            or_(names == table.name, names.like(f"{table.name}@%"))))


def store_head(app) -> int:
    """How many events the store holds, over every shard (notification ids are dense)."""
    return sum(heads(app))


def heads(app) -> list[int]:
    return [shard.recorder.max_notification_id() or 0 for shard in shard_apps(app)]


def status(app, engine: Engine) -> list[dict]:
    """Per projection and shard: its live table, position, the shard's head, how far behind."""
    shard_heads, rows = heads(app), []
    for kind in PROJECTIONS.values():
        projection = kind(app, engine)
        for shard, (position, head) in enumerate(zip(projection.positions(), shard_heads)):
            rows.append({"name": kind.name, "version": projection.version(), "shard": shard,
                         "table": projection.live_table().name, "position": position,
                         "head": head, "behind": head - position})
    return rows
