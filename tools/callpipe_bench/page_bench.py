"""``callpipe bench page``: the built-in page over N seeded calls (default 10,000), in Chromium.

Seeds chdb (temp dir) through the real sink writer with synthetic analyses over 30 days (with
their categories and QA scorecards) and 60 alerts through the sink's alerts insert, serves
the insights API on 127.0.0.1 (uvicorn, a free port), then:

- times every request the page makes on load (warm median of 5, and the first, cold one) with
  the page's own parameters: unfiltered (hourly rollups) and narrowed to one agent + negative
  sentiment (aggregates from ``calls FINAL``);
- loads the page in headless Chromium (Debian's, driven over the DevTools protocol in real time)
  and reads back ``data-ready-ms``: milliseconds from navigation until every panel, the agent
  table, the call list and the first call's detail are drawn — the page's "first paint with
  data". Chromium's own start-up is not in it.

Prints one table. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

__all__ = ["main"]

TOKEN = secrets.token_hex(16)  # a fresh token per run: the API is up only while the bench runs
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _page_requests(days: int, narrowed: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """The requests ``dashboard.js`` makes on load (``loadCharts``, the list, the failures), with its
    parameters: the agent view also asks for each question's pass rate and the score per day."""
    base = {"days": str(days), **narrowed}
    agent_view = "agent_id" in narrowed
    requests = [
        ("/insights", {**base, "top": "10"}),
        ("/timeseries", {**base, "bucket": "hour" if days <= 14 else "day"}),
        ("/breakdown", {**base, "agents": "50"}),
        ("/trends", {"recent_hours": "24", "baseline_days": "28"}),
        ("/categories", {**base, "series": "false"}),
        ("/scorecards/agents", {**base, "period": "all", "questions": "true" if agent_view else "false"}),
        ("/alerts", {"days": str(days), "limit": "20"}),
        ("/failures", {"days": str(days), "limit": "50"}),
        ("/calls", {**base, "limit": "25", "offset": "0"}),
    ]
    if agent_view:
        period = "week" if days > 60 else "day"
        requests.append(("/scorecards/agents", {**base, "period": period, "questions": "false"}))
    return requests


def _seed_alerts(warehouse: Any, registry: Any, sample_calls: list[str]) -> int:
    """Two alerts a day over the 30 days, through the sink's own decoding and insert, so that
    ``/alerts`` reads a table with rows in and out of the page's window."""
    from callpipe.avro import AvroSerde
    from callpipe.models import AlertRaised
    from callpipe.settings import KafkaSettings
    from callpipe_sink.alerts_store import AlertsConsumer
    from callpipe_tools.synthetic.alerts import cancellation_spike_alert

    serde = AvroSerde(AlertRaised, registry, "callpipe.alerts-value")
    values = []
    for n in range(60):
        start = END - timedelta(hours=12 * n + 3)
        alert = cancellation_spike_alert(
            f"bench-alert-{n}",
            start,
            ("info", "warning", "critical")[n % 3],
            sample_calls[n % len(sample_calls) : n % len(sample_calls) + 3],
        )
        values.append(serde.serialize(alert))
    consumer = AlertsConsumer(warehouse, KafkaSettings(), "callpipe.alerts", registry)
    asyncio.run(consumer._store(consumer.rows(values)))  # the sink's insert, without a broker
    return len(values)


def _time_requests(url: str, requests: list[tuple[str, dict[str, str]]]) -> list[tuple[str, float, float]]:
    out = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        for path, params in requests:
            timings = []
            for _ in range(6):
                started = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                timings.append(time.perf_counter() - started)
            name = f"{path} {params['period']}" if "period" in params else path  # the two scorecard asks
            out.append((name, timings[0] * 1000, statistics.median(timings[1:]) * 1000))
    return out


