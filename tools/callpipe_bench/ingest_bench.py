"""Ingest webhook latency and throughput: signed Twilio recording-status callbacks → broker ack.

One ingest process (``python -m callpipe_ingest``: uvicorn, the real EventProducer, a local
recording store for the idempotency ledger) on 127.0.0.1; a bounded load of completed-recording
callbacks, each with a distinct RecordingSid, from a few concurrent httpx clients, each client
sending its next callback when the previous one was answered (closed loop, like Twilio's
per-call callbacks). The service answers 200 only after the broker acknowledged the event
(acks=all), so the client-side request latency *is* webhook → event acknowledged, as Twilio sees
it. At the end the topic is read back: every 200 must be exactly one record.

    python -m callpipe_bench.ingest_bench [--requests 2000] [--clients 4] [--max-seconds 60]

Uses KAFKA_BOOTSTRAP_SERVERS when set, else starts a LocalKafka for the run. The service and this
load generator share the machine's cores, so the figures are a floor for a dedicated host.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from confluent_kafka import Consumer

from callpipe.kafka import ensure_topics
from callpipe.settings import KafkaSettings
from callpipe_tools.local.kafka import given_or_local_broker

__all__ = ["BenchResult", "main", "percentile", "run_bench", "twilio_signature"]

_PATH = "/twilio/recording-status"
_ACCOUNT = "AC" + "0" * 32
_WARMUP = 20  # first requests connect the producer and fill caches; not counted


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature as Twilio documents it: HMAC-SHA1 over the URL followed by every POST
    parameter's name and value, sorted by name, base64-encoded. Written out here (rather than via
    the twilio package the service validates with) so the bench is an independent client."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


@dataclass
class BenchResult:
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    events_on_topic: int = 0
    distinct_keys: int = 0

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    def table(self, clients: int) -> str:
        lat = sorted(self.latencies_s)
        ms = [f"{percentile(lat, q) * 1000:.1f}" for q in (50, 95, 99)]
        rows = [
            ("clients (closed loop)", str(clients)),
            ("callbacks answered 200", str(self.ok)),
            ("errors", ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "0"),
            ("wall time", f"{self.wall_s:.2f} s"),
            ("throughput", f"{self.ok / self.wall_s:.0f} req/s" if self.wall_s else "-"),
            ("webhook→ack p50", f"{ms[0]} ms"),
            ("webhook→ack p95", f"{ms[1]} ms"),
            ("webhook→ack p99", f"{ms[2]} ms"),
            ("webhook→ack max", f"{lat[-1] * 1000:.1f} ms" if lat else "-"),
            ("events on topic", f"{self.events_on_topic} ({self.distinct_keys} distinct call ids)"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{'metric':<{width}}  value", f"{'-' * width}  -----"]
        lines += [f"{name:<{width}}  {value}" for name, value in rows]
        return "\n".join(lines)


def _free_port() -> int:
    from callpipe_tools.local._process import free_port

    return free_port()


@contextlib.contextmanager
def _ingest_process(env: dict[str, str], base: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m callpipe_ingest`` (the service's own entry point), ready when /readyz says so."""
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "callpipe_ingest"], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ingest exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"ingest not ready after 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _callback(run_id: str, i: int) -> dict[str, str]:
    call_sid = "CA" + hashlib.md5(f"{run_id}-call-{i}".encode()).hexdigest()  # noqa: S324 - an id, not security
    rec_sid = "RE" + hashlib.md5(f"{run_id}-rec-{i}".encode()).hexdigest()  # noqa: S324
    return {
        "AccountSid": _ACCOUNT,
        "CallSid": call_sid,
        "RecordingSid": rec_sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{_ACCOUNT}/Recordings/{rec_sid}",
        "RecordingStatus": "completed",
        "RecordingDuration": "187",
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
        "RecordingStartTime": "Mon, 22 Aug 2011 20:58:45 +0000",
    }


