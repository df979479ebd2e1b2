"""Topic replication comes from KAFKA_TOPIC_REPLICATION_FACTOR / KAFKA_TOPIC_MIN_INSYNC_REPLICAS;
unset, nothing is sent and the broker's defaults apply. A topic's own configs (the audit
topic's retention) are kept beside them."""

import pytest
from pydantic import ValidationError

from services.common.topic_replication import BROKER_DEFAULT, TopicReplication
from services.common.topics import DISPUTES_AUDIT, platform_topics

AUDIT_CONFIGS = platform_topics()[DISPUTES_AUDIT]


def test_unset_replication_asks_for_the_brokers_default_and_sends_no_min_insync(monkeypatch):
    monkeypatch.delenv("KAFKA_TOPIC_REPLICATION_FACTOR", raising=False)
    monkeypatch.delenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", raising=False)
    topic = TopicReplication().new_topic(DISPUTES_AUDIT, 6, AUDIT_CONFIGS)
    assert topic.replication_factor == BROKER_DEFAULT == -1
    assert topic.topic_configs == AUDIT_CONFIGS  # retention only


def test_replication_and_min_insync_replicas_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("KAFKA_TOPIC_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "2")
    topic = TopicReplication().new_topic(DISPUTES_AUDIT, 6, AUDIT_CONFIGS)
    assert (topic.num_partitions, topic.replication_factor) == (6, 3)
    assert topic.topic_configs == {**AUDIT_CONFIGS, "min.insync.replicas": "2"}
    assert AUDIT_CONFIGS["retention.ms"] == "-1"


def test_more_in_sync_replicas_than_copies_is_refused():
    with pytest.raises(ValidationError, match="KAFKA_TOPIC_MIN_INSYNC_REPLICAS"):
        TopicReplication(replication_factor=2, min_insync_replicas=3)


def test_a_replication_factor_below_one_is_refused():
    with pytest.raises(ValidationError):
        TopicReplication(replication_factor=0)


def test_provisioning_refuses_unreachable_replication_settings_in_one_line(monkeypatch, capsys):
    from infra.kafka import provision_from_environment

    monkeypatch.setenv("KAFKA_ADMIN_PASSWORD", "unused")
    monkeypatch.setenv("KAFKA_TOPIC_REPLICATION_FACTOR", "2")
    monkeypatch.setenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "3")
    assert provision_from_environment(attempts=1) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KAFKA_TOPIC_MIN_INSYNC_REPLICAS" in err, err
