"""Twilio request validation (``X-Twilio-Signature``) with the twilio package's RequestValidator.

Twilio signs the URL *it* called (scheme, host, path and query exactly as configured) plus every
POST parameter. Behind a proxy or load balancer the app sees another scheme/host, so the URL is
rebuilt from the configured public base URL and the path and raw query of the request. Adapter
module: the only place that imports the twilio validator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from pydantic import SecretStr
from twilio.request_validator import RequestValidator, get_signature_algorithm

__all__ = ["SignatureError", "TwilioSignatureVerifier"]


class SignatureError(Exception):
    """The request is not provably from Twilio (HTTP 403); ``reason`` says why, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Params:
    """Form parameters with repeated keys kept (Twilio signs every value of a repeated key)."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._items = items

    def __iter__(self) -> Iterator[str]:
        return iter({k for k, _ in self._items})

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self._items if k == name]


class TwilioSignatureVerifier:
    def __init__(self, auth_token: SecretStr | None, public_base_url: str | None) -> None:
        self._validator = RequestValidator(auth_token.get_secret_value()) if auth_token else None
        self._base = public_base_url.rstrip("/") if public_base_url else None

    def public_url(self, request_url: str, path: str, raw_query: str) -> str:
        """The URL Twilio signed: the public base (when configured) + path + raw query."""
        if self._base is None:
            return request_url
        return f"{self._base}{path}" + (f"?{raw_query}" if raw_query else "")

    def verify(
        self,
        url: str,
        params: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
    ) -> None:
        """Raise SignatureError unless ``X-Twilio-Signature`` matches ``url`` and ``params``."""
        if self._validator is None:
            raise SignatureError("INGEST_TWILIO_AUTH_TOKEN is not configured: cannot verify Twilio")
        signature = headers.get("x-twilio-signature")
        if not signature:
            raise SignatureError("missing X-Twilio-Signature header")
        algorithm = get_signature_algorithm(headers.get("x-twilio-webhooks-signature-settings"))
        if not self._validator.validate(url, _Params(params), signature, algorithm):
            raise SignatureError(f"X-Twilio-Signature does not match the request to {url}")
