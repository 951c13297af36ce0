"""Retention through `python -m callpipe_sink` as a process (embedded chdb): ``migrate`` sets and
removes the TTLs from RETENTION_*, and the running sink sweeps expired audio from its store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from callpipe_cli.localrun import query_chdb

_TTL = (
    "SELECT name, engine_full FROM system.tables "
    "WHERE database = 'callpipe' AND name IN ('calls', 'utterances')"
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETENTION_", "CLICKHOUSE_URL"))}
    return {**env, "CLICKHOUSE_CHDB_PATH": str(tmp_path / "chdb"), "INSIGHTS_ALLOW_NO_TOKEN": "true", **extra}


def _ttls(tmp_path: Path) -> dict[str, bool]:
    return {str(name): " TTL " in str(engine) for name, engine in query_chdb(tmp_path / "chdb", _TTL)}


def test_migrate_sets_the_ttls_and_removes_them_when_set_back_to_zero(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "callpipe_sink", "migrate"]
    env = _env(tmp_path, RETENTION_ANALYSIS_DAYS="365", RETENTION_TRANSCRIPT_DAYS="90")
    subprocess.run(run, env=env, check=True, timeout=180, capture_output=True)
    assert _ttls(tmp_path) == {"calls": True, "utterances": True}
    env = _env(tmp_path, RETENTION_ANALYSIS_DAYS="365", RETENTION_TRANSCRIPT_DAYS="")
    subprocess.run(run, env=env, check=True, timeout=180, capture_output=True)
    assert _ttls(tmp_path) == {"calls": True, "utterances": False}


def test_running_sink_sweeps_expired_audio(kafka_bootstrap: str, new_topic: Any, tmp_path: Path) -> None:
    store = tmp_path / "recordings"
    expired, kept = store / "audio/ab/old.wav", store / "audio/cd/new.wav"
    for path in (expired, kept):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
    old = time.time() - 3 * 86_400
    os.utime(expired, (old, old))
    env = _env(
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        TOPIC_ANALYSES=new_topic(1),
        RECORDING_STORE_URL=store.as_uri(),
        RETENTION_AUDIO_DAYS="2",
        INSIGHTS_ENABLED="false",
    )
    log = (tmp_path / "sink.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "callpipe_sink"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while expired.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "sink.log").read_text()[-3000:]
            time.sleep(0.5)
        assert not expired.exists(), (tmp_path / "sink.log").read_text()[-3000:]
        assert kept.exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        log.close()
    assert code == 0, (tmp_path / "sink.log").read_text()[-3000:]
