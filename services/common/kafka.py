"""Kafka wiring shared by the services (no domain words here).

Every client is built from one `KafkaConnection`: where the broker is and who this process is
on it (SASL/SCRAM-SHA-512 when a username is set, optionally over TLS). A process has its own
principal; the broker's ACLs decide what it may read and write (infra/kafka_access.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaTimeoutError, TopicAlreadyExistsError
from pydantic import Field, SecretStr

from services.common.local_mode import LocalModeSettings
from services.common.records import DEFAULT_MAX_RECORD_BYTES
from services.common.topic_replication import TopicReplication

SCRAM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaConnection:
    """Broker address and this process's credentials. No username: PLAINTEXT, anonymous
    (refused by a broker with ACLs, which is what every deployment here runs)."""

    bootstrap: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    mechanism: str = SCRAM
    tls: bool = False
    tls_cafile: str | None = None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.tls:
            options["ssl_context"] = ssl.create_default_context(cafile=self.tls_cafile)
        if self.username:
            options.update(security_protocol="SASL_SSL" if self.tls else "SASL_PLAINTEXT",
                           sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password or "")
        else:
            options["security_protocol"] = "SSL" if self.tls else "PLAINTEXT"
        return options

    def broker_security(self):
        """The same credentials for faststream's KafkaBroker(security=...)."""
        from faststream.security import BaseSecurity, SASLScram256, SASLScram512

        context = ssl.create_default_context(cafile=self.tls_cafile) if self.tls else None
        if not self.username:
            return BaseSecurity(ssl_context=context, use_ssl=self.tls) if self.tls else None
        scram = SASLScram512 if self.mechanism == SCRAM else SASLScram256
        return scram(self.username, self.password or "", ssl_context=context, use_ssl=self.tls)

    def as_principal(self, username: str, password: str) -> "KafkaConnection":
        return KafkaConnection(self.bootstrap, username, password, self.mechanism, self.tls,
                               self.tls_cafile)


class KafkaSettings(LocalModeSettings):
    """The Kafka fields every service's settings carry (`<PREFIX>_KAFKA_...`): the broker,
    this process's SCRAM principal and password, and TLS (with a CA file) where the broker
    listener has it; how often a consuming process measures its groups' lag (seconds); the
    largest record its consumers read (bytes)."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_sasl_mechanism: str = SCRAM
    kafka_tls: bool = False
    kafka_tls_cafile: str | None = None
    consumer_lag_interval: float = Field(15.0, gt=0)
    # A consumed record larger than this is dead-lettered RECORD_TOO_LARGE unparsed (records.py).
    kafka_max_record_bytes: int = Field(DEFAULT_MAX_RECORD_BYTES, ge=1024)

    def kafka_connection(self) -> KafkaConnection:
        password = self.kafka_password.get_secret_value() if self.kafka_password else None
        return KafkaConnection(self.kafka_bootstrap, self.kafka_username, password,
                               self.kafka_sasl_mechanism, self.kafka_tls, self.kafka_tls_cafile)


def kafka_broker(connection: KafkaConnection, client_id: str, middlewares: Sequence[Any] = ()):
    """A faststream KafkaBroker that authenticates as this process's principal and binds each
    record's ids to its log lines (log_context.py); `middlewares` add to that (the metrics:
    services/common/kafka_metrics.consumer_middlewares)."""
    from faststream.kafka import KafkaBroker

    from services.common.log_context import LogContext

    return KafkaBroker(connection.bootstrap, client_id=client_id, security=connection.broker_security(),
                       middlewares=(LogContext, *middlewares), parser=readable_headers)


async def readable_headers(record: Any, parse: Any) -> Any:
    """faststream decodes every header as UTF-8 before any handler runs, and a record it
    cannot decode (a header without a value, bytes that are not UTF-8: any client can write
    them) is neither handled nor redelivered nor dead-lettered: lost. Headers only trace a
    record (the body is the contract), so such values are read leniently (U+FFFD, ""). A batch
    subscriber (the refund service's) is given a tuple of records (a list by faststream's test
    broker): each is read so."""
    if isinstance(record, (tuple, list)):
        return await parse(type(record)(_readable(one) for one in record))
    return await parse(_readable(record))


def _readable(record: Any) -> Any:
    headers = [(name, _text(value)) for name, value in (record.headers or ())]
    if headers != list(record.headers or ()):
        record = dataclasses.replace(record, headers=headers)
    return record


def _text(value: bytes | None) -> bytes:
    if value is None:
        return b""
    try:
        value.decode("utf-8")
        return value
    except UnicodeDecodeError:
        return value.decode("utf-8", "replace").encode("utf-8")


def idempotent_producer(connection: KafkaConnection, client_id: str) -> AIOKafkaProducer:
    """acks=all + idempotence: a retried send is never written twice or out of order."""
    return AIOKafkaProducer(
        **connection.client_options(), client_id=client_id, acks="all",
        enable_idempotence=True, linger_ms=5,
    )


def admin_client(connection: KafkaConnection, client_id: str = "admin", **options) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**connection.client_options(), client_id=client_id, **options)


async def ensure_topics(connection: KafkaConnection, topics: dict[str, dict[str, str]],
                        partitions: int, replication: TopicReplication | None = None) -> None:
    """Create missing topics (name -> topic configs); existing ones are left as they are.
    Replication: KAFKA_TOPIC_* from the environment unless given (services/common/topic_replication.py)."""
    replication = replication or TopicReplication()
    admin = admin_client(connection, "ensure-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [replication.new_topic(name, partitions, configs)
                   for name, configs in topics.items() if name not in existing]
        if missing:
            try:
                response = await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                return
            _raise_topic_errors(response)
    finally:
        await admin.close()


TOPIC_ALREADY_EXISTS = 36


def _raise_topic_errors(response) -> None:
    """create_topics answers per topic instead of raising: an ACL refusal must not pass for
    success (the service would then wait on a topic that never comes)."""
    failed = [(topic[0], topic[1], topic[2] if len(topic) > 2 else "")
              for topic in response.topic_errors if topic[1] not in (0, TOPIC_ALREADY_EXISTS)]
    if failed:
        raise RuntimeError("could not create topics: " + "; ".join(
            f"{name} (Kafka error {code}{': ' + message if message else ''})"
            for name, code, message in failed))


async def read_to_end(connection: KafkaConnection, topic: str, client_id: str, wait: float = 10.0) -> AsyncIterator[Any]:
    """Every record of `topic` from the start to its end when called, without a consumer group
    (nothing committed): for tools that read a whole log once. Nothing if there is no topic."""
    consumer = AIOKafkaConsumer(topic, **connection.client_options(), client_id=client_id, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        await consumer.start()
        if topic not in await consumer.topics():
            return
        partitions = await _assigned(consumer, wait)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=500)).values():
                for record in records:
                    yield record
    finally:
        await consumer.stop()


async def _assigned(consumer: AIOKafkaConsumer, wait: float) -> list[TopicPartition]:
    deadline = asyncio.get_running_loop().time() + wait
    while not consumer.assignment():
        if asyncio.get_running_loop().time() > deadline:
            raise KafkaTimeoutError("no partition of the topic was assigned in time")
        await asyncio.sleep(0.05)
    return sorted(consumer.assignment())