def _chromium_ready_ms(chromium: str, url: str, profile: Path) -> tuple[float, str]:
    """Load ``url`` in headless Chromium driven over the DevTools protocol (real time, no
    virtual-time budget: that would fast-forward the waits being measured) and return the
    page's own ``data-ready-ms`` (performance.now() at ready: from navigation start)."""
    from websockets.sync.client import connect  # a tool-side dependency (installed with deepgram-sdk)

    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
        "--window-size=1400,2000", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        "about:blank",
    ]  # fmt: skip
    browser = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)  # noqa: S603 (Debian's chromium)
    try:
        assert browser.stderr is not None
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = browser.stderr.readline()
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = int(found.group(1)) if found else None
        if port is None:
            return float("nan"), "no devtools"
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t.get("type") == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as ws:
            ids = iter(range(1, 1_000_000))

            def call(method: str, **params: object) -> dict[str, Any]:
                message_id = next(ids)
                ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
                while True:
                    reply = json.loads(ws.recv(timeout=60))
                    if reply.get("id") == message_id:
                        result: dict[str, Any] = reply.get("result", {})
                        return result

            call("Page.navigate", url=url)
            probe = (
                "document.body ? [document.body.dataset.state, document.body.dataset.readyMs || '']"
                ".join(' ') : ''"
            )
            state, ready = "loading", ""
            deadline = time.monotonic() + 60
            while state not in ("ready", "error") and time.monotonic() < deadline:
                time.sleep(0.05)
                value = call("Runtime.evaluate", expression=probe, returnByValue=True)
                text = str((value.get("result") or {}).get("value", ""))
                state, _, ready = text.partition(" ")
            return (float(ready) if ready else float("nan")), state
    finally:
        browser.kill()
        browser.wait(10)


def run(calls: int, days: int) -> int:
    import clickhouse_connect
    import uvicorn
    from pydantic import SecretStr

    from callpipe.avro import AvroSerde, LocalSchemaRegistry
    from callpipe.models import CallAnalyzed
    from callpipe_sink.avro_batch import SchemaResolver, decode_analysis
    from callpipe_sink.insights import create_app
    from callpipe_sink.settings import InsightsSettings
    from callpipe_sink.warehouse import Warehouse, apply_migrations
    from callpipe_sink.writer import SinkWriter
    from callpipe_tools.synthetic.analyses import synthetic_analyses

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        client = clickhouse_connect.get_client(interface="chdb", path=str(Path(tmp) / "chdb"))
        warehouse = Warehouse(client, "bench", embedded=True)
        apply_migrations(warehouse)
        registry = LocalSchemaRegistry.from_directory()
        serde = AvroSerde(CallAnalyzed, registry, "callpipe.analyses-value")
        writer = SinkWriter(warehouse, SchemaResolver(registry))
        started = time.perf_counter()
        events = list(synthetic_analyses(calls, end=END, days=30, seed=11))
        payloads = [decode_analysis(serde.serialize_dict(e)) for e in events]
        for i in range(0, len(payloads), 5000):
            writer.write(payloads[i : i + 5000])
        seeded_s = time.perf_counter() - started
        alerts = _seed_alerts(warehouse, registry, [e["call_id"] for e in events[:100]])
        agent = max({e["metadata"]["agent_id"] for e in events})
        app = create_app(warehouse, InsightsSettings(token=SecretStr(TOKEN)), clock=lambda: END)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        print(
            f"seeded {calls:,} calls over 30 days in {seeded_s:.1f} s, {alerts} alerts; API on {url}; "
            f"page window {days} days\n"
        )
        print(f"{'request':<22} {'filter':<26} {'cold ms':>8} {'warm median ms':>15}")
        for label, narrowed in (
            ("none", {}),
            (f"{agent} + negative", {"agent_id": agent, "sentiment": "negative"}),
        ):
            for path, cold, warm in _time_requests(url, _page_requests(days, narrowed)):
                print(f"{path:<22} {label:<26} {cold:>8.1f} {warm:>15.1f}")
        if chromium is None:
            print("\nchromium not installed: page timing skipped (apt-get install chromium)")
        else:
            for label, fragment in (("none", ""), ("agent + negative", f"&agent={agent}&sentiment=negative")):
                ready = [
                    _chromium_ready_ms(
                        chromium, f"{url}/#token={TOKEN}&days={days}{fragment}", Path(tmp) / f"p{i}"
                    )
                    for i in range(3)
                ]
                states = {s for _, s in ready}
                ms = statistics.median(r for r, _ in ready)
                print(f"\npage ready (every panel, list and first call drawn), filter {label}: "
                      f"median {ms:.0f} ms of 3 loads (states {sorted(states)})")  # fmt: skip
        server.should_exit = True
        thread.join(10)
        client.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callpipe bench page", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7, help="the page's window")
    args = parser.parse_args(argv)
    return run(args.calls, args.days)


if __name__ == "__main__":
    raise SystemExit(main())
