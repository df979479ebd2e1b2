"""disputectl: the operators' tools. Settings come from the environment (DISPUTE_*), then from
the local settings file `make run` writes (.run/local.env; services/common/local_env.py).
A store that does not exist is refused (exit 2, one line naming the setting), never created.
A sharded store (DISPUTE_SHARD_URLS) is read whole: every shard, each finding naming its shard.

  disputectl projections status | rebuild [NAME]
  disputectl audit replay DISPUTE_ID [--as-of T | --version N] | export [...] | verify [...]
  disputectl audit checkpoints [-o FILE]
  disputectl kafka replay --group G --to-datetime T
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional
from uuid import UUID

import click
import typer
from aiokafka.errors import KafkaError

from services.common.bulk_gc import bulk_replay
from services.common.database import sqlalchemy_engine
from services.common.local_env import load_local_env
from services.common.stores import MissingStore, require_store
from services.dispute.audit import history
from services.dispute.adapters.replay_workers import ReplayWorkers
from services.dispute.projections import rebuild as projections_rebuild
from services.dispute.audit import verify as audit_verify_module
from services.dispute.settings import DisputeSettings

app = typer.Typer(help="Operators' tools for the dispute service.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
projections = typer.Typer(help="Rebuild and inspect projections.", no_args_is_help=True)
audit_app = typer.Typer(help="Replay, export and verify the event store.", no_args_is_help=True)
kafka = typer.Typer(help="Kafka consumer groups.", no_args_is_help=True)
app.add_typer(projections, name="projections")
app.add_typer(audit_app, name="audit")
app.add_typer(kafka, name="kafka")
FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]
Time = Annotated[Optional[datetime], typer.Option(formats=FORMATS, help="RFC 3339; UTC if no offset")]


class ProgressLine:
    """`label: 120,000/1,000,000 events  41,000 ev/s  ETA 0:21` on stderr, at most twice a second."""

    def __init__(self, label: str, stream=sys.stderr):
        self.label, self.stream = label, stream
        self.started = self.shown = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.5 and done < total:
            return
        self.shown = now
        rate = done / max(now - self.started, 1e-6)
        left = max(total - done, 0) / rate if rate else 0
        self.stream.write(f"\r{self.label}: {done:,}/{total:,} events  {rate:,.0f} ev/s  "
                          f"ETA {int(left // 60)}:{int(left % 60):02d}   ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")


@app.callback()
def _local_settings() -> None:
    """Environment variables first, then .run/local.env (written by `make run`), then defaults."""
    load_local_env()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the refusal says it in one line


def _refusing_errors(command):
    """One line on stderr instead of a traceback: exit 2 for a missing store, an unreachable
    or refusing Kafka, an unreadable file or an unknown name; exit 1 for anything else."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except MissingStore as error:
            _fail(f"refused: {error}", 2)
        except KafkaError as error:
            settings = DisputeSettings()
            _fail(f"refused: Kafka at DISPUTE_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} as "
                  f"DISPUTE_KAFKA_USERNAME={settings.kafka_username}: {error!r}"[:500], 2)
        except (OSError, LookupError, ValueError) as error:
            _fail(f"refused: {error}", 2)
        except Exception as error:  # an operator reads one line, not a traceback
            _fail(f"failed: {type(error).__name__}: {error}"[:500], 1)

    return guarded


def _fail(line: str, code: int):
    typer.echo(line.splitlines()[0] if line else "failed", err=True)
    raise typer.Exit(code)


def _event_table(url: str) -> str:
    """eventsourcing's table: one per file on SQLite, named after the application on PostgreSQL."""
    from services.dispute.application.disputes import DisputeApplication

    return "stored_events" if url.startswith("sqlite") else f"{DisputeApplication.name}_events"


def _context():
    """(settings, the store with every shard, the service database's engine)."""
    from services.dispute.bootstrap import build_disputes

    settings = DisputeSettings()
    urls = settings.shard_database_urls()
    setting = "DISPUTE_SHARD_URLS" if settings.shard_urls else "DISPUTE_DATABASE_URL"
    for url in urls:
        require_store(url, setting, [_event_table(url)])
    return settings, build_disputes(settings), sqlalchemy_engine(settings.database_url)


def _replay_workers(settings: DisputeSettings, open_store=None) -> ReplayWorkers:
    return ReplayWorkers(settings.replay_workers, settings.replay_min_events_per_worker,
                         open_store or _store_from_environment)


