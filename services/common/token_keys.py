"""Where the public key that checks an identity provider's token comes from: one PEM key, or
the provider's JWKS URL (keys fetched, cached and refreshed by PyJWT's PyJWKClient)."""

from __future__ import annotations

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK, PyJWKClient, PyJWKClientConnectionError

from services.common.auth import AuthError
from services.common.urls import masked_url

log = structlog.get_logger("tokens")
JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5
KEY_TYPES = {"RS256": RSAPublicKey, "EdDSA": Ed25519PublicKey}
PublicKey = RSAPublicKey | Ed25519PublicKey


class PemPublicKey:
    def __init__(self, key: PublicKey):
        self.key = key

    def key_for(self, token: str) -> PublicKey:
        return self.key


class JwksKeys:
    """The identity provider's current keys, picked by the token's `kid`; a `kid` not in the
    cached set makes one refetch (key rotation), at most every 30 s."""

    def __init__(self, url: str):
        self.client = PyJWKClient(url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS,
                                  timeout=JWKS_TIMEOUT_SECONDS)

    def key_for(self, token: str) -> PyJWK:
        try:
            return self.client.get_signing_key_from_jwt(token)
        except PyJWKClientConnectionError as exc:
            log.warning("jwks_unavailable", url=masked_url(self.client.uri), error=str(exc)[:300])
            raise AuthError("invalid token: the identity provider's keys are unavailable") from None


def load_public_key(pem: str, algorithms: list[str]) -> PublicKey:
    """The PEM public key, if it is one (never a private key) and fits one of `algorithms`;
    ValueError otherwise."""
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, (RSAPublicKey, Ed25519PublicKey)) or not any(
            isinstance(key, KEY_TYPES[a]) for a in algorithms):
        raise TypeError(f"not a key for {', '.join(algorithms)}")
    return key
