"""The command writer's CPU per command at a fixed batch size, on a private durable
PostgreSQL: `--batch` messages with Idempotency-Keys, one per dispute, run as one batch
(`CommandWriter.run`, in this thread), `--batches` of them per round, three rounds. No HTTP
and no view (the answer is the dispute's version), and the batch size does not depend on
how fast the machine is, so a change to the writer or the recorder compares steadily on a
shared machine (http_cpu's batches grow and shrink with the load).

    .venv/bin/python -m benchmarks.writer_cpu [--batch 32] [--batches 60]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from infra.postgres import PostgresServer
from tests.support.writer_behaviour import WriterBehaviour, message, process_on  # test data builders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.writer_cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=60)
    args = parser.parse_args(argv)
    os.environ["PLATFORM_LOCAL_MODE"] = "true"  # a private server: the dev secrets are fine
    folder = Path(tempfile.mkdtemp(prefix="writer-cpu-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    server = PostgresServer(folder / "pg", durable=True)
    try:
        process = process_on(server.start().create_database("writer"))
        disputes = [WriterBehaviour.open(process, f"O-{n}") for n in range(args.batch)]
        sent = 0

        def one_batch() -> None:
            nonlocal sent
            sent += 1
            outcomes = process.writer.run([message(d, f"m{sent}-{i}", key=f"k{sent}-{i}")
                                           for i, d in enumerate(disputes)])
            assert all(type(o).__name__ == "Answered" for o in outcomes), outcomes[:2]

        for _ in range(20):  # warm: caches, prepared statements
            one_batch()
        rounds = []
        for _ in range(3):
            cpu = time.process_time()
            for _ in range(args.batches):
                one_batch()
            rounds.append((time.process_time() - cpu) * 1000 / (args.batches * args.batch))
        print(f"writer CPU per command, batches of {args.batch}: "
              + " / ".join(f"{ms:.3f}" for ms in rounds) + " ms")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
