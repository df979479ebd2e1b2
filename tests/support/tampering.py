"""What an attacker with write access to the PostgreSQL events table (and without the audit
key) can do to it, in SQL on `disputes_events`, for audit tests."""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID

from sqlalchemy import Engine, text

from services.dispute.adapters.audit_chain import chain_message

WHERE = "WHERE originator_id = :id AND originator_version = :version"


def notification_id(engine: Engine, dispute_id: UUID, version: int) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT notification_id FROM disputes_events {WHERE}"),
                            {"id": dispute_id, "version": version}).scalar_one()


def replace_in_state(engine: Engine, dispute_id: UUID, version: int, old: str, new: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE disputes_events SET state = convert_to(replace(convert_from("
                          f"state, 'UTF8'), :old, :new), 'UTF8') {WHERE}"),
                     {"id": dispute_id, "version": version, "old": old, "new": new})


def strip_hash(engine: Engine, dispute_id: UUID, version: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE disputes_events SET state = convert_to((convert_from(state, 'UTF8')"
                          f"::jsonb #- '{{__meta__,hash}}')::text, 'UTF8') {WHERE}"),
                     {"id": dispute_id, "version": version})


def set_hash(engine: Engine, dispute_id: UUID, version: int, new_hash: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE disputes_events SET state = convert_to(jsonb_set(convert_from("
                          f"state, 'UTF8')::jsonb, '{{__meta__,hash}}', to_jsonb(CAST(:hash AS text)))::text, 'UTF8') "
                          f"{WHERE}"), {"id": dispute_id, "version": version, "hash": new_hash})


def delete_versions(engine: Engine, dispute_id: UUID, *versions: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM disputes_events WHERE originator_id = :id "
                          "AND originator_version = ANY(:versions)"),
                     {"id": dispute_id, "versions": list(versions)})


def rehash_from(app, engine: Engine, dispute_id: UUID, version: int, guessed_key: bytes) -> None:
    """Recompute the chain from `version` to the dispute's end with the published algorithm and
    a key the attacker guessed, writing each new hash back into its row."""
    stored = app.recorder.select_events(dispute_id)
    previous = app.mapper.stored_link(stored[version - 2])[0] if version > 1 else "0" * 64
    for event in stored[version - 1:]:
        state, meta = app.mapper.decoded(event)
        meta.pop("hash", None)
        previous = hmac.new(guessed_key, chain_message(previous, event.topic, dispute_id,
                                                       event.originator_version, state, meta),
                            hashlib.sha256).hexdigest()
        set_hash(engine, dispute_id, event.originator_version, previous)


def reinsert(engine: Engine, dispute_id: UUID, version: int) -> None:
    """Delete a row and insert it again unchanged: it moves to the end of the log."""
    with engine.begin() as conn:
        row = conn.execute(text(f"DELETE FROM disputes_events {WHERE} RETURNING topic, state"),
                           {"id": dispute_id, "version": version}).one()
        conn.execute(text("INSERT INTO disputes_events (originator_id, originator_version, topic, state) "
                          "VALUES (:id, :version, :topic, :state)"),
                     {"id": dispute_id, "version": version, "topic": row.topic, "state": row.state})
