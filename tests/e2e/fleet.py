"""Two of each service as real processes on the session's Kafka and PostgreSQL, each as its
own Kafka principal, and what their logs tell (records handled, the relay lock)."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

from infra.ports import free_port
from tests.e2e.conftest import KAFKA_PRINCIPALS, System, stop_system
from tests.support.keys import DISPUTE_KEYS
from tests.support.processes import ServiceProcess
from tests.support.tokens import SECRET

# What each instance logs for a record it consumed (structlog JSON events).
HANDLED = {"dispute": ('"order_event_applied"', '"refund_result_recorded"'),
           "notification": ('"notified"', '"duplicate_skipped"'),
           "refund": ('"accepted"', '"duplicate_skipped"')}


def shared_env(postgres) -> dict[str, str]:
    run = uuid4().hex[:6]
    return {
        "DISPUTE_DATABASE_URL": postgres.create_database(f"two_{run}_dispute"),
        "DISPUTE_JWT_SECRET": SECRET, **DISPUTE_KEYS, "DISPUTE_RELAY_POLL_INTERVAL": "0.1",
        "DISPUTE_RELAY_METRICS_PORT": "0", "DISPUTE_DEADLINE_POLL_INTERVAL": "0.5",
        # escalation at once, so the operator's part fits in a test; one operator decides all
        "DISPUTE_ESCALATION_OPENS_AFTER": "PT0S", "DISPUTE_RATE_LIMIT_BURST": "10000",
        "NOTIFICATION_DATABASE_URL": postgres.create_database(f"two_{run}_notification"),
        "NOTIFICATION_JWT_SECRET": SECRET, "NOTIFICATION_HANDLER_REDELIVERY_PAUSE": "0.2",
        "NOTIFICATION_SMTP_TIMEOUT": "2",  # a lease of 36 s: a killed sender's mail settles sooner
        "REFUND_DATABASE_URL": postgres.create_database(f"two_{run}_refund"),
        "REFUND_PROVIDER_BACKOFF_INITIAL": "0.05",
        # a replica killed mid-payment is driven again by its restart at once, as before the
        # lease (the lease against a live replica is tested in tests/component/test_refund_desk.py)
        "REFUND_RESERVATION_LEASE": "0",
        "PAYSIM_DATABASE_URL": postgres.create_database(f"two_{run}_payments"),
    }


@dataclass
class Fleet(System):
    notification_database: str = ""
    records_read: int = 0  # of our disputes on disputes.events, duplicates included


def start_two_of_each(postgres, kafka, log_dir: Path) -> Fleet:
    env = shared_env(postgres)
    fleet = Fleet(url={}, kafka=kafka.connection("orders"), reader=kafka.admin, log_dir=log_dir,
                  notification_database=env["NOTIFICATION_DATABASE_URL"])
    try:
        smtp = free_port()
        _start(fleet, "mailbox", "standins.smtp_sink", env, "/messages", lambda port: [
            "--port", str(smtp), "--http-port", str(port), "--folder", str(log_dir / "mail")])
        _start(fleet, "payments", "standins.payment_provider.main", {**env, "PAYSIM_HTTP_PORT": "{port}"},
               "/health")
        env |= {"REFUND_PROVIDER_URL": fleet.url["payments"], "NOTIFICATION_SMTP_PORT": str(smtp)}
        # the eight services need nothing of each other to start: all at once, then each
        # waited for (one after the other they spent most of the fixture importing)
        starting = []
        for n in (1, 2):
            for kind, module, args, port_variable in SERVICES:
                own = {**env, **kafka.env(*KAFKA_PRINCIPALS[kind])}
                if port_variable:
                    own[port_variable] = "{port}"
                starting.append(_Start(fleet, f"{kind}-{n}", module, own,
                                       "/health" if port_variable else None, lambda port, args=args: args))
        for start in starting:
            start.begin()
        for start in starting:
            start.wait()
    except Exception:
        stop_system(fleet)
        raise
    return fleet


SERVICES = [("dispute", "services.dispute.main", ["serve"], "DISPUTE_HTTP_PORT"),
            ("relay", "services.dispute.main", ["relay"], None),
            ("notification", "services.notification.main", [], "NOTIFICATION_HTTP_PORT"),
            ("refund", "services.refund.main", [], "REFUND_HTTP_PORT")]


def _start(fleet: Fleet, name: str, module: str, env: dict[str, str], health: str | None,
           args=lambda port: []) -> None:
    """Start and wait until healthy (see _Start)."""
    start = _Start(fleet, name, module, env, health, args)
    start.begin()
    start.wait()


@dataclass
class _Start:
    """One process started on a port picked just before, then waited for until healthy:
    another process of this busy machine may take a free port first (then a new one is tried)."""
    fleet: Fleet
    name: str
    module: str
    env: dict[str, str]
    health: str | None
    args: object = lambda port: []
    attempts: int = 3
    attempt: int = 0

    def begin(self) -> None:
        port = free_port()
        self.fleet.url[self.name] = f"http://127.0.0.1:{port}"
        proc = ServiceProcess(self.name if self.attempt == 0 else f"{self.name}.{self.attempt}",
                              self.module, self.args(port),
                              {k: v.replace("{port}", str(port)) for k, v in self.env.items()},
                              self.fleet.log_dir, self.health and f"{self.fleet.url[self.name]}{self.health}")
        proc.name = self.name
        self.fleet.processes[self.name] = proc

    def wait(self) -> None:
        while True:
            proc = self.fleet.processes[self.name]
            try:
                proc.wait_healthy(timeout=120)
                return
            except RuntimeError:
                proc.stop()
                self.attempt += 1
                if "address already in use" not in proc.log_tail() or self.attempt == self.attempts:
                    raise
                self.begin()


def handled(proc: ServiceProcess) -> int:
    kind = proc.name.rsplit("-", 1)[0]
    return sum(line.count(mark) for line in proc.log_path.read_text(errors="replace").splitlines()
               for mark in HANDLED[kind] if '"event": ' + mark in line)


def takeovers(proc: ServiceProcess) -> int:
    return proc.log_path.read_text(errors="replace").count('"relay_took_over"')


def holds_the_lock(proc: ServiceProcess) -> bool:
    log = proc.log_path.read_text(errors="replace")
    return log.rfind('"relay_took_over"') > log.rfind('"relay_lock_lost"')


def kill_one_of_each(fleet: Fleet) -> tuple[list[ServiceProcess], ServiceProcess, int]:
    """SIGKILL the relay holding the lock, one notification and one refund instance; the
    standby relay and how often it had taken over until now."""
    relays = [fleet.processes["relay-1"], fleet.processes["relay-2"]]
    [publishing] = [relay for relay in relays if holds_the_lock(relay)]
    [standby] = [relay for relay in relays if relay is not publishing]
    killed = [publishing, fleet.processes["notification-1"], fleet.processes["refund-1"]]
    for proc in killed:
        proc.process.send_signal(signal.SIGKILL)
    return killed, standby, takeovers(standby)
