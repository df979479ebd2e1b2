"""Tokens as the local identity (make token) mints them: HS256, the local issuer, both audiences."""

from services.common.auth import issue_token

SECRET = "test-secret-of-at-least-thirty-two-bytes"
AUDIENCES = ("dispute-api", "notification-api")


def bearer(role: str, sub: str, secret: str = SECRET, audience=AUDIENCES) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, role, sub, audience=audience)}"}
