"""A faststream batch subscriber whose records run through lanes (services/common/lanes.py):
a key's records one after another in offset order, different keys overlapping, each partition
committed only up to its first unfinished record, one commit for every record finished within
`LanedBatches.commit_interval` (50 ms) instead of one a record.

For a consumer whose effects are idempotent (each event's id stored with its effect, or a
command the aggregate ignores the second time): a record handled again after a crash or a
rebalance, past the committed offset, changes nothing, exactly as a per-record commit that a
crash beat to the broker. `handle(record)` returns when the record is done (dead-lettered
included) and raises what must be tried again: the lane retries it, the records behind it in
that lane waiting.

Per-record subscribers committed every record to the group coordinator (most of its work
under the end-to-end bench: the dispute service's `refunds.events` commits one a refund) and
ran faststream's middlewares and decoding for each record.

The lanes are stopped before the broker (`stop`, so what finished is committed) and started
again before it reconnects (`start`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from services.common.kafka_message import KafkaMessage
from services.common.lanes import LanedBatches, ReceivedRecord
from services.common.log_context import record_context
from services.common.logging import bound_to_logs
from services.common.subscribed_topic import subscribed

DEFAULT_BATCH_MAX = 200
DEFAULT_CONCURRENCY = 8
BATCH_WAIT_MS = 20
"""faststream's batch loop waits this long for records, and as long again after an empty
fetch: its default (200 ms) would add up to 200 ms to a record arriving on an idle consumer."""
log = structlog.get_logger("consumer")


async def undecoded(message: Any) -> None:
    """A batch handler reading the raw records (the handlers parse them): faststream's default
    decoder would parse every record's JSON once more, for nothing."""
    return None


def laned_subscriber(broker: KafkaBroker, topic: str, group: str,
                     handle: Callable[[ReceivedRecord], Awaitable[Any]], *,
                     concurrency: int = DEFAULT_CONCURRENCY, batch_max: int = DEFAULT_BATCH_MAX,
                     title: str | None = None) -> LanedBatches:
    """Subscribe `handle` to `topic` for `group`; the lanes it runs in (the caller stops and
    starts them around the broker). Each record's ids are bound to the log lines of its
    handling (log_context.py), as the broker's middleware binds a single record's."""

    async def on_record(record: ReceivedRecord) -> None:
        with bound_to_logs(**record_context(record.headers)):
            await handle(record)

    def redelivered(record: ReceivedRecord, error: BaseException) -> None:
        log.info("record_handled_again", topic=record.raw_message.topic,
                 partition=record.raw_message.partition, offset=record.raw_message.offset,
                 error=repr(error)[:300])

    lanes = LanedBatches(on_record, concurrency, backlog=batch_max, on_failure=redelivered)

    # MANUAL: the lanes commit; the handler only queues a batch, so fetching goes on while
    # earlier records are handled.
    @broker.subscriber(subscribed(topic), group_id=group, auto_offset_reset="earliest", batch=True,
                       max_records=batch_max, batch_timeout_ms=BATCH_WAIT_MS,
                       ack_policy=AckPolicy.MANUAL, decoder=undecoded, title=title,
                       listener=lanes.rebalance_listener())
    async def on_records(message: KafkaMessage) -> None:
        await lanes.take(message.consumer, message.raw_message)

    return lanes
