"""Signed checkpoints: what a forger without the key, or a replay of an old one, can prove."""

import json
from datetime import datetime, timezone
from uuid import uuid4

import pytest

from services.dispute.adapters.audit_chain import ChainKeys
from services.dispute.audit.checkpoints import (BadCheckpoint, Checkpoint, CheckpointBook, Head,
                                                heads_of, parse_record, signed_record)

KEYS = ChainKeys.single("k1", "the-checkpoint-key-of-these-tests-0123")
AT = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
D1, D2 = uuid4(), uuid4()


def test_a_signed_checkpoint_reads_back_as_it_was_written():
    checkpoint = Checkpoint(42, AT, (Head(D1, 5, "a" * 64), Head(D2, 1, None)))
    assert parse_record(signed_record(checkpoint, KEYS), KEYS) == checkpoint


def test_a_checkpoint_altered_after_signing_is_refused():
    record = json.loads(signed_record(Checkpoint(42, AT, (Head(D1, 5, "a" * 64),)), KEYS))
    record["heads"][0][1] = 9
    with pytest.raises(BadCheckpoint, match="signature does not match"):
        parse_record(json.dumps(record).encode(), KEYS)


def test_a_checkpoint_signed_with_another_key_under_the_same_id_is_refused():
    forger = ChainKeys.single("k1", "a-guessed-key-of-the-same-length-0123")
    with pytest.raises(BadCheckpoint, match="signature does not match"):
        parse_record(signed_record(Checkpoint(1, AT, ()), forger), KEYS)


def test_an_old_checkpoint_replayed_later_does_not_lower_the_recorded_version():
    old = signed_record(Checkpoint(3, AT, (Head(D1, 3, "c" * 64),)), KEYS)
    new = signed_record(Checkpoint(5, AT, (Head(D1, 5, "e" * 64),)), KEYS)
    book = CheckpointBook()
    for value in (new, old):
        book.add(value, KEYS, "test")
    assert (book.recorded[D1].version, book.recorded[D1].hash, book.read) == (5, "e" * 64, 2)


def test_a_batch_is_checkpointed_by_the_last_version_of_each_dispute_in_it():
    links = [(D1, 1, "1"), (D2, 1, "x"), (D1, 2, "2")]
    assert heads_of(links) == (Head(D1, 2, "2"), Head(D2, 1, "x"))
