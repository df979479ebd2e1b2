"""Bearer tokens (JWT): who is acting comes from here, never from a request body.

A service only verifies: `TokenVerifier` checks the signature with a key of an accepted
algorithm, the issuer, the service's own audience and a bounded lifetime. `issue_token` mints
HS256 tokens for local use only (`make token`, tests); in production an identity provider
signs with its private key and the services hold its public key.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol, Sequence

import jwt

ROLES = ("buyer", "seller", "operator", "service")
DEV_SECRET = "dev-only-secret-change-me-in-production"
LOCAL_ISSUER = "dispute-platform-local"
SYMMETRIC = ("HS256",)
ASYMMETRIC = ("RS256", "EdDSA")
REQUIRED_CLAIMS = ["exp", "iat", "sub", "role", "iss", "aud"]
# Tokens checked with the shared secret and remembered until they expire: a client sends the
# same token with every request, and checking it again cost ~15% of the API's CPU per command.
VERIFIED_TOKENS = 4096


class AuthError(Exception):
    """Missing, malformed, expired, wrongly signed or wrongly addressed token."""


@dataclass(frozen=True)
class Principal:
    role: str
    id: str


def issue_token(secret: str, role: str, sub: str, ttl: timedelta = timedelta(hours=12),
                now: datetime | None = None, issuer: str = LOCAL_ISSUER,
                audience: str | Sequence[str] = ("dispute-api", "notification-api")) -> str:
    """A local HS256 token; `audience` may name several services (one token for `make run`)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = now or datetime.now(timezone.utc)
    aud = audience if isinstance(audience, str) else list(audience)
    claims = {"sub": sub, "role": role, "iss": issuer, "aud": aud, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass(frozen=True)
class TokenRules:
    """What one service accepts: algorithms, the issuer, its own audience, how long a token
    may live (exp - iat) and how much clock skew is forgiven."""

    algorithms: tuple[str, ...]
    issuer: str
    audience: str
    max_lifetime: timedelta
    leeway: timedelta


class PublicKeys(Protocol):
    """Where the public key that checks an asymmetric token comes from (a PEM key, a JWKS)."""

    def key_for(self, token: str) -> Any: ...


class TokenVerifier:
    """Reads the principal from an `Authorization: Bearer` header, or raises AuthError.

    A token that passed with the shared secret is remembered (the exact token text, up to
    VERIFIED_TOKENS of them, least recently used forgotten) until the moment its `exp` would
    fail the check (exp + leeway): the same text under the same secret always gives the same
    principal, and nbf, iat and the lifetime, once passed, stay passed. Tokens checked with
    public keys are checked every time (the keys may be rotated away)."""

    def __init__(self, rules: TokenRules, secret: str | None = None,
                 public_keys: PublicKeys | None = None, clock: Callable[[], float] = time.time):
        self.rules, self._secret, self._public_keys = rules, secret, public_keys
        self._clock = clock
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def may_block(self) -> bool:
        """Whether verifying may wait on the network (public keys may come from a JWKS URL);
        with a shared secret it is pure computation."""
        return self._public_keys is not None

    def read(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        known = self._remembered(token)
        if known is not None:
            return known
        try:
            key, algorithms = self._key_for(token)
            claims = jwt.decode(token, key, algorithms=algorithms, audience=self.rules.audience,
                                issuer=self.rules.issuer, leeway=self.rules.leeway,
                                options={"require": REQUIRED_CLAIMS})
            lifetime = float(claims["exp"]) - float(claims["iat"])
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {self._reason(exc)}") from None
        except (OverflowError, ValueError, TypeError):  # exp or iat past what a number holds
            raise AuthError("invalid token: exp or iat is out of range") from None
        self._check_lifetime(lifetime)
        principal = principal_of(claims)
        if key is self._secret:
            self._remember(token, principal, int(claims["exp"]) + self.rules.leeway.total_seconds())
        return principal

    def _remembered(self, token: str) -> Principal | None:
        with self._lock:
            found = self._verified.get(token)
            if found is None:
                return None
            if not self._clock() < found[1]:  # expired: checked again, and refused as such
                del self._verified[token]
                return None
            self._verified.move_to_end(token)
            return found[0]

    def _remember(self, token: str, principal: Principal, valid_until: float) -> None:
        with self._lock:
            self._verified[token] = (principal, valid_until)
            while len(self._verified) > VERIFIED_TOKENS:
                self._verified.popitem(last=False)

    def _key_for(self, token: str) -> tuple[Any, list[str]]:
        """The key for the token's algorithm, chosen by its family, so an HS256 token is never
        checked against a public key (algorithm confusion) nor an RS256 one against the secret."""
        alg = jwt.get_unverified_header(token).get("alg")
        if not isinstance(alg, str) or alg not in self.rules.algorithms:
            raise AuthError(f"invalid token: algorithm {alg!r} is not accepted here "
                            f"(accepted: {', '.join(self.rules.algorithms)})")
        if alg in SYMMETRIC and self._secret is not None:
            return self._secret, [a for a in self.rules.algorithms if a in SYMMETRIC]
        if alg in ASYMMETRIC and self._public_keys is not None:
            return self._public_keys.key_for(token), [a for a in self.rules.algorithms
                                                      if a in ASYMMETRIC]
        raise AuthError(f"invalid token: no key for algorithm {alg}")

    def _reason(self, error: jwt.PyJWTError) -> str:
        if isinstance(error, jwt.InvalidAudienceError):
            return f"its audience (aud) is not {self.rules.audience}, this service"
        if isinstance(error, jwt.InvalidIssuerError):
            return f"its issuer (iss) is not {self.rules.issuer}"
        return str(error)

    def _check_lifetime(self, seconds: float) -> None:
        """exp - iat at most the maximum: a stolen token stays useful for a bounded time."""
        limit = self.rules.max_lifetime.total_seconds()
        if not seconds <= limit:
            raise AuthError(f"invalid token: it lives {seconds / 3600:.1f} h (exp - iat), longer "
                            f"than the {limit / 3600:g} h this service accepts")


def bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("a bearer token is required")
    return authorization.split(" ", 1)[1].strip()


def principal_of(claims: dict[str, Any]) -> Principal:
    if claims.get("role") not in ROLES:
        raise AuthError("the token has no valid role")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise AuthError("the token has no subject")
    return Principal(role=claims["role"], id=claims["sub"])
