"""Notification service settings (prefix NOTIFICATION_)."""

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from contracts.topics import DISPUTES_EVENTS
from services.common.kafka import KafkaSettings
from services.common.token_settings import TokenSettings
from services.notification.notices import Recipient


class NotificationSettings(TokenSettings, KafkaSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    database_url: str = "sqlite:///var/notification.sqlite"
    events_topic: str = DISPUTES_EVENTS
    http_host: str = "127.0.0.1"
    http_port: int = 8001
    jwt_audience: str = Field("notification-api", min_length=1)
    topic_partitions: int = 6
    log_level: str = "INFO"
    handler_attempts: int = 3
    handler_backoff: float = 0.2
    handler_redelivery_pause: float = 1.0
    batch_max: int = Field(default=200, ge=1)
    """Records of disputes.events handled in one transaction (and committed together)."""
    gc_young_threshold: int = Field(default=20_000, ge=0)
    """NOTIFICATION_GC_YOUNG_THRESHOLD: once the service has started, what start-up built is
    frozen out of the cyclic garbage collector's walks and its youngest generation is collected
    every this many net allocations (Python's: 700), as in the refund service
    (services/common/bulk_gc.py: serving_heap). 0: the collector as Python sets it."""
    operators_recipient: str = "operators"
    operators_email: str | None = None
    """The operators' shared inbox's e-mail address; configuration is its only source."""
    recipients: dict[str, dict[str, str]] = {}
    """Seed profiles of parties, keyed `<role>:<id>` (role buyer or seller), JSON:
    {"seller:S-1": {"email": "s1@shop.example", "time_zone": "Europe/Berlin"}}."""
    email_fallback_domain: str = "example.invalid"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "Dispute platform <disputes@dispute-platform.localhost>"
    smtp_timeout: float = 10.0
    smtp_sessions: int = Field(default=4, ge=1)
    """SMTP connections open at most at once; each carries many e-mails, one after another (a
    distant server, with a long round trip per command, wants more)."""
    smtp_idle_timeout: float = Field(default=30.0, gt=0)
    """Seconds a connection may stay unused before it is closed (QUIT)."""
    email_max_attempts: int = 10
    email_backoff_initial: float = 1.0
    email_backoff_max: float = 300.0
    outbox_poll_interval: float = 0.5

    @field_validator("recipients")
    @classmethod
    def _recipients_are_role_and_id(cls, value: dict[str, dict[str, str]]):
        for key in value:
            try:
                Recipient.parse(key)
            except ValueError as error:
                raise ValueError(f"NOTIFICATION_RECIPIENTS: {error}") from None
        return value

    # Limits: request bodies, and writes per principal (token bucket, per process).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_per_second: float = Field(default=10.0, gt=0)
    rate_limit_burst: int = Field(default=60, ge=1)
