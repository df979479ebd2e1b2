"""Dispute service settings, from the environment (prefix DISPUTE_); defaults run locally."""

from __future__ import annotations

import os
from dataclasses import fields
from datetime import timedelta
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import PydanticBaseSettingsSource, SettingsConfigDict

from services.common.kafka import KafkaSettings
from services.common.local_mode import refuse_development_secret, require_kafka_principal
from services.common.token_settings import TokenSettings
from services.common.topics import DISPUTES_AUDIT
from services.dispute.adapters.audit_chain import DEV_AUDIT_KEY, ChainKeys
from services.dispute.application.writer import WriterSettings
from services.dispute.domain import DisputeIds, DisputePolicy


DEV_ID_KEY = "dev-only-dispute-id-key-change-me-in-production"
ENV_PREFIX = "DISPUTE_"
# The environment names of the policy fields whose variable does not repeat the field's name.
POLICY_ENV_NAMES = {"filing_window_after_promised_delivery": "filing_window",
                    "max_messages": "max_messages_per_dispute",
                    "max_evidence_files": "max_evidence_files_per_dispute",
                    "max_offers": "max_offers_per_dispute"}
CAPS = ("max_messages", "max_evidence_files", "max_offers")


def split_urls(value: str) -> list[str]:
    return [url.strip() for url in value.split(",") if url.strip()]


class PolicyFromEnvironment(PydanticBaseSettingsSource):
    """DISPUTE_<name> for each DisputePolicy field given in the environment, as `policy`
    (unset fields keep the policy's defaults; pydantic parses them as the field's type)."""

    def get_field_value(self, field, field_name):
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environment = {name.upper(): value for name, value in os.environ.items()}
        given = {}
        for field in fields(DisputePolicy):
            variable = ENV_PREFIX + POLICY_ENV_NAMES.get(field.name, field.name).upper()
            if variable in environment:
                given[field.name] = environment[variable]
        return {"policy": given} if given else {}


