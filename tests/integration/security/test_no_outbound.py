"""No traffic leaves the machine: the four services run a call end to end under a connect() shim
(LD_PRELOAD, connect_guard.c) that records and refuses every destination outside loopback.

The shim sits under Python and native code alike (librdkafka, onnxruntime, chdb). A control run
proves it sees and refuses an outbound attempt, so an empty log means none was made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from callpipe.models import Role
from callpipe.offline import OFFLINE_ENV
from callpipe_cli.localrun import LocalPipeline, topic_env
from callpipe_tools.synthetic.calls import CallScript, ScriptTurn, generate_call

pytestmark = pytest.mark.slow

SHIM_SOURCE = Path(__file__).with_name("connect_guard.c")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the connect() shim")
    out = tmp_path_factory.mktemp("shim") / "connect_guard.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-o", str(out), str(SHIM_SOURCE), "-ldl"], check=True
    )
    return out


def test_the_shim_records_and_refuses_an_outbound_connect(shim: Path, tmp_path: Path) -> None:
    log = tmp_path / "connects.log"
    code = (
        "import socket\n"
        "s = socket.socket()\n"
        "try:\n    s.connect(('192.0.2.1', 443)); print('connected')\n"
        "except OSError as e:\n    print('refused', e.errno)\n"
        "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()\n"
        "c = socket.create_connection(l.getsockname()); print('local ok')\n"
    )
    env = {"LD_PRELOAD": str(shim), "CALLPIPE_CONNECT_LOG": str(log), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "refused 111" in out.stdout and "local ok" in out.stdout, out
    assert log.read_text().split()[1:] == ["192.0.2.1", "443"]


JAVA_CONNECT = """
public class Conn { public static void main(String[] a) throws Exception {
  try (java.net.Socket s = new java.net.Socket()) {
    s.connect(new java.net.InetSocketAddress("192.0.2.1", 443), 3000); System.out.println("connected");
  } catch (java.io.IOException e) { System.out.println("refused"); } } }
"""


def test_the_shim_also_sees_the_jvm(shim: Path, tmp_path: Path) -> None:
    """Control for the full demo run: Kafka's JVM connects through libc, so the shim sees it (the
    address arrives v4-mapped: the JVM uses IPv6 sockets)."""
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java")
    source = tmp_path / "Conn.java"
    source.write_text(JAVA_CONNECT)
    log = tmp_path / "connects.log"
    env = {**os.environ, "LD_PRELOAD": str(shim), "CALLPIPE_CONNECT_LOG": str(log)}
    out = subprocess.run([java, str(source)], env=env, capture_output=True, text=True, timeout=120)
    if "refused" not in out.stdout:
        pytest.skip(f"this java cannot run a source file: {out.stderr[-300:]}")
    assert log.read_text().split()[1:] == ["::ffff:192.0.2.1", "443"]


def test_a_call_end_to_end_makes_no_outbound_connection(
    kafka_bootstrap: str, shim: Path, tmp_path: Path
) -> None:
    log = tmp_path / "connects.log"
    prefix = f"nout{uuid.uuid4().hex[:6]}"
    env = {**topic_env(prefix), "LD_PRELOAD": str(shim), "CALLPIPE_CONNECT_LOG": str(log)}
    for name in OFFLINE_ENV:
        env[name] = ""  # every switch unset by the caller: callpipe itself must set them
    script = CallScript(
        call_id="no-outbound",
        turns=[
            ScriptTurn(role=Role.AGENT, text="Thank you for calling Acme, this is Jordan. How can I help?"),
            ScriptTurn(role=Role.CALLER, text="I want to cancel my internet plan, it is too expensive."),
        ],
    )
    call = generate_call(script, tmp_path / "audio", sample_rate=8000).stereo_path
    local = LocalPipeline(kafka_bootstrap, tmp_path / "pipeline", extra_env=env)
    try:
        local.start()
        with call.open("rb") as audio:
            answer = httpx.post(
                f"{local.ingest_url}/recordings",
                headers={"Authorization": f"Bearer {local.api_token}"},
                files={"file": ("call.wav", audio, "audio/wav")},
                data={"metadata": '{"channel_roles": ["caller", "agent"], "call_id": "no-outbound"}'},
                timeout=60,
            )
        assert answer.status_code == 201, answer.text
        deadline = time.monotonic() + 150
        stored = None
        while time.monotonic() < deadline and stored != 200:
            stored = httpx.get(
                f"{local.insights_url}/calls/no-outbound",
                headers={"Authorization": f"Bearer {local.read_token}"},
                timeout=10,
            ).status_code
            time.sleep(2)
        assert stored == 200, local.logs()
    finally:
        local.stop()
    attempts = log.read_text().splitlines() if log.exists() else []
    print(f"outbound connection attempts during the run: {len(attempts)}")
    assert attempts == []


def test_a_full_demo_run_makes_no_outbound_connection(shim: Path, tmp_path: Path) -> None:
    """The issue's figure: a whole ``callpipe demo`` (its own Kafka broker, the four services, all
    sample calls) under the shim. The broker's JVM inherits LD_PRELOAD too, which the test above
    (a broker started by the test session, outside the shim) does not cover.

    uv run --frozen --all-extras pytest -p no:cacheprovider -q -s \\
        tests/integration/security/test_no_outbound.py -k full_demo
    """
    log = tmp_path / "connects.log"
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}  # the demo starts Kafka
    env.update({name: "" for name in OFFLINE_ENV})
    env.update({"LD_PRELOAD": str(shim), "CALLPIPE_CONNECT_LOG": str(log)})
    samples = [
        p for p in sorted((REPO / "samples" / "calls").glob("*.wav")) if not p.name.endswith(".mono.wav")
    ]
    demo = subprocess.run(
        [sys.executable, "-m", "callpipe_cli", "demo", "--samples", str(REPO / "samples" / "calls"),
         "--work-dir", str(tmp_path / "work"), "--timeout", "900"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    assert f"all {len(samples)} calls stored" in demo.stdout, demo.stdout[-4000:]
    attempts = log.read_text().splitlines() if log.exists() else []
    print(f"full demo ({len(samples)} calls): outbound connection attempts during the run: {len(attempts)}")
    assert attempts == []
