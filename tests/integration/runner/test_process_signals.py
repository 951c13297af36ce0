"""A stage in a subprocess: SIGKILL mid-flight loses nothing; SIGTERM drains and commits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

SCRIPT = Path(__file__).with_name("stage_process.py")


def start(bootstrap, stage, source, sink, work_s, concurrency, log_path):
    # The child keeps its own copy of the descriptor; ours is closed right away.
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, str(SCRIPT), bootstrap, stage, source, sink, str(work_s), str(concurrency)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def count_outputs(kio, sink, at_least, timeout):
    return kio.read_all(sink, at_least, timeout=timeout)


def test_sigkill_mid_flight_then_restart_processes_every_message(kafka_bootstrap, kio, new_topic, tmp_path):
    source, sink = new_topic(2), new_topic(1)
    stage = f"kill{uuid.uuid4().hex[:6]}"
    total = 300
    keys = [f"call-{i:04d}" for i in range(total)]
    kio.produce(source, [(k, k.encode()) for k in keys])

    first = start(kafka_bootstrap, stage, source, sink, 0.2, 16, tmp_path / "first.log")
    try:
        # Kill once a good part is done and work is certainly in flight (16 slots, 0.2 s each).
        seen = count_outputs(kio, sink, 80, timeout=90)
        assert len(seen) >= 80, (tmp_path / "first.log").read_text()[-3000:]
        assert first.poll() is None
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    committed_before = sum(v for v in kio.committed(f"callpipe-{stage}", source, 2).values() if v > 0)
    assert committed_before < total  # the kill really interrupted the run

    second = start(kafka_bootstrap, stage, source, sink, 0.2, 16, tmp_path / "second.log")
    try:
        deadline = time.monotonic() + 120
        out = []
        while time.monotonic() < deadline:
            out = kio.read_all(sink, total, timeout=20)
            if {m.key().decode() for m in out} >= set(keys):
                break
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    produced = [m.key().decode() for m in out]
    assert set(produced) == set(keys), f"missing: {sorted(set(keys) - set(produced))[:10]}"
    # Duplicates are at-least-once re-deliveries of what was in flight or uncommitted at the kill,
    # never more than one extra per message here.
    assert len(produced) - total <= total - committed_before
    assert sum(kio.committed(f"callpipe-{stage}", source, 2).values()) == total


def test_sigterm_drains_in_flight_work_and_commits_it(kafka_bootstrap, kio, new_topic, tmp_path):
    source, sink = new_topic(1), new_topic(1)
    stage = f"term{uuid.uuid4().hex[:6]}"
    total = 400
    keys = [f"call-{i:04d}" for i in range(total)]
    kio.produce(source, [(k, k.encode()) for k in keys])

    proc = start(kafka_bootstrap, stage, source, sink, 1.0, 8, tmp_path / "term.log")
    try:
        assert len(count_outputs(kio, sink, 8, timeout=90)) >= 8
        proc.send_signal(signal.SIGTERM)  # 8 calls of 1 s each are in flight now
        assert proc.wait(60) == 0, (tmp_path / "term.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    out = kio.read_all(sink, total, timeout=5)
    produced = [m.key().decode() for m in out]
    assert len(produced) == len(set(produced))  # nothing processed twice
    assert len(produced) < total  # it stopped early
    # Everything it produced was drained and committed: committed offset == outputs, in order.
    assert kio.committed(f"callpipe-{stage}", source, 1) == {0: len(produced)}
    assert produced == keys[: len(produced)]
    log = (tmp_path / "term.log").read_text()
    assert '"msg": "stage runner stopped"' in log
