"""The platform's processes, each brought back after it dies (with a back-off), as a
deployment's supervisor would; and the Kafka broker and PostgreSQL the run owns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tools.run_local import MAX_BACKOFF, QUICK_EXIT

ROOT = Path(__file__).resolve().parents[2]
FIRST_BACKOFF = 0.5  # a process killed once is back at once; one that keeps dying waits longer


@dataclass
class Service:
    name: str
    module: str
    args: list[str]
    env: dict[str, str]
    health_url: str | None = None


@dataclass
class Supervised:
    service: Service
    log_path: Path
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None
    restarts: int = 0
    deaths: list[int] = field(default_factory=list)  # exit codes, -9 for a SIGKILL

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.service.module, *self.service.args], cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.service.env},
                start_new_session=True)
        self.started_at = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        if not self.alive:
            return False
        if self.service.health_url is None:
            return True
        try:
            return httpx.get(self.service.health_url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Supervisor:
    """Starts every service, then (on its own thread) restarts whatever exits: the pause
    doubles from FIRST_BACKOFF up to run_local's MAX_BACKOFF while a process keeps dying within
    QUICK_EXIT of its start, as `make run` does."""

    def __init__(self, services: list[Service], log_dir: Path, say=print):
        self.log_dir, self.say = log_dir, say
        self.procs = {s.name: Supervised(s, log_dir / f"{s.name}.log") for s in services}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self, timeout: float = 120.0) -> None:
        for proc in self.procs.values():
            proc.start()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            while not proc.healthy():
                if not proc.alive:
                    raise RuntimeError(f"{proc.service.name} exited at start:\n{proc.log_tail()}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{proc.service.name} not healthy in {timeout:.0f}s:\n{proc.log_tail()}")
                time.sleep(0.3)
        self._thread.start()

    def kill(self, name: str) -> None:
        self.procs[name].kill()

    def all_healthy(self) -> bool:
        return all(proc.healthy() for proc in self.procs.values())

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for proc in self.procs.values():
            proc.stop()

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            now = time.monotonic()
            for name, proc in self.procs.items():
                if proc.process is not None and proc.restart_at is None and not proc.alive:
                    quick = now - proc.started_at < QUICK_EXIT
                    proc.backoff = min(proc.backoff * 2, MAX_BACKOFF) if quick else FIRST_BACKOFF
                    proc.restart_at = now + proc.backoff
                    proc.deaths.append(proc.process.returncode)
                    self.say(f"  supervisor: {name} exited ({proc.process.returncode}); "
                             f"back in {proc.restart_at - now:.1f} s")
                elif proc.restart_at is not None and now >= proc.restart_at:
                    proc.start()
                    proc.restart_at, proc.restarts = None, proc.restarts + 1
