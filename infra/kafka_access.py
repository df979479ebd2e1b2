"""Who may do what on Kafka: one principal per process, ACLs derived from the topic table.

- each topic is written by exactly one principal (services.common.topics.WRITERS);
- each consumer group is read by its own service's principal, which reads only the topics of
  its group and alone writes the group's dead-letter topics;
- `ops` (disputectl: read the audit checkpoints, look at groups) reads topics and describes
  groups, never writes and never joins or commits for a group (READ on a group would let it
  commit past a consumer's records: `disputectl kafka replay` runs as the group's own
  principal instead); `admin` is the super user that provisions (topics and ACLs) and nothing else.

`provision(connection)` creates the platform topics and every ACL below; it is idempotent (Kafka
keeps one copy of an ACL binding however often it is created). aiokafka has no ACL API, so the
CreateAcls request it ships in its protocol module is sent as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.protocol.admin import CreateAclsRequest

from services.common.kafka import KafkaConnection, admin_client
from services.common.topic_replication import TopicReplication
from services.common.topics import CONSUMER_GROUPS, WRITERS, dead_letter_topics_of, ensure_platform_topics

ADMIN = "admin"
OPS = "ops"
# Kafka's wire enums (org.apache.kafka.common.resource / acl).
TOPIC, GROUP = 2, 3
LITERAL = 3
READ, WRITE, CREATE, DESCRIBE = 3, 4, 5, 8
ALLOW = 3


@dataclass(frozen=True)
class Acl:
    principal: str
    resource_type: int
    resource: str
    operation: int

    def describe(self) -> str:
        names = {READ: "Read", WRITE: "Write", CREATE: "Create", DESCRIBE: "Describe"}  # noqa
        kind = {TOPIC: "topic", GROUP: "group"}[self.resource_type]
        return f"User:{self.principal} {names[self.operation]} {kind} {self.resource}"


def principals() -> list[str]:
    """Every principal the platform's processes use (credentials are made for each)."""
    consumers = {group for groups in CONSUMER_GROUPS.values() for group in groups}
    return sorted({ADMIN, OPS, *WRITERS.values(), *consumers})


def acls() -> list[Acl]:
    bindings: list[Acl] = []
    for topic, writer in WRITERS.items():
        bindings += [Acl(writer, TOPIC, topic, op) for op in (WRITE, DESCRIBE, CREATE)]
    for topic, groups in CONSUMER_GROUPS.items():
        for group in groups:
            bindings += [Acl(group, TOPIC, topic, READ), Acl(group, GROUP, group, READ)]
    for group in {g for groups in CONSUMER_GROUPS.values() for g in groups}:
        for dlq in dead_letter_topics_of(group):
            bindings += [Acl(group, TOPIC, dlq, op) for op in (WRITE, DESCRIBE, CREATE)]
    # ops: read every topic (audit checkpoints, tail), describe every group; no writes, no commits.
    bindings += [Acl(OPS, TOPIC, "*", READ), Acl(OPS, GROUP, "*", DESCRIBE)]
    return sorted(set(bindings), key=lambda a: (a.principal, a.resource, a.operation))


async def create_acls(connection: KafkaConnection, bindings: list[Acl]) -> None:
    admin = admin_client(connection, "provision")
    await admin.start()
    try:
        for acl in bindings:
            request = CreateAclsRequest(acl.resource_type, acl.resource, LITERAL,
                                        f"User:{acl.principal}", "*", acl.operation, ALLOW)
            response = await admin._send_request(request)  # noqa: SLF001 (no public ACL API)
            for code, message in response.creation_responses:
                if code:
                    raise RuntimeError(f"Kafka refused ACL {acl.describe()}: error {code} {message}")
    finally:
        await admin.close()


async def provision(connection: KafkaConnection, partitions: int = 6,
                    replication: TopicReplication | None = None) -> None:
    """Topics first (with their configs), then the ACLs that let each principal at them."""
    await ensure_platform_topics(connection, partitions, replication)
    await create_acls(connection, acls())
