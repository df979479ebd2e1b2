"""One chaos run: start the platform, load it while the faults are injected, stop the load,
let the system settle (bounded, with progress), count the ledger."""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from tools.chaos import ledger, rebuilt
from tools.chaos.faults import KINDS, Injector, schedule
from tools.chaos.load import Load, Orders, new_client
from tools.chaos.observed import (Observed, disputes_store, read_inbox, read_mails, read_refunds,
                                  read_store, read_topic)
from tools.chaos.platform import Platform
from tools.chaos.report import table, write_json
from tools.chaos.supervisor import Supervisor

READY = ("api", "worker", "notification", "refund")  # /readyz: Kafka partitions assigned


@dataclass
class RunSettings:
    duration: float = 300.0  # seconds of load
    rate: float = 1.0  # lifecycles started per second
    seed: int | None = None  # random when not given (printed first)
    fault_every: float = 15.0  # one fault per this many seconds of load (at least one of each kind)
    kinds: tuple[str, ...] = KINDS
    folder: Path = Path(".run/chaos")
    json_path: Path | None = None  # default: <folder>/ledger.json
    settle_timeout: float = 300.0
    retry_for: float = 120.0  # how long the client retries one command through outages
    seller_window: float = 60.0  # the seller's response deadline (the deadline worker fires it)


@dataclass
class Result:
    seed: int
    balanced: bool
    counts: dict
    checks: list[ledger.Check]
    table: str
    json_path: Path
    faults: list = field(default_factory=list)


def run(settings: RunSettings, say=print) -> Result:
    began, plain = time.monotonic(), say
    say = lambda line: plain(f"[{time.monotonic() - began:5.0f} s] {line}")  # noqa: E731
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the broker's restarts are expected here
    seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(2 ** 31)
    say(f"chaos seed {seed} (replay this run's faults with --seed {seed})")
    faults = schedule(seed, settings.duration, settings.fault_every, settings.kinds)
    say("faults: " + ", ".join(f"{f.kind} @{f.at:.0f}s" for f in faults))
    if settings.folder.exists():
        shutil.rmtree(settings.folder)
    platform = Platform.create(settings.folder, settings.seller_window)
    say(f"starting Kafka and PostgreSQL, then the services (logs in {settings.folder}/) ...")
    platform.start_servers()
    supervisor: Supervisor | None = None
    try:
        supervisor = _started(platform, settings.folder, say)
        return asyncio.run(_run(settings, seed, faults, platform, supervisor, say))
    finally:
        if supervisor is not None:
            supervisor.stop()
        platform.stop_servers()


def _started(platform: Platform, folder: Path, say, attempts: int = 3) -> Supervisor:
    """The services' ports are picked free just before they start, and on a busy machine
    another process may take one first: then all of them start again on new ports (each
    knows the others' addresses)."""
    for attempt in range(1, attempts + 1):
        supervisor = Supervisor(platform.services(), folder, say)
        try:
            supervisor.start()
            return supervisor
        except RuntimeError as error:
            supervisor.stop()
            if "address already in use" not in str(error) or attempt == attempts:
                raise
            say(f"a port was taken before its service bound it; starting the services again on "
                f"new ports ({str(error).splitlines()[0]})")
    raise AssertionError("unreachable")


