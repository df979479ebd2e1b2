"""docker/kafka/start.sh, the compose brokers' entrypoint, run here on the Maven jars with the
environment compose gives each broker: Kafka's own storage tool must accept the configuration
it writes (one standalone node, or node 2 of the three-node static quorum) and format the node;
the broker start itself is replaced by a stub (the listeners' fixed ports belong to compose)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from infra.kafka import _cluster_id, fetch_jars
from tests.support.compose import BASE, CLUSTER, ROOT, environment, load

pytestmark = pytest.mark.integration
SECRET = re.compile(r"\$\{([A-Z_]+):\?[^}]*\}")


def kafka_home(tmp: Path) -> Path:
    """bin/kafka-storage.sh: the real StorageTool; bin/kafka-server-start.sh: prints its argument."""
    home = tmp / "kafka-home"
    (home / "bin").mkdir(parents=True)
    tools = {"kafka-storage.sh": f'exec java -Xmx256m -cp "{fetch_jars()}/*" kafka.tools.StorageTool "$@"\n',
             "kafka-server-start.sh": 'echo "would start with $1"\n'}
    for name, body in tools.items():
        script = home / "bin" / name
        script.write_text("#!/bin/sh\n" + body)
        script.chmod(0o755)
    return home


def compose_environment(files: tuple[Path, ...], service: str, tmp: Path) -> dict[str, str]:
    """The broker's environment from the compose files, each required secret given a value."""
    given = {"KAFKA_CLUSTER_ID": _cluster_id()}
    resolved = {key: SECRET.sub(lambda m: given.setdefault(m.group(1), f"pw-{m.group(1).lower()}"), value)
                for key, value in environment(load(*files)["services"][service]).items()}
    return {"PATH": os.environ["PATH"], **resolved, "KAFKA_HOME": str(kafka_home(tmp)), "KAFKA_DATA": str(tmp / "data")}


def start(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ROOT / "docker/kafka/start.sh")], env=env, capture_output=True, text=True, timeout=120)


def properties(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))


def test_the_single_broker_formats_as_a_standalone_controller(tmp_path):
    env = compose_environment((BASE,), "kafka", tmp_path)
    started = start(env)
    assert started.returncode == 0, started.stdout + started.stderr
    meta = properties(tmp_path / "data/data/meta.properties")
    assert (meta["node.id"], meta["cluster.id"]) == ("1", env["KAFKA_CLUSTER_ID"])
    config = properties(tmp_path / "data/server.properties")
    assert config["controller.quorum.bootstrap.servers"] == "kafka:9093"
    assert config["advertised.listeners"] == "INTERNAL://kafka:9092,EXTERNAL://localhost:9094"
    assert "would start with" in started.stdout


def test_node_two_of_the_cluster_formats_as_a_voter_of_the_static_quorum(tmp_path):
    env = compose_environment((BASE, CLUSTER), "kafka-2", tmp_path)
    started = start(env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert properties(tmp_path / "data/data/meta.properties")["node.id"] == "2"
    config = properties(tmp_path / "data/server.properties")
    assert config["controller.quorum.voters"] == "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"
    assert "controller.quorum.bootstrap.servers" not in config
    assert config["advertised.listeners"] == "INTERNAL://kafka-2:9092,EXTERNAL://localhost:9095"
    assert {k: config[k] for k in ("default.replication.factor", "min.insync.replicas",
                                   "offsets.topic.replication.factor", "transaction.state.log.min.isr",
                                   "unclean.leader.election.enable")} == \
        {"default.replication.factor": "3", "min.insync.replicas": "2", "offsets.topic.replication.factor": "3",
         "transaction.state.log.min.isr": "2", "unclean.leader.election.enable": "false"}


def test_the_health_probes_client_settings_are_the_ops_login_readable_by_the_broker_only(tmp_path):
    env = compose_environment((BASE,), "kafka", tmp_path)
    assert start(env).returncode == 0
    probe = tmp_path / "data/probe.properties"
    assert stat.S_IMODE(probe.stat().st_mode) == 0o600
    assert f'username="ops" password="{env["KAFKA_OPS_PASSWORD"]}"' in probe.read_text()