class DisputeSettings(TokenSettings, KafkaSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    database_url: str = "sqlite:///var/dispute.sqlite"
    shard_urls: str = ""
    """DISPUTE_SHARD_URLS: the event store's shards, database URLs separated by commas, in a
    fixed order (a dispute lives in shard sha256(id) mod N, adapters/shards.py). Empty: one
    shard, the event store in DISPUTE_DATABASE_URL. Projections and the order book stay in
    DISPUTE_DATABASE_URL; each shard keeps its idempotency keys beside its events (the command
    writer records a key in the transaction of its events).
    Fixed once data exists: another list moves disputes to shards that do not hold them."""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_workers: int = Field(default=1, ge=1, le=32)
    """DISPUTE_HTTP_WORKERS: API processes serving the port (SO_REUSEPORT; the kernel spreads
    connections over them). One process is bound to one core by the GIL; `serve` with N > 1
    supervises N worker processes (services/dispute/entrypoints/http_workers.py), of which
    the first also runs the projections and the deadline worker. Default 1 (and in `make run`):
    two measured slower on this 2-core machine (README, Performance)."""
    gil_switch_interval_ms: float = Field(default=0.5, gt=0, le=100)
    """DISPUTE_GIL_SWITCH_INTERVAL_MS: how long the API process's busy thread keeps the GIL
    before another may take it (Python's default: 5 ms). The command writer's thread waits up
    to that long after each round trip of a batch while the event loop is busy, and the
    event store's table lock is held meanwhile: at 0.5 ms the bench's 200/s went from 27/s
    achieved (381 of 600 timed out) to 104/s with none, same load."""
    gc_young_threshold: int = Field(default=2000, ge=0)
    """DISPUTE_GC_YOUNG_THRESHOLD: once the API has started, what start-up built (~170,000
    objects) is frozen out of the cyclic garbage collector's walks and its youngest generation
    is collected every this many net allocations (Python's: 700); services/common/bulk_gc.py:
    serving_heap. Unfrozen, each full collection was one pause of 110-155 ms of CPU (the event
    loop and the writer's thread stalled together; two in a minute of the bench); frozen, at
    2000: no pause over 10 ms of CPU and half the collector's CPU of 700 (README, Performance).
    0: the collector as Python sets it (no freeze)."""
    http_reuse_port: bool = False
    """DISPUTE_HTTP_REUSE_PORT: bind the port with SO_REUSEPORT, so that several `serve`
    processes share it (set by DISPUTE_HTTP_WORKERS for its workers)."""
    topic_partitions: int = 6
    relay_batch_size: int = Field(default=1000, ge=1, le=5000)
    """DISPUTE_RELAY_BATCH_SIZE: stored events read, published and checkpointed together. Each
    batch costs three database round trips (lock check, read, position saved with a flush) and
    a checkpoint: 1000 spends ~10% less relay CPU per event than 200 (benchmarks/relay_kafka.py)
    and adds at most the translation of 1000 events (~30 ms) before a burst's first send."""
    relay_poll_interval: float = 0.2
    relay_metrics_port: int = 9102
    events_topic: str = "disputes.events"
    log_level: str = "INFO"
    run_workers: bool = True
    deadline_poll_interval: float = 1.0
    projection_batch_wait: float = Field(default=0.05, ge=0, le=1)
    """DISPUTE_PROJECTION_BATCH_WAIT (seconds): after a round of the projections that read less
    than a full batch of new events, wait this long before the next (projections/follower.py),
    so a round carries more events: each round costs a few round trips and a commit whatever
    its size. At most this much projection lag is added; 0 follows at once."""
    jwt_audience: str = Field("dispute-api", min_length=1)
    evidence_dir: str = "var/evidence"
    idempotency_retention: timedelta = timedelta(hours=24)
    id_key: str = Field(default=DEV_ID_KEY, min_length=1)
    """DISPUTE_ID_KEY: the HMAC key new dispute ids are derived from (one per order and item).
    Production must set its own secret and never change it: with another key, an item whose
    dispute was opened under the old key would get a second dispute."""
    # The audit chain (adapters/audit_chain.py): new hashes and checkpoints are signed with
    # audit_key under audit_key_id; audit_retired_keys ({"id": "key"}, JSON) still verify older
    # ones; events up to notification audit_legacy_until may predate the keyed chain.
    audit_key: SecretStr = SecretStr(DEV_AUDIT_KEY)
    audit_key_id: str = Field(default="dev", min_length=1, max_length=64)
    audit_retired_keys: dict[str, SecretStr] = {}
    audit_legacy_until: int = Field(default=0, ge=0)
    audit_topic: str = DISPUTES_AUDIT
    # Replays (disputectl audit export, projections rebuild) in worker processes, each a part of
    # the store: replay_workers of them (0: one per CPU core; 1: none, all in the CLI's own
    # process), fewer when there are under replay_min_events_per_worker events for each (a
    # worker costs ~1.5-3 CPU s of imports: on a 50,000-event store two were slower than one).
    replay_workers: int = Field(default=0, ge=0, le=64)
    replay_min_events_per_worker: int = Field(default=200_000, ge=1)

    # Limits (README, Security): bodies, writes per principal (token bucket: `burst` at
    # once, then `rate_limit_per_second`; per process), and the view's latest messages.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_per_second: float = Field(default=10.0, gt=0)
    rate_limit_burst: int = Field(default=60, ge=1)
    view_latest_messages: int = Field(default=20, ge=1, le=200)

    # The command writer (application/writer.py): a batch takes up to writer_max_batch
    # commands, waiting at most writer_max_wait_ms after its first; the writer keeps its
    # latest writer_cache_size disputes in memory (0: none) and the parties of up to
    # writer_parties_cache_size disputes.
    writer_max_batch: int = Field(default=64, ge=1, le=1000)
    writer_max_wait_ms: float = Field(default=2.0, ge=0, le=1000)
    writer_cache_size: int = Field(default=1_000, ge=0)
    writer_parties_cache_size: int = Field(default=100_000, ge=0)
    max_commands_in_flight: int = Field(default=256, ge=0)
    """Commands handled at once by one API process; one more is answered 503 with Retry-After
    (entrypoints/http/command_route.py: CommandsInFlight). 0: no bound."""
    http_max_connections: int = Field(default=1024, ge=0)
    """Connections one API process holds open (idle ones too: ~8 kB each); past it a request
    is answered 503 with Retry-After and its connection closed (services/common/
    connection_bound.py). 0: no bound."""

    policy: DisputePolicy = Field(default_factory=DisputePolicy)
    """The rule parameters (domain/policy.py has the defaults), each read from DISPUTE_<FIELD>
    (DISPUTE_SELLER_RESPONSE_WINDOW=P5D, DISPUTE_RETURN_TRANSIT_ALLOWANCE=P7D, ...; the four of
    POLICY_ENV_NAMES under their older names): see PolicyFromEnvironment."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, PolicyFromEnvironment(settings_cls), dotenv_settings,
                file_secret_settings)

    @field_validator("policy")
    @classmethod
    def _caps_of_at_least_one(cls, policy: DisputePolicy) -> DisputePolicy:
        low = [name for name in CAPS if getattr(policy, name) < 1]
        if low:
            raise ValueError(f"caps per dispute must be at least 1: {', '.join(low)}")
        return policy

    @field_validator("shard_urls")
    @classmethod
    def _distinct_shards(cls, value: str) -> str:
        urls = split_urls(value)
        if len(set(urls)) != len(urls):
            raise ValueError("DISPUTE_SHARD_URLS names a database twice: each shard needs its own")
        return value

    def shard_database_urls(self) -> list[str]:
        """The event store's databases in shard order (one, DISPUTE_DATABASE_URL, by default)."""
        return split_urls(self.shard_urls) or [self.database_url]

    def writer_settings(self) -> WriterSettings:
        return WriterSettings(max_batch=self.writer_max_batch,
                              max_wait=self.writer_max_wait_ms / 1000,
                              cache_size=self.writer_cache_size,
                              parties_size=self.writer_parties_cache_size)

    def dispute_ids(self) -> DisputeIds:
        return DisputeIds(self.id_key.encode())

    def chain_keys(self) -> ChainKeys:
        keys = {kid: key.get_secret_value().encode() for kid, key in self.audit_retired_keys.items()}
        keys[self.audit_key_id] = self.audit_key.get_secret_value().encode()
        return ChainKeys(self.audit_key_id, keys)

    def refuse_unsafe(self) -> None:
        """Before a process starts (API, relay): outside local mode no development key and no
        anonymous Kafka client (UnsafeSettings names the variable)."""
        refuse_development_secret(self, "id_key", DEV_ID_KEY)
        refuse_development_secret(self, "audit_key", DEV_AUDIT_KEY)
        require_kafka_principal(self)
