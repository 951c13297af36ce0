"""No traffic leaves the machine: the four services run a call end to end under a connect() shim
(LD_PRELOAD, connect_guard.c) that records and refuses every destination outside loopback.

The shim sits under Python and native code alike (librdkafka, onnxruntime, chdb). A control run
proves it sees and refuses an outbound attempt, so an empty log means none was made.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from callpipe.models import Role
from callpipe_cli.localrun import LocalPipeline, topic_env
from callpipe_tools.synthetic.calls import CallScript, ScriptTurn, generate_call

pytestmark = pytest.mark.slow

SHIM_SOURCE = Path(__file__).with_name("connect_guard.c")


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


def test_a_call_end_to_end_makes_no_outbound_connection(
    kafka_bootstrap: str, shim: Path, tmp_path: Path
) -> None:
    log = tmp_path / "connects.log"
    prefix = f"nout{uuid.uuid4().hex[:6]}"
    env = {**topic_env(prefix), "LD_PRELOAD": str(shim), "CALLPIPE_CONNECT_LOG": str(log)}
    for name in ("ORT_DISABLE_TELEMETRY", "HF_HUB_OFFLINE", "DO_NOT_TRACK"):
        env[name] = ""  # unset by the caller: callpipe itself must switch telemetry off
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
