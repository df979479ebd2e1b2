"""The run's own Kafka broker and PostgreSQL, and every service of the platform as its own
process and Kafka principal (the ACLs let each do its job only), on ports picked now and kept
across restarts."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from infra.kafka import KafkaServer
from infra.ports import free_port
from infra.postgres import PostgresServer
from tools.chaos.supervisor import Service

# process -> (settings prefix, Kafka principal), as tools/run_local.py and the e2e tests run them
PRINCIPALS = {"api": ("DISPUTE", "dispute"), "worker": ("DISPUTE", "dispute"),
              "relay": ("DISPUTE", "dispute-relay"), "notification": ("NOTIFICATION", "notification"),
              "refund": ("REFUND", "refund")}
DATABASES = ("dispute", "notification", "refund", "payments")


@dataclass
class Platform:
    folder: Path
    kafka: KafkaServer
    postgres: PostgresServer
    # Time limits short enough for a run of minutes: the seller answers within this many
    # seconds or the deadline worker resolves the dispute for the buyer.
    seller_window: float = 60.0
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))  # the tokens' key
    audit_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    id_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    ports: dict[str, int] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, folder: Path, seller_window: float = 60.0) -> "Platform":
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder, KafkaServer(folder / "kafka"), PostgresServer(folder / "pg"), seller_window)

    def start_servers(self) -> None:
        """Both at once; the services start once the broker is provisioned (started sooner,
        their first connects are refused by the ACLs not there yet and they back off for long)."""
        with ThreadPoolExecutor(1, thread_name_prefix="kafka") as pool:
            kafka_up = pool.submit(_on_free_ports, self.kafka, ("port", "controller_port"))
            _on_free_ports(self.postgres, ("port",))
            self.databases = {name: self.postgres.create_database(f"chaos_{name}") for name in DATABASES}
            kafka_up.result()

    def stop_servers(self) -> None:
        self.kafka.stop()
        self.postgres.stop()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def services(self) -> list[Service]:
        self.ports = {name: free_port() for name in
                      ("api", "worker", "notification", "refund", "payments", "smtp", "mailbox")}
        env = self.shared_env()
        mail = ["--port", str(self.ports["smtp"]), "--http-port", str(self.ports["mailbox"]),
                "--folder", str(self.folder / "mail")]
        # the sink's only HTTP route lists every mail received: too heavy for a health check
        specs = [("mailbox", "standins.smtp_sink", mail, None, None),
                 ("payments", "standins.payment_provider.main", [], "PAYSIM_HTTP_PORT", "/health"),
                 ("api", "services.dispute.main", ["serve"], "DISPUTE_HTTP_PORT", "/health"),
                 ("worker", "services.dispute.main", ["serve"], "DISPUTE_HTTP_PORT", "/health"),
                 ("relay", "services.dispute.main", ["relay"], None, None),
                 ("notification", "services.notification.main", [], "NOTIFICATION_HTTP_PORT", "/health"),
                 ("refund", "services.refund.main", [], "REFUND_HTTP_PORT", "/health")]
        services = []
        for name, module, args, port_variable, health in specs:
            own = dict(env)
            if name in PRINCIPALS:
                own |= self.kafka.env(*PRINCIPALS[name])
            if port_variable:
                own[port_variable] = str(self.ports[name])
            # the API answers commands; the worker runs the projections and the deadline worker
            own["DISPUTE_RUN_WORKERS"] = "true" if name == "worker" else "false"
            services.append(Service(name, module, args, own, health and f"{self.url(name)}{health}"))
        return services

    def shared_env(self) -> dict[str, str]:
        return {
            "DISPUTE_DATABASE_URL": self.databases["dispute"], "DISPUTE_JWT_SECRET": self.secret,
            "DISPUTE_ID_KEY": self.id_key, "DISPUTE_AUDIT_KEY": self.audit_key,
            "DISPUTE_EVIDENCE_DIR": str(self.folder / "evidence"),
            "DISPUTE_RELAY_POLL_INTERVAL": "0.1", "DISPUTE_RELAY_METRICS_PORT": "0",
            "DISPUTE_DEADLINE_POLL_INTERVAL": "0.5", "DISPUTE_RATE_LIMIT_BURST": "100000",
            "DISPUTE_SELLER_RESPONSE_WINDOW": f"PT{self.seller_window:.0f}S",
            "DISPUTE_ESCALATION_OPENS_AFTER": "PT0S",  # escalation at once
            "NOTIFICATION_DATABASE_URL": self.databases["notification"],
            "NOTIFICATION_JWT_SECRET": self.secret, "NOTIFICATION_SMTP_PORT": str(self.ports["smtp"]),
            "NOTIFICATION_HANDLER_REDELIVERY_PAUSE": "0.2", "NOTIFICATION_SMTP_TIMEOUT": "2",
            "REFUND_DATABASE_URL": self.databases["refund"], "REFUND_PROVIDER_URL": self.url("payments"),
            "REFUND_PROVIDER_BACKOFF_INITIAL": "0.1", "REFUND_PROVIDER_TIMEOUT": "2",
            "REFUND_RECONCILE_INTERVAL": "10",  # a refund whose outcome was unknown is asked again soon
            # a killed refund service's reservation is driven again after this (above 5 attempts
            # x 2 s + back-offs, the longest a live holder's call can take): the default 60 s
            # would hold a killed holder's refund past the short form's settle
            "REFUND_RESERVATION_LEASE": "25",
            "PAYSIM_DATABASE_URL": self.databases["payments"], "PAYSIM_TIMEOUT_SECONDS": "4",
        }

    def tools_env(self) -> dict[str, str]:
        """What disputectl needs to read this run's store and audit checkpoints (as `ops`)."""
        return {"DISPUTE_DATABASE_URL": self.databases["dispute"], "DISPUTE_AUDIT_KEY": self.audit_key,
                **self.kafka.env("DISPUTE", "ops")}


def _on_free_ports(server, ports: tuple[str, ...], attempts: int = 3) -> None:
    """Start `server`; on this busy machine another process may take a port picked free a
    moment before, so a failed start is tried again on new ports (the run keeps them after)."""
    for attempt in range(attempts):
        try:
            server.start()
            return
        except (RuntimeError, TimeoutError):
            server.stop()
            if attempt == attempts - 1:
                raise
            for name in ports:
                setattr(server, name, free_port())
