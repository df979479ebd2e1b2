from services.common.auth import issue_token

SECRET = "test-secret-of-at-least-thirty-two-bytes"


def bearer(role: str, sub: str, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, role, sub)}"}
