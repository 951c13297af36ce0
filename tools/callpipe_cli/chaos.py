"""``callpipe chaos``: push N calls through the four services while SIGKILLing them and the broker.

    callpipe chaos --calls 1000 --kills-per-service 2 --broker-restarts 1

What it proves: at-least-once delivery plus idempotent storage is effectively-once per call.
Every uploaded call must end as exactly one row of ``calls FINAL`` in ClickHouse, no call may be
missing, every dead-letter topic must stay empty, no secret may appear in any service log, and
every service must still stop cleanly at the end. Any violation is listed and the exit status is 1.

Faults fire on *progress*, not on the clock, so each one lands while its service has work in
flight: a service is killed when its own output reaches a random fraction of the calls (ingest:
uploads answered; transcriber/analyzer: records on their output topic; sink: calls stored), and
the broker is restarted when a random fraction of the calls is stored. A killed service is
restarted at once; it is not killed again before it is healthy. The uploader retries connection
errors and 503s (ingest down, broker down) the way a real client would; the ingest ledger makes
those retries idempotent.

The same code runs as the CI-sized integration test (tests/integration/chaos/).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from callpipe_cli.chaos_clips import ChaosClip, make_clips
from callpipe_cli.chaos_report import ChaosReport, dead_letter_counts, find_secrets, read_warehouse
from callpipe_cli.localrun import DELIVERY_ENGINE_ENV, SERVICES, LocalPipeline, topic_env

__all__ = ["Broker", "ChaosPlan", "main", "run_chaos"]

STAGES = ("transcriber", "analyzer", "sink")


class Broker(Protocol):
    """What the run needs of the broker it restarts (``callpipe_tools.local.LocalKafka`` fits)."""

    @property
    def bootstrap_servers(self) -> str: ...

    def restart(self, *, timeout: float = 30.0) -> object: ...


@dataclass(frozen=True)
class ChaosPlan:
    calls: int = 1000
    kills_per_service: int = 2
    broker_restarts: int = 1
    silent_share: float = 0.1
    upload_workers: int = 4
    timeout_s: float = 3600.0
    seed: int | None = None


@dataclass
class _Fault:
    target: str  # a service name or "broker"
    at_fraction: float
    done_at_s: float | None = None


def fake_secrets(run_id: str) -> dict[str, str]:
    """Recognisable secret values for every credential a service holds; logs must never show them."""

    def value(name: str) -> str:
        return f"CHAOSSECRET{name}{run_id}{secrets.token_hex(8)}"

    return {
        "INGEST_API_TOKEN": value("ingest"),
        "INSIGHTS_TOKEN": value("insights"),
        "INGEST_TWILIO_AUTH_TOKEN": value("twilio"),
        "TRANSCRIBER_TWILIO_AUTH_TOKEN": value("twiliodl"),
        "TRANSCRIBER_DEEPGRAM_API_KEY": value("deepgram"),
        "DEEPGRAM_API_KEY": value("deepgramenv"),
        "ANALYZER_LLM_API_KEY": value("llm"),
        "OPENAI_API_KEY": value("openai"),
    }


def _plan_faults(plan: ChaosPlan, rng: random.Random) -> list[_Fault]:
    faults = [
        _Fault(name, rng.uniform(0.1, 0.85)) for name in SERVICES for _ in range(plan.kills_per_service)
    ]
    faults += [_Fault("broker", rng.uniform(0.2, 0.7)) for _ in range(plan.broker_restarts)]
    return sorted(faults, key=lambda f: f.at_fraction)


@dataclass
class _Uploads:
    """Upload bookkeeping shared by the uploader threads."""

    answered: int = 0
    attempts: int = 0
    retried: int = 0
    rejected: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def _upload(clip: ChaosClip, url: str, token: str, state: _Uploads, deadline: float) -> None:
    """One call, retried like a real client through crashes (connection errors) and 503s."""
    meta = {"call_id": clip.call_id, "channel_roles": ["caller", "agent"], "queue": "chaos"}
    delay = 0.25
    data = clip.path.read_bytes()
    while time.monotonic() < deadline and not state.stop.is_set():
        with state.lock:
            state.attempts += 1
        retry_after = delay
        try:
            response = httpx.post(
                f"{url}/recordings",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": (clip.path.name, data, "audio/wav")},
                data={"metadata": json.dumps(meta)},
                timeout=30,
            )
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code in (200, 201):
            got = response.json().get("call_id")
            with state.lock:
                state.answered += 1
                if got != clip.call_id:
                    state.rejected[clip.call_id] = f"answered with call_id {got!r}"
            return
        if response is not None and response.status_code < 500:
            with state.lock:
                state.rejected[clip.call_id] = f"HTTP {response.status_code}: {response.text[:200]}"
                state.answered += 1
            return
        if response is not None and response.headers.get("retry-after", "").isdigit():
            # Honour the server's hint, capped: a chaos run wants to probe recovery promptly.
            retry_after = min(float(response.headers["retry-after"]), 2.0)
        with state.lock:
            state.retried += 1
        time.sleep(retry_after)
        delay = min(delay * 2, 2.0)
    with state.lock:
        state.rejected[clip.call_id] = "not accepted before the run's deadline"


class _Progress:
    """Per-service progress as a count of calls, read from the broker and the insights API."""

    def __init__(self, pipeline: LocalPipeline, topics: dict[str, str], insights_token: str) -> None:
        from confluent_kafka import Consumer

        self._pipeline = pipeline
        self._topics = topics
        self._token = insights_token
        from callpipe.kafka import KafkaClientLogger

        self._consumer = Consumer(
            {
                "bootstrap.servers": pipeline.bootstrap_servers,
                "group.id": f"chaos-{uuid.uuid4().hex}",
                # The broker restart makes librdkafka complain; as log records, not raw stderr.
                "logger": KafkaClientLogger("consumer", "chaos"),
            }
        )
        self.values: dict[str, int] = {"transcriber": 0, "analyzer": 0, "sink": 0}

    def _topic_size(self, topic: str) -> int | None:
        from confluent_kafka import KafkaException, TopicPartition

        try:
            metadata = self._consumer.list_topics(topic, timeout=2)
            partitions = metadata.topics[topic].partitions if topic in metadata.topics else {}
            total = 0
            for p in partitions:
                low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=2)
                total += high - low
            return total
        except KafkaException:
            return None  # the broker is restarting: keep the last value

    def refresh(self) -> dict[str, int]:
        for stage, topic in (("transcriber", "TOPIC_TRANSCRIPTS"), ("analyzer", "TOPIC_ANALYSES")):
            size = self._topic_size(self._topics[topic])
            if size is not None:
                self.values[stage] = max(self.values[stage], size)
        try:
            response = httpx.get(
                f"{self._pipeline.insights_url}/calls",
                params={"limit": 1},
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=2,
            )
            if response.status_code == 200:
                self.values["sink"] = int(response.json()["total"])
        except httpx.HTTPError:
            pass  # the sink is down or restarting
        return self.values

    def close(self) -> None:
        self._consumer.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _probe_auth(pipeline: LocalPipeline) -> list[str] | None:
    """Wrong credentials during the run: refused, and the refusals get logged (secrets must not).

    None when a service was not reachable (restarting after a kill): probe again later.
    """
    upload, calls = f"{pipeline.ingest_url}/recordings", f"{pipeline.insights_url}/calls"
    wrong = {"Authorization": "Bearer wrong-token-for-chaos-probe"}
    forged = {
        "headers": {"X-Twilio-Signature": "Zm9yZ2Vk"},
        "data": {"CallSid": "CA" + "0" * 32, "RecordingSid": "RE" + "0" * 32},
    }
    checks: list[tuple[str, str, str, dict[str, Any]]] = [
        ("upload without token", "POST", upload, {}),
        ("upload wrong token", "POST", upload, {"headers": wrong}),
        ("insights wrong token", "GET", calls, {"headers": wrong}),
        ("forged Twilio webhook", "POST", f"{pipeline.ingest_url}/twilio/recording-status", forged),
    ]
    problems = []
    for label, method, url, kwargs in checks:
        try:
            status = httpx.request(method, url, timeout=5, **kwargs).status_code
        except httpx.HTTPError:
            return None
        expected = 403 if "Twilio" in label else 401
        if status != expected:
            problems.append(f"{label}: HTTP {status}, expected {expected}")
    return problems


def run_chaos(
    plan: ChaosPlan,
    broker: Broker | None,
    work_dir: Path,
    *,
    bootstrap_servers: str | None = None,
    log: Callable[[str], None] = print,
) -> ChaosReport:
    """Run the chaos scenario; ``broker`` None (an external broker) allows no broker restarts."""
    if broker is None and plan.broker_restarts:
        raise ValueError("broker restarts need a broker this process controls")
    bootstrap = broker.bootstrap_servers if broker is not None else bootstrap_servers
    if bootstrap is None:
        raise ValueError("give a broker or bootstrap_servers")
    rng = random.Random(plan.seed)  # fault timing, not security
    run_id = uuid.uuid4().hex[:6]
    began = time.monotonic()

    log(f"chaos {run_id}: synthesizing {plan.calls} clips …")
    clips = make_clips(plan.calls, work_dir / "audio", run_id=run_id, silent_share=plan.silent_share)
    clip_s = time.monotonic() - began
    prefix = f"chaos{run_id}"
    topics = topic_env(prefix)
    fake = fake_secrets(run_id)
    env = {**topics, **{k: v for k, v in fake.items() if k != "INGEST_API_TOKEN"}}
    env["TRANSCRIBER_TWILIO_ACCOUNT_SID"] = "AC" + "c" * 32
    # The delivery-test engine settings, unless the caller's environment names others.
    env.update({name: os.environ.get(name, value) for name, value in DELIVERY_ENGINE_ENV.items()})
    pipeline = LocalPipeline(
        bootstrap, work_dir / "pipeline", api_token=fake["INGEST_API_TOKEN"], extra_env=env
    )
    report = ChaosReport(calls=plan.calls, silent_calls=sum(c.silent for c in clips), clip_s=clip_s)
    faults = _plan_faults(plan, rng)
    uploads = _Uploads()
    deadline = time.monotonic() + plan.timeout_s
    progress: _Progress | None = None
    pool = ThreadPoolExecutor(plan.upload_workers)
    try:
        pipeline.start()
        report.startup_s = time.monotonic() - began - clip_s
        log(
            f"chaos {run_id}: services up after {report.startup_s:.0f}s; uploading, faults planned: "
            + ", ".join(f"{f.target}@{f.at_fraction:.2f}" for f in faults)
        )
        run_began = time.monotonic()
        progress = _Progress(pipeline, topics, fake["INSIGHTS_TOKEN"])
        for clip in clips:
            pool.submit(_upload, clip, pipeline.ingest_url, fake["INGEST_API_TOKEN"], uploads, deadline)
        probed = False
        last_print = 0.0
        while time.monotonic() < deadline:
            values = progress.refresh()
            fractions = {"ingest": uploads.answered / plan.calls, "broker": values["sink"] / plan.calls}
            fractions |= {s: values[s] / plan.calls for s in STAGES}
            now = time.monotonic() - run_began
            for fault in faults:
                if fault.done_at_s is not None or fractions[fault.target] < fault.at_fraction:
                    continue
                if fault.target == "broker":
                    assert broker is not None
                    log(f"  {now:6.1f}s restarting the broker (stored {values['sink']})")
                    broker.restart()
                    report.broker_restarts += 1
                else:
                    service = pipeline.services[fault.target]
                    if not _healthy(service.health_url):
                        continue  # still starting after the previous kill: let it work first
                    log(f"  {now:6.1f}s SIGKILL {fault.target} at {fractions[fault.target]:.0%} of its work")
                    service.restart()
                    report.kills[fault.target] = report.kills.get(fault.target, 0) + 1
                fault.done_at_s = now
            for name, service in pipeline.services.items():
                if not service.alive:  # died without us killing it: a finding, restart and go on
                    code = service.process.returncode if service.process is not None else None
                    report.unexpected_exits.append(f"{name}: exit {code}")
                    service.restart()
            if not probed and uploads.answered >= plan.calls // 2:
                found = _probe_auth(pipeline)
                if found is not None:
                    report.violations.extend(found)
                    probed = True
            if now - last_print >= 15:
                last_print = now
                log(
                    f"  {now:6.1f}s uploaded {uploads.answered} transcripts {values['transcriber']} "
                    f"analyses {values['analyzer']} stored {values['sink']}/{plan.calls}"
                )
            if values["sink"] >= plan.calls and all(f.done_at_s is not None for f in faults):
                break
            time.sleep(0.5)
        report.run_s = time.monotonic() - run_began
        report.fault_times = [(f.target, f.at_fraction, f.done_at_s) for f in faults]
    finally:
        uploads.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        if progress is not None:
            progress.close()
        report.exit_codes = pipeline.stop()
    report.uploads_attempted = uploads.attempts
    report.uploads_retried = uploads.retried
    report.upload_rejections = dict(uploads.rejected)
    report.planned_kills = {name: plan.kills_per_service for name in SERVICES}
    report.planned_broker_restarts = plan.broker_restarts
    expected = {c.call_id for c in clips}
    read_warehouse(report, pipeline.chdb_path, expected)
    report.dead_letters = dead_letter_counts(bootstrap, [f"{prefix}.dlq.{s}" for s in STAGES])
    report.secrets_found = find_secrets(pipeline.work_dir / "logs", fake)
    report.log_dir = pipeline.work_dir / "logs"
    report.total_s = time.monotonic() - began
    report.check()
    return report


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="callpipe chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--kills-per-service", type=int, default=2)
    parser.add_argument("--broker-restarts", type=int, default=1)
    parser.add_argument("--silent-share", type=float, default=0.1, help="share of silent calls")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before giving up")
    parser.add_argument("--seed", type=int, default=None, help="fault timing seed (reproducible runs)")
    parser.add_argument("--work-dir", type=Path, default=None, help="kept after the run (logs, chdb)")
    parser.add_argument("--report", type=Path, default=None, help="also write the report here")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    plan = ChaosPlan(
        calls=args.calls,
        kills_per_service=args.kills_per_service,
        broker_restarts=args.broker_restarts,
        silent_share=args.silent_share,
        timeout_s=args.timeout,
        seed=args.seed,
    )
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="callpipe-chaos-"))
    # The harness's own Kafka clients complain on every reconnect while the broker restarts:
    # into a log file beside the services' logs, not onto the report.
    (work_dir / "logs").mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.WARNING,
        filename=work_dir / "logs" / "harness.log",
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    from callpipe_tools.local import LocalKafka

    # Our own broker (not $KAFKA_BOOTSTRAP_SERVERS): the run must be able to restart it.
    with LocalKafka(data_dir=work_dir / "kafka") as broker:
        report = run_chaos(plan, broker, work_dir)
    text = report.text()
    print(text)
    if args.report is not None:
        args.report.write_text(text + "\n")
    print(f"work dir (logs, chdb): {work_dir}", file=sys.stderr)
    return 0 if report.ok else 1
