"""The built-in dashboard page in headless Chromium (Debian's), loopback only, on seeded data.

The page marks <body data-state="ready" data-rendered='{"volume": N, …}'> once every chart is
drawn; the test reads the DOM back with --dump-dom and saves a screenshot under artifacts/.
"""

from __future__ import annotations

import asyncio
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

import numpy as np
import pytest
import uvicorn
from pydantic import SecretStr

from callpipe.avro import AvroSerde
from callpipe.store import LocalRecordingStore
from callpipe_sink.avro_batch import decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.lifecycle import CallEventRow
from callpipe_sink.lifecycle.events_consumer import rows_table
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.synthetic.analyses import Surge, synthetic_analyses
from callpipe_tools.synthetic.calls import write_wav
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


AUDIO_CALL = "CA-with-audio"


@pytest.fixture
def page_url(
    warehouse: Warehouse, writer: SinkWriter, serde: AvroSerde[Any], tmp_path: Path
) -> Iterator[str]:
    events = list(synthetic_analyses(3000, end=SEED_END, days=10, seed=5, surge=Surge("outage", 24, 0.3)))
    # One call whose recording is really archived: 25 s of 8 kHz tones, its four utterances at
    # 0, 5, 10, 15 s (4 s each), so playback can be seeked to a line and highlight it.
    store = LocalRecordingStore(tmp_path / "recordings")
    rate = 8000
    t = np.arange(25 * rate) / rate
    tone = (3000 * np.sin(2 * np.pi * (220 + 110 * (t // 5)) * t)).astype(np.int16)
    wav = tmp_path / "call.wav"
    write_wav(wav, tone[:, None], rate)
    newest = max(events, key=lambda e: e["metadata"]["started_at"])
    newest["call_id"] = AUDIO_CALL
    newest["audio_uri"] = asyncio.run(store.put(f"{AUDIO_CALL}/call.wav", wav.read_bytes(), "audio/wav"))
    payloads = [decode_analysis(serde.serialize_dict(e)) for e in events]
    writer.write(payloads)
    # One call dead-lettered inside the window: the page lists it under "Failed calls".
    failed = CallEventRow(
        "CA-failed-1", "dead_lettered", "transcriber", SEED_END - timedelta(hours=2),
        error_class="InvalidInputError", reason="audio undecodable: truncated WAV", attempts=1,
    )  # fmt: skip
    warehouse.insert_arrow("call_events", rows_table([failed]))
    app = create_app(
        warehouse, InsightsSettings(token=SecretStr(TOKEN)), clock=lambda: SEED_END, recordings=store
    )
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


def _chromium(tmp_path: Path, *args: str, height: int = 2000) -> subprocess.CompletedProcess[str]:
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
        f"--window-size=1400,{height}",
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


def _body(dumped: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dumped.stdout)
    assert body is not None, dumped.stdout[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))


def _screenshot(tmp_path: Path, url: str, name: str, height: int = 2000) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    taken = _chromium(tmp_path, f"--screenshot={shot}", url, height=height)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000  # a blank page is a few KB


def test_call_audio_plays_from_a_line_and_highlights_it(page_url: str, tmp_path: Path) -> None:
    # A link to a moment of a call (#call=…&at=6.5): the page opens the call, fetches its audio
    # with the bearer token, seeks there, and marks the line being spoken (utterance 1: 5–9 s).
    url = f"{page_url}&call={AUDIO_CALL}&at=6.5"
    dumped = _chromium(tmp_path, "--dump-dom", "--autoplay-policy=no-user-gesture-required", url)
    attrs = _body(dumped)
    assert attrs.get("data-state") == "ready", attrs
    assert attrs.get("data-audio") == "ready", attrs
    assert attrs.get("data-speaking") == "1", attrs
    assert re.search(r'<p class="turn \w+ speaking" data-idx="1">', dumped.stdout), dumped.stdout[-3000:]
    assert "<audio" in dumped.stdout and "blob:" in dumped.stdout  # played from a blob, no token in a URL
    assert f"Call {AUDIO_CALL}" in dumped.stdout and "Sentiment over the call" in dumped.stdout
    _screenshot(tmp_path, url, "sink-dashboard-call-audio.png", height=3400)


def test_agent_view_narrows_every_panel_to_one_agent(page_url: str, tmp_path: Path) -> None:
    everyone = _body(_chromium(tmp_path, "--dump-dom", page_url))
    assert json.loads(everyone["data-rendered"].replace("&quot;", '"'))["agents"] > 1
    agent_url = f"{page_url}&agent=agent-001"
    dumped = _chromium(tmp_path, "--dump-dom", agent_url)
    attrs = _body(dumped)
    rendered = json.loads(attrs["data-rendered"].replace("&quot;", '"'))
    assert rendered["agents"] == 1 and rendered["calls"] > 0
    rows = re.findall(r'<tr class="call[^"]*" data-call-id="[^"]+">(.*?)</tr>', dumped.stdout)
    assert rows and all("<td>agent-001</td>" in row for row in rows)
    assert "agent id = agent-001" in dumped.stdout  # the scope line says what is shown
    _screenshot(tmp_path, agent_url, "sink-dashboard-agent.png")


def test_dashboard_without_token_asks_for_it(page_url: str, tmp_path: Path) -> None:
    bare = page_url.split("#", 1)[0]
    dumped = _chromium(tmp_path, "--dump-dom", bare)
    assert 'data-state="needs-token"' in dumped.stdout
