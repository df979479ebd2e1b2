"""Notification service settings (prefix NOTIFICATION_)."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    database_url: str = "sqlite:///var/notification.sqlite"
    kafka_bootstrap: str = "127.0.0.1:9092"
    http_host: str = "127.0.0.1"
    http_port: int = 8001
    jwt_secret: str = "dev-only-secret-change-me-in-production"
    topic_partitions: int = 6
    log_level: str = "INFO"