def _store_from_environment():
    """The store with every shard, in a replay worker process (spawned: it has this one's
    environment, .run/local.env included, and none of its connections)."""
    from services.dispute.bootstrap import build_disputes

    return build_disputes(DisputeSettings())


def _store_and_engine_from_environment():
    """(the store, the service database's engine) in a projection rebuild's worker process."""
    return _store_from_environment(), sqlalchemy_engine(DisputeSettings().database_url)


def _utc(value: datetime | None) -> datetime | None:
    return value and _to_utc(value)


def _to_utc(value: datetime) -> datetime:
    from services.dispute.projections.timeline import utc

    return utc(value)


@projections.command("status")
@_refusing_errors
def projections_status():
    """Each projection's live table, and per shard its position and how far it is behind."""
    _, disputes, engine = _context()
    for row in projections_rebuild.status(disputes, engine):
        typer.echo(f"{row['name']:<18} v{row['version']}  shard {row['shard']}  table "
                   f"{row['table']:<22} position {row['position']:,}/{row['head']:,}  "
                   f"behind {row['behind']:,}")


@projections.command("rebuild")
@_refusing_errors
def projections_rebuild_command(name: Annotated[Optional[str], typer.Argument(
        help="dispute_index (index) or timeline_entries (timeline); all when omitted")] = None,
        grace: float = typer.Option(2.0, help="seconds readers get before the old table is dropped")):
    """Build a fresh generation from the start of history (every shard's), switch reads to it,
    drop the old."""
    settings, disputes, engine = _context()
    kinds = [projections_rebuild.projection_named(name)] if name else list(projections_rebuild.PROJECTIONS.values())
    workers = _replay_workers(settings, _store_and_engine_from_environment)
    for kind in kinds:
        progress = ProgressLine(f"rebuild {kind.name}")
        with bulk_replay():
            result = projections_rebuild.rebuild(kind, disputes, engine, progress, grace_seconds=grace,
                                                 workers=workers)
        progress.close()
        typer.echo(f"{result.name}: v{result.old_version} -> v{result.new_version} ({result.table}), "
                   f"{result.events:,} events in {result.seconds}s; now live")


@audit_app.command("replay")
@_refusing_errors
def audit_replay(dispute_id: UUID, as_of: Time = None,
                 version: Annotated[Optional[int], typer.Option(min=1)] = None,
                 as_json: Annotated[bool, typer.Option("--json")] = False):
    """The dispute's state and timeline as they were, from the events alone."""
    _, disputes, _ = _context()
    try:
        result = history.replay(disputes, dispute_id, as_of=_utc(as_of), version=version)
    except LookupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    state = result["state"]
    typer.echo(f"dispute {dispute_id} at version {result['version']}: {state['status']}, "
               f"awaiting {state.get('awaiting', '-')}, refundable {state['refundable_amount']} {state['currency']}")
    for entry in result["timeline"]:
        typer.echo(f"  v{entry['version']:<3} {entry['at'][:16].replace('T', ' ')}  "
                   f"{entry['actor']['role']:<8} {entry['summary']}")


@audit_app.command("export")
@_refusing_errors
def audit_export(since: Annotated[Optional[datetime], typer.Option("--from", formats=FORMATS)] = None,
                 until: Annotated[Optional[datetime], typer.Option("--to", formats=FORMATS)] = None,
                 dispute: Annotated[Optional[UUID], typer.Option()] = None,
                 output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None):
    """JSON Lines of the stored events with their public envelopes, streamed (stdout by default)."""
    settings, disputes, _ = _context()
    progress = ProgressLine("export")
    out = output.open("w") if output else sys.stdout
    try:
        with bulk_replay():
            written = history.export(disputes, out, _utc(since), _utc(until), dispute, progress,
                                     _replay_workers(settings))
    finally:
        if output:
            out.close()
    progress.close()
    typer.echo(f"exported {written:,} events", err=True)


