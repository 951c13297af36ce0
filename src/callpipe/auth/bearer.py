"""Who may call: ``Authorization: Bearer …`` checked for one scope, without any web framework.

A static token is compared in constant time with every configured token, so a token of another
scope is recognised and answered 403 ("lacks scope"), not 401; a JWT (when OIDC is on) must
carry the scope in its scope claim. Reasons are safe to return: they never echo the token.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from callpipe.auth.jwt_verifier import JwtRejected, JwtVerifier, looks_like_jwt
from callpipe.auth.scopes import Scope
from callpipe.auth.settings import OidcSettings

__all__ = ["AuthError", "BearerAuthenticator", "Principal"]


class AuthError(Exception):
    """401 (who are you?), 403 (not allowed) or 503 (cannot check now), with a reason and the
    ``WWW-Authenticate`` header of RFC 6750."""

    def __init__(
        self, status: int, reason: str, *, scope: Scope | None = None, no_credentials: bool = False
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        if status == 403 and scope is not None:
            challenge = f'Bearer error="insufficient_scope", scope="{scope.value}"'
        elif status == 401 and not no_credentials:  # RFC 6750 3.1: no error code when none was sent
            challenge = f'Bearer error="invalid_token", error_description="{reason}"'
        else:
            challenge = "Bearer"
        self.headers = {"WWW-Authenticate": challenge}


@dataclass(frozen=True)
class Principal:
    """An authorized caller: ``static:<scope>`` for a configured token, else the JWT subject."""

    subject: str
    scopes: frozenset[Scope]


class BearerAuthenticator:
    def __init__(
        self, static_tokens: Mapping[Scope, SecretStr | None], oidc: OidcSettings | None = None
    ) -> None:
        self._static = {
            scope: token.get_secret_value().encode() for scope, token in static_tokens.items() if token
        }
        self._jwt = JwtVerifier(oidc) if oidc is not None and oidc.enabled else None

    @property
    def configured(self) -> frozenset[Scope]:
        """Scopes someone can hold at all here (a static token or JWTs); others answer 503."""
        return frozenset(Scope) if self._jwt is not None else frozenset(self._static)

    def authorize(self, authorization: str | None, scope: Scope) -> Principal:
        """The caller behind the ``Authorization`` header, if it holds ``scope``; else ``AuthError``."""
        scheme, _, given = (authorization or "").partition(" ")
        token = given.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, "missing bearer token", no_credentials=True)
        held = self._static_scopes(token.encode())
        if held:
            principal = Principal(f"static:{'+'.join(sorted(held))}", held)
        elif self._jwt is not None and looks_like_jwt(token):
            try:
                verified = self._jwt.verify(token)
            except JwtRejected as exc:
                raise AuthError(503 if exc.unavailable else 401, exc.reason) from exc
            principal = Principal(verified.subject, verified.scopes)
        else:
            raise AuthError(401, "invalid bearer token")
        if scope not in principal.scopes:
            raise AuthError(403, f"token lacks the {scope.value} scope", scope=scope)
        return principal

    def _static_scopes(self, given: bytes) -> frozenset[Scope]:
        # Compare with every token (no early exit), so timing does not tell which one is close.
        matches = [scope for scope, expected in self._static.items() if hmac.compare_digest(given, expected)]
        return frozenset(matches)
