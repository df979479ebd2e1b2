"""Tokens an identity provider signs (RS256, EdDSA), checked with its public key given as PEM or
fetched from its JWKS URL (served here by a real HTTP server on 127.0.0.1): the services hold
public keys only, and never take an HS256 token where only asymmetric keys are configured."""

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from infra.ports import free_port
from services.common.auth import DEV_SECRET, AuthError, Principal
from services.common.local_mode import UnsafeSettings
from services.common.token_settings import build_token_verifier
from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.component.test_tokens import assert_unauthenticated, claims
from tests.support.tokens import SECRET, hs256_signed_with

ISSUER = "https://id.marketplace.example/"


class KeyPair:
    def __init__(self, private, algorithm: str, kid: str):
        self.private, self.algorithm, self.kid = private, algorithm, kid

    def pem(self) -> str:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def private_pem(self) -> str:
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()

    def jwk(self) -> dict:
        to_jwk = RSAAlgorithm.to_jwk if self.algorithm == "RS256" else OKPAlgorithm.to_jwk
        return {**to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid,
                "alg": self.algorithm, "use": "sig"}

    def sign(self, **changes) -> str:
        return jwt.encode(claims(iss=ISSUER, **changes), self.private, algorithm=self.algorithm,
                          headers={"kid": self.kid})


@pytest.fixture(scope="module")
def rsa_key() -> KeyPair:
    return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", "rsa-1")


@pytest.fixture(scope="module")
def ed_key() -> KeyPair:
    return KeyPair(ed25519.Ed25519PrivateKey.generate(), "EdDSA", "ed-1")


@pytest.fixture(scope="module")
def keys(rsa_key, ed_key) -> dict[str, KeyPair]:
    return {"RS256": rsa_key, "EdDSA": ed_key}


