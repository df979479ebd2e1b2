"""A real single-node Apache Kafka 4.x (KRaft) run from Maven Central jars with Java 17.

No Docker engine is needed: `fetch_jars()` asks Maven for the broker's jars once (cached in
KAFKA_LIBS_DIR), and `KafkaServer` formats storage, starts `kafka.Kafka` on 127.0.0.1 and
waits until a client can talk to it.

The broker is secured as production runs it: clients authenticate with SASL/SCRAM-SHA-512
(one principal per process, credentials created at format time and kept in
`<data>/credentials.json`, mode 0600), the KRaft StandardAuthorizer denies whatever no ACL
allows, and `provision` creates the platform topics and ACLs (infra/kafka_access.py). The
controller listener takes SASL/PLAIN with a password of its own. Re-running on the same data
folder reuses its cluster id and credentials.

CLI: python -m infra.kafka fetch | run [--port 9092] [--data DIR] | provision
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from infra.kafka_access import ADMIN, principals, provision
from infra.ports import free_port, wait_for_port
from services.common.kafka import KafkaConnection
from services.common.topic_replication import TopicReplication

POM_DIR = Path(__file__).resolve().parent / "kafka"
LIBS_DIR = Path(os.environ.get("KAFKA_LIBS_DIR", Path.home() / ".cache/dispute-kafka/libs"))
JVM_OPTS = ["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1"]
LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {logs}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def fetch_jars(libs_dir: Path = LIBS_DIR) -> Path:
    """Download the broker jars with Maven once; later calls reuse the cache."""
    if _has_broker_jar(libs_dir):
        return libs_dir
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed to fetch the Kafka jars: apt-get install maven")
    print(f"fetching Kafka jars into {libs_dir} (once, ~100 MB)", flush=True)
    subprocess.run(
        ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={libs_dir}"],
        cwd=POM_DIR, check=True,
    )
    if not _has_broker_jar(libs_dir):
        raise RuntimeError(f"Maven ran but no kafka_2.13 jar is in {libs_dir}")
    return libs_dir


def _has_broker_jar(libs_dir: Path) -> bool:
    return libs_dir.is_dir() and any(libs_dir.glob("kafka_2.13-*.jar"))


def _cluster_id() -> str:
    """Kafka's own form (url-safe base64 of a UUID), never starting with '-': the storage
    tool would read such an id as an option."""
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())[0] == "-":
        continue
    return cluster_id


CONTROLLER_USER = "controller"


class KafkaServer:
    """One broker+controller process; `bootstrap` is what clients connect to, `connection(p)`
    how principal p does (`admin` is the super user)."""

    def __init__(self, data_dir: Path, port: int | None = None, controller_port: int | None = None,
                 partitions: int = 6):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        self.partitions = partitions
        self.process: subprocess.Popen | None = None
        self.credentials: dict[str, str] = {}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connection(self, principal: str = ADMIN) -> KafkaConnection:
        return KafkaConnection(self.bootstrap, principal, self.credentials[principal])

    @property
    def admin(self) -> KafkaConnection:
        return self.connection(ADMIN)

    def settings(self, principal: str = ADMIN) -> dict[str, str]:
        """Fields for any service's settings: `DisputeSettings(**kafka.settings("dispute"))`."""
        return {"kafka_bootstrap": self.bootstrap, "kafka_username": principal,
                "kafka_password": self.credentials[principal]}

    def env(self, prefix: str, principal: str) -> dict[str, str]:
        """The same as environment variables of a service process (`DISPUTE`, `REFUND`...)."""
        return {f"{prefix}_{name.upper()}": value for name, value in self.settings(principal).items()}

    def prepare_credentials(self) -> dict[str, str]:
        """One password per principal, made once and kept with the data (the broker stores
        only their SCRAM hashes, written at format time)."""
        path = self.data_dir / "credentials.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        wanted = {name: known.get(name) or secrets.token_urlsafe(24)
                  for name in [*principals(), CONTROLLER_USER]}
        if wanted != known:
            path.write_text(json.dumps(wanted, indent=2))
            path.chmod(0o600)
        self.credentials = wanted
        return wanted

    def _cluster_id(self) -> str:
        """Kept beside the data: a formatted folder refuses any other id on the next start."""
        path = self.data_dir / "cluster.id"
        if not path.exists():
            path.write_text(_cluster_id())
        return path.read_text().strip()

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "server.log"

    def start(self, timeout: float = 90.0) -> "KafkaServer":
        libs = fetch_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare_credentials()
        config = self._write_config()
        scram = [arg for name, password in self.credentials.items() if name != CONTROLLER_USER
                 for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")]
        formatted = self._java(libs, "kafka.tools.StorageTool", "format", "--standalone", "-t",
                               self._cluster_id(), "-c", str(config), "--ignore-formatted", *scram)
        if formatted.returncode != 0:
            raise RuntimeError("Kafka storage format failed: "
                               + formatted.stdout.decode(errors="replace")[-2000:])
        out = open(self.data_dir / "logs" / "stdout.log", "ab")
        self.process = self._java(libs, "kafka.Kafka", str(config), stdout=out, popen=True)
        self._wait_ready(timeout)
        asyncio.run(provision(self.admin, self.partitions))
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _write_config(self) -> Path:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "log4j2.properties").write_text(LOG4J2.format(logs=logs))
        config = self.data_dir / "server.properties"
        config.write_text("\n".join(f"{k}={v}" for k, v in self._properties().items()) + "\n")
        return config

    def _properties(self) -> dict[str, object]:
        admin, controller = self.credentials[ADMIN], self.credentials[CONTROLLER_USER]
        return {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"SASL_PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "inter.broker.listener.name": "SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config":
                f'org.apache.kafka.common.security.scram.ScramLoginModule required '
                f'username="{ADMIN}" password="{admin}";',
            # SCRAM credentials live in the metadata the controller serves, so the controller's
            # own listener authenticates with PLAIN against a static password instead.
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config":
                f'org.apache.kafka.common.security.plain.PlainLoginModule required '
                f'username="{CONTROLLER_USER}" password="{controller}" '
                f'user_{CONTROLLER_USER}="{controller}";',
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN};User:{CONTROLLER_USER}",
            "allow.everyone.if.no.acl.found": "false",
            "log.dirs": self.data_dir / "data",
            "num.partitions": 1,
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "transaction.state.log.num.partitions": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            # The active controller appends a no-op record to the metadata log (and flushes it)
            # every 500 ms by default, so that other voters and brokers see it alive: with one
            # combined node nobody else is listening, and those appends were a third of an idle
            # broker's CPU (33 -> 21 ms/s with none). One every 10 s keeps the liveness signal.
            "metadata.max.idle.interval.ms": 10000,
            "auto.create.topics.enable": "false",
        }

    def _java(self, libs: Path, main: str, *args: str, popen: bool = False, **kw):
        cmd = ["java", *JVM_OPTS, f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
               f"-Dkafka.logs.dir={self.data_dir / 'logs'}", "-cp", f"{libs}/*", main, *args]
        if popen:
            return subprocess.Popen(cmd, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        return subprocess.run(cmd, capture_output=True, **kw)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                wait_for_port(self.port, timeout=1.0)
                break
            except TimeoutError:
                continue
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Kafka exited with {self.process.returncode}; see {self.log_file}")
            if asyncio.run(_metadata_answers(self.admin)):
                return
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"Kafka did not answer on {self.bootstrap} in {timeout:.0f}s; see {self.log_file}")


