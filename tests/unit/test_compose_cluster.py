"""docker-compose.cluster.yml: three KRaft nodes (each controller and broker) in one static
quorum, three copies of every topic, two in sync before a write is acknowledged, no unclean
leader election; every Kafka client knows all three brokers and creates topics the same way."""

import re

from tests.support.compose import BASE, CLUSTER, ROOT, environment, load

COMPOSE = load(BASE, CLUSTER)
SERVICES = COMPOSE["services"]
BROKERS = sorted(name for name in SERVICES if re.fullmatch(r"kafka(-\d)?", name))
START = (ROOT / "docker/kafka/start.sh").read_text()


def broker_env(name: str) -> dict[str, str]:
    return environment(SERVICES[name])


def test_three_nodes_each_a_voter_under_its_own_id_and_name():
    assert BROKERS == ["kafka", "kafka-2", "kafka-3"]
    voters = {broker_env(name)["KAFKA_CONTROLLER_QUORUM_VOTERS"] for name in BROKERS}
    assert len(voters) == 1
    quorum = dict(reversed(voter.split("@")) for voter in voters.pop().split(","))
    assert {host.removesuffix(":9093"): int(node) for host, node in quorum.items()} == \
        {name: int(broker_env(name)["KAFKA_NODE_ID"]) for name in BROKERS}
    assert all(broker_env(name)["KAFKA_HOST"] == name for name in BROKERS)
    assert len({broker_env(name)["KAFKA_CLUSTER_ID"] for name in BROKERS}) == 1


def test_three_copies_two_in_sync_and_no_unclean_election_for_every_topic():
    for name in BROKERS:
        assert (broker_env(name)["KAFKA_REPLICATION"], broker_env(name)["KAFKA_MIN_ISR"]) == ("3", "2")
    for setting in ("default.replication.factor=${REPLICATION}", "min.insync.replicas=${MIN_ISR}",
                    "offsets.topic.replication.factor=${REPLICATION}",
                    "transaction.state.log.min.isr=${MIN_ISR}", "unclean.leader.election.enable=false"):
        assert setting in START, setting


def test_every_kafka_client_knows_the_three_brokers_and_creates_topics_replicated():
    clients = {name: env for name in SERVICES if (env := environment(SERVICES[name]))
               and any(key.endswith("KAFKA_BOOTSTRAP") for key in env)}
    assert set(clients) == {"kafka-setup", "dispute-api", "dispute-relay", "notification", "refund"}
    for name, env in clients.items():
        [bootstrap] = [value for key, value in env.items() if key.endswith("KAFKA_BOOTSTRAP")]
        assert sorted(bootstrap.split(",")) == sorted(f"{b}:9092" for b in BROKERS), name
        assert (env["KAFKA_TOPIC_REPLICATION_FACTOR"], env["KAFKA_TOPIC_MIN_INSYNC_REPLICAS"]) == ("3", "2"), name
    assert {"kafka", "kafka-2", "kafka-3"} <= set(SERVICES["kafka-setup"]["depends_on"])


def test_each_broker_keeps_its_own_data_and_advertises_the_host_port_it_is_published_on():
    volumes = [next(v for v in SERVICES[name]["volumes"] if v.endswith(":/var/lib/kafka")) for name in BROKERS]
    assert len(set(volumes)) == 3 and all(v.split(":")[0] in COMPOSE["volumes"] for v in volumes)
    for name in BROKERS:
        [published] = SERVICES[name]["ports"]
        assert published == f"127.0.0.1:{broker_env(name)['KAFKA_EXTERNAL_PORT']}:9094", name