class JwksServer:
    """An identity provider's JWKS endpoint on 127.0.0.1; `requests` counts the fetches."""

    def __init__(self, jwks: dict):
        self.jwks, self.requests = jwks, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                body = json.dumps(server.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/.well-known/jwks.json"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def jwks(keys):
    server = JwksServer({"keys": [key.jwk() for key in keys.values()]})
    yield server
    server.close()


def verifier(**values):
    return build_token_verifier(DisputeSettings(jwt_issuer=ISSUER, **values))


def bearer(token: str) -> str:
    return f"Bearer {token}"


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_a_token_is_verified_with_the_identity_providers_pem_public_key(keys, algorithm):
    key = keys[algorithm]
    tokens = verifier(jwt_algorithms=algorithm, jwt_public_key=key.pem())
    assert tokens.read(bearer(key.sign())) == Principal("buyer", "B-1")


def test_the_pem_public_key_may_come_from_a_file(rsa_key, tmp_path):
    (tmp_path / "idp.pem").write_text(rsa_key.pem())
    tokens = verifier(jwt_algorithms="RS256", jwt_public_key_file=str(tmp_path / "idp.pem"))
    assert tokens.read(bearer(rsa_key.sign(sub="S-1", role="seller"))) == Principal("seller", "S-1")


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_a_token_is_verified_with_a_key_fetched_from_the_jwks_url(keys, jwks, algorithm):
    tokens = verifier(jwt_algorithms="RS256,EdDSA", jwt_jwks_url=jwks.url)
    assert tokens.read(bearer(keys[algorithm].sign(role="operator", sub="OP-1"))) == Principal("operator", "OP-1")


def test_the_jwks_is_fetched_once_and_cached(rsa_key, jwks):
    tokens = verifier(jwt_algorithms="RS256", jwt_jwks_url=jwks.url)
    before = jwks.requests
    for _ in range(3):
        tokens.read(bearer(rsa_key.sign()))
    assert jwks.requests - before == 1


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(rsa_key, jwks):
    impostor = KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", rsa_key.kid)
    tokens = verifier(jwt_algorithms="RS256", jwt_jwks_url=jwks.url)
    with pytest.raises(AuthError, match="Signature verification failed"):
        tokens.read(bearer(impostor.sign()))


def test_a_token_with_a_kid_the_jwks_does_not_have_is_refused(ed_key, jwks):
    stranger = KeyPair(ed25519.Ed25519PrivateKey.generate(), "EdDSA", "unknown-kid")
    tokens = verifier(jwt_algorithms="EdDSA", jwt_jwks_url=jwks.url)
    with pytest.raises(AuthError, match="unknown-kid"):
        tokens.read(bearer(stranger.sign()))


def test_an_eddsa_token_is_refused_by_a_service_that_accepts_only_rs256(ed_key, jwks):
    tokens = verifier(jwt_algorithms="RS256", jwt_jwks_url=jwks.url)
    with pytest.raises(AuthError, match="algorithm 'EdDSA' is not accepted"):
        tokens.read(bearer(ed_key.sign()))


def test_an_hs256_token_is_refused_when_only_rs256_is_configured(rsa_key):
    tokens = verifier(jwt_algorithms="RS256", jwt_public_key=rsa_key.pem())
    for secret in (DEV_SECRET, rsa_key.pem()):  # the public key as an HMAC secret: alg confusion
        forged = hs256_signed_with(secret.encode(), claims(iss=ISSUER))
        with pytest.raises(AuthError, match="algorithm 'HS256' is not accepted"):
            tokens.read(bearer(forged))


def test_with_both_families_an_hs256_token_signed_with_the_public_key_is_refused(rsa_key):
    tokens = verifier(jwt_algorithms="HS256,RS256", jwt_secret=SECRET, jwt_public_key=rsa_key.pem())
    assert tokens.read(bearer(rsa_key.sign())).id == "B-1"
    assert tokens.read(bearer(hs256_signed_with(SECRET.encode(), claims(iss=ISSUER)))).id == "B-1"
    with pytest.raises(AuthError, match="Signature verification failed"):
        tokens.read(bearer(hs256_signed_with(rsa_key.pem().encode(), claims(iss=ISSUER))))


def test_an_asymmetric_only_service_needs_no_secret_outside_local_mode(rsa_key):
    tokens = verifier(jwt_algorithms="RS256", jwt_public_key=rsa_key.pem(), local_mode=False)
    assert tokens.read(bearer(rsa_key.sign())).id == "B-1"


def test_a_service_refuses_to_start_with_a_private_key_where_the_public_key_goes(rsa_key):
    with pytest.raises(UnsafeSettings, match="DISPUTE_JWT_PUBLIC_KEY holds no PEM public key"):
        verifier(jwt_algorithms="RS256", jwt_public_key=rsa_key.private_pem())


def test_a_service_refuses_to_start_on_a_key_of_the_wrong_type(rsa_key):
    with pytest.raises(UnsafeSettings, match="DISPUTE_JWT_PUBLIC_KEY is not a key for EdDSA"):
        verifier(jwt_algorithms="EdDSA", jwt_public_key=rsa_key.pem())


def test_a_service_refuses_to_start_on_rs256_without_a_key():
    with pytest.raises(UnsafeSettings, match="set exactly one of DISPUTE_JWT_PUBLIC_KEY or "
                                             "DISPUTE_JWT_PUBLIC_KEY_FILE or DISPUTE_JWT_JWKS_URL"):
        verifier(jwt_algorithms="RS256")


def test_a_service_refuses_to_start_on_both_a_pem_key_and_a_jwks_url(rsa_key, jwks):
    with pytest.raises(UnsafeSettings, match="set exactly one of"):
        verifier(jwt_algorithms="RS256", jwt_public_key=rsa_key.pem(), jwt_jwks_url=jwks.url)


def test_a_service_refuses_to_start_on_a_jwks_url_it_would_never_use(jwks):
    with pytest.raises(UnsafeSettings, match="DISPUTE_JWT_JWKS_URL is set but DISPUTE_JWT_ALGORITHMS"):
        verifier(jwt_algorithms="HS256", jwt_secret=SECRET, jwt_jwks_url=jwks.url)


@pytest.mark.parametrize("algorithms", ["none", "HS512", ""])
def test_a_service_refuses_to_start_on_an_algorithm_it_does_not_support(algorithms):
    with pytest.raises(UnsafeSettings, match="DISPUTE_JWT_ALGORITHMS"):
        verifier(jwt_algorithms=algorithms, jwt_secret=SECRET)


def test_a_jwks_url_over_plain_http_to_another_host_is_refused_outside_local_mode():
    with pytest.raises(UnsafeSettings, match="DISPUTE_JWT_JWKS_URL must be an https:// URL"):
        verifier(jwt_algorithms="RS256", jwt_jwks_url="http://id.marketplace.example/jwks.json")
    verifier(jwt_algorithms="RS256", jwt_jwks_url="https://id.marketplace.example/jwks.json")


@pytest.fixture
def api_on_jwks(jwks, tmp_path):
    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/d.sqlite", jwt_issuer=ISSUER,
                               jwt_algorithms="RS256,EdDSA", jwt_jwks_url=jwks.url)
    with TestClient(create_app(settings, run_consumers=False, run_workers=False)) as client:
        yield client


def test_the_dispute_api_takes_identity_provider_tokens_from_its_jwks(api_on_jwks, ed_key):
    response = api_on_jwks.get("/v1/disputes", headers={"Authorization": bearer(ed_key.sign(role="operator"))})
    assert response.status_code == 200, response.text


def test_the_dispute_api_refuses_an_identity_provider_token_for_another_audience(api_on_jwks, rsa_key):
    headers = {"Authorization": bearer(rsa_key.sign(aud="notification-api"))}
    assert_unauthenticated(api_on_jwks.get("/v1/disputes", headers=headers), "not dispute-api")


def test_an_unreachable_jwks_is_unauthenticated_never_a_500(rsa_key, tmp_path):
    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/d.sqlite", jwt_issuer=ISSUER,
                               jwt_algorithms="RS256", jwt_jwks_url=f"http://127.0.0.1:{free_port()}/jwks")
    with TestClient(create_app(settings, run_consumers=False, run_workers=False)) as client:
        response = client.get("/v1/disputes", headers={"Authorization": bearer(rsa_key.sign())})
    assert_unauthenticated(response, "the identity provider's keys are unavailable")
