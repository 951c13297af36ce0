"""The demo stops everything it started (Kafka and the four services) on SIGTERM and SIGINT,
also when started as the README says, ``./dev demo``.

Before the fix a SIGTERM killed only the demo's own process: Kafka and the services, each in its
own session, kept running under PID 1. And ``./dev demo`` ran uv as a child of bash, so a signal
to the ./dev process killed bash alone and orphaned uv, the demo and everything under it. The
chain is now ``./dev`` exec → uv, which forwards the signal → the demo (tested link by link: the
slow test runs the real demo; the fast ones check ./dev execs and the pinned uv forwards).
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


@pytest.mark.slow
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
    assert "/docs" not in "".join(lines)  # off by default (INGEST_DOCS_ENABLED): it would be a 404


# ---- ./dev demo and uv pass the signal on ---------------------------------------------------
# A stand-in for the demo: records the signal it gets, then exits like the demo does.
CHILD = """
import os, signal, sys, time
def stop(signum, _frame):
    open(sys.argv[2], "w").write(str(signum))
    sys.exit(0)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, stop)
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(120)
"""
SIGNALS = pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])


def _wait_for(path: Path, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{path.name} was never written")


def _signal_and_check(process: subprocess.Popen[bytes], signum: int, tmp_path: Path) -> None:
    child = int(_wait_for(tmp_path / "child.pid", 60))
    process.send_signal(signum)
    try:
        received = _wait_for(tmp_path / "child.signal", 10)
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)  # never leave an orphan behind, even when failing
        if process.poll() is None:
            process.kill()
        process.wait(10)
    assert received == str(signum)


def _stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@SIGNALS
def test_dev_demo_passes_the_signal_to_the_demo(signum: int, tmp_path: Path) -> None:
    """./dev demo with its setup steps stubbed (no apt, Go, Maven or downloads here): the stub uv
    runs the stand-in demo. Before the exec, bash died alone and the stand-in kept sleeping."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (tmp_path / "child.py").write_text(CHILD)
    demo = f"{sys.executable} {tmp_path / 'child.py'} {tmp_path / 'child.pid'} {tmp_path / 'child.signal'}"
    _stub(stubs, "uv", f'case "$*" in *"callpipe_cli demo"*) exec {demo};; esac\nexit 0')
    for tool in ("java", "mvn", "go", "docker"):
        _stub(stubs, tool, "exit 0")
    _stub(stubs, "dpkg-query", "echo 'install ok installed'")
    env = {
        **os.environ,
        "PATH": f"{stubs}:{os.environ['PATH']}",
        "CALLPIPE_CACHE": str(tmp_path / "cache"),
        "CALLPIPE_SKIP_LLM_SERVER": "1",
    }
    dev = subprocess.Popen(
        [str(REPO / "dev"), "demo", "--keep-running"], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _signal_and_check(dev, signum, tmp_path)


@SIGNALS
def test_uv_run_forwards_the_signal_to_python(signum: int, tmp_path: Path) -> None:
    """The other link: the pinned uv (dev's UV_VERSION) passes the signal to its child."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    (tmp_path / "child.py").write_text(CHILD)
    run = subprocess.Popen(
        [uv, "run", "--frozen", "--all-extras", "python", str(tmp_path / "child.py"),
         str(tmp_path / "child.pid"), str(tmp_path / "child.signal")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _signal_and_check(run, signum, tmp_path)
