"""The webhook: Slack-compatible body, HMAC signature a receiver can verify, retries on 5xx/429
with backoff, no retry on a 4xx refusal."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx

from callpipe.models import AlertRaised
from callpipe_alerts.webhook import WebhookSender

ALERT = AlertRaised(
    alert_id="a1",
    rule="churn_rate",
    kind="rate",
    severity="critical",
    subject="all",
    window_start=datetime(2026, 11, 2, 14, 0, tzinfo=UTC),
    window_end=datetime(2026, 11, 2, 14, 15, tzinfo=UTC),
    value=0.3,
    baseline=None,
    threshold=0.2,
    calls_in_window=50,
    message="churn_rate: all at 0.30",
    sample_call_ids=["CA9"],
    raised_at=datetime(2026, 11, 2, 14, 17, tzinfo=UTC),
)


async def _send(statuses: list[int], secret: bytes | None = b"k3y") -> tuple[bool, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(statuses[min(len(seen), len(statuses)) - 1])

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    sender = WebhookSender(
        "https://hooks.example.invalid/x", secret, max_attempts=4, backoff_s=0.001, timeout_s=1, client=client
    )
    try:
        return await sender.deliver(ALERT), seen
    finally:
        await sender.aclose()


async def test_signed_slack_body_after_retries() -> None:
    ok, seen = await _send([503, 429, 200])
    assert ok and len(seen) == 3
    request = seen[-1]
    body = request.content
    payload = json.loads(body)
    assert payload["text"].startswith("[CRITICAL] churn_rate")
    assert payload["attachments"][0]["fields"][0] == {"title": "Rule", "value": "churn_rate", "short": True}
    timestamp = request.headers["X-Callpipe-Timestamp"]
    expected = hmac.new(b"k3y", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert request.headers["X-Callpipe-Signature"] == f"sha256={expected}"
    assert request.headers["X-Callpipe-Alert-Id"] == "a1"


async def test_a_refusal_is_not_retried_and_exhausted_retries_give_up() -> None:
    refused, seen = await _send([400])
    assert not refused and len(seen) == 1
    down, seen = await _send([500])
    assert not down and len(seen) == 4
    unsigned, seen = await _send([200], secret=None)
    assert unsigned and "X-Callpipe-Signature" not in seen[0].headers
