"""The service as deployed: ``python -m callpipe_analyzer`` (settings from the environment, the
offline engine, the real stage runner) consumes one TranscriptReady and produces its analysis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from callpipe.models import AnalysisStatus
from callpipe_bench.analyzer_eval import transcript_from_turns
from tests.integration.analyzer.analyzer_it_support import Topics, read_all


def test_service_process_consumes_a_transcript_and_produces_the_analysis(
    topics: Topics, tmp_path: Path
) -> None:
    stage = f"analyzer-proc-{uuid.uuid4().hex[:8]}"
    dlq_prefix = f"it-dlq-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": topics.bootstrap,
        "TOPIC_TRANSCRIPTS": topics.transcripts,
        "TOPIC_ANALYSES": topics.analyses,
        "TOPIC_DEAD_LETTER_PREFIX": dlq_prefix,
        "ANALYZER_ENGINE": "offline",
        "ANALYZER_STAGE_NAME": stage,
        "RUNNER_COMMIT_INTERVAL_S": "0.2",
    }
    env.pop("SCHEMA_REGISTRY_URL", None)
    turns = [
        ["agent", "Acme support, this is Sam. How can I help you today?"],
        ["caller", "My internet keeps dropping every few minutes since yesterday and it's ridiculous."],
        ["agent", "I'm sorry. I'll reset the line from here and I'll send a technician tomorrow morning."],
        ["caller", "Okay, my number is 415 555 0134 if he needs to call."],
    ]
    topics.send(transcript_from_turns("CA-it-process-1", turns))
    log = tmp_path / "analyzer.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "callpipe_analyzer"], env=env, stdout=out, stderr=out)
        try:
            records = read_all(topics.bootstrap, topics.analyses, 1, timeout=180)
            assert len(records) == 1, log.read_text()[-3000:]
            result = topics.analysis_serde.deserialize(records[0].value() or b"")
            assert result.call_id == "CA-it-process-1"
            assert result.status is AnalysisStatus.OK
            assert result.analyzer == "offline"
            assert result.analysis is not None and result.analysis.intent == "technical_support"
            assert "555 0134" not in " ".join(u.text for u in result.utterances)
            assert result.redaction.counts.get("phone", 0) == 1
            assert not read_all(topics.bootstrap, f"{dlq_prefix}.{stage}", 0, timeout=1)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
    assert code == 0, log.read_text()[-3000:]
    assert b'"analyzed"' in log.read_bytes() or b"analyzed" in log.read_bytes()
