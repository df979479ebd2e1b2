"""Dispute service settings, from the environment (prefix DISPUTE_); defaults run locally."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.common.kafka import KafkaSettings
from services.common.local_mode import refuse_development_secret, require_kafka_principal
from services.common.token_settings import TokenSettings
from services.common.topics import DISPUTES_AUDIT
from services.dispute.audit_chain import DEV_AUDIT_KEY, ChainKeys
from services.dispute.domain import DisputeIds, DisputePolicy


DEV_ID_KEY = "dev-only-dispute-id-key-change-me-in-production"


class DisputeSettings(TokenSettings, KafkaSettings):
    model_config = SettingsConfigDict(env_prefix="DISPUTE_", extra="ignore")

    database_url: str = "sqlite:///var/dispute.sqlite"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    topic_partitions: int = 6
    relay_batch_size: int = Field(default=200, ge=1, le=5000)
    relay_poll_interval: float = 0.2
    relay_metrics_port: int = 9102
    events_topic: str = "disputes.events"
    log_level: str = "INFO"
    run_workers: bool = True
    deadline_poll_interval: float = 1.0
    jwt_audience: str = Field("dispute-api", min_length=1)
    evidence_dir: str = "var/evidence"
    idempotency_retention: timedelta = timedelta(hours=24)
    id_key: str = Field(default=DEV_ID_KEY, min_length=1)
    """DISPUTE_ID_KEY: the HMAC key new dispute ids are derived from (one per order and item).
    Production must set its own secret and never change it: with another key, an item whose
    dispute was opened under the old key would get a second dispute."""
    # The audit chain (audit_chain.py): new hashes and checkpoints are signed with audit_key
    # under audit_key_id; audit_retired_keys ({"id": "key"}, JSON) still verify older ones;
    # events up to notification audit_legacy_until may predate the keyed chain.
    audit_key: SecretStr = SecretStr(DEV_AUDIT_KEY)
    audit_key_id: str = Field(default="dev", min_length=1, max_length=64)
    audit_retired_keys: dict[str, SecretStr] = {}
    audit_legacy_until: int = Field(default=0, ge=0)
    audit_topic: str = DISPUTES_AUDIT

    # Limits (README, Security): bodies, writes per principal (token bucket: `burst` at
    # once, then `rate_limit_per_second`; per process), and the view's latest messages.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_per_second: float = Field(default=10.0, gt=0)
    rate_limit_burst: int = Field(default=60, ge=1)
    view_latest_messages: int = Field(default=20, ge=1, le=200)

    filing_window: timedelta = timedelta(days=30)
    seller_response_window: timedelta = timedelta(days=5)
    buyer_response_window: timedelta = timedelta(days=5)
    escalation_opens_after: timedelta = timedelta(days=3)
    negotiation_max: timedelta = timedelta(days=15)
    return_ship_by: timedelta = timedelta(days=10)
    return_acknowledgement_window: timedelta = timedelta(days=7)
    evidence_request_window: timedelta = timedelta(hours=72)
    appeal_window: timedelta = timedelta(days=15)
    max_offer_rounds: int = 3
    max_appeals: int = 1
    buyer_timeout_escalates: bool = False
    max_messages_per_dispute: int = Field(default=500, ge=1)
    max_evidence_files_per_dispute: int = Field(default=50, ge=1)
    max_offers_per_dispute: int = Field(default=20, ge=1)

    def dispute_ids(self) -> DisputeIds:
        return DisputeIds(self.id_key.encode())

    def chain_keys(self) -> ChainKeys:
        keys = {kid: key.get_secret_value().encode() for kid, key in self.audit_retired_keys.items()}
        keys[self.audit_key_id] = self.audit_key.get_secret_value().encode()
        return ChainKeys(self.audit_key_id, keys)

    def policy(self) -> DisputePolicy:
        return DisputePolicy(
            filing_window_after_promised_delivery=self.filing_window,
            seller_response_window=self.seller_response_window,
            buyer_response_window=self.buyer_response_window,
            escalation_opens_after=self.escalation_opens_after,
            negotiation_max=self.negotiation_max,
            return_ship_by=self.return_ship_by,
            return_acknowledgement_window=self.return_acknowledgement_window,
            evidence_request_window=self.evidence_request_window,
            appeal_window=self.appeal_window,
            max_offer_rounds=self.max_offer_rounds,
            max_appeals=self.max_appeals,
            buyer_timeout_escalates=self.buyer_timeout_escalates,
            max_messages=self.max_messages_per_dispute,
            max_evidence_files=self.max_evidence_files_per_dispute,
            max_offers=self.max_offers_per_dispute,
        )

    def refuse_unsafe(self) -> None:
        """Before a process starts (API, relay): outside local mode no development key and no
        anonymous Kafka client (UnsafeSettings names the variable)."""
        refuse_development_secret(self, "id_key", DEV_ID_KEY)
        refuse_development_secret(self, "audit_key", DEV_AUDIT_KEY)
        require_kafka_principal(self)
