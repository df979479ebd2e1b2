"""The refund store's calls for one refund on the consumer's path, as the desk makes them
(`accept_resolution` with the trust gate's vet, `issued_from` once the provider paid, the
published mark in batches as `PublishedMarks` writes them: `published_from_each`), on a durable
PostgreSQL, without Kafka or the provider: CPU per refund of this process and of PostgreSQL.

    .venv/bin/python -m benchmarks.refund_store_cpu [--refunds 2000] [--batch 8] [--rounds 3]

Each refund is on a dispute of its own, opened on an order the store learned (as the bench's
end-to-end phase: one accept-claim per dispute).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from uuid import uuid4


def prepared(store, count: int) -> list:
    from services.refund.policy import RefundInstruction, idempotency_key_for
    from tests.support.refunds import opened_on_known_order

    out = []
    for _ in range(count):
        dispute_id, event_id = opened_on_known_order(store), str(uuid4())
        out.append(RefundInstruction(dispute_id=dispute_id, amount=Decimal("30.00"), currency="USD",
                                     idempotency_key=idempotency_key_for(dispute_id, event_id),
                                     cause_event_id=event_id))
    return out


def refund_round(store, instructions: list, batch: int, pg_pid: int | None) -> dict[str, float]:
    from benchmarks.mail_cpu import cpu
    from services.refund.policy import distrust

    before = (time.process_time(), cpu(pg_pid), time.perf_counter())
    issued = []
    for n, instruction in enumerate(instructions):
        accepted = store.accept_resolution(event_id=instruction.cause_event_id, instruction=instruction,
                                           correlation_id=f"c-{n}", vet=distrust)
        assert accepted is not None and accepted.refusal is None, accepted
        settled = store.issued_from(accepted.stored, f"P-{n}")
        assert settled is not None
        issued.append(settled)
        if len(issued) == batch:
            assert all(store.published_from_each(issued))
            issued = []
    if issued:
        assert all(store.published_from_each(issued))
    after = (time.process_time(), cpu(pg_pid), time.perf_counter())
    per = [(b - a) * 1000 / len(instructions) for a, b in zip(before, after)]
    return {"refunds": len(instructions), "store_ms": per[0], "postgresql_ms": per[1],
            "per_second": len(instructions) / (after[2] - before[2])}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.cpu_split import postmaster_pid
    from infra.postgres import PostgresServer
    from services.common.database import sqlalchemy_engine
    from services.common.logging import configure_logging
    from services.refund.store import RefundStore

    parser = argparse.ArgumentParser(prog="python -m benchmarks.refund_store_cpu")
    parser.add_argument("--refunds", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=8, help="published marks written together")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of the last round here")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="refund-store-cpu-") as folder:
        pg = PostgresServer(Path(folder) / "pg", durable=True).start()
        try:
            # as services/refund/main.py makes it: no pre-ping
            store = RefundStore(sqlalchemy_engine(pg.create_database("refund_cpu"), pre_ping=False))
            store.create_tables()
            refund_round(store, prepared(store, 200), args.batch, None)  # warm: caches, pool
            for n in range(args.rounds):
                instructions = prepared(store, args.refunds)
                profiler = None
                if args.profile and n == args.rounds - 1:
                    import cProfile
                    profiler = cProfile.Profile(time.process_time)
                    profiler.enable()
                result = refund_round(store, instructions, args.batch, postmaster_pid(pg.data_dir))
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
                print(f"round {n + 1}: {result['refunds']} refunds at {result['per_second']:,.0f}/s; CPU per "
                      f"refund: store {result['store_ms']:.3f} ms, PostgreSQL {result['postgresql_ms']:.3f} ms",
                      flush=True)
        finally:
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
