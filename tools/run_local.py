"""`make run`: the whole system on this machine, on embedded defaults (SQLite stores), in local
mode (PLATFORM_LOCAL_MODE=true: the development token secret is accepted).

Starts Kafka (127.0.0.1:9092), the dispute API (:8000), the relay, a local SMTP sink (:8025,
mails listed on :8026), the notification service (:8001), the payment-provider simulator
(:8003) and the refund service (:8002); prints where each listens; Ctrl-C stops them all.
Writes RUN_DIR/local.env, the settings the operator tools beside it read (disputectl,
`python -m tools.dev`, the refund service's `retry`): services/common/local_env.py.

The folder and ports are settings (RUN_DIR, RUN_KAFKA_PORT, RUN_DISPUTE_PORT, ...: RunSettings),
so a test can run a second system beside `make run`; a rerun on the same folder keeps its data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.kafka import KafkaServer
from infra.ports import wait_for_port
from services.common.local_env import write_local_env
from services.common.local_mode import LOCAL_MODE_VARIABLE

ROOT = Path(__file__).resolve().parents[1]


class RunSettings(BaseSettings):
    """RUN_<NAME>: where `make run` keeps its data and the ports it listens on (the defaults)."""

    model_config = SettingsConfigDict(env_prefix="RUN_", extra="ignore")

    dir: Path = ROOT / ".run"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    dispute_port: int = 8000
    relay_metrics_port: int = 9102
    notification_port: int = 8001
    refund_port: int = 8002
    paysim_port: int = 8003
    smtp_port: int = 8025
    smtp_http_port: int = 8026


RUN = RunSettings()
RUN_DIR = RUN.dir


def services(run: RunSettings) -> list[tuple[str, list[str], int | None]]:
    return [
        ("dispute-api", ["services.dispute.main", "serve"], run.dispute_port),
        ("dispute-relay", ["services.dispute.main", "relay"], None),
        ("smtp-sink", ["standins.smtp_sink", "--folder", str(run.dir / "mail"), "--port",
                       str(run.smtp_port), "--http-port", str(run.smtp_http_port)], run.smtp_http_port),
        ("notification", ["services.notification.main"], run.notification_port),
        ("payment-simulator", ["standins.payment_provider.main"], run.paysim_port),
        ("refund", ["services.refund.main"], run.refund_port),
    ]


SERVICES = services(RUN)
# process -> (settings prefix, its own Kafka principal): each authenticates as itself, and the
# broker's ACLs let it at its own topics only (infra/kafka_access.py).
KAFKA_PRINCIPALS = {"dispute-api": ("DISPUTE", "dispute"), "dispute-relay": ("DISPUTE", "dispute-relay"),
                    "notification": ("NOTIFICATION", "notification"), "refund": ("REFUND", "refund")}


# Dispute API processes on the port (DISPUTE_HTTP_WORKERS). One: on this 2-core machine two
# measured slower (their writers take turns at the event store's table lock, and the cores are
# already shared with PostgreSQL, Kafka and five other services).
LOCAL_HTTP_WORKERS = 1


def local_settings(run: RunSettings = RUN) -> dict[str, str]:
    """What the services share, and the operator tools read from RUN_DIR/local.env."""
    return {LOCAL_MODE_VARIABLE: "true", "DISPUTE_DATABASE_URL": os.environ.get(
        "DISPUTE_DATABASE_URL", f"sqlite:///{run.dir}/dispute.sqlite"),
        "NOTIFICATION_DATABASE_URL": f"sqlite:///{run.dir}/notification.sqlite",
        "REFUND_DATABASE_URL": f"sqlite:///{run.dir}/refund.sqlite",
        "PAYSIM_DATABASE_URL": f"sqlite:///{run.dir}/payment_simulator.sqlite",
        "DISPUTE_EVIDENCE_DIR": str(run.dir / "evidence"),
        "DISPUTE_HTTP_WORKERS": os.environ.get("DISPUTE_HTTP_WORKERS", str(LOCAL_HTTP_WORKERS)),
        "DISPUTE_HTTP_PORT": str(run.dispute_port), "DISPUTE_RELAY_METRICS_PORT": str(run.relay_metrics_port),
        "NOTIFICATION_HTTP_PORT": str(run.notification_port), "NOTIFICATION_SMTP_PORT": str(run.smtp_port),
        "REFUND_HTTP_PORT": str(run.refund_port), "REFUND_PROVIDER_URL": f"http://127.0.0.1:{run.paysim_port}",
        "PAYSIM_HTTP_PORT": str(run.paysim_port)}


def service_env(run: RunSettings = RUN) -> dict[str, str]:
    """The services' environment: local mode (development token secret accepted), SQLite in RUN_DIR."""
    return {**os.environ, **local_settings(run)}