async def _run(settings: RunSettings, seed: int, faults, platform: Platform, supervisor: Supervisor,
               say) -> Result:
    async with httpx.AsyncClient(timeout=10) as http:
        await _ready(http, platform, say)
        client = new_client(http, platform.url("api"), platform.secret, settings.retry_for)
        orders = Orders(platform.kafka.connection("orders"))
        load = Load(client, orders, settings.rate, f"{seed:x}", settings.seller_window)
        injector = Injector(platform, supervisor, say)
        say(f"load: {settings.rate} lifecycles/s for {settings.duration:.0f} s, {len(faults)} faults")
        started = time.monotonic()
        injecting = asyncio.create_task(injector.run(faults, started))
        await load.run_for(settings.duration)
        say(f"load stopped after {len(load.lifecycles)} lifecycles; waiting for the faults and lifecycles under way")
        await injecting
        await load.finish(settings.retry_for + settings.seller_window + 60, say)
        await orders.close()
        seen, disputes = await _settle(settings, platform, supervisor, http, say)
        checks = [ledger.acknowledged_in_store(client.answers, seen), ledger.published_once_in_order(seen),
                  ledger.refunds_exactly_once(seen), ledger.notified_once(seen),
                  await asyncio.to_thread(rebuilt.projections_equal_rebuild, disputes, platform.databases["dispute"]),
                  await asyncio.to_thread(rebuilt.audit_verifies, platform.tools_env(),
                                          settings.folder / "audit-verify.log"),
                  ledger.no_server_errors(client.answers)]
    injected = Counter(done.fault.kind for done in injector.done if not done.error)
    counts = ledger.counts(client.answers, seen, injected)
    counts["lifecycles started"] = len(load.lifecycles)
    counts["lifecycles completed"] = sum(1 for lc in load.lifecycles if lc.finished)
    counts["orders re-sent (broker away)"] = orders.retried
    counts["process restarts"] = {name: proc.restarts for name, proc in supervisor.procs.items() if proc.restarts}
    report = table(seed, counts, checks)
    json_path = settings.json_path or settings.folder / "ledger.json"
    fault_log = [{**asdict(d.fault), "started": d.started, "took": d.took, "error": d.error} for d in injector.done]
    write_json(json_path, seed, _settings_of(settings), counts, checks, fault_log,
               {"gave_up": client.answers.gave_up})
    return Result(seed, all(c.ok for c in checks), counts, checks, report, json_path, fault_log)


def _settings_of(settings: RunSettings) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}


async def _ready(http: httpx.AsyncClient, platform: Platform, say, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers = []
        for name in READY:
            try:
                answers.append((await http.get(f"{platform.url(name)}/readyz")).status_code == 200)
            except httpx.HTTPError:
                answers.append(False)
        if all(answers):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("the services never got their Kafka partitions: see the logs")


async def _settle(settings: RunSettings, platform: Platform, supervisor: Supervisor,
                  http: httpx.AsyncClient, say) -> tuple[Observed, object]:
    """Until nothing is left to do (every stored event published, every award paid and recorded,
    every notice written and its mail settled, projections caught up) and the store stopped
    growing, or the time is up: the ledger then names what never settled."""
    deadline, head = time.monotonic() + settings.settle_timeout, -1
    while not await asyncio.to_thread(supervisor.all_healthy) and time.monotonic() < deadline:
        say("  settling: waiting for every process to be healthy again")
        await asyncio.sleep(1)
    disputes = disputes_store(platform.databases["dispute"], platform.audit_key)
    while True:
        seen = await _observe(platform, http, disputes, settings.folder)
        behind = await asyncio.to_thread(rebuilt.caught_up, disputes, platform.databases["dispute"])
        pending = _pending(seen, behind)
        quiet = seen.stored_events == head
        say(f"  settling: {seen.stored_events} events stored; still to do: "
            + (", ".join(f"{k} {v}" for k, v in pending.items() if v) or "nothing"))
        if (not any(pending.values()) and quiet) or time.monotonic() > deadline:
            return seen, disputes
        head = seen.stored_events
        await asyncio.sleep(2)


async def _observe(platform: Platform, http: httpx.AsyncClient, disputes, folder: Path) -> Observed:
    seen = Observed()
    seen.stored = await asyncio.to_thread(read_store, disputes)
    seen.published = await read_topic(platform.kafka.admin)
    seen.refunds = await read_refunds(http, platform.url("payments"))
    seen.inbox, seen.outbox = await asyncio.to_thread(read_inbox, platform.databases["notification"])
    seen.mails = await asyncio.to_thread(read_mails, folder / "mail")
    return seen


def _pending(seen: Observed, behind: int) -> dict[str, int]:
    published = {str(e.event_id) for _, e in seen.published}
    awarded, paid = ledger.awards(seen), ledger.paid(seen)
    learned = {line["envelope"]["payload"]["refund_id"] for lines in seen.public().values() for line in lines
               if line["envelope"]["event_type"] == "RefundIssued"}
    return {"unpublished events": sum(1 for lines in seen.public().values() for line in lines
                                      if line["envelope"]["event_id"] not in published),
            "unpaid awards": sum(1 for d, a in awarded.items() if paid.get(d, []) != a),
            "refunds not yet recorded": sum(1 for r in seen.refunds if r["metadata"].get("refund_id") not in learned),
            "notices not written": len(ledger.expected_recipients(seen) - set(seen.inbox)),
            "mails in the outbox": sum(1 for _, sent, failed, _ in seen.outbox if not sent and not failed),
            "projection events behind": behind}
