"""The fault schedule, drawn from the seed alone (the same seed gives the same faults in the
same order at the same moments), and the injector that carries it out."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import httpx

from tools.chaos.platform import Platform
from tools.chaos.supervisor import Supervisor

KILLED = ("api", "relay", "worker", "notification", "refund", "payments")
KINDS = (*(f"kill {name}" for name in KILLED), "restart kafka", "restart postgres",
         "provider failing", "provider timing out")
OUTAGE = 2.0  # seconds a restarted server stays away
PROVIDER_TROUBLE = 8.0  # seconds the provider fails or times out
FAILURE_RATE = 0.7
TROUBLE_WAIT = 20.0  # seconds to wait for a simulator killed just before


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the load started
    kind: str


def schedule(seed: int, duration: float, every: float = 15.0, kinds: tuple[str, ...] = KINDS) -> list[Fault]:
    """Rounds of every kind in a shuffled order, as many as `duration / every` allows (at
    least one round), at moments drawn between 5 % and 80 % of the load (the rest of it
    lets the last faults' effects play out under load)."""
    rng = random.Random(seed)
    count = max(len(kinds), int(duration // every))
    order: list[str] = []
    while len(order) < count:
        order += rng.sample(list(kinds), len(kinds))
    moments = sorted(rng.uniform(0.05 * duration, 0.8 * duration) for _ in range(count))
    return [Fault(round(at, 1), kind) for at, kind in zip(moments, order[:count])]


@dataclass
class Injected:
    fault: Fault
    started: float  # seconds after the load started
    took: float
    error: str = ""


@dataclass
class Injector:
    platform: Platform
    supervisor: Supervisor
    say: Callable[[str], None] = print
    done: list[Injected] = field(default_factory=list)
    _troubles: list[asyncio.Task] = field(default_factory=list)
    _busy: dict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))

    async def run(self, faults: list[Fault], started: float) -> None:
        """Each fault at its moment, whatever the others are doing (a process may be killed
        while the broker restarts, as it would be in production)."""
        injecting = []
        for fault in faults:
            await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))
            injecting.append(asyncio.create_task(self._one(fault, started)))
        await asyncio.gather(*injecting)
        await asyncio.gather(*self._troubles)

    async def _one(self, fault: Fault, started: float) -> None:
        began = time.monotonic()
        self.say(f"  fault at {began - started:5.1f} s: {fault.kind}")
        error = ""
        try:
            async with self._busy[fault.kind]:  # a server is restarted once at a time
                await self.inject(fault.kind)
        except Exception as failure:  # noted in the ledger: a fault that did not happen
            error = repr(failure)
            self.say(f"  fault {fault.kind} failed: {error}")
        self.done.append(Injected(fault, round(began - started, 1), round(time.monotonic() - began, 1), error))

    async def inject(self, kind: str) -> None:
        verb, target = kind.split(" ", 1)
        if verb == "kill":
            await asyncio.to_thread(self.supervisor.kill, target)
        elif kind == "restart kafka":
            await asyncio.to_thread(self._restart, self.platform.kafka.stop, self.platform.kafka.start)
        elif kind == "restart postgres":
            await asyncio.to_thread(self._restart, self._stop_postgres, self._start_again(self.platform.postgres.start))
        elif kind == "provider failing":  # for a while, beside the next faults
            await self._begin_trouble({"failure_rate": FAILURE_RATE})
        elif kind == "provider timing out":
            await self._begin_trouble({"timeout_first_n": 1})
        else:
            raise ValueError(f"no such fault: {kind}")

    @staticmethod
    def _restart(stop, start) -> None:
        stop()
        time.sleep(OUTAGE)
        start()

    def _stop_postgres(self) -> None:
        """A fast shutdown, and until its pid file is gone (a start would otherwise find
        "another server might be running" and fail)."""
        pid_file = self.platform.postgres.data_dir / "postmaster.pid"
        for _ in range(3):
            self.platform.postgres.stop()
            deadline = time.monotonic() + 10
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            if not pid_file.exists():
                return
        raise RuntimeError(f"PostgreSQL did not stop; see {self.platform.postgres.log_file}")

    @staticmethod
    def _start_again(start, attempts: int = 3):
        def starting() -> None:
            for attempt in range(attempts):
                try:
                    start()
                    return
                except RuntimeError:
                    if attempt == attempts - 1:
                        raise
                    time.sleep(2)
        return starting

    async def _begin_trouble(self, plan: dict) -> None:
        """For a while the provider fails (500) or accepts and answers too late; then it is
        well again (a simulator killed meanwhile comes back well anyway)."""
        url = f"{self.platform.url('payments')}/admin/faults"
        deadline = time.monotonic() + TROUBLE_WAIT
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                try:
                    (await http.post(url, json=plan)).raise_for_status()
                    break
                except httpx.HTTPError:  # the simulator was just killed: spoil it once it is back
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
        self._troubles.append(asyncio.create_task(self._end_trouble(url)))

    async def _end_trouble(self, url: str) -> None:
        await asyncio.sleep(PROVIDER_TROUBLE)
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(10):
                try:
                    (await http.post(url, json={"failure_rate": 0, "timeout_first_n": 0})).raise_for_status()
                    return
                except httpx.HTTPError:  # the simulator was killed meanwhile: it restarts well
                    await asyncio.sleep(1)
