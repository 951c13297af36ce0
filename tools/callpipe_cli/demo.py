"""``callpipe demo``: the whole pipeline on this machine, on embedded defaults, on the sample calls.

Starts a local Kafka broker (unless ``KAFKA_BOOTSTRAP_SERVERS`` is set), runs ingest, transcriber,
analyzer and sink as four separate processes, uploads the sample calls through the ingest API
(exactly as a user would), waits until each call is in ClickHouse and prints what the insights
API reads back from there. Re-running it is safe: uploads are idempotent by content hash.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from callpipe_cli.localrun import LocalPipeline

__all__ = ["main"]

_REPO = Path(__file__).resolve().parents[2]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="callpipe demo", description=__doc__)
    parser.add_argument(
        "--samples", type=Path, default=_REPO / "samples" / "calls", help="folder of WAV calls"
    )
    parser.add_argument("--work-dir", type=Path, default=Path("var/demo"), help="data of this demo run")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the results")
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the services up (dashboard) until Ctrl-C"
    )
    return parser.parse_args(argv)


def _sample_metadata(wav: Path, index: int) -> dict[str, Any]:
    sidecar = wav.with_suffix(".json")
    roles: list[str] = ["caller", "agent"]
    if sidecar.exists():
        script = json.loads(sidecar.read_text())
        roles = [
            r["role"] for r in sorted(script.get("channel_roles", []), key=lambda r: r["channel"])
        ] or roles
    started = datetime.now(UTC) - timedelta(minutes=15 * (index + 1))
    return {
        "call_id": f"demo-{wav.stem}",
        "channel_roles": roles,
        "agent_id": f"agent-{index % 3 + 1}",
        "queue": ("support", "billing", "retention")[index % 3],
        "started_at": started.isoformat(),
        "direction": "inbound",
    }


def _upload(client: httpx.Client, pipeline: LocalPipeline, wav: Path, index: int) -> str:
    metadata = _sample_metadata(wav, index)
    with wav.open("rb") as audio:
        response = client.post(
            f"{pipeline.ingest_url}/recordings",
            headers={"Authorization": f"Bearer {pipeline.api_token}"},
            files={"file": (wav.name, audio, "audio/wav")},
            data={"metadata": json.dumps(metadata)},
            timeout=60.0,
        )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"upload of {wav.name} failed: HTTP {response.status_code} {response.text}")
    body = response.json()
    state = "published" if response.status_code == 201 else "already uploaded"
    print(f"  {wav.name:<28} → {body.get('call_id', metadata['call_id'])} ({state})")
    return str(body.get("call_id", metadata["call_id"]))


def _wait_for_calls(
    client: httpx.Client, pipeline: LocalPipeline, call_ids: list[str], timeout: float
) -> dict[str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {pipeline.read_token}"}
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while len(found) < len(call_ids):
        for call_id in call_ids:
            if call_id in found:
                continue
            response = client.get(f"{pipeline.insights_url}/calls/{call_id}", headers=headers, timeout=10.0)
            if response.status_code == 200:
                found[call_id] = response.json()
        if time.monotonic() - last_report > 15 and len(found) < len(call_ids):
            print(f"  {len(found)}/{len(call_ids)} calls in ClickHouse …")
            last_report = time.monotonic()
        if len(found) < len(call_ids):
            for name, service in pipeline.services.items():
                if not service.alive:
                    raise RuntimeError(f"{name} stopped unexpectedly; log tail:\n{service.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"only {len(found)}/{len(call_ids)} calls arrived; logs:\n{pipeline.logs()}"
                )
            time.sleep(2.0)
    return found


def _print_results(found: dict[str, dict[str, Any]], insights: dict[str, Any]) -> None:
    print("\nCalls read back from ClickHouse:\n")
    for call_id, body in found.items():
        call = body["call"]
        where = f"[{call.get('queue')}/{call.get('agent_id')}]"
        print(f"● {call_id}  {where}  {call.get('audio_duration_s', 0):.0f} s")
        print(
            f"    intent={call.get('intent')}  sentiment={call.get('sentiment')}  "
            f"satisfaction={call.get('satisfaction_score')}/10  escalation={call.get('escalation_risk')}  "
            f"churn={call.get('churn_risk')}"
        )
        topics = call.get("key_topics") or []
        competitors = call.get("competitors") or call.get("competitor_names") or []
        if topics:
            print(f"    topics: {', '.join(topics)}")
        if competitors:
            print(f"    competitors: {', '.join(map(str, competitors))}")
        print(f"    summary: {call.get('summary')}")
        for line in body.get("transcript", [])[:4]:
            print(f"      {line.get('role'):>7}: {line.get('text')}")
        print()
    print("Insights over the last 30 days (GET /insights?days=30):")
    print(json.dumps(insights, indent=2, default=str)[:4000])


def main(argv: list[str]) -> int:
    args = _parse(argv)
    samples = sorted(args.samples.glob("*.wav"))
    samples = [s for s in samples if not s.name.endswith(".mono.wav")]
    if not samples:
        print(f"no .wav files in {args.samples}", file=sys.stderr)
        return 2
    work_dir: Path = args.work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    # SIGTERM and SIGHUP become KeyboardInterrupt, so the finally clauses below stop Kafka and the
    # four services. Without this Python dies at once and the children, each in its own session,
    # are orphaned under PID 1 (issue 16).
    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    broker = None
    try:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            from callpipe_tools.local.kafka import LocalKafka

            print("Starting a local Kafka broker (Apache Kafka from Maven Central) …", flush=True)
            broker = LocalKafka(data_dir=work_dir / "kafka")
            broker.start()
            bootstrap = broker.bootstrap_servers
        return _run_pipeline(args, samples, work_dir, bootstrap)
    except KeyboardInterrupt:
        return 130
    finally:
        _ignore_signals()  # a second Ctrl-C must not cut the clean-up short
        if broker is not None:
            broker.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _ignore_signals() -> None:
    for signum in _SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _run_pipeline(args: argparse.Namespace, samples: list[Path], work_dir: Path, bootstrap: str) -> int:
    print(f"Kafka at {bootstrap}", flush=True)
    # A fixed group prefix: a re-run continues from the committed offsets instead of redoing the calls.
    pipeline = LocalPipeline(bootstrap, work_dir, group_prefix="callpipe-demo")
    try:
        print("Starting ingest, transcriber, analyzer and sink as separate processes (models load) …")
        pipeline.start()
        print("  services started", flush=True)
        # No "/docs" here: the API docs are off unless INGEST_DOCS_ENABLED (a 404 in the demo).
        print(f"  ingest   {pipeline.ingest_url}   (POST /recordings with the upload token)")
        print(f"  insights {pipeline.insights_url}  (dashboard at /)")
        print(f"  upload token for this run (ingest): {pipeline.api_token}")
        print(f"  read token for this run (dashboard, insights API): {pipeline.read_token}")
        print(f"\nUploading {len(samples)} sample calls through POST /recordings …")
        with httpx.Client() as client:
            call_ids = [_upload(client, pipeline, wav, i) for i, wav in enumerate(samples)]
            print("\nWaiting for transcription, analysis and the sink …")
            began = time.monotonic()
            found = _wait_for_calls(client, pipeline, call_ids, args.timeout)
            print(f"  all {len(found)} calls stored after {time.monotonic() - began:.0f} s")
            insights = client.get(
                f"{pipeline.insights_url}/insights",
                params={"days": 30},
                headers={"Authorization": f"Bearer {pipeline.read_token}"},
                timeout=10.0,
            ).json()
        _print_results(found, insights)
        if args.keep_running:
            print(f"\nDashboard: {pipeline.insights_url}/  (read token above). Ctrl-C stops everything.")
            try:
                while all(s.alive for s in pipeline.services.values()):
                    time.sleep(1.0)
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        _ignore_signals()
        print("\nStopping the services …", flush=True)
        pipeline.stop()
