"""The built-in dashboard page in headless Chromium (Debian's), loopback only, on seeded data.

The page marks <body data-state="ready" data-rendered='{"volume": N, …}'> once every chart is
drawn; the test reads the DOM back with --dump-dom and saves a screenshot under artifacts/.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr

from callpipe.avro import AvroSerde
from callpipe_sink.avro_batch import decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.lifecycle import CallEventRow
from callpipe_sink.lifecycle.events_consumer import rows_table
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.synthetic import Surge, synthetic_analyses
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from tests.integration.sink.sink_it_support import SEED_END, TOKEN

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def page_url(warehouse: Warehouse, writer: SinkWriter, serde: AvroSerde[Any]) -> Iterator[str]:
    events = synthetic_analyses(3000, end=SEED_END, days=10, seed=5, surge=Surge("outage", 24, 0.3))
    payloads = [decode_analysis(serde.serialize_dict(e)) for e in events]
    writer.write(payloads)
    # One call dead-lettered inside the window: the page lists it under "Failed calls".
    failed = CallEventRow(
        "CA-failed-1", "dead_lettered", "transcriber", SEED_END - timedelta(hours=2),
        error_class="InvalidInputError", reason="audio undecodable: truncated WAV", attempts=1,
    )  # fmt: skip
    warehouse.insert_arrow("call_events", rows_table([failed]))
    app = create_app(warehouse, InsightsSettings(token=SecretStr(TOKEN)), clock=lambda: SEED_END)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/#token={TOKEN}&days=7"
    server.should_exit = True
    thread.join(10)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,2000",
        # Let the page's fetches and drawing finish before the DOM/screenshot is taken.
        "--virtual-time-budget=15000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_dashboard_renders_every_chart_with_data(page_url: str, tmp_path: Path) -> None:
    dumped = _chromium(tmp_path, "--dump-dom", page_url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dumped.stdout)
    assert body is not None, dumped.stdout[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("data-state") == "ready", (attrs, dumped.stdout[-1500:])
    rendered = json.loads(attrs["data-rendered"].replace("&quot;", '"'))
    for chart in (
        "volume",
        "satisfaction",
        "escalation",
        "topics",
        "competitors",
        "roles",
        "trends",
        "calls",
    ):
        assert rendered.get(chart, 0) > 0, (chart, rendered)
    # 7 days of hourly points per intent: far more than one point per line.
    assert rendered["volume"] > 6 * 24
    assert int(attrs["data-transcript"]) > 0
    assert rendered["failures"] == 1 and "audio undecodable: truncated WAV" in dumped.stdout
    assert "<polyline" in dumped.stdout and "<rect" in dumped.stdout
    # Churn is drawn and listed apart from escalation (a line of its own, a KPI, a table column).
    assert dumped.stdout.count("churn risk rate") >= 2 and "<th>churn</th>" in dumped.stdout

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "sink-dashboard.png"
    shot.unlink(missing_ok=True)
    taken = _chromium(tmp_path, f"--screenshot={shot}", page_url)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000  # a blank page is a few KB


def test_dashboard_without_token_asks_for_it(page_url: str, tmp_path: Path) -> None:
    bare = page_url.split("#", 1)[0]
    dumped = _chromium(tmp_path, "--dump-dom", bare)
    assert 'data-state="needs-token"' in dumped.stdout
