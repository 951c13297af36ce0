"""OIDC/JWT bearer tokens against a real JWKS served on 127.0.0.1, through the real apps.

Tokens are signed with an RSA key generated here; the JWKS server records its hits, so the
caching and the refetch cooldown are observed, not assumed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callpipe.auth import AuthError, BearerAuthenticator, OidcSettings, Scope
from callpipe.avro import LocalSchemaRegistry
from callpipe.store import LocalRecordingStore
from callpipe_ingest.app import create_app as create_ingest
from callpipe_sink.insights import create_app as create_insights
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from tests.integration.security.conftest import SEED_END
from tests.integration.security.local_http import LocalServer, serve
from tests.unit.ingest.ingest_support import MemorySender, make_settings

ISSUER, AUDIENCE = "https://idp.bank.example", "callpipe-api"
READ_TOKEN, ADMIN_TOKEN = "r-H6nP1sVc8Yd3Ja5E", "a-Q2wE7rT9yU4iO6pZ"
KID = "key-2026"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks(signing_key: rsa.RSAPrivateKey) -> Iterator[LocalServer]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}).encode()
    with serve({"/jwks": (200, {"Content-Type": "application/json"}, body)}) as server:
        yield server


def _oidc(jwks: LocalServer) -> OidcSettings:
    return OidcSettings(jwks_url=jwks.url("/jwks"), issuer=ISSUER, audience=AUDIENCE)


def _token(
    key: Any, *, scope: str = "callpipe:read", kid: str = KID, alg: str = "RS256", **claims: Any
) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "supervisor-7",
        "iat": now,
        "exp": now + 300,
        "scope": scope,
    }
    payload.update(claims)
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def _reason(auth: BearerAuthenticator, token: str, scope: Scope = Scope.READ) -> tuple[int, str]:
    with pytest.raises(AuthError) as err:
        auth.authorize(f"Bearer {token}", scope)
    return err.value.status, err.value.reason


def test_valid_token_grants_exactly_its_scopes(jwks: LocalServer, signing_key: rsa.RSAPrivateKey) -> None:
    auth = BearerAuthenticator({}, _oidc(jwks))
    principal = auth.authorize(f"Bearer {_token(signing_key, scope='openid callpipe:read')}", Scope.READ)
    assert principal.subject == "supervisor-7"
    assert principal.scopes == {Scope.READ}
    listed = _token(signing_key, scope="ignored", scp=["callpipe:upload"])
    assert _reason(BearerAuthenticator({}, _oidc(jwks)), listed, Scope.UPLOAD) == (
        403,
        "token lacks the upload scope",
    )
    as_list = OidcSettings(jwks_url=jwks.url("/jwks"), issuer=ISSUER, audience=AUDIENCE, scope_claim="scp")
    assert BearerAuthenticator({}, as_list).authorize(f"Bearer {listed}", Scope.UPLOAD).scopes == {
        Scope.UPLOAD
    }


def test_bad_tokens_are_refused_with_a_reason(jwks: LocalServer, signing_key: rsa.RSAPrivateKey) -> None:
    auth = BearerAuthenticator({}, _oidc(jwks))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    unsigned_claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "scope": "callpipe:read"}
    unsigned = (
        f"{_b64(json.dumps({'alg': 'none', 'kid': KID}).encode())}."
        f"{_b64(json.dumps(unsigned_claims).encode())}."
    )
    public_pem = signing_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    cases = {
        "expired": (_token(signing_key, exp=now - 120, iat=now - 600), (401, "token expired")),
        "wrong audience": (_token(signing_key, aud="another-app"), (401, "wrong audience")),
        "wrong issuer": (_token(signing_key, iss="https://evil.example"), (401, "wrong issuer")),
        "wrong scope": (_token(signing_key, scope="callpipe:upload"), (403, "token lacks the read scope")),
        "no scope": (_token(signing_key, scope=""), (403, "token lacks the read scope")),
        "unknown kid": (_token(signing_key, kid="rotated-away"), (401, "unknown signing key (kid)")),
        "alg none": (unsigned, (401, "algorithm 'none' is not accepted")),
        "forged signature": (_token(other_key), (401, "bad signature")),
        "not yet valid": (_token(signing_key, nbf=now + 3600), (401, "token not yet valid")),
        "no subject": (_token(signing_key, sub=None), (401, "token lacks the 'sub' claim")),
    }
    got = {name: _reason(auth, token) for name, (token, _) in cases.items()}
    assert got == {name: want for name, (_, want) in cases.items()}
    # HS256 keyed with the provider's public key (RS/HS confusion): built by hand, since PyJWT
    # itself refuses a PEM as an HMAC secret.
    assert _reason(auth, _hs256_with(public_pem, now)) == (401, "algorithm 'HS256' is not accepted")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with(secret: bytes, now: int) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "scope": "callpipe:admin"}
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def test_keys_are_cached_and_unknown_kids_cannot_hammer_the_provider(
    jwks: LocalServer, signing_key: rsa.RSAPrivateKey
) -> None:
    jwks.hits.clear()
    auth = BearerAuthenticator({}, _oidc(jwks))
    for _ in range(5):
        auth.authorize(f"Bearer {_token(signing_key)}", Scope.READ)
    assert jwks.hits == ["/jwks"]
    for n in range(20):
        assert _reason(auth, _token(signing_key, kid=f"random-{n}"))[0] == 401
    assert len(jwks.hits) <= 2  # one refresh at most within the cooldown


def test_token_header_cannot_point_at_another_key_source(
    jwks: LocalServer, signing_key: rsa.RSAPrivateKey
) -> None:
    attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker_key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "evil", "use": "sig"}]}).encode()
    with serve({"/evil": (200, {"Content-Type": "application/json"}, body)}) as evil:
        token = jwt.encode(
            {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": "x",
                "exp": int(time.time()) + 60,
                "scope": "callpipe:admin",
            },
            attacker_key,
            algorithm="RS256",
            headers={"kid": "evil", "jku": evil.url("/evil"), "jwk": public},
        )
        assert _reason(BearerAuthenticator({}, _oidc(jwks)), token, Scope.ADMIN) == (
            401,
            "unknown signing key (kid)",
        )
        assert evil.hits == []


def test_provider_down_is_503_not_401(signing_key: rsa.RSAPrivateKey) -> None:
    with serve({}) as down:  # every path 404
        auth = BearerAuthenticator(
            {}, OidcSettings(jwks_url=down.url("/jwks"), issuer=ISSUER, audience=AUDIENCE)
        )
        assert _reason(auth, _token(signing_key)) == (503, "identity provider keys are unavailable")


# ---- through the apps: one scope per endpoint --------------------------------------------------
@pytest.fixture(scope="module")
def insights(warehouse: Warehouse, jwks: LocalServer) -> Iterator[TestClient]:
    settings = InsightsSettings(
        token=SecretStr(READ_TOKEN), admin_token=SecretStr(ADMIN_TOKEN), oidc=_oidc(jwks)
    )
    with TestClient(create_insights(warehouse, settings, clock=lambda: SEED_END)) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_insights_endpoints_require_their_scope(insights: TestClient, signing_key: rsa.RSAPrivateKey) -> None:
    erase = {"call_ids": ["nobody"], "requested_by": "test", "dry_run": True}
    answers = {
        "read token reads": insights.get("/calls?limit=1", headers=_bearer(READ_TOKEN)).status_code,
        "read token erases": insights.post(
            "/admin/erase", json=erase, headers=_bearer(READ_TOKEN)
        ).status_code,
        "admin token reads": insights.get("/calls?limit=1", headers=_bearer(ADMIN_TOKEN)).status_code,
        "jwt read reads": insights.get("/calls?limit=1", headers=_bearer(_token(signing_key))).status_code,
        "jwt read erases": insights.post(
            "/admin/erase", json=erase, headers=_bearer(_token(signing_key))
        ).status_code,
        "jwt upload reads": insights.get(
            "/calls?limit=1", headers=_bearer(_token(signing_key, scope="callpipe:upload"))
        ).status_code,
        "expired jwt reads": insights.get(
            "/calls?limit=1", headers=_bearer(_token(signing_key, exp=int(time.time()) - 100))
        ).status_code,
    }
    assert answers == {
        "read token reads": 200,
        "read token erases": 403,
        "admin token reads": 403,
        "jwt read reads": 200,
        "jwt read erases": 403,
        "jwt upload reads": 403,
        "expired jwt reads": 401,
    }
    refused = insights.get("/calls", headers=_bearer(_token(signing_key, aud="x")))
    assert refused.json() == {"detail": "wrong audience"}
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_ingest_upload_requires_the_upload_scope(
    tmp_path: Path, jwks: LocalServer, signing_key: rsa.RSAPrivateKey
) -> None:
    settings = make_settings(oidc=_oidc(jwks))
    app = create_ingest(
        settings,
        MemorySender(),
        LocalRecordingStore(tmp_path),
        registry=LocalSchemaRegistry.from_directory(),
        readiness=_ready,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:

        async def post(token: str) -> tuple[int, str]:
            answer = await client.post("/recordings", data={"metadata": "{}"}, headers=_bearer(token))
            return answer.status_code, answer.json()["detail"] if answer.status_code in (401, 403) else ""

        assert await post(READ_TOKEN) == (401, "invalid bearer token")  # ingest never knew it
        assert await post(_token(signing_key)) == (403, "token lacks the upload scope")
        status, _ = await post(_token(signing_key, scope="callpipe:upload"))
        assert status == 400  # past the token: the form itself is what is wrong (no audio)


async def _ready() -> str | None:
    return None
