"""OIDC/JWT settings (``AUTH_*``) and the rule every static bearer token must pass.

Static tokens are refused when short or when they are a well-known placeholder copied from an
example (``changeme``, ``secret``, ``<token>``…): a deployment that forgot to set a real secret
must fail at start, not run with a guessable one.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MIN_TOKEN_CHARS", "PLACEHOLDER_WORDS", "OidcSettings", "check_static_token"]

MIN_TOKEN_CHARS = 16
# Words of example secrets. A token made of nothing but these (and digits, separators, repeats)
# was copied from a sample config, e.g. "changeme-changeme", "your-api-token-here", "secret123456".
PLACEHOLDER_WORDS = (
    "changeme",
    "replaceme",
    "change",
    "replace",
    "placeholder",
    "example",
    "password",
    "passwd",
    "secret",
    "token",
    "default",
    "insecure",
    "dummy",
    "sample",
    "todo",
    "fixme",
    "your",
    "my",
    "here",
    "api",
    "key",
    "bearer",
    "ingest",
    "insights",
    "upload",
    "read",
    "admin",
    "callpipe",
    "test",
    "x",
)
_NOISE = re.compile(r"[\W_\d]")
_ONLY_PLACEHOLDERS = re.compile("(?:" + "|".join(sorted(PLACEHOLDER_WORDS, key=len, reverse=True)) + ")*")
_MIN_DISTINCT_CHARS = 6


def check_static_token(name: str, token: SecretStr | None) -> SecretStr | None:
    """Return ``token`` if it is usable as a bearer secret, else raise ``ValueError`` naming ``name``."""
    if token is None:
        return None
    value = token.get_secret_value()
    if len(value) < MIN_TOKEN_CHARS:
        raise ValueError(f"{name} must be at least {MIN_TOKEN_CHARS} characters")
    letters = _NOISE.sub("", value.lower())
    if (letters and _ONLY_PLACEHOLDERS.fullmatch(letters)) or len(set(value)) < _MIN_DISTINCT_CHARS:
        raise ValueError(f"{name} looks like a placeholder: generate one (e.g. openssl rand -hex 32)")
    return token


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OidcSettings(BaseSettings):
    """JWT bearer tokens from an identity provider (``AUTH_*``), accepted beside the static tokens.

    Off unless ``jwks_url`` is set; then ``issuer`` and ``audience`` are required, so a token
    minted for another application of the same provider is refused.
    """

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    jwks_url: str | None = Field(
        default=None,
        description="JWKS URL of the identity provider (https; http only to loopback). Unset = no JWTs.",
    )
    issuer: str | None = Field(default=None, description="Required `iss` claim when JWTs are on.")
    audience: str | None = Field(default=None, description="Required `aud` claim when JWTs are on.")
    scope_claim: str = Field(
        default="scope", description="Claim holding the scopes (space-separated string or a list)."
    )
    upload_scope: str = Field(default="callpipe:upload", description="Scope value granting upload.")
    read_scope: str = Field(default="callpipe:read", description="Scope value granting read.")
    admin_scope: str = Field(default="callpipe:admin", description="Scope value granting admin.")
    algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"], description="Accepted signature algorithms."
    )
    leeway_s: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat.")
    jwks_cache_s: int = Field(default=300, ge=1, description="How long fetched keys are reused.")
    jwks_refresh_cooldown_s: int = Field(
        default=30, ge=0, description="Least time between refetches caused by an unknown key id."
    )
    jwks_timeout_s: float = Field(default=5.0, gt=0, description="Timeout of one JWKS fetch.")

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        # HS* would let anyone holding the (public) JWKS forge tokens; "none" needs no key at all.
        bad = [a for a in value if not a.startswith(("RS", "PS", "ES", "EdDSA"))]
        if bad or not value:
            raise ValueError(f"AUTH_ALGORITHMS must be asymmetric (RS*, PS*, ES*, EdDSA), not {bad}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> OidcSettings:
        if self.jwks_url is None:
            return self
        parts = urlsplit(self.jwks_url)
        host = parts.hostname or ""
        if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
            raise ValueError("AUTH_JWKS_URL must be https:// (http:// only to a loopback address)")
        if not self.issuer or not self.audience:
            raise ValueError("AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE")
        return self

    @property
    def enabled(self) -> bool:
        return self.jwks_url is not None
