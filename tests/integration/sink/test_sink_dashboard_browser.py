"""The built-in dashboard page in headless Chromium (Debian's), loopback only, on seeded data.

The page marks <body data-state="ready" data-rendered='{"volume": N, …}'> once every chart is
drawn; the tests read the DOM back with --dump-dom, or drive a live page over the DevTools
protocol where they must click (devtools.py), and save screenshots under artifacts/.
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

from callpipe.avro import AvroSerde, LocalSchemaRegistry
from callpipe.models import AlertRaised
from callpipe.settings import KafkaSettings
from callpipe.store import LocalRecordingStore
from callpipe_sink.alerts_store import AlertsConsumer
from callpipe_sink.avro_batch import decode_analysis
from callpipe_sink.insights import create_app
from callpipe_sink.lifecycle import CallEventRow
from callpipe_sink.lifecycle.events_consumer import rows_table
from callpipe_sink.settings import InsightsSettings
from callpipe_sink.warehouse import Warehouse
from callpipe_sink.writer import SinkWriter
from callpipe_tools.synthetic.alerts import cancellation_spike_alert
from callpipe_tools.synthetic.analyses import Surge, synthetic_analyses
from callpipe_tools.synthetic.calls import write_wav
from tests.integration.sink.devtools import live_page
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
# The page's window: the last 7 days from the start of an hour (as the API makes it).
WINDOW_START = (SEED_END - timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
# The audio call matched a category on its third utterance (10–14 s): its evidence.
EVIDENCE = {"rule": "agent phrase 'supervisor'", "utterance_index": 2, "start_s": 10.0, "end_s": 14.0}


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return list(synthetic_analyses(3000, end=SEED_END, days=10, seed=5, surge=Surge("outage", 24, 0.3)))


def _newest(events: list[dict[str, Any]], n: int) -> dict[str, Any]:
    return sorted(events, key=lambda e: e["metadata"]["started_at"])[-1 - n]


def _seed_alert(warehouse: Warehouse, registry: LocalSchemaRegistry, sample_call: str) -> None:
    """One alert of the alerts job, through the sink's own decoding and insert."""
    start = SEED_END - timedelta(hours=3)
    alert = cancellation_spike_alert("cancellation-spike-1", start, "critical", [sample_call])
    consumer = AlertsConsumer(warehouse, KafkaSettings(), "callpipe.alerts", registry)
    serde = AvroSerde(AlertRaised, registry, "callpipe.alerts-value")
    asyncio.run(consumer._store(consumer.rows([serde.serialize(alert)])))


