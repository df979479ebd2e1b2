"""How the topics a process creates are replicated: KAFKA_TOPIC_REPLICATION_FACTOR and
KAFKA_TOPIC_MIN_INSYNC_REPLICAS, the same for every process (provisioning and the services
that create their own dead-letter topics).

Unset (the default), nothing is sent for them and the broker's own `default.replication.factor`
and `min.insync.replicas` apply: one copy on the single local broker, what the cluster says on a
real one. A production cluster of three brokers sets 3 and 2 (docker-compose.cluster.yml): a
write acknowledged by the producers' acks=all is then on two brokers at least. A topic that
exists already is left as it is (Kafka changes neither by re-creating)."""

from __future__ import annotations

from aiokafka.admin import NewTopic
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BROKER_DEFAULT = -1  # CreateTopics' "no replication factor": the broker's default.replication.factor


class TopicReplication(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_TOPIC_", extra="ignore")

    replication_factor: int | None = Field(default=None, ge=1)
    min_insync_replicas: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _reachable(self) -> "TopicReplication":
        if self.replication_factor and self.min_insync_replicas and self.min_insync_replicas > self.replication_factor:
            raise ValueError("KAFKA_TOPIC_MIN_INSYNC_REPLICAS above KAFKA_TOPIC_REPLICATION_FACTOR: "
                             "no write could ever be acknowledged")
        return self

    def new_topic(self, name: str, partitions: int, configs: dict[str, str]) -> NewTopic:
        """The topic's own configs (retention, ...) kept; min.insync.replicas added when set."""
        configs = {**configs, **({"min.insync.replicas": str(self.min_insync_replicas)}
                                 if self.min_insync_replicas else {})}
        topic = NewTopic(name, partitions, self.replication_factor or 1, topic_configs=configs)
        # NewTopic refuses -1 without a replica assignment, though the broker takes it on the
        # CreateTopics versions aiokafka sends (checked on Kafka 4.1: the broker's default applies).
        topic.replication_factor = self.replication_factor or BROKER_DEFAULT
        return topic
