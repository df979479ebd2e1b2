"""The parts the dispute processes share, built once from settings (each process's own
composition root, `entrypoints/serve.py`, `entrypoints/relay_process.py`, `entrypoints/cli.py`,
calls these)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from services.common.database import (create_schema_racing_others, eventsourcing_env,
                                      postgres_probe, sqlalchemy_engine)
from services.dispute.adapters.evidence_store import EvidenceStore
from services.dispute.adapters.idempotency_store import IdempotencyStore
from services.dispute.adapters.order_book import OrderBook
from services.dispute.application.disputes import DisputeApplication
from services.dispute.application.shard_writers import ShardWriters
from services.dispute.application.shards import Disputes, ShardedDisputes
from services.dispute.projections.dispute_index import DisputeIndexProjection
from services.dispute.projections.seller_record import SellerRecordProjection
from services.dispute.projections.timeline import TimelineProjection
from services.dispute.relay.relay import RelayPosition
from services.dispute.settings import DisputeSettings


def build_application(settings: DisputeSettings, url: str | None = None) -> DisputeApplication:
    """The event store application on `url` (default: the first shard's database), its schema
    created on first use."""
    url = url or settings.shard_database_urls()[0]
    return create_schema_racing_others(lambda: DisputeApplication(
        env=eventsourcing_env(url), ids=settings.dispute_ids(),
        policy=settings.policy, chain_keys=settings.chain_keys()), probe=postgres_probe(url))


def build_disputes(settings: DisputeSettings) -> Disputes:
    """The store commands go through: the one application, or every shard's behind the
    routing facade (application/shards.py)."""
    urls = settings.shard_database_urls()
    if len(urls) == 1:
        return build_application(settings, urls[0])
    return ShardedDisputes([build_application(settings, url) for url in urls])


def relay_positions(settings: DisputeSettings, engine: Engine | None = None) -> list[RelayPosition]:
    """Each shard's relay position, in the shard's own database; `engine` serves the shard on
    DISPUTE_DATABASE_URL (one pool per database, not one per part)."""
    return [with_tables(RelayPosition(_engine_for(url, settings, engine), settings.events_topic))
            for url in settings.shard_database_urls()]


def _engine_for(url: str, settings: DisputeSettings, engine: Engine | None) -> Engine:
    return engine if engine is not None and url == settings.database_url else sqlalchemy_engine(url)


def idempotency_stores(settings: DisputeSettings, engine: Engine) -> list[IdempotencyStore]:
    """Each shard's idempotency keys, in the shard's own database (the command writer records
    a key in the transaction of its events); `engine` serves the shard on DISPUTE_DATABASE_URL."""
    return [with_tables(IdempotencyStore(_engine_for(url, settings, engine),
                                         settings.idempotency_retention))
            for url in settings.shard_database_urls()]


def with_tables(part):
    create_schema_racing_others(part.create_tables)
    return part


@dataclass(frozen=True)
class ApiParts:
    """Everything the API process reads and writes, built and schema-ready before it serves."""

    engine: Engine
    disputes: Disputes
    orders: OrderBook
    projection: DisputeIndexProjection
    timeline: TimelineProjection
    seller_record: SellerRecordProjection
    idempotency: IdempotencyStore
    evidence: EvidenceStore
    relay_position: RelayPosition  # the first shard's
    relay_positions: list[RelayPosition]  # one per shard, in shard order
    idempotency_stores: list[IdempotencyStore]  # one per shard, beside its events
    writer: ShardWriters  # every HTTP command goes through its shard's writer

    @classmethod
    def build(cls, settings: DisputeSettings) -> "ApiParts":
        engine = sqlalchemy_engine(settings.database_url)
        disputes = build_disputes(settings)
        evidence = EvidenceStore(Path(settings.evidence_dir))
        evidence.sweep_staged()
        positions = relay_positions(settings, engine)
        keys = idempotency_stores(settings, engine)
        return cls(engine=engine, disputes=disputes, orders=with_tables(OrderBook(engine)),
                   projection=with_tables(DisputeIndexProjection(disputes, engine)),
                   timeline=with_tables(TimelineProjection(disputes, engine)),
                   seller_record=with_tables(SellerRecordProjection(disputes, engine)),
                   idempotency=keys[0], idempotency_stores=keys, evidence=evidence,
                   relay_position=positions[0], relay_positions=positions,
                   writer=ShardWriters(disputes, keys, settings.writer_settings()))

    @property
    def projections(self) -> list:
        return [self.projection, self.timeline, self.seller_record]
