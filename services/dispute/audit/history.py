"""Audit tools over the event store: replay one dispute, export (verify: verify.py).

They read the store through the recorder in batches (by notification id, or one
dispute's stream), so memory stays flat however long the history is. A sharded store is read
shard after shard (notification ids are those of each shard's own log; each line says which).
Export reads each stored event's JSON straight into its checked envelope, as the relay does
(translation.stored_envelope_json), and has pydantic write the envelope's JSON itself (no dict
in between).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _quoted  # json.dumps' own quoting
import os
import shutil
import tempfile
from datetime import datetime
from typing import Any, Callable, Iterator, TextIO
from uuid import UUID

from services.dispute.adapters.shards import shard_app_for, shard_apps, shard_index
from services.dispute.projections.timeline import entry_view, jsonable, timeline_from_events, utc
from services.dispute.adapters.translation import is_public, stored_envelope_json, to_envelope
from services.dispute.adapters.replay_reads import read_notifications
from services.dispute.adapters.replay_workers import ReplayWorkers, results_in_order, worker_store

Progress = Callable[[int, int], None]
BATCH = 5000  # rows per read: fewer round trips; ~5 MB of stored events at a time
PROGRESS_EVERY = 1000
PARTS_PER_WORKER = 4  # parts a worker exports in turn: progress, and no part waits long on a slow one
PART_MIN = 10_000


def notifications(recorder, start: int = 0, batch: int = BATCH, stop: int | None = None) -> Iterator[Any]:
    """Every stored event after `start` (up to `stop`), in notification order, `batch` rows at a time."""
    while True:
        rows = read_notifications(recorder, start, batch, stop)
        if not rows:
            return
        yield from rows
        start = rows[-1].id


def head(recorder) -> int:
    return recorder.max_notification_id() or 0


# replay ---------------------------------------------------------------------------------

def replay(app, dispute_id: UUID, as_of: datetime | None = None, version: int | None = None) -> dict:
    """The dispute's state and timeline as they were at `version` or at `as_of`."""
    app = shard_app_for(app, dispute_id)
    stored = app.recorder.select_events(dispute_id, lte=version)
    events = [app.mapper.to_domain_event(s) for s in stored]
    if as_of is not None:
        events = [e for e in events if utc(getattr(e, "at", None) or e.timestamp) <= utc(as_of)]
    if not events:
        raise LookupError(f"dispute {dispute_id} had no events then")
    dispute = app.repository.get(dispute_id, version=events[-1].originator_version)
    return {"dispute_id": str(dispute_id), "version": dispute.version,
            "state": state_view(dispute),
            "timeline": [entry_view(e) for e in timeline_from_events(events)]}


LOOKUPS = frozenset({"message_ids"})
"""The aggregate's indexes of what its state holds already (the messages' ids): not state."""


def state_view(dispute) -> dict:
    state = {k: v for k, v in vars(dispute).items() if not k.startswith("_") and k not in LOOKUPS}
    derived = {name: getattr(dispute, name, None) for name in ("awaiting", "refundable_amount", "next_deadline")}
    return jsonable({"id": dispute.id, "version": dispute.version, **state, **derived})


# export ---------------------------------------------------------------------------------

def export(app, out: TextIO, since: datetime | None = None, until: datetime | None = None,
           dispute_id: UUID | None = None, progress: Progress | None = None,
           workers: ReplayWorkers | None = None) -> int:
    """JSON Lines, one stored event a line, with its public envelope (null when internal);
    every shard of a sharded store, or the one holding `dispute_id`. With `workers`, a large
    log is exported in parts by worker processes (`_export_in_parts`): the same lines."""
    shards = shard_apps(app)
    chosen = [shard_index(dispute_id, len(shards))] if dispute_id else list(range(len(shards)))
    total, written, n = sum(head(shards[i].recorder) for i in chosen), 0, 0
    since, until = since and utc(since), until and utc(until)
    counted = _Counted(progress, total)
    for shard in chosen:
        source = shards[shard]
        if dispute_id:
            written += _write_lines(source, shard, source.recorder.select_events(dispute_id), out,
                                    since, until, counted)
            continue
        start = 0
        if workers is not None and workers.for_events(head(source.recorder)) > 1:
            start, parted = _export_in_parts(source, shard, out, since, until, workers, counted)
            written += parted
        written += _write_lines(source, shard, notifications(source.recorder, start), out,
                                since, until, counted)
    counted.done(dispute_id is not None)
    return written


