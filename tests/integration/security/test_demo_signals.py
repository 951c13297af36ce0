"""The demo stops everything it started (Kafka and the four services) on SIGTERM and SIGINT.

Before the fix a SIGTERM killed only the demo's own process: Kafka and the services, each in its
own session, kept running under PID 1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def _descendants(root: int) -> set[int]:
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_demo_stops_kafka_and_all_services_on_signal(signum: int, tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    shutil.copy(REPO / "samples" / "calls" / "billing_dispute.wav", samples)
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}  # the demo starts Kafka
    demo = subprocess.Popen(
        [sys.executable, "-m", "callpipe_cli", "demo", "--samples", str(samples),
         "--work-dir", str(tmp_path / "work"), "--keep-running"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if "services started" in line:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    children: set[int] = set()
    try:
        assert started.wait(300), "".join(lines)
        children = _descendants(demo.pid)
        # Kafka's JVM and four service processes at least.
        assert len(children) >= 5, (children, "".join(lines))
        demo.send_signal(signum)
        demo.wait(120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        reader.join(10)
        if demo.stdout is not None:
            demo.stdout.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in children):
        time.sleep(0.5)
    left = sorted(p for p in children if _alive(p))
    for pid in left:  # never leave orphans behind on the shared machine, even when failing
        os.kill(pid, signal.SIGKILL)
    assert left == [], "".join(lines)
    assert "Stopping the services" in "".join(lines)
