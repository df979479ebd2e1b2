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
