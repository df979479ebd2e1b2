"""A token checked with the shared secret is remembered until it would expire: the same text
is not verified again (it cost ~15% of the API's CPU per command), and remembering changes no
answer: past exp + leeway (where PyJWT refuses it) the token goes back to PyJWT, another
text is checked on its own."""

from datetime import datetime, timedelta, timezone

import jwt
import pytest

from services.common import auth
from services.common.auth import LOCAL_ISSUER, AuthError, Principal, TokenRules, TokenVerifier

SECRET = "a-test-secret-of-at-least-32-bytes!!"
RULES = TokenRules(algorithms=("HS256",), issuer=LOCAL_ISSUER, audience="dispute-api",
                   max_lifetime=timedelta(hours=12), leeway=timedelta(seconds=30))
ISSUED = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, at: datetime):
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


def header(sub: str = "B-1", ttl: timedelta = timedelta(hours=1)) -> str:
    claims = {"sub": sub, "role": "buyer", "iss": LOCAL_ISSUER, "aud": "dispute-api",
              "iat": ISSUED, "exp": ISSUED + ttl}
    return f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Every token PyJWT checks (the verifier's clock is PyJWT's: frozen at ISSUED + 1 s)."""
    checked: list[str] = []
    decode = jwt.decode

    def counting(token, *args, **kwargs):
        checked.append(token)
        return decode(token, *args, **{**kwargs, "options": {**kwargs["options"], "verify_exp": False}})

    monkeypatch.setattr(auth.jwt, "decode", counting)
    return checked


def test_the_same_token_is_verified_once(decodes):
    verifier = TokenVerifier(RULES, SECRET, clock=Clock(ISSUED + timedelta(seconds=1)))
    given = header()
    assert verifier.read(given) == verifier.read(given) == Principal("buyer", "B-1")
    assert len(decodes) == 1


def test_another_token_is_verified_on_its_own(decodes):
    verifier = TokenVerifier(RULES, SECRET, clock=Clock(ISSUED + timedelta(seconds=1)))
    verifier.read(header("B-1"))
    assert verifier.read(header("B-2")) == Principal("buyer", "B-2")
    tampered = header("B-1")[:-2] + ("AA" if not header("B-1").endswith("AA") else "BB")
    with pytest.raises(AuthError, match="invalid token"):
        verifier.read(tampered)
    assert len(decodes) == 3


def test_a_remembered_token_is_checked_again_once_past_exp_plus_leeway(decodes):
    """From then on PyJWT decides again, and refuses it (its own clock; the `decodes` fixture
    lifts that check only to show when the verifier goes back to PyJWT)."""
    clock = Clock(ISSUED + timedelta(seconds=1))
    verifier = TokenVerifier(RULES, SECRET, clock=clock)
    given = header(ttl=timedelta(minutes=5))
    last_accepted = (ISSUED + timedelta(minutes=5) + RULES.leeway).timestamp()
    verifier.read(given)
    clock.now = last_accepted - 0.001
    verifier.read(given)
    assert len(decodes) == 1
    clock.now = last_accepted
    verifier.read(given)
    assert len(decodes) == 2


def test_at_most_so_many_tokens_are_remembered(monkeypatch, decodes):
    monkeypatch.setattr(auth, "VERIFIED_TOKENS", 2)
    verifier = TokenVerifier(RULES, SECRET, clock=Clock(ISSUED + timedelta(seconds=1)))
    for sub in ("B-1", "B-2", "B-3", "B-1"):
        verifier.read(header(sub))
    assert len(decodes) == 4  # B-1 was forgotten when B-3 came
