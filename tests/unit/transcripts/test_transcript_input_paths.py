"""The transcript input path end to end without Kafka: ``callpipe analyze --transcript`` and the
bench helper both read a file through callpipe.transcripts and analyze it with the offline engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callpipe.models import Role
from callpipe_bench.analyzer_eval import transcript_from_turns
from callpipe_bench.transcript_input import transcript_input
from callpipe_cli.analyze import main as analyze_main
from tests.unit.transcripts.transcript_bodies import AWS_DIARIZED, TEXT


def test_analyze_transcript_cli_prints_one_analysis_per_file_and_reasons_for_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "cancel.txt"
    text.write_text(TEXT)
    aws = tmp_path / "aws.json"
    aws.write_text(json.dumps(AWS_DIARIZED))
    bad = tmp_path / "notes.txt"
    bad.write_text("remember to call back\n")
    status = analyze_main(
        ["--transcript", str(text), str(aws), str(bad), "--speakers", "spk_0=agent,spk_1=caller"]
    )
    out, err = capsys.readouterr()
    calls = [json.loads(line) for line in out.splitlines()]
    assert status == 1  # one file failed, the others were still analyzed
    assert "notes.txt" in err and "expected 'Agent" in err
    assert len(calls) == 2
    cancel = calls[0]
    assert [u["role"] for u in cancel["utterances"]] == ["agent", "caller", "agent", "caller"]
    # A calm, decided cancellation: the caller is leaving, not escalating.
    assert cancel["analysis"]["intent"] == "cancellation"
    assert cancel["analysis"]["churn_risk"] == "high" and cancel["analysis"]["escalation_risk"] == "low"
    assert "roles_low_confidence" not in calls[1]["flags"]  # --speakers named them


def test_the_eval_reads_its_calls_through_the_transcript_path() -> None:
    event = transcript_from_turns(
        "c-1", [["agent", "Acme, Sam speaking."], ["caller", "Hi, my bill is wrong."]]
    )
    assert [(u.role, u.channel) for u in event.utterances] == [(Role.AGENT, 1), (Role.CALLER, 0)]
    assert event.call_id == "c-1" and event.engine == "dataset" and event.role_confidence == 1.0
    again = transcript_input(
        {"utterances": [{"role": "agent", "text": "Acme."}, {"role": "caller", "text": "Hi."}]}, call_id="c-2"
    )
    assert again.utterances[1].start_s > again.utterances[0].end_s
