"""`serve` with DISPUTE_HTTP_WORKERS=N > 1: N API processes on one port, supervised here.

One Python process answers on one core at most (the GIL): the HTTP layer, not the store, is
what limits commands per second. Each worker is an ordinary `serve` (DISPUTE_HTTP_WORKERS=1)
binding the port with SO_REUSEPORT, so the kernel spreads connections over them. What two API
processes on one database do is tested (tests/e2e/test_two_of_each.py, the writer's
cross-process cases): their command writers meet as a stale cache or a lost race, never a
spurious refusal. The first worker also runs the projections, the deadline worker and the
idempotency purge (DISPUTE_RUN_WORKERS as configured); the others do not (they would only
redo the same work and skip it). Every worker runs the Kafka consumers (one consumer group).

Metrics: the workers share a PROMETHEUS_MULTIPROC_DIR created here, so `GET /metrics` of any
worker gives the counters and histograms summed over all of them (gauges per `pid`).

This process only supervises: it imports no application code, forwards SIGTERM/SIGINT to
the workers and waits for them; a worker that dies is started again after a pause; a worker
refusing its settings (exit 2) stops everything with 2. Workers die with it (PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import structlog

log = structlog.get_logger("dispute")
REFUSED = 2
RESTART_PAUSE = 1.0
STOP_TIMEOUT = 15.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the worker, before exec: SIGTERM when the supervisor goes (even on SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def worker_env(index: int, metrics_dir: str, run_workers: bool) -> dict[str, str]:
    return {**os.environ, "DISPUTE_HTTP_WORKERS": "1", "DISPUTE_HTTP_REUSE_PORT": "true",
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            "DISPUTE_RUN_WORKERS": "true" if run_workers and index == 0 else "false"}


class Workers:
    def __init__(self, count: int, run_workers: bool):
        self.count, self.run_workers = count, run_workers
        self.metrics_dir = tempfile.mkdtemp(prefix="dispute-api-metrics-")
        self.processes: dict[int, subprocess.Popen] = {}
        self.stopping = False

    def start(self, index: int) -> None:
        self.processes[index] = subprocess.Popen(
            [sys.executable, "-m", "services.dispute.main", "serve"],
            env=worker_env(index, self.metrics_dir, self.run_workers), preexec_fn=_die_with_parent)
        log.info("http_worker_started", worker=index, pid=self.processes[index].pid)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: setattr(self, "stopping", True))
        for index in range(self.count):
            self.start(index)
        try:
            return self._watch()
        finally:
            self._stop()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _watch(self) -> int:
        while not self.stopping:
            for index, proc in list(self.processes.items()):
                code = proc.poll()
                if code is None or self.stopping:
                    continue
                if code == REFUSED:
                    log.error("http_worker_refused_to_start", worker=index)
                    return REFUSED
                log.warning("http_worker_exited", worker=index, pid=proc.pid, code=code)
                self._forget_metrics(proc.pid)
                time.sleep(RESTART_PAUSE)
                self.start(index)
            time.sleep(0.2)
        return 0

    def _forget_metrics(self, pid: int) -> None:
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(pid, self.metrics_dir)

    def _stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve_workers(count: int, run_workers: bool) -> int:
    return Workers(count, run_workers).run()
