"""The system under test, as deployed: a durable PostgreSQL (fsync on), the real Kafka
(SASL/SCRAM + ACLs), and every service as its own process, started the way `make run` starts
them (tools/run_local.py: same modules, environment and one Kafka principal per process),
except that every store is a database on that PostgreSQL.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from infra.kafka import KafkaServer
from infra.ports import free_port, wait_for_port
from infra.postgres import PostgresServer
from tools.run_local import RunSettings, services, start_service

READY_PATHS = {"dispute-api": "/readyz", "notification": "/readyz", "refund": "/readyz",
               "payment-simulator": "/readyz", "smtp-sink": "/messages"}
WITHOUT_KAFKA = {"smtp-sink", "payment-simulator"}  # third parties' stand-ins: they start with PostgreSQL
STORES = {"DISPUTE_DATABASE_URL": "bench_dispute", "NOTIFICATION_DATABASE_URL": "bench_notification",
          "REFUND_DATABASE_URL": "bench_refund", "PAYSIM_DATABASE_URL": "bench_payments"}


@dataclass
class System:
    folder: Path
    pg: PostgresServer
    kafka: KafkaServer
    run: RunSettings
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.run.dispute_port}"

    @property
    def dispute_db(self) -> str:
        return self.env["DISPUTE_DATABASE_URL"]

    def start_service(self, name: str, module_args: list[str],
                      extra: dict[str, str] | None = None) -> subprocess.Popen:
        proc = start_service(name, module_args, self.kafka, self.run, {**self.env, **(extra or {})})
        self.processes[name] = proc
        return proc

    def stop_service(self, name: str, timeout: float = 15.0) -> None:
        proc = self.processes.pop(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def service_pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.processes.items()}

    def stop_services(self, timeout: float = 15.0) -> None:
        """Every service process, all told at once; PostgreSQL and Kafka stay up."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name in list(self.processes):
            self.stop_service(name, timeout)

    def stop(self) -> None:
        self.stop_services()
        self.kafka.stop()
        self.pg.stop()


def start_system(folder: Path, before_services: Callable[[KafkaServer], None] | None = None,
                 attempts: int = 3, pg_options: tuple[str, ...] = ()) -> System:
    """Fresh data under `folder` (its logs stay there for a look after the run);
    `before_services(kafka)` runs once Kafka is up (the upstream orders, published while the
    services start). A start that fails is tried again on new ports (the machine is shared:
    a free port can be taken before its server binds it); the failed one's folder is kept
    beside `folder` as `<name>-failed-<n>`. `pg_options`: more PostgreSQL server settings."""
    for attempt in range(1, attempts + 1):
        try:
            return _start_system(folder, before_services, pg_options)
        except Exception as error:
            if attempt == attempts:
                raise
            failed = folder.with_name(f"{folder.name}-failed-{attempt}")
            shutil.rmtree(failed, ignore_errors=True)
            folder.rename(failed)
            print(f"  (the system did not start: {error!r}; its logs are in {failed}; "
                  "starting it again on new ports)", flush=True)
    raise AssertionError("unreachable")


def _start_system(folder: Path, before_services: Callable[[KafkaServer], None] | None,
                  pg_options: tuple[str, ...] = ()) -> System:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    pg, kafka = PostgresServer(folder / "pg", durable=True, options=pg_options), KafkaServer(folder / "kafka")
    run = RunSettings(dir=folder, kafka_port=kafka.port, kafka_controller_port=kafka.controller_port,
                      paysim_port=free_port(), smtp_port=free_port(), smtp_http_port=free_port())
    system = System(folder, pg, kafka, run, {})
    # Kafka starts (the longest) while PostgreSQL starts, gets its databases and the services
    # that need no Kafka start on it
    with ThreadPoolExecutor(1) as pool:
        kafka_started = pool.submit(kafka.start)
        try:
            system.env.update(_started_with_databases(pg))
            for name, args, _ in services(run):
                if name in WITHOUT_KAFKA:
                    system.start_service(name, args)
            kafka_started.result()
        except BaseException:
            kafka_started.exception()  # Kafka done starting (or failed) before it is stopped
            system.stop()
            raise
    # the other services' ports only now, just before they bind them
    system.run = run = run.model_copy(update={"dispute_port": free_port(), "relay_metrics_port": free_port(),
                                              "notification_port": free_port(), "refund_port": free_port()})
    try:
        for name, args, _ in services(run):
            if name not in WITHOUT_KAFKA:
                system.start_service(name, args)
        if before_services:  # while the services import and connect
            before_services(kafka)
        wait_ready(system)
    except BaseException:
        system.stop()
        raise
    return system


def _started_with_databases(pg: PostgresServer) -> dict[str, str]:
    pg.start()
    return {variable: pg.create_database(name) for variable, name in STORES.items()}


def wait_ready(system: System, timeout: float = 90.0) -> None:
    ports = {name: port for name, _, port in services(system.run) if port}
    deadline = time.monotonic() + timeout
    for name, port in ports.items():
        wait_for_port(port, timeout=max(1.0, deadline - time.monotonic()))
        url = f"http://127.0.0.1:{port}{READY_PATHS.get(name, '/healthz')}"
        while True:
            exited = [n for n, p in system.processes.items() if p.poll() is not None]
            if exited:
                raise RuntimeError(f"{', '.join(exited)} exited; see {system.folder}/*.log")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready at {url}; see {system.folder}/{name}.log")
            time.sleep(0.2)