def tools_env(run: RunSettings, kafka: KafkaServer) -> dict[str, str]:
    """The operator tools' settings: the services' stores, Kafka as `ops` (the refund retry as
    `refund`: it publishes), the local order service's principal for `tools.dev order`."""
    return {**local_settings(run), **kafka.env("DISPUTE", "ops"), **kafka.env("OPS", "ops"),
            **kafka.env("ORDERS", "orders"), **kafka.env("REFUND", "refund"),
            "LOCAL_KAFKA_CREDENTIALS": str(kafka.data_dir / "credentials.json"),
            "SMTP_SINK_URL": f"http://127.0.0.1:{run.smtp_http_port}"}  # `make demo` lists the mails there


def start_service(name: str, module_args: list[str], kafka: KafkaServer,
                  run: RunSettings = RUN, overrides: Mapping[str, str] | None = None) -> subprocess.Popen:
    """`overrides` win over everything (the benchmark puts every store on its PostgreSQL)."""
    log = open(run.dir / f"{name}.log", "ab")
    credentials = kafka.env(*KAFKA_PRINCIPALS[name]) if name in KAFKA_PRINCIPALS else {}
    return subprocess.Popen([sys.executable, "-m", *module_args], cwd=ROOT,
                            env={**service_env(run), **credentials, **(overrides or {})},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def main() -> int:
    run = RUN
    run.dir.mkdir(parents=True, exist_ok=True)
    kafka = KafkaServer(run.dir / "kafka", port=run.kafka_port, controller_port=run.kafka_controller_port)
    print(f"starting Kafka on 127.0.0.1:{run.kafka_port} ...", flush=True)
    try:
        kafka.start()
    except Exception as exc:
        print(f"Kafka did not start: {exc}\n(is port {run.kafka_port} taken? see {kafka.log_file})")
        return 1
    write_local_env(run.dir / "local.env", tools_env(run, kafka))
    processes = {name: start_service(name, args, kafka, run) for name, args, _ in SERVICES}
    try:
        for name, _, port in SERVICES:
            if port:
                wait_for_port(port, timeout=60)
        print_banner()
        supervise(processes, lambda name, args: start_service(name, args, kafka, run), run)
    except (KeyboardInterrupt, TimeoutError) as exc:
        if isinstance(exc, TimeoutError):
            print(f"a service did not start: {exc}; see {run.dir}/*.log")
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the stop short
            signal.signal(signum, signal.SIG_IGN)
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


QUICK_EXIT = 60.0  # a service that dies sooner after its start backs off longer each time
MAX_BACKOFF = 30.0


def supervise(processes: dict[str, subprocess.Popen], restart, run: RunSettings = RUN) -> None:
    """Until Ctrl-C: a service that exits is started again, as a supervisor would (one crash
    must not take the whole local system down: it is how a crash is watched here). The pause
    before a restart doubles from 1 s to 30 s while the service keeps dying within a minute."""
    args = {name: module_args for name, module_args, _ in SERVICES}
    started = {name: time.monotonic() for name in processes}
    backoff = {name: 0.5 for name in processes}
    restart_at: dict[str, float] = {}
    while True:
        now = time.monotonic()
        for name, proc in processes.items():
            if name in restart_at or proc.poll() is None:
                continue
            quick = now - started[name] < QUICK_EXIT
            backoff[name] = min(backoff[name] * 2, MAX_BACKOFF) if quick else 1.0
            restart_at[name] = now + backoff[name]
            print(f"{name} exited with {proc.returncode}; restarting it in {backoff[name]:.0f} s "
                  f"(see {run.dir}/{name}.log)", flush=True)
        for name, at in list(restart_at.items()):
            if now >= at:
                processes[name] = restart(name, args[name])
                started[name] = time.monotonic()
                del restart_at[name]
                print(f"{name} restarted", flush=True)
        time.sleep(0.5)


def print_banner(run: RunSettings = RUN) -> None:
    print(f"""
The dispute platform is up (logs in {run.dir}/):
  Kafka                 127.0.0.1:{run.kafka_port}  (SASL/SCRAM; logins in {run.dir}/kafka/credentials.json,
                        `python -m tools.dev tail disputes.events` reads a topic as `ops`)
  dispute API           http://127.0.0.1:{run.dispute_port}   (OpenAPI: http://127.0.0.1:{run.dispute_port}/docs)
  operator console      http://127.0.0.1:{run.dispute_port}/console  (token: make -s token ROLE=operator SUB=OP-1)
  dispute relay         store -> disputes.events (metrics: http://127.0.0.1:{run.relay_metrics_port}/metrics)
  notification service  http://127.0.0.1:{run.notification_port}/v1/notifications
  SMTP sink (mails)     127.0.0.1:{run.smtp_port} -> {run.dir}/mail/*.eml, http://127.0.0.1:{run.smtp_http_port}/messages
  refund service        http://127.0.0.1:{run.refund_port}/health
  payment simulator     http://127.0.0.1:{run.paysim_port}/refunds
  operator tools        disputectl, python -m tools.dev: settings in {run.dir}/local.env
                        (environment variables win over it)
Try it: see README "Try it". A service that exits is started again; Ctrl-C stops everything.
""", flush=True)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    sys.exit(main())
