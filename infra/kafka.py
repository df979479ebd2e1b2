"""A real single-node Apache Kafka 4.x (KRaft) run from Maven Central jars with Java 17.

No Docker engine is needed: `fetch_jars()` asks Maven for the broker's jars once (cached in
KAFKA_LIBS_DIR), and `KafkaServer` formats storage, starts `kafka.Kafka` on 127.0.0.1 and
waits until a client can talk to it.

CLI: python -m infra.kafka fetch | run [--port 9092] [--data DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from infra.ports import free_port, wait_for_port

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
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class KafkaServer:
    """One broker+controller process; `bootstrap` is what clients connect to."""

    def __init__(self, data_dir: Path, port: int | None = None, controller_port: int | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "server.log"

    def start(self, timeout: float = 90.0) -> "KafkaServer":
        libs = fetch_jars()
        config = self._write_config()
        self._java(libs, "kafka.tools.StorageTool", "format", "--standalone", "-t",
                   _cluster_id(), "-c", str(config), "--ignore-formatted", check=True)
        out = open(self.data_dir / "logs" / "stdout.log", "ab")
        self.process = self._java(libs, "kafka.Kafka", str(config), stdout=out, popen=True)
        self._wait_ready(timeout)
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
        return {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
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
            "auto.create.topics.enable": "true",
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
            if asyncio.run(_metadata_answers(self.bootstrap)):
                return
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"Kafka did not answer on {self.bootstrap} in {timeout:.0f}s; see {self.log_file}")


async def _metadata_answers(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
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
    parser.add_argument("command", choices=["fetch", "run"])
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument("--data", type=Path, default=Path(".run/kafka"))
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
