"""Alerts to a Slack-compatible webhook: signed body, retries with exponential backoff.

The receiver checks ``X-Callpipe-Signature: sha256=HEX`` = HMAC-SHA256(secret, "<timestamp>.<body>")
with ``X-Callpipe-Timestamp``, and can drop repeats by ``X-Callpipe-Alert-Id`` (delivery is
at-least-once: a crash between the POST and the commit repeats it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

from callpipe.models import AlertRaised

__all__ = ["WebhookSender", "sign", "slack_payload"]

log = logging.getLogger("callpipe.alerts.webhook")

_COLORS = {"info": "#439FE0", "warning": "#ECB22E", "critical": "#E01E5A"}
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def slack_payload(alert: AlertRaised) -> dict[str, Any]:
    """Slack incoming-webhook JSON (``text`` + one attachment); other chat tools read ``text``."""
    window = f"{alert.window_start:%Y-%m-%d %H:%M}–{alert.window_end:%H:%M} UTC"
    fields = [
        {"title": "Rule", "value": alert.rule, "short": True},
        {"title": "Subject", "value": alert.subject, "short": True},
        {"title": "Window", "value": window, "short": True},
        {"title": "Calls in window", "value": str(alert.calls_in_window), "short": True},
    ]
    if alert.sample_call_ids:
        fields.append({"title": "Example calls", "value": ", ".join(alert.sample_call_ids), "short": False})
    return {
        "text": f"[{alert.severity.upper()}] {alert.message}",
        "attachments": [
            {
                "color": _COLORS.get(alert.severity, "#999999"),
                "fields": fields,
                "footer": f"callpipe alert {alert.alert_id}",
            }
        ],
    }


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(
        self,
        url: str,
        secret: bytes | None,
        *,
        max_attempts: int,
        backoff_s: float,
        timeout_s: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = url
        self._secret = secret
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def deliver(self, alert: AlertRaised) -> bool:
        """POST the alert; True once answered 2xx, False after the attempts or on a 4xx refusal."""
        body = json.dumps(slack_payload(alert), separators=(",", ":")).encode()
        delay = self._backoff_s
        for attempt in range(1, self._max_attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Callpipe-Alert-Id": alert.alert_id,
                "X-Callpipe-Timestamp": timestamp,
            }
            if self._secret is not None:
                headers["X-Callpipe-Signature"] = sign(self._secret, timestamp, body)
            try:
                response = await self._client.post(self._url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = repr(exc)
            else:
                if response.is_success:
                    return True
                if response.status_code not in _RETRY_STATUSES:
                    log.error(
                        "webhook refused the alert",
                        extra={"status": response.status_code, "alert_id": alert.alert_id},
                    )
                    return False
                reason = f"HTTP {response.status_code}"
            if attempt < self._max_attempts:
                log.warning(
                    "webhook failed, retrying",
                    extra={"reason": reason, "retry_in_s": delay, "alert_id": alert.alert_id},
                )
                await asyncio.sleep(delay)
                delay *= 2
        log.error("webhook gave up", extra={"alert_id": alert.alert_id, "attempts": self._max_attempts})
        return False