async def _metadata_answers(connection: KafkaConnection) -> bool:
    from services.common.kafka import admin_client

    admin = admin_client(connection, "readiness", request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.kafka")
    parser.add_argument("command", choices=["fetch", "run", "provision"])
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument("--data", type=Path, default=Path(".run/kafka"))
    args = parser.parse_args(argv)
    if args.command == "provision":
        return provision_from_environment()
    fetch_jars()
    if args.command == "fetch":
        return 0
    server = KafkaServer(args.data, port=args.port).start()
    print(f"kafka: listening on {server.bootstrap} (logs: {server.log_file})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.process.wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


def provision_from_environment(attempts: int = 60) -> int:
    """Topics and ACLs on a broker run elsewhere (compose's kafka-setup container), as the
    super user: KAFKA_BOOTSTRAP, KAFKA_ADMIN_USERNAME (admin), KAFKA_ADMIN_PASSWORD (required),
    KAFKA_TOPIC_PARTITIONS (6), KAFKA_TOPIC_REPLICATION_FACTOR and KAFKA_TOPIC_MIN_INSYNC_REPLICAS
    (the broker's defaults unless set). Waits for the broker to answer."""
    try:
        password = os.environ["KAFKA_ADMIN_PASSWORD"]
    except KeyError:
        print("KAFKA_ADMIN_PASSWORD is required to provision Kafka", file=sys.stderr)
        return 2
    connection = KafkaConnection(os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                                 os.environ.get("KAFKA_ADMIN_USERNAME", ADMIN), password)
    partitions = int(os.environ.get("KAFKA_TOPIC_PARTITIONS", "6"))
    try:
        replication = TopicReplication()
    except ValueError as error:  # pydantic's ValidationError: say which setting, no traceback
        print("provision: KAFKA_TOPIC_* settings refused: " + " ".join(str(error).split()), file=sys.stderr)
        return 2
    for attempt in range(attempts):
        try:
            asyncio.run(provision(connection, partitions, replication))
            print(f"provisioned topics and ACLs on {connection.bootstrap}", flush=True)
            return 0
        except Exception as error:  # the broker not up yet, most often
            print(f"provision: {error!r}; retrying ({attempt + 1}/{attempts})", flush=True)
            time.sleep(2)
    return 1


if __name__ == "__main__":
    sys.exit(main())
