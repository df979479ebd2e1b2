"""Bearer tokens (JWT, HS256): who is acting comes from here, never from a request body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

ROLES = ("buyer", "seller", "operator", "service")


class AuthError(Exception):
    """Missing, malformed, expired or wrongly signed token."""


@dataclass(frozen=True)
class Principal:
    role: str
    id: str


def issue_token(secret: str, role: str, sub: str, ttl: timedelta = timedelta(hours=12),
                now: datetime | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = now or datetime.now(timezone.utc)
    claims = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(secret: str, authorization: str | None) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("a bearer token is required")
    token = authorization.split(" ", 1)[1].strip()
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    if claims.get("role") not in ROLES:
        raise AuthError("the token has no valid role")
    return Principal(role=claims["role"], id=str(claims["sub"]))
