"""Tokens as the local identity (make token) mints them: HS256, the local issuer, both audiences."""

import base64
import hashlib
import hmac
import json

from services.common.auth import issue_token

SECRET = "test-secret-of-at-least-thirty-two-bytes"
AUDIENCES = ("dispute-api", "notification-api")


def bearer(role: str, sub: str, secret: str = SECRET, audience=AUDIENCES) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, role, sub, audience=audience)}"}


def hs256_signed_with(secret: bytes, token_claims: dict) -> str:
    """An HS256 token made by hand, whatever its key or claims: PyJWT itself refuses a PEM key
    as an HMAC secret, an attacker's own code does not."""
    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")
    payload = json.dumps(token_claims, default=lambda at: int(at.timestamp())).encode()
    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + b"." + part(payload)
    return (signing_input + b"." + part(hmac.new(secret, signing_input, hashlib.sha256).digest())).decode()
