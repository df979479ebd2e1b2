"""Local mode: one switch, `PLATFORM_LOCAL_MODE=true`, that says "this is a developer machine".

`make run` and the tests set it. Without it a service refuses to start on a development
default (a known secret, a short key): better no service than one anyone can sign for.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_MODE_VARIABLE = "PLATFORM_LOCAL_MODE"


class UnsafeSettings(ValueError):
    """A setting that is fine on a developer machine and dangerous anywhere else; the message
    names the environment variable to change."""


class LocalModeSettings(BaseSettings):
    """Mixed into each service's settings; the one variable is shared, without the prefix."""

    model_config = SettingsConfigDict(populate_by_name=True)

    local_mode: bool = Field(False, validation_alias=LOCAL_MODE_VARIABLE)


def variable(settings: BaseSettings, field: str) -> str:
    """The environment variable that sets `field` of these settings (DISPUTE_JWT_SECRET)."""
    return f"{settings.model_config.get('env_prefix', '')}{field}".upper()


MIN_KEY_BYTES = 32


def refuse_development_secret(settings: LocalModeSettings, field: str, development_value: str) -> None:
    """Outside local mode a key must be set, and not guessable: neither the development
    default nor shorter than 32 bytes."""
    if settings.local_mode:
        return
    value = getattr(settings, field)
    value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    name = variable(settings, field)
    if value == development_value:
        raise UnsafeSettings(f"{name} is the development default: set {name} to a random secret of "
                             f"at least {MIN_KEY_BYTES} bytes (or {LOCAL_MODE_VARIABLE}=true on a "
                             "developer machine)")
    if len(str(value).encode()) < MIN_KEY_BYTES:
        raise UnsafeSettings(f"{name} is shorter than {MIN_KEY_BYTES} bytes: set {name} to a random "
                             f"secret of at least {MIN_KEY_BYTES} bytes")


def require_kafka_principal(settings) -> None:
    """Outside local mode every Kafka client authenticates: the brokers refuse anonymous ones
    anyway, so say which variables are missing instead of retrying forever."""
    if settings.local_mode or settings.kafka_username:
        return
    raise UnsafeSettings(f"{variable(settings, 'kafka_username')} and {variable(settings, 'kafka_password')} "
                         "are required: this process's own Kafka principal (SASL/SCRAM)")
