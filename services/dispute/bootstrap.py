"""The parts the dispute processes share, built once from settings (each process's own
composition root, `entrypoints/serve.py`, `entrypoints/relay_process.py`, `entrypoints/cli.py`,
calls these)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from services.common.database import (create_schema_racing_others, eventsourcing_env,
                                      sqlalchemy_engine)
from services.dispute.adapters.evidence_store import EvidenceStore
from services.dispute.adapters.idempotency_store import IdempotencyStore
from services.dispute.adapters.order_book import OrderBook
from services.dispute.application.disputes import DisputeApplication
from services.dispute.application.writer import CommandWriter
from services.dispute.projections.dispute_index import DisputeIndexProjection
from services.dispute.projections.timeline import TimelineProjection
from services.dispute.relay.relay import RelayPosition
from services.dispute.settings import DisputeSettings


def build_application(settings: DisputeSettings) -> DisputeApplication:
    """The event store application (its schema created on first use)."""
    return create_schema_racing_others(lambda: DisputeApplication(
        env=eventsourcing_env(settings.database_url), ids=settings.dispute_ids(),
        policy=settings.policy, chain_keys=settings.chain_keys()))


def with_tables(part):
    create_schema_racing_others(part.create_tables)
    return part


@dataclass(frozen=True)
class ApiParts:
    """Everything the API process reads and writes, built and schema-ready before it serves."""

    engine: Engine
    disputes: DisputeApplication
    orders: OrderBook
    projection: DisputeIndexProjection
    timeline: TimelineProjection
    idempotency: IdempotencyStore
    evidence: EvidenceStore
    relay_position: RelayPosition
    writer: CommandWriter  # every HTTP command goes through it (one per DisputeApplication)

    @classmethod
    def build(cls, settings: DisputeSettings) -> "ApiParts":
        engine = sqlalchemy_engine(settings.database_url)
        disputes = build_application(settings)
        evidence = EvidenceStore(Path(settings.evidence_dir))
        evidence.sweep_staged()
        idempotency = with_tables(IdempotencyStore(engine, settings.idempotency_retention))
        return cls(engine=engine, disputes=disputes, orders=with_tables(OrderBook(engine)),
                   projection=with_tables(DisputeIndexProjection(disputes, engine)),
                   timeline=with_tables(TimelineProjection(disputes, engine)),
                   idempotency=idempotency, evidence=evidence,
                   relay_position=with_tables(RelayPosition(engine, settings.events_topic)),
                   writer=CommandWriter(disputes, idempotency, settings.writer_settings()))

    @property
    def projections(self) -> list:
        return [self.projection, self.timeline]
