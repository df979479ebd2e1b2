"""Payment-provider simulator settings (prefix PAYSIM_), fault injection included."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYSIM_", extra="ignore")

    database_url: str = "sqlite:///var/payment_simulator.sqlite"
    http_host: str = "127.0.0.1"
    http_port: int = 8003
    log_level: str = "INFO"
    failure_rate: float = Field(0.0, ge=0.0, le=1.0)  # share of requests answered with a 500
    fail_first_n: int = Field(0, ge=0)  # the first N requests of every key get a 500
    timeout_first_n: int = Field(0, ge=0)  # the next N are accepted but answered too late
    timeout_seconds: float = Field(30.0, ge=0.0)  # how late "too late" is
    latency_ms: int = Field(0, ge=0)  # added to every request
    max_body_bytes: int = Field(1024 * 1024, ge=1024)  # larger request bodies: 413