async def _load(
    base: str,
    token: str,
    run_id: str,
    *,
    requests: int,
    clients: int,
    max_seconds: float,
    result: BenchResult,
) -> None:
    # The query string is what our TwiML puts on recordingStatusCallback; it is signed too.
    url = f"{base}{_PATH}?queue=support&dir=inbound&consent=not_required"
    next_index = 0
    stop_at = 0.0

    async def one(client: httpx.AsyncClient, i: int, record: bool) -> None:
        params = _callback(run_id, i)
        headers = {"X-Twilio-Signature": twilio_signature(token, url, params)}
        began = time.perf_counter()
        try:
            response = await client.post(url, data=params, headers=headers)
        except httpx.HTTPError as exc:
            result.errors[type(exc).__name__] = result.errors.get(type(exc).__name__, 0) + 1
            return
        elapsed = time.perf_counter() - began
        if response.status_code == 200 and response.json().get("status") == "published":
            if record:
                result.latencies_s.append(elapsed)
        else:
            label = f"HTTP {response.status_code}"
            result.errors[label] = result.errors.get(label, 0) + 1

    async def worker() -> None:
        nonlocal next_index
        async with httpx.AsyncClient(timeout=30) as client:
            while next_index < requests and time.perf_counter() < stop_at:
                i = _WARMUP + next_index
                next_index += 1
                await one(client, i, record=True)

    async with httpx.AsyncClient(timeout=30) as warm:
        for i in range(_WARMUP):
            await one(warm, i, record=False)
    if result.errors:
        return
    began = time.perf_counter()
    stop_at = began + max_seconds
    await asyncio.gather(*(worker() for _ in range(clients)))
    result.wall_s = time.perf_counter() - began


def _count_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0) -> tuple[int, int]:
    """Records on ``topic`` and their distinct keys (reads on 2 s past ``expected`` to catch extras)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"ingest-bench-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    count, keys = 0, set()
    deadline = time.monotonic() + timeout_s
    grace_until: float | None = None
    try:
        while time.monotonic() < (grace_until or deadline):
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                count += 1
                keys.add(message.key())
            if grace_until is None and count >= expected:
                grace_until = time.monotonic() + 2.0
    finally:
        consumer.close()
    return count, len(keys)


def run_bench(bootstrap: str, *, requests: int, clients: int, max_seconds: float) -> BenchResult:
    run_id = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    recordings, call_events = f"bench.ingest.{run_id}", f"bench.ingest-events.{run_id}"
    ensure_topics(kafka, [recordings, call_events], partitions=6)
    token = secrets.token_hex(16)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    result = BenchResult()
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        env = {
            **os.environ,
            "INGEST_HOST": "127.0.0.1",
            "INGEST_PORT": str(port),
            "INGEST_PUBLIC_BASE_URL": base,
            "INGEST_TWILIO_AUTH_TOKEN": token,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TOPIC_RECORDINGS": recordings,
            "TOPIC_CALL_EVENTS": call_events,
            "RECORDING_STORE_URL": Path(tmp, "store").as_uri(),
        }
        with _ingest_process(env, base, Path(tmp, "ingest.log")):
            asyncio.run(
                _load(
                    base,
                    token,
                    run_id,
                    requests=requests,
                    clients=clients,
                    max_seconds=max_seconds,
                    result=result,
                )
            )
    result.events_on_topic, result.distinct_keys = _count_topic(bootstrap, recordings, _WARMUP + result.ok)
    # The warm-up callbacks are on the topic too; report only the measured ones.
    result.events_on_topic -= _WARMUP
    result.distinct_keys -= _WARMUP
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ingest_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="callbacks to send (default 2000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent httpx clients (default 4)")
    parser.add_argument(
        "--max-seconds", type=float, default=60.0, help="stop sending after this (default 60)"
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.clients < 1 or not 0 < args.max_seconds <= 600:
        parser.error("--requests and --clients must be ≥ 1, --max-seconds in (0, 600]")
    with given_or_local_broker(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")) as bootstrap:
        result = run_bench(
            bootstrap, requests=args.requests, clients=args.clients, max_seconds=args.max_seconds
        )
    print(result.table(args.clients))
    exactly_once = result.events_on_topic == result.ok == result.distinct_keys
    if not exactly_once:
        print(f"MISMATCH: {result.ok} callbacks answered 200, {result.events_on_topic} events on the topic")
    return 0 if exactly_once and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
