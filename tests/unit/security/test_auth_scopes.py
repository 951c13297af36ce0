"""Static bearer tokens: one scope each, placeholders refused, a token of another scope is 403."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from callpipe.auth import AuthError, BearerAuthenticator, OidcSettings, Scope, check_static_token
from callpipe_ingest.settings import IngestSettings
from callpipe_sink.settings import InsightsSettings

UPLOAD, READ, ADMIN = "u-9f3Kq2LmZx7Rt4Wb", "r-H6nP1sVc8Yd3Ja5E", "a-Q2wE7rT9yU4iO6pZ"


def _auth() -> BearerAuthenticator:
    return BearerAuthenticator(
        {Scope.UPLOAD: SecretStr(UPLOAD), Scope.READ: SecretStr(READ), Scope.ADMIN: SecretStr(ADMIN)}
    )


@pytest.mark.parametrize(
    ("token", "scope"), [(UPLOAD, Scope.UPLOAD), (READ, Scope.READ), (ADMIN, Scope.ADMIN)]
)
def test_each_token_holds_its_own_scope(token: str, scope: Scope) -> None:
    principal = _auth().authorize(f"Bearer {token}", scope)
    assert principal.scopes == {scope}
    assert principal.subject == f"static:{scope.value}"


@pytest.mark.parametrize(
    ("token", "scope"),
    [
        (READ, Scope.UPLOAD),  # a read token cannot upload
        (READ, Scope.ADMIN),  # nor erase
        (UPLOAD, Scope.READ),  # an upload token cannot read
        (UPLOAD, Scope.ADMIN),
        (ADMIN, Scope.READ),  # admin is not a superset: erasing needs no reading
        (ADMIN, Scope.UPLOAD),
    ],
)
def test_a_token_of_another_scope_is_forbidden(token: str, scope: Scope) -> None:
    with pytest.raises(AuthError) as err:
        _auth().authorize(f"Bearer {token}", scope)
    assert err.value.status == 403
    assert err.value.reason == f"token lacks the {scope.value} scope"
    assert f'scope="{scope.value}"' in err.value.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing bearer token"),
        ("", "missing bearer token"),
        (f"Basic {READ}", "missing bearer token"),
        ("Bearer ", "missing bearer token"),
        (f"Bearer {READ}x", "invalid bearer token"),
        (f"Bearer {READ[:-1]}", "invalid bearer token"),
        ("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "invalid bearer token"),  # JWTs off
    ],
)
def test_missing_or_unknown_token_is_401(header: str | None, reason: str) -> None:
    with pytest.raises(AuthError) as err:
        _auth().authorize(header, Scope.READ)
    assert (err.value.status, err.value.reason) == (401, reason)
    challenge = err.value.headers["WWW-Authenticate"]
    assert challenge == "Bearer" if reason == "missing bearer token" else 'error="invalid_token"' in challenge
    assert READ not in str(err.value.headers)  # never echoes a token


def test_configured_scopes_are_those_with_a_token() -> None:
    only_upload = BearerAuthenticator({Scope.UPLOAD: SecretStr(UPLOAD), Scope.READ: None})
    assert only_upload.configured == {Scope.UPLOAD}


@pytest.mark.parametrize(
    "token",
    [
        "changeme",  # short
        "changeme-changeme",
        "your-api-token-here",
        "<insights-token>-<secret>",
        "secret1234567890123",
        "TOKEN_TOKEN_TOKEN_TOKEN",
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "abababababababababab",
        "test-token-test-token",
    ],
)
def test_placeholder_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="INSIGHTS_TOKEN"):
        check_static_token("INSIGHTS_TOKEN", SecretStr(token))


@pytest.mark.parametrize(
    "token",
    ["3f9a2c7be1d04a6f9c8e2b7d", "0123456789012345678901234567", "s3cret-upload-token", UPLOAD],
)
def test_generated_tokens_pass(token: str) -> None:
    assert check_static_token("X", SecretStr(token)) is not None


def test_service_settings_refuse_placeholders_and_shared_admin_token() -> None:
    with pytest.raises(ValidationError, match="INGEST_API_TOKEN looks like a placeholder"):
        IngestSettings(api_token=SecretStr("changeme-changeme"))
    with pytest.raises(ValidationError, match="INSIGHTS_ADMIN_TOKEN looks like a placeholder"):
        InsightsSettings(token=SecretStr(READ), admin_token=SecretStr("admin-admin-admin-admin"))
    with pytest.raises(ValidationError, match="must differ"):
        InsightsSettings(token=SecretStr(READ), admin_token=SecretStr(READ))
    assert InsightsSettings(token=SecretStr(READ), admin_token=SecretStr(ADMIN)).admin_token is not None


def test_insights_may_run_on_jwts_alone() -> None:
    oidc = OidcSettings(
        jwks_url="https://idp.example.com/jwks", issuer="https://idp.example.com", audience="cp"
    )
    assert InsightsSettings(oidc=oidc).token is None
    with pytest.raises(ValidationError, match="INSIGHTS_TOKEN"):
        InsightsSettings()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"jwks_url": "http://idp.example.com/jwks", "issuer": "i", "audience": "a"}, "https://"),
        ({"jwks_url": "https://idp.example.com/jwks"}, "AUTH_ISSUER and AUTH_AUDIENCE"),
        ({"algorithms": ["HS256"]}, "asymmetric"),
        ({"algorithms": ["none"]}, "asymmetric"),
    ],
)
def test_oidc_settings_refuse_unsafe_values(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OidcSettings.model_validate(values)


def test_oidc_settings_allow_plain_http_only_to_loopback() -> None:
    local = OidcSettings(jwks_url="http://127.0.0.1:9/jwks", issuer="i", audience="a")
    assert local.enabled
    assert not OidcSettings().enabled
