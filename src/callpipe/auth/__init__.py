"""Bearer-token authorization shared by every HTTP service: scopes, static tokens, OIDC/JWT.

Three scopes, least privilege: ``upload`` (ingest's upload APIs), ``read`` (the insights data
endpoints) and ``admin`` (erasure). A caller proves a scope either with the static token
configured for it (``INGEST_API_TOKEN``, ``INSIGHTS_TOKEN``, ``INSIGHTS_ADMIN_TOKEN``) or, when
``AUTH_JWKS_URL`` is set, with a JWT from the identity provider whose scope claim names it.
"""

from callpipe.auth.bearer import AuthError, BearerAuthenticator, Principal
from callpipe.auth.jwt_verifier import JwtRejected, JwtVerifier
from callpipe.auth.scopes import Scope
from callpipe.auth.settings import OidcSettings, check_static_token

__all__ = [
    "AuthError",
    "BearerAuthenticator",
    "JwtRejected",
    "JwtVerifier",
    "OidcSettings",
    "Principal",
    "Scope",
    "check_static_token",
]
