"""``TranscriptReady.overlaps`` (schema v3): v2 transcripts still read (no spans), and the analyzer
turns a mono call's talk-over spans into ``overlap_s``, which its utterances alone cannot show."""

from __future__ import annotations

import io
import json
from typing import Any, cast

import fastavro

from callpipe.avro.registry import default_schema_dir
from callpipe.models import OverlapSpan, Role, Utterance
from callpipe_analyzer.metrics import compute_metrics
from callpipe_analyzer.stage import analyze
from callpipe_tools.examples import example_transcript
from tests.unit.analyzer.test_stage_metrics import Recording, ports

SCHEMAS = default_schema_dir()


def _transcript_schemas() -> dict[int, str]:
    manifest = json.loads((SCHEMAS / "registry.json").read_text())
    return {
        e["version"]: e["file"] for e in manifest["schemas"] if e["record"] == "callpipe.v1.TranscriptReady"
    }


def test_v2_transcripts_read_with_the_v3_schema_as_without_overlaps() -> None:
    files = _transcript_schemas()
    v2 = fastavro.parse_schema(json.loads((SCHEMAS / files[2]).read_text()))
    v3 = fastavro.parse_schema(json.loads((SCHEMAS / files[max(files)]).read_text()))
    assert max(files) == 3
    record = example_transcript().model_dump(mode="python", exclude={"overlaps"})
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, v2, record)
    buf.seek(0)
    read = cast(dict[str, Any], fastavro.schemaless_reader(buf, v2, v3))
    assert read["overlaps"] == []
    assert read["single_speaker"] is record["single_speaker"]


def test_overlap_spans_count_where_utterances_do_not_overlap() -> None:
    turns = example_transcript().utterances
    plain = compute_metrics(turns, 60.0)
    spans = [(1.0, 2.5), (2.0, 3.0), (10.0, 10.5)]  # 2.5 s once merged
    with_spans = compute_metrics(turns, 60.0, overlaps=spans)
    assert plain.overlap_s < 2.5
    assert with_spans.overlap_s == 2.5
    assert with_spans.talk_time_s == plain.talk_time_s


async def test_analysis_of_a_mono_call_reports_its_talk_over() -> None:
    base = example_transcript()
    mono = [
        u.model_copy(update={"channel": None, "speaker": f"spk{int(u.role is Role.AGENT)}"})
        for u in base.utterances
    ]
    event = base.model_copy(
        update={"utterances": mono, "channel_count": 1, "overlaps": [OverlapSpan(start_s=4.0, end_s=5.5)]}
    )
    without = await analyze(
        base.model_copy(update={"utterances": mono, "channel_count": 1}), ports(Recording())
    )
    out = await analyze(event, ports(Recording()))
    assert without.metrics.overlap_s < 1.5
    assert out.metrics.overlap_s == 1.5


def test_a_talk_over_span_is_the_interruption_of_the_voice_that_comes_in() -> None:
    def turn(role: Role, start: float, end: float) -> Utterance:
        speaker = "spk1" if role is Role.AGENT else "spk0"
        return Utterance(role=role, speaker=speaker, start_s=start, end_s=end, text="words here")

    turns = [turn(Role.AGENT, 0.0, 5.0), turn(Role.CALLER, 5.4, 9.0), turn(Role.AGENT, 12.0, 20.0)]
    by_role = lambda m: {r.role: r.interruptions for r in m.roles}  # noqa: E731
    assert by_role(compute_metrics(turns, 25.0)) == {Role.CALLER: 0, Role.AGENT: 0}
    # The caller comes in over the end of the agent's turn: the caller interrupted.
    assert by_role(compute_metrics(turns, 25.0, overlaps=[(4.2, 5.0)])) == {Role.CALLER: 1, Role.AGENT: 0}
    # A span inside the agent's long turn with no caller turn right after it: nobody's interruption.
    assert by_role(compute_metrics(turns, 25.0, overlaps=[(14.0, 14.5)])) == {Role.CALLER: 0, Role.AGENT: 0}
