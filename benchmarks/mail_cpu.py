"""The notification service's e-mail path as it runs in its process (the outbox drained by
EmailSender over SMTP to the real sink, standins/smtp_sink.py, in a process of its own), on a
durable PostgreSQL: CPU per e-mail of the sender (this process), of the sink and of PostgreSQL,
and the delivery latency (row written -> marked sent) at a steady offered rate.

    .venv/bin/python -m benchmarks.mail_cpu [--emails 3000] [--rate 500] [--seconds 4] [--rounds 2]

Each round queues `--emails` e-mails at once (as the consumer writes them: 200 events a
transaction) and drains them all: CPU per e-mail of each process. Then e-mails arrive at
`--rate` a second for `--seconds` (50 ms apart in small batches) with the sender running as
the service runs it (`EmailSender.run`, woken after each batch as the service's consumer wakes
it): p50/p99 of sent_at - created_at.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

ARRIVALS_PER_SECOND = 20  # the steady phase writes a batch this often


BODY = "The buyer posted a message on the dispute of order O-1.\n\nRead it: https://disputes.example/d/1\n"
LONG_BODY = ("The dispute is resolved: in the buyer's favour (the seller accepted the claim), remedy: "
             "a full refund.\n\nIf you disagree you may appeal until 24 Mar 12:00 UTC; after that the "
             "decision is final.\n\nDispute 1\n")
"""`--long-lines`: a line past 78 characters, as every notice of the refund path has (the
Resolved one's text): quoted-printable, not 7bit."""


def queue(store, count: int, per_transaction: int = 200, body: str = BODY) -> None:
    from services.notification.notices import Notice, Parties, Recipient
    from services.notification.store import Effect

    for start in range(0, count, per_transaction):
        effects = []
        for n in range(start, min(count, start + per_transaction)):
            seller = f"S-{n}"
            notice = Notice(seller, "seller", f"The buyer wrote on dispute {n}", body)
            effects.append(Effect(str(uuid4()), "MessagePosted", str(uuid4()), [notice], Parties(f"B-{n}", seller),
                                  {Recipient("seller", seller): f"{seller.lower()}@example.invalid"}))
        store.record_all(effects)


async def close(sender) -> None:
    if hasattr(sender, "close"):  # the sessions it keeps open
        await sender.close()


def cpu(pid: int | None) -> float:
    from benchmarks.memory import cpu_seconds

    return cpu_seconds(pid) if pid else 0.0


async def drain_round(store, sender, sink_pid: int, pg_pid: int | None, count: int,
                      body: str = BODY) -> dict[str, float]:
    queue(store, count, body=body)
    before = (time.process_time(), cpu(sink_pid), cpu(pg_pid), time.perf_counter())
    sent = 0
    while claimed := await sender.drain_once():
        sent += claimed
    await close(sender)
    after = (time.process_time(), cpu(sink_pid), cpu(pg_pid), time.perf_counter())
    per = [(b - a) * 1000 / max(1, sent) for a, b in zip(before, after)]
    return {"emails": sent, "sender_ms": per[0], "sink_ms": per[1], "postgresql_ms": per[2],
            "per_second": sent / (after[3] - before[3])}


async def steady_round(store, sender, rate: int, seconds: float) -> dict[str, float]:
    from services.notification.email_outbox import EmailOutbox

    running = asyncio.create_task(sender.run())
    per_batch, started = max(1, rate // ARRIVALS_PER_SECOND), time.perf_counter()
    since = datetime.now(timezone.utc)
    for tick in range(int(seconds * ARRIVALS_PER_SECOND)):
        await asyncio.to_thread(queue, store, per_batch)
        sender.wake()  # as the service's consumer does once its batch is stored
        await asyncio.sleep(max(0.0, started + (tick + 1) / ARRIVALS_PER_SECOND - time.perf_counter()))
    written = per_batch * int(seconds * ARRIVALS_PER_SECOND)
    deadline = time.monotonic() + 60
    outbox = EmailOutbox(store.engine)
    while time.monotonic() < deadline:
        rows = [r for r in outbox.emails() if r["created_at"] >= since]
        if len([r for r in rows if r["sent_at"] is not None]) >= written:
            break
        await asyncio.sleep(0.2)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await close(sender)
    waits = sorted((r["sent_at"] - r["created_at"]).total_seconds() * 1000 for r in rows if r["sent_at"])
    pick = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))] if waits else float("nan")  # noqa: E731
    return {"written": written, "sent": len(waits), "p50_ms": pick(0.5), "p99_ms": pick(0.99)}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.cpu_split import postmaster_pid
    from infra.ports import free_port
    from infra.postgres import PostgresServer
    from services.common.database import sqlalchemy_engine
    from services.common.logging import configure_logging
    from services.notification.main import email_sender
    from services.notification.email_outbox import EmailOutbox
    from services.notification.settings import NotificationSettings
    from services.notification.store import NotificationStore

    parser = argparse.ArgumentParser(prog="python -m benchmarks.mail_cpu")
    parser.add_argument("--emails", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--long-lines", action="store_true", help="each e-mail's body with a line past "
                        "78 characters, as the refund path's notices (quoted-printable)")
    args = parser.parse_args(argv)
    body = LONG_BODY if args.long_lines else BODY
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="mail-cpu-") as folder:
        pg = PostgresServer(Path(folder) / "pg", durable=True).start()
        smtp_port = free_port()
        sink = subprocess.Popen([sys.executable, "-m", "standins.smtp_sink", "--port", str(smtp_port),
                                 "--http-port", str(free_port()), "--folder", f"{folder}/mail"],
                                stdout=subprocess.DEVNULL)
        try:
            store = NotificationStore(sqlalchemy_engine(pg.create_database("mail_cpu")))
            store.create_tables()
            settings = NotificationSettings(smtp_port=smtp_port)
            time.sleep(1.0)  # the sink's listener
            for n in range(args.rounds):
                sender = email_sender(EmailOutbox(store.engine), settings)
                result = asyncio.run(drain_round(store, sender, sink.pid, postmaster_pid(pg.data_dir), args.emails, body))
                print(f"round {n + 1}: {result['emails']} e-mails drained at {result['per_second']:,.0f}/s; CPU per "
                      f"e-mail: sender {result['sender_ms']:.3f} ms, sink {result['sink_ms']:.3f} ms, "
                      f"PostgreSQL {result['postgresql_ms']:.3f} ms", flush=True)
            steady = asyncio.run(steady_round(store, email_sender(EmailOutbox(store.engine), settings),
                                              args.rate, args.seconds))
            print(f"steady @{args.rate}/s for {args.seconds} s: {steady['sent']} of {steady['written']} sent; "
                  f"written -> sent p50 {steady['p50_ms']:.0f} ms, p99 {steady['p99_ms']:.0f} ms", flush=True)
        finally:
            sink.terminate()
            sink.wait(10)
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