@pytest.fixture
def page_url(
    warehouse: Warehouse,
    writer: SinkWriter,
    serde: AvroSerde[Any],
    registry: LocalSchemaRegistry,
    events: list[dict[str, Any]],
    tmp_path: Path,
) -> Iterator[str]:
    # One call whose recording is really archived: 25 s of 8 kHz tones, its four utterances at
    # 0, 5, 10, 15 s (4 s each), so playback can be seeked to a line and highlight it.
    store = LocalRecordingStore(tmp_path / "recordings")
    rate = 8000
    t = np.arange(25 * rate) / rate
    tone = (3000 * np.sin(2 * np.pi * (220 + 110 * (t // 5)) * t)).astype(np.int16)
    wav = tmp_path / "call.wav"
    write_wav(wav, tone[:, None], rate)
    newest = _newest(events, 0)
    newest["call_id"] = AUDIO_CALL
    newest["audio_uri"] = asyncio.run(store.put(f"{AUDIO_CALL}/call.wav", wav.read_bytes(), "audio/wav"))
    said = newest["utterances"][EVIDENCE["utterance_index"]]["text"]
    newest["categories"] = [{"name": "supervisor_requested", "evidence": [{**EVIDENCE, "text": said}]}]
    # Its scorecard follows from that category, as the analyzer's would.
    card = newest["scorecards"][0]
    for answer in card["answers"]:
        matched = answer["question_id"] == "no_escalation_request"
        answer.update(
            passed=not matched,
            points=0.0 if matched else answer["weight"],
            reason="supervisor_requested matched at 10.0 s" if matched else "no category matched",
        )
    card["score"] = round(
        100 * sum(a["points"] for a in card["answers"]) / sum(a["weight"] for a in card["answers"]), 1
    )
    payloads = [decode_analysis(serde.serialize_dict(e)) for e in events]
    writer.write(payloads)
    # One call dead-lettered inside the window: the page lists it under "Failed calls".
    failed = CallEventRow(
        "CA-failed-1", "dead_lettered", "transcriber", SEED_END - timedelta(hours=2),
        error_class="InvalidInputError", reason="audio undecodable: truncated WAV", attempts=1,
    )  # fmt: skip
    warehouse.insert_arrow("call_events", rows_table([failed]))
    _seed_alert(warehouse, registry, sample_call=_newest(events, 1)["call_id"])
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
        "categories",
        "alerts",
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


def _rendered(attrs: dict[str, str]) -> dict[str, int]:
    rendered: dict[str, int] = json.loads(attrs["data-rendered"].replace("&quot;", '"'))
    return rendered


def _in_window(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if WINDOW_START <= e["metadata"]["started_at"] < SEED_END]


def test_agent_view_narrows_every_panel_and_shows_the_agents_scorecard(
    page_url: str, events: list[dict[str, Any]], tmp_path: Path
) -> None:
    everyone = _chromium(tmp_path, "--dump-dom", page_url)
    assert _rendered(_body(everyone))["agents"] > 1
    assert (
        _rendered(_body(everyone))["scorecard"] == 0
        and '<section id="scorecard" hidden="">' in everyone.stdout
    )
    agent_url = f"{page_url}&agent=agent-001"
    dumped = _chromium(tmp_path, "--dump-dom", agent_url)
    rendered = _rendered(_body(dumped))
    assert rendered["agents"] == 1 and rendered["calls"] > 0
    rows = re.findall(r'<tr class="call[^"]*" data-call-id="[^"]+">(.*?)</tr>', dumped.stdout)
    assert rows and all("<td>agent-001</td>" in row for row in rows)
    assert "agent id = agent-001" in dumped.stdout  # the scope line says what is shown
    # The agent's scorecard: the average over the window, its trend per day, every question's pass rate.
    cards = [e["scorecards"][0] for e in _in_window(events) if e["metadata"]["agent_id"] == "agent-001"]
    assert '<section id="scorecard">' in dumped.stdout and "QA scorecard of agent-001" in dumped.stdout
    caption = re.search(r"standard_qa: average ([\d.]+) / 100 over (\d+) scored calls", dumped.stdout)
    assert caption is not None, dumped.stdout[-3000:]
    assert int(caption[2]) == len(cards)
    assert float(caption[1]) == pytest.approx(sum(c["score"] for c in cards) / len(cards), abs=0.06)
    assert rendered["scorecard"] == len(cards[0]["answers"])  # one row per question
    scorecard = dumped.stdout.split('<section id="scorecard">', 1)[1].split("</section>", 1)[0]
    assert scorecard.count("<circle") > 1  # the trend, one point per day with scored calls
    for answer in cards[0]["answers"]:
        question = answer["question_id"]
        answers = [a for c in cards for a in c["answers"] if a["question_id"] == question]
        passed = sum(1 for a in answers if a["passed"])
        assert (
            f"<td>{question}</td><td>{100 * passed / len(answers):.1f}%</td>"
            f"<td>{passed} / {len(answers)}</td>" in scorecard
        )
    _screenshot(tmp_path, agent_url, "sink-dashboard-agent-scorecard.png", height=3000)


def test_the_category_filter_narrows_the_list_and_every_panel(
    page_url: str, events: list[dict[str, Any]], tmp_path: Path
) -> None:
    matched = [e for e in _in_window(events) if "cancellation_threat" in {c["name"] for c in e["categories"]}]
    assert 25 < len(matched) < len(_in_window(events))
    dumped = _chromium(tmp_path, "--dump-dom", f"{page_url}&category=cancellation_threat")
    rendered = _rendered(_body(dumped))
    assert f'<span id="page">1–25 of {len(matched)}</span>' in dumped.stdout  # the list
    assert f'<div class="kpi"><b>{len(matched)}</b>calls</div>' in dumped.stdout  # the headline
    assert "category = cancellation_threat" in dumped.stdout
    agents = {e["metadata"]["agent_id"] for e in matched}
    assert rendered["agents"] == min(len(agents), 50) and rendered["volume"] > 0
    # The categories panel counts those calls only: the chosen one (100 %) and those it co-occurs with.
    co_occurring = {c["name"] for e in matched for c in e["categories"]}
    assert rendered["categories"] == len(co_occurring)
    assert re.search(
        r'<text x="[\d.]+" y="[\d.]+" class="clickable" data-label="cancellation_threat">', dumped.stdout
    )
    assert "100.0%" in dumped.stdout


def test_call_detail_shows_categories_with_evidence_that_seeks_the_audio(
    page_url: str, events: list[dict[str, Any]], tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    said = _newest(events, 0)["utterances"][EVIDENCE["utterance_index"]]["text"]
    with live_page(CHROMIUM, tmp_path / "live", height=2200) as page:
        page.open(f"{page_url}&call={AUDIO_CALL}")
        page.wait_for("document.body.dataset.audio === 'ready'")
        assert page.evaluate("document.body.dataset.categories") == "1"
        evidence = page.evaluate(
            "(() => { const b = document.querySelector("
            "'#detail li[data-category=supervisor_requested] button.evidence');"
            " return b && [b.textContent, b.dataset.start, b.title]; })()"
        )
        assert evidence == [f"10.0 s “{said}”", "10", f"rule: {EVIDENCE['rule']}"]
        answers = page.evaluate(
            "[...document.querySelectorAll('#detail table.answers[data-form=standard_qa] tbody tr')]"
            ".map((tr) => [...tr.cells].map((td) => td.textContent))"
        )
        card = _newest(events, 0)["scorecards"][0]
        assert [(a[0], a[2], a[4]) for a in answers] == [
            (a["question_id"], "pass" if a["passed"] else "fail", a["reason"]) for a in card["answers"]
        ]
        assert page.evaluate(
            "document.querySelector('#detail h3 + table.answers').previousSibling.textContent"
        ) == (f"Scorecard standard_qa: {card['score']:.1f} / 100")
        # A click on the evidence seeks the audio to 10 s and marks the utterance said there.
        page.evaluate("document.querySelector('#detail button.evidence').click()")
        page.wait_for(
            "document.body.dataset.speaking === '2' && document.querySelector('audio').currentTime >= 10"
        )
        assert page.evaluate("document.querySelector('#detail .turn.speaking').dataset.idx") == "2"
        assert page.evaluate("document.querySelector('#detail .turn.speaking').textContent").endswith(said)
        page.evaluate("document.querySelector('audio').pause()")
        page.evaluate(
            "document.getElementById('detail').scrollTop = "
            "document.querySelector('#detail ul.categories').offsetTop - 40"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(ARTIFACTS / "sink-dashboard-call-categories.png")
    assert (ARTIFACTS / "sink-dashboard-call-categories.png").stat().st_size > 20_000


def test_alerts_panel_lists_an_alert_and_opens_its_sample_call(
    page_url: str, events: list[dict[str, Any]], tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    sample = _newest(events, 1)["call_id"]
    with live_page(CHROMIUM, tmp_path / "live") as page:
        page.open(page_url)
        rows = page.evaluate(
            "[...document.querySelectorAll('#alerts tbody tr')]"
            ".map((tr) => [...tr.cells].map((td) => td.textContent))"
        )
        assert rows == [
            [
                "2026-11-20 09:00–09:15",
                "critical",
                "cancellation_threat_spike",
                "category=cancellation_threat",
                "cancellation_threat: 14 calls in 15 min against a baseline of 3.5",
                sample,
            ]
        ]
        assert page.evaluate("document.querySelector('#alerts tbody tr').className") == "critical"
        kpis = page.evaluate("[...document.querySelectorAll('.kpi')].map((k) => k.textContent)")
        assert "1alerts" in kpis
        assert page.evaluate("document.querySelector('#detail h2').textContent") == f"Call {AUDIO_CALL}"
        page.evaluate("document.querySelector('#alerts button.sample-call').click()")
        page.wait_for(f"document.querySelector('#detail h2').textContent === 'Call {sample}'")


def test_dashboard_without_token_asks_for_it(page_url: str, tmp_path: Path) -> None:
    bare = page_url.split("#", 1)[0]
    dumped = _chromium(tmp_path, "--dump-dom", bare)
    assert 'data-state="needs-token"' in dumped.stdout
