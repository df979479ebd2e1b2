"""Refund service settings (prefix REFUND_)."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class RefundSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFUND_", extra="ignore")

    database_url: str = "sqlite:///var/refund.sqlite"
    kafka_bootstrap: str = "127.0.0.1:9092"
    http_host: str = "127.0.0.1"
    http_port: int = 8002
    topic_partitions: int = 6
    log_level: str = "INFO"
