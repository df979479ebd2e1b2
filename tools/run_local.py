"""`make run`: the whole system on this machine, on embedded defaults (SQLite stores), in local
mode (PLATFORM_LOCAL_MODE=true: the development token secret is accepted).

Starts Kafka (127.0.0.1:9092), the dispute API (:8000), the relay, a local SMTP sink (:8025,
mails listed on :8026), the notification service (:8001), the payment-provider simulator
(:8003) and the refund service (:8002); prints where each listens; Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from infra.kafka import KafkaServer
from infra.ports import wait_for_port
from services.common.local_mode import LOCAL_MODE_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
RUN_DIR = ROOT / ".run"
SERVICES = [
    ("dispute-api", ["services.dispute.main", "serve"], 8000),
    ("dispute-relay", ["services.dispute.main", "relay"], None),
    ("smtp-sink", ["standins.smtp_sink", "--folder", ".run/mail"], 8026),
    ("notification", ["services.notification.main"], 8001),
    ("payment-simulator", ["standins.payment_provider.main"], 8003),
    ("refund", ["services.refund.main"], 8002),
]
# process -> (settings prefix, its own Kafka principal): each authenticates as itself, and the
# broker's ACLs let it at its own topics only (infra/kafka_access.py).
KAFKA_PRINCIPALS = {"dispute-api": ("DISPUTE", "dispute"), "dispute-relay": ("DISPUTE", "dispute-relay"),
                    "notification": ("NOTIFICATION", "notification"), "refund": ("REFUND", "refund")}


def service_env() -> dict[str, str]:
    """The services' environment: local mode (development token secret accepted), SQLite in .run/."""
    return {**os.environ, LOCAL_MODE_VARIABLE: "true", "DISPUTE_DATABASE_URL": os.environ.get(
        "DISPUTE_DATABASE_URL", f"sqlite:///{RUN_DIR}/dispute.sqlite"),
        "NOTIFICATION_DATABASE_URL": f"sqlite:///{RUN_DIR}/notification.sqlite",
        "REFUND_DATABASE_URL": f"sqlite:///{RUN_DIR}/refund.sqlite",
        "PAYSIM_DATABASE_URL": f"sqlite:///{RUN_DIR}/payment_simulator.sqlite"}


def start_service(name: str, module_args: list[str], kafka: KafkaServer) -> subprocess.Popen:
    log = open(RUN_DIR / f"{name}.log", "ab")
    credentials = kafka.env(*KAFKA_PRINCIPALS[name]) if name in KAFKA_PRINCIPALS else {}
    return subprocess.Popen([sys.executable, "-m", *module_args], cwd=ROOT,
                            env={**service_env(), **credentials},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def main() -> int:
    RUN_DIR.mkdir(exist_ok=True)
    kafka = KafkaServer(RUN_DIR / "kafka", port=9092, controller_port=9093)
    print("starting Kafka on 127.0.0.1:9092 ...", flush=True)
    try:
        kafka.start()
    except Exception as exc:
        print(f"Kafka did not start: {exc}\n(is port 9092 taken? see {kafka.log_file})")
        return 1
    processes = {name: start_service(name, args, kafka) for name, args, _ in SERVICES}
    try:
        for name, _, port in SERVICES:
            if port:
                wait_for_port(port, timeout=60)
        print_banner()
        while all(p.poll() is None for p in processes.values()):
            time.sleep(0.5)
        dead = [n for n, p in processes.items() if p.poll() is not None]
        print(f"stopped because {', '.join(dead)} exited; see .run/<name>.log")
        return 1
    except (KeyboardInterrupt, TimeoutError) as exc:
        if isinstance(exc, TimeoutError):
            print(f"a service did not start: {exc}; see .run/*.log")
        return 0
    finally:
        print("stopping ...", flush=True)
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in processes.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        kafka.stop()
        print("all stopped", flush=True)


def print_banner() -> None:
    print(f"""
The dispute platform is up (logs in {RUN_DIR}/):
  Kafka                 127.0.0.1:9092  (SASL/SCRAM; logins in {RUN_DIR}/kafka/credentials.json,
                        `python -m tools.dev tail disputes.events` reads a topic as `ops`)
  dispute API           http://127.0.0.1:8000   (OpenAPI: http://127.0.0.1:8000/docs)
  operator console      http://127.0.0.1:8000/console  (token: make -s token ROLE=operator SUB=OP-1)
  dispute relay         store -> disputes.events (metrics: http://127.0.0.1:9102/metrics)
  notification service  http://127.0.0.1:8001/v1/notifications
  SMTP sink (mails)     127.0.0.1:8025 -> {RUN_DIR}/mail/*.eml, http://127.0.0.1:8026/messages
  refund service        http://127.0.0.1:8002/health
  payment simulator     http://127.0.0.1:8003/refunds
Try it: see README "Try it". Ctrl-C stops everything.
""", flush=True)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    sys.exit(main())
