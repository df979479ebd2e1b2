"""The relay's own cost per event, without Kafka: what `make bench`'s relay phase pays on top
of raw produce (reading the store, decoding, translating, the contract check, serialising).

    .venv/bin/python -m benchmarks.relay_cpu [--events 20000] [--batch 200]

Starts a throw-away PostgreSQL, fills it with real hash-chained disputes (benchmarks/replay.py)
and runs `Relay.publish_next_batch` to the end of the store against a producer that accepts
every record at once; prints events/s and events per CPU second. Run it under py-spy
(`py-spy record -o relay.svg -- .venv/bin/python -m benchmarks.relay_cpu`) to see where.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path


class AcceptingProducer:
    """aiokafka's `send` contract (a future per record) with nothing behind it."""

    def __init__(self) -> None:
        self.records = 0
        self.value_bytes = 0

    async def send(self, topic, value=None, key=None, headers=None):
        self.records += 1
        self.value_bytes += len(value or b"")
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def relay_all(app, url: str, batch: int) -> tuple[int, float, float]:
    from services.common.database import sqlalchemy_engine
    from services.dispute.relay.relay import Relay, RelayPosition

    position = RelayPosition(sqlalchemy_engine(url), "bench.relay_cpu")
    position.create_tables()
    producer = AcceptingProducer()
    relay = Relay(app, producer, position, batch_size=batch)
    wall, cpu = time.perf_counter(), time.process_time()
    while await relay.publish_next_batch():
        pass
    return producer.records, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    from benchmarks.replay import fill, template_streams
    from infra.postgres import PostgresServer
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings

    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay_cpu")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="relay-cpu-") as folder:
        pg = PostgresServer(Path(folder) / "pg").start()
        try:
            url = pg.create_database("relay_cpu")
            app = build_application(DisputeSettings(database_url=url))
            stored = fill(app, url, template_streams(app), args.events)
            records, wall, cpu = asyncio.run(relay_all(app, url, args.batch))
            print(f"relay without Kafka: {stored:,} stored, {records:,} records sent in {wall:.2f} s = "
                  f"{records / wall:,.0f}/s; {records / cpu:,.0f} per CPU second")
        finally:
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