@audit_app.command("verify")
@_refusing_errors
def audit_verify(
        checkpoints: Annotated[str, typer.Option(help=(
            "where the signed chain heads come from: 'kafka' (the audit topic), a file written by "
            "`audit checkpoints -o`, or 'none' (deleted tails then go unnoticed)"))] = "kafka",
        legacy_until: Annotated[Optional[int], typer.Option(min=0, help=(
            "events up to this notification id may predate the keyed chain "
            "(default DISPUTE_AUDIT_LEGACY_UNTIL)"))] = None,
        heads: Annotated[int, typer.Option(min=1, help=(
            "chain heads kept in memory (~400 bytes each), those of the disputes touched last; "
            "a dispute beyond them is read back from the store when it comes back (one query): "
            "raise it when more disputes than this are active at once in the history"))]
        = audit_verify_module.ChainWalk.KEPT_HEADS):
    """Check every dispute's keyed hash chain, in every shard, against the signed checkpoints;
    list every finding with its shard, dispute and version (exit 1 if any)."""
    settings, disputes, _ = _context()
    book = _checkpoint_book(settings, disputes.chain_keys, checkpoints)
    progress = ProgressLine("verify")
    with bulk_replay():
        report = audit_verify_module.verify_shards(disputes, book, settings.audit_legacy_until
                                                   if legacy_until is None else legacy_until, progress,
                                                   kept_heads=heads)
    progress.close()
    sharded = len(settings.shard_database_urls()) > 1
    for f in report.findings:
        where = f"dispute {f.dispute_id} version {f.version}" if f.dispute_id else "checkpoint"
        where = f"shard {f.shard} {where}" if sharded and f.dispute_id else where
        typer.echo(f"{f.kind.upper()} {where}" + (f" (notification {f.notification_id})"
                                                  if f.notification_id else "") + f": {f.detail}")
    if not report.ok:
        typer.echo(f"FAILED: {report.problems:,} findings in {report.events:,} events of "
                   f"{report.disputes:,} disputes")
        raise typer.Exit(1)
    typer.echo(f"OK: {report.events:,} events of {report.disputes:,} disputes chain correctly under "
               f"the key" + (f" ({report.legacy:,} legacy, stored before the keyed chain)" if report.legacy else "")
               + (f"; {report.checkpointed_disputes:,} disputes match {report.checkpoints:,} checkpoints"
                  if book is not None else "; checkpoints not read: a deleted tail goes unnoticed")
               + (f" ({report.uncheckpointed:,} disputes not checkpointed yet: their tails are unchecked)"
                  if book is not None and report.uncheckpointed else ""))


def _checkpoint_book(settings, keys, source: str):
    from services.dispute.audit.checkpoints import CheckpointBook
    from services.dispute.audit.checkpoint_topic import read_checkpoints

    if source == "none":
        return None
    if source == "kafka":
        try:
            return asyncio.run(read_checkpoints(settings.kafka_connection(), settings.audit_topic, keys))
        except KafkaError as error:
            typer.echo(f"cannot read the checkpoints from {settings.audit_topic} at "
                       f"{settings.kafka_bootstrap}: {error!r}; give --checkpoints FILE or none", err=True)
            raise typer.Exit(2)
    try:
        with Path(source).open() as lines:
            return CheckpointBook().add_lines(lines, keys, source)
    except OSError as error:
        raise OSError(f"cannot read --checkpoints {source}: {error.strerror}") from None


@audit_app.command("checkpoints")
@_refusing_errors
def audit_checkpoints(output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None):
    """Copy the audit topic's signed checkpoints as JSON lines (to keep beside an export;
    `audit verify --checkpoints FILE` reads them back)."""
    from services.common.kafka import read_to_end
    from services.dispute.audit.checkpoint_topic import READER_CLIENT_ID

    settings = DisputeSettings()

    async def copy(out) -> int:
        count = 0
        async for record in read_to_end(settings.kafka_connection(), settings.audit_topic, READER_CLIENT_ID):
            out.write(record.value.decode() + "\n")
            count += 1
        return count

    out = output.open("w") if output else sys.stdout
    try:
        count = asyncio.run(copy(out))
    finally:
        if output:
            out.close()
    typer.echo(f"copied {count:,} checkpoints", err=True)


@kafka.command("replay")
@_refusing_errors
def kafka_replay(group: Annotated[str, typer.Option(help="consumer group to reset")],
                 to_datetime: Annotated[datetime, typer.Option(formats=FORMATS, help="reprocess from this time (RFC 3339)")],
                 topic: Annotated[Optional[list[str]], typer.Option(help="default: the group's topics")] = None):
    """Reset a stopped consumer group's offsets to the first record at or after a time."""
    from services.dispute.adapters.kafka_replay import GroupHasMembers, replay_group

    settings = DisputeSettings()
    try:
        resets = asyncio.run(replay_group(settings.kafka_connection(), group, _to_utc(to_datetime), topic))
    except (GroupHasMembers, LookupError) as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(2)
    for r in resets:
        typer.echo(f"{r.topic}[{r.partition}]: {r.old_offset if r.old_offset is not None else '-'} -> {r.new_offset}")
    typer.echo(f"group {group} will reprocess from {to_datetime.isoformat()} when it starts again")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
