"""JWT bearer tokens checked against the identity provider's JWKS (PyJWT, the only JWT SDK user).

Keys come from ``AUTH_JWKS_URL`` only: PyJWKClient fetches exactly that URL, refuses redirects
and non-http(s) schemes, caches the key set for ``jwks_cache_s`` and refetches for an unknown
``kid`` at most once per ``jwks_refresh_cooldown_s`` (so random ``kid`` values cannot turn the
API into a request amplifier against the provider). Header fields that name other key sources
(``jku``, ``x5u``, embedded ``jwk``) are never followed. Only the configured asymmetric
algorithms are accepted, which rules out ``alg=none`` and HS256-with-the-public-key forgeries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import jwt
from jwt import PyJWKClient

from callpipe.auth.scopes import Scope
from callpipe.auth.settings import OidcSettings

__all__ = ["JwtRejected", "JwtVerified", "JwtVerifier"]

_log = logging.getLogger(__name__)


class JwtRejected(Exception):
    """The token is not acceptable; ``reason`` is safe to send back to the caller."""

    def __init__(self, reason: str, *, unavailable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unavailable = unavailable  # the provider's keys could not be fetched: 503, not 401


class JwtVerified:
    """A valid token: who it names and which callpipe scopes it grants."""

    def __init__(self, subject: str, scopes: frozenset[Scope]) -> None:
        self.subject = subject
        self.scopes = scopes


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class JwtVerifier:
    def __init__(self, settings: OidcSettings) -> None:
        if settings.jwks_url is None:
            raise ValueError("JwtVerifier needs AUTH_JWKS_URL")
        self._settings = settings
        self._keys = PyJWKClient(
            settings.jwks_url,
            cache_jwk_set=True,
            lifespan=settings.jwks_cache_s,
            timeout=settings.jwks_timeout_s,
            cooldown_duration=settings.jwks_refresh_cooldown_s,
        )
        self._scope_of = {
            settings.upload_scope: Scope.UPLOAD,
            settings.read_scope: Scope.READ,
            settings.admin_scope: Scope.ADMIN,
        }

    def verify(self, token: str) -> JwtVerified:
        """Signature, ``exp``/``nbf``/``iat``, ``iss`` and ``aud``; raises ``JwtRejected`` with a reason."""
        settings = self._settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise JwtRejected("malformed token") from exc
        if header.get("alg") not in settings.algorithms:
            raise JwtRejected(f"algorithm {header.get('alg')!r} is not accepted")
        if not header.get("kid"):
            raise JwtRejected("token has no key id (kid)")
        try:
            key = self._keys.get_signing_key(str(header["kid"]))
        except jwt.PyJWKClientConnectionError as exc:
            _log.warning("JWKS fetch failed: %s", exc)
            raise JwtRejected("identity provider keys are unavailable", unavailable=True) from exc
        except jwt.PyJWKClientError as exc:
            raise JwtRejected("unknown signing key (kid)") from exc
        try:
            claims: Mapping[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=settings.algorithms,
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise JwtRejected("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise JwtRejected("token not yet valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise JwtRejected("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise JwtRejected("wrong issuer") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise JwtRejected(f"token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise JwtRejected("bad signature") from exc
        except jwt.InvalidTokenError as exc:
            raise JwtRejected("invalid token") from exc
        return JwtVerified(str(claims["sub"]), self._scopes(claims.get(settings.scope_claim)))

    def _scopes(self, claim: object) -> frozenset[Scope]:
        # OAuth 2 puts scopes in one space-separated string ("scope"); some providers use a
        # list ("scp", "roles"). Values that are not ours are ignored.
        if isinstance(claim, str):
            values: list[object] = list(claim.split())
        elif isinstance(claim, list):
            values = list(claim)
        else:
            values = []
        return frozenset(self._scope_of[v] for v in values if isinstance(v, str) and v in self._scope_of)
