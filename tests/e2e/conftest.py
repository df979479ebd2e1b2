"""The whole platform as separate processes on the session's real Kafka and PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from contracts.topics import ORDERS_EVENTS
from infra.ports import free_port
from services.common.kafka import KafkaConnection, idempotent_producer
from tests.support.orders import order_delivered, order_placed
from tests.support.keys import DISPUTE_KEYS
from tests.support.processes import ServiceProcess
from tests.support.tokens import SECRET

_databases = itertools.count()
# Each process as its own Kafka principal, as `make run` and production run them: the whole
# lifecycle passing here proves the ACLs let every part do its job (and nothing more).
KAFKA_PRINCIPALS = {"dispute": ("DISPUTE", "dispute"), "relay": ("DISPUTE", "dispute-relay"),
                    "notification": ("NOTIFICATION", "notification"), "refund": ("REFUND", "refund")}


@dataclass
class System:
    url: dict[str, str]
    kafka: KafkaConnection  # the upstream order service's principal: it alone writes orders
    reader: KafkaConnection  # the tests' own eyes on every topic (the super user)
    log_dir: Path
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    async def publish_order(self, order_id: str, buyer: str = "B-1", seller: str = "S-1",
                            amount: str = "100.00", delivered: bool = True, **kwargs) -> None:
        now = datetime.now(timezone.utc)
        events = [order_placed(order_id=order_id, buyer=buyer, seller=seller, amount=amount,
                               now=now, **kwargs)]
        if delivered:
            events.append(order_delivered(order_id=order_id, now=now))
        producer = idempotent_producer(self.kafka, "e2e-orders")
        await producer.start()
        try:
            for event in events:
                await producer.send_and_wait(ORDERS_EVENTS, event.model_dump_json().encode(),
                                             key=order_id.encode())
        finally:
            await producer.stop()


def start_system(postgres, kafka, log_dir: Path, extra_env: dict[str, str] | None = None,
                 attempts: int = 3) -> System:
    """Every service as its own process, on ports picked free just before: another process of
    this busy machine (another test run, a benchmark) may take one first; then the whole
    system starts again on new ports and new databases."""
    for attempt in range(1, attempts + 1):
        try:
            return _start_system(postgres, kafka, log_dir / f"start-{attempt}" if attempt > 1 else log_dir,
                                 extra_env)
        except RuntimeError as error:
            if "address already in use" not in str(error) or attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_system(postgres, kafka, log_dir: Path, extra_env: dict[str, str] | None) -> System:
    log_dir.mkdir(parents=True, exist_ok=True)
    n = next(_databases)
    ports = {name: free_port() for name in
             ("dispute", "notification", "refund", "payments", "smtp", "mailbox")}
    env = {
        "DISPUTE_DATABASE_URL": postgres.create_database(f"e2e{n}_dispute"),
        "DISPUTE_HTTP_PORT": str(ports["dispute"]),
        "DISPUTE_JWT_SECRET": SECRET, **DISPUTE_KEYS, "DISPUTE_RELAY_POLL_INTERVAL": "0.1",
        "DISPUTE_DEADLINE_POLL_INTERVAL": "0.5", "DISPUTE_RELAY_METRICS_PORT": "0",
        "NOTIFICATION_DATABASE_URL": postgres.create_database(f"e2e{n}_notification"),
        "NOTIFICATION_JWT_SECRET": SECRET,
        "NOTIFICATION_HTTP_PORT": str(ports["notification"]),
        "NOTIFICATION_SMTP_PORT": str(ports["smtp"]),
        "REFUND_DATABASE_URL": postgres.create_database(f"e2e{n}_refund"),
        "REFUND_HTTP_PORT": str(ports["refund"]),
        "REFUND_PROVIDER_URL": f"http://127.0.0.1:{ports['payments']}",
        "PAYSIM_DATABASE_URL": postgres.create_database(f"e2e{n}_payments"),
        "PAYSIM_HTTP_PORT": str(ports["payments"]),
        **(extra_env or {}),
    }
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    specs = [
        ("mailbox", "standins.smtp_sink",
         ["--port", str(ports["smtp"]), "--http-port", str(ports["mailbox"]),
          "--folder", str(log_dir / "mail")], f"{url['mailbox']}/messages"),
        ("payments", "standins.payment_provider.main", [], f"{url['payments']}/health"),
        ("dispute", "services.dispute.main", ["serve"], f"{url['dispute']}/health"),
        ("relay", "services.dispute.main", ["relay"], None),
        ("notification", "services.notification.main", [], f"{url['notification']}/health"),
        ("refund", "services.refund.main", [], f"{url['refund']}/health"),
    ]
    system = System(url=url, kafka=kafka.connection("orders"), reader=kafka.admin, log_dir=log_dir)
    try:
        for name, module, args, health in specs:
            own = kafka.env(*KAFKA_PRINCIPALS[name]) if name in KAFKA_PRINCIPALS else {}
            system.processes[name] = ServiceProcess(name, module, args, {**env, **own}, log_dir, health)
        for proc in system.processes.values():
            proc.wait_healthy()
    except Exception:
        stop_system(system)
        raise
    return system


def stop_system(system: System) -> None:
    for proc in system.processes.values():
        proc.stop()
    for proc in system.processes.values():
        print(f"--- {proc.name} (last lines) ---\n{proc.log_tail(12)}")


@pytest.fixture
def system(postgres, kafka, tmp_path):
    running = start_system(postgres, kafka, tmp_path)
    yield running
    stop_system(running)