class _Counted:
    """Progress over every shard and part: reported every PROGRESS_EVERY events, and at the end."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.n = progress, total, 0

    def add(self, count: int) -> None:
        before, self.n = self.n, self.n + count
        if self.progress and (before // PROGRESS_EVERY != self.n // PROGRESS_EVERY):
            self.progress(self.n, self.total)

    def done(self, whole: bool) -> None:
        if self.progress:
            self.progress(self.n, self.n if whole else self.total)


def _write_lines(source, shard: int, rows, out: TextIO, since, until, counted: _Counted | None) -> int:
    written = 0
    for stored in rows:
        envelope, meta, at = stored_envelope_json(stored, source.mapper)
        at = utc(at)
        if (since is None or at >= since) and (until is None or at <= until):
            out.write(export_text(stored, envelope, meta, at, shard) + "\n")
            written += 1
        if counted is not None:
            counted.add(1)
    return written


def _export_in_parts(source, shard: int, out: TextIO, since, until, workers: ReplayWorkers,
                     counted: _Counted) -> tuple[int, int]:
    """The shard's log up to its head now, cut into parts of consecutive notification ids,
    each written by a worker process to a file of its own, the files copied to `out` in order:
    the lines of a sequential export, in its order. (the last id exported, lines written)"""
    last = head(source.recorder)
    count = workers.for_events(last)
    size = max(PART_MIN, -(-last // (count * PARTS_PER_WORKER)))
    bounds = [(start, min(start + size, last)) for start in range(0, last, size)]
    written = 0
    with tempfile.TemporaryDirectory(prefix="dispute-export-") as folder, workers.pool(count) as pool:
        parts = [pool.submit(_export_part, shard, start, stop, f"{folder}/{n}.jsonl", since, until)
                 for n, (start, stop) in enumerate(bounds)]
        for (start, stop), (path, lines) in zip(bounds, results_in_order(parts)):
            with open(path) as part:
                shutil.copyfileobj(part, out, 1 << 20)
            os.unlink(path)
            written += lines
            counted.add(stop - start)
    return last, written


def _export_part(shard: int, start: int, stop: int, path: str, since, until) -> tuple[str, int]:
    """In a worker: notifications start+1..stop of the shard's log, as export lines, to `path`."""
    source = shard_apps(worker_store())[shard]
    with open(path, "w") as out:
        return path, _write_lines(source, shard, notifications(source.recorder, start, stop=stop),
                                  out, since, until, None)


def export_text(stored, envelope: bytes | None, meta: dict, at: datetime, shard: int = 0) -> str:
    """`export_line` as compact JSON, the same text as json.dumps of it; `envelope` is the
    envelope's JSON as pydantic writes it (translation.stored_envelope_json)."""
    line = _line_text(shard, getattr(stored, "id", None), str(stored.originator_id),
                      stored.originator_version, stored.topic, jsonable(at), meta.get("hash"),
                      meta.get("key_id"))
    if envelope is None:
        text = "null"
    else:
        text = envelope.decode()
        # the same text as json.dumps' unless it holds what json.dumps escapes and pydantic
        # writes as it is: non-ASCII and DEL (both escape the control characters alike)
        if not text.isascii() or "\x7f" in text:
            text = json.dumps(json.loads(text), separators=(",", ":"))
    return line + ',"envelope":' + text + "}"


def _line_text(shard: Any, notification_id: Any, dispute_id: Any, version: Any, topic: Any,
               occurred_at: Any, hash_: Any, key_id: Any) -> str:
    """json.dumps(export_line(..., with_envelope=False), separators=(",", ":")) less its closing
    brace, written field by field: the dict and json.dumps' walk over it were a sixth of the
    export's CPU (tests/component/test_audit_export_text.py compares the two)."""
    return (f'{{"shard":{_json_value(shard)},"notification_id":{_json_value(notification_id)},'
            f'"dispute_id":{_json_value(dispute_id)},"version":{_json_value(version)},'
            f'"topic":{_json_value(topic)},"occurred_at":{_json_value(occurred_at)},'
            f'"hash":{_json_value(hash_)},"key_id":{_json_value(key_id)}')


def _json_value(value: Any) -> str:
    """One value as json.dumps writes it (ensure_ascii): a str through json's own quoting, a
    plain int as its repr, None as null, anything else through json.dumps itself."""
    kind = type(value)
    if kind is str:
        return _quoted(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"))


def export_line(stored, event, meta: dict, at: datetime, shard: int = 0,
                with_envelope: bool = True) -> dict:
    line = {"shard": shard, "notification_id": getattr(stored, "id", None),
            "dispute_id": str(stored.originator_id),
            "version": stored.originator_version, "topic": stored.topic,
            "occurred_at": jsonable(at), "hash": meta.get("hash"), "key_id": meta.get("key_id")}
    if with_envelope:
        line["envelope"] = _envelope(event, meta)
    return line


def _envelope(event, meta: dict) -> dict | None:
    if not is_public(event):
        return None
    return to_envelope(event, meta).model_dump(mode="json")
