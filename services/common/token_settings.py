"""How a service checks bearer tokens, from its settings (`<PREFIX>_JWT_*`), and the start-up
checks that refuse a development secret or a short one outside local mode."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import structlog
from jwt import PyJWKClientError
from pydantic import Field

from services.common.auth import (ASYMMETRIC, DEV_SECRET, LOCAL_ISSUER, SYMMETRIC, PublicKeys,
                                  TokenRules, TokenVerifier)
from services.common.local_mode import (LOCAL_MODE_VARIABLE, LocalModeSettings, UnsafeSettings,
                                        variable)
from services.common.token_keys import JwksKeys, PemPublicKey, PublicKey, load_public_key
from services.common.urls import masked_url

log = structlog.get_logger("tokens")
MIN_SECRET_BYTES = 32
KEY_FIELDS = ("jwt_public_key", "jwt_public_key_file", "jwt_jwks_url")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class TokenSettings(LocalModeSettings):
    """Mixed into a service's settings; each field takes that service's prefix. The service
    sets its own `jwt_audience` default."""

    jwt_algorithms: str = "HS256"
    """Comma-separated, of HS256, RS256, EdDSA."""
    jwt_secret: str = DEV_SECRET
    jwt_public_key: str | None = None
    """The identity provider's public key, PEM text."""
    jwt_public_key_file: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = Field(LOCAL_ISSUER, min_length=1)
    jwt_audience: str = Field(min_length=1)
    jwt_max_lifetime: timedelta = Field(timedelta(hours=24), gt=timedelta(0))
    jwt_leeway: timedelta = Field(timedelta(seconds=30), ge=timedelta(0), le=timedelta(minutes=5))


def build_token_verifier(settings: TokenSettings) -> TokenVerifier:
    """The verifier these settings describe, or UnsafeSettings naming the variable to fix."""
    rules = TokenRules(algorithms=accepted_algorithms(settings), issuer=settings.jwt_issuer,
                       audience=settings.jwt_audience, max_lifetime=settings.jwt_max_lifetime,
                       leeway=settings.jwt_leeway)
    secret = checked_secret(settings) if set(rules.algorithms) & set(SYMMETRIC) else None
    public_keys = public_key_source(settings, rules.algorithms)
    log.info("token_verification", algorithms=list(rules.algorithms), issuer=rules.issuer,
             audience=rules.audience, max_lifetime=str(rules.max_lifetime),
             keys=key_source(settings, secret), local_mode=settings.local_mode)
    if secret is not None and not settings.local_mode:
        log.warning("tokens_verified_with_a_shared_secret", variable=variable(settings, "jwt_secret"),
                    hint="whoever holds this secret can mint tokens for this service; "
                         "prefer RS256 or EdDSA with a public key or a JWKS URL")
    return TokenVerifier(rules, secret, public_keys)


def accepted_algorithms(settings: TokenSettings) -> tuple[str, ...]:
    names = tuple(a.strip() for a in settings.jwt_algorithms.split(",") if a.strip())
    unknown = [a for a in names if a not in SYMMETRIC + ASYMMETRIC]
    if unknown or not names:
        raise UnsafeSettings(f"{variable(settings, 'jwt_algorithms')}={settings.jwt_algorithms!r}: "
                             f"accepted algorithms are {', '.join(SYMMETRIC + ASYMMETRIC)}")
    return names


def checked_secret(settings: TokenSettings) -> str:
    name = variable(settings, "jwt_secret")
    if settings.local_mode:
        return settings.jwt_secret
    if settings.jwt_secret == DEV_SECRET:
        raise UnsafeSettings(f"{name} is the development secret: set {name} to a random secret of "
                             f"at least {MIN_SECRET_BYTES} bytes (or {LOCAL_MODE_VARIABLE}=true on "
                             "a developer machine)")
    if len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
        raise UnsafeSettings(f"{name} is shorter than {MIN_SECRET_BYTES} bytes: set {name} to a "
                             f"random secret of at least {MIN_SECRET_BYTES} bytes")
    return settings.jwt_secret


def public_key_source(settings: TokenSettings, algorithms: tuple[str, ...]) -> PublicKeys | None:
    """A PEM public key or a JWKS URL (exactly one) when an asymmetric algorithm is accepted."""
    given = [field for field in KEY_FIELDS if getattr(settings, field)]
    asymmetric = [a for a in algorithms if a in ASYMMETRIC]
    if not asymmetric and given:
        raise UnsafeSettings(f"{variable(settings, given[0])} is set but "
                             f"{variable(settings, 'jwt_algorithms')} accepts neither "
                             f"{' nor '.join(ASYMMETRIC)}")
    if not asymmetric:
        return None
    if len(given) != 1:
        names = " or ".join(variable(settings, field) for field in KEY_FIELDS)
        raise UnsafeSettings(f"{variable(settings, 'jwt_algorithms')} accepts "
                             f"{', '.join(asymmetric)}: set exactly one of {names}")
    if given == ["jwt_jwks_url"]:
        return jwks_keys(settings)
    return PemPublicKey(pem_public_key(settings, given[0], asymmetric))


def jwks_keys(settings: TokenSettings) -> JwksKeys:
    """Keys fetched over HTTPS; plain HTTP, whose key set anyone on the path could swap, only
    from this machine (a sidecar) or in local mode."""
    name, url = variable(settings, "jwt_jwks_url"), settings.jwt_jwks_url or ""
    if (urlsplit(url).scheme != "https" and urlsplit(url).hostname not in LOOPBACK
            and not settings.local_mode):
        raise UnsafeSettings(f"{name} must be an https:// URL (plain http only on this machine "
                             f"or with {LOCAL_MODE_VARIABLE}=true)")
    try:
        return JwksKeys(url)
    except PyJWKClientError as exc:
        raise UnsafeSettings(f"{name}: {exc}") from None


def pem_public_key(settings: TokenSettings, field: str, algorithms: list[str]) -> PublicKey:
    name = variable(settings, field)
    try:
        pem = settings.jwt_public_key or Path(settings.jwt_public_key_file or "").read_text()
        return load_public_key(pem, algorithms)
    except TypeError as exc:
        raise UnsafeSettings(f"the key in {name} is {exc}") from None
    except (OSError, ValueError):
        raise UnsafeSettings(f"{name} holds no PEM public key (a service holds the identity "
                             "provider's public key only, never a private key)") from None


def key_source(settings: TokenSettings, secret: str | None) -> list[str]:
    sources = ["secret"] if secret is not None else []
    if settings.jwt_jwks_url:
        sources.append(f"jwks:{masked_url(settings.jwt_jwks_url)}")
    elif settings.jwt_public_key or settings.jwt_public_key_file:
        sources.append("pem")
    return sources
