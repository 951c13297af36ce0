"""``TranscriptReady.single_speaker`` (schema v2): old data still reads, and the analysis tells a
one-voice recording from a two-party call whose roles could not be resolved."""

from __future__ import annotations

import io
import json
from typing import Any, cast

import fastavro

from callpipe.avro.registry import default_schema_dir
from callpipe.models import Role
from callpipe_analyzer.stage import analyze
from callpipe_tools.examples import example_transcript
from tests.unit.analyzer.test_stage_metrics import Recording, ports

SCHEMAS = default_schema_dir()


def test_v1_transcripts_read_with_the_v2_schema_as_not_single_speaker() -> None:
    manifest = json.loads((SCHEMAS / "registry.json").read_text())
    versions = {
        e["version"]: e["file"] for e in manifest["schemas"] if e["record"] == "callpipe.v1.TranscriptReady"
    }
    v1 = fastavro.parse_schema(json.loads((SCHEMAS / versions[1]).read_text()))
    v2 = fastavro.parse_schema(json.loads((SCHEMAS / versions[max(versions)]).read_text()))
    record = example_transcript().model_dump(mode="python", exclude={"single_speaker"})
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, v1, record)
    buf.seek(0)
    read = cast(dict[str, Any], fastavro.schemaless_reader(buf, v1, v2))
    assert read["single_speaker"] is False
    assert read["call_id"] == record["call_id"]


async def test_analysis_flags_a_single_speaker_recording_not_unresolved_roles() -> None:
    base = example_transcript()
    one_voice = [u.model_copy(update={"role": Role.AGENT, "speaker": "spk0"}) for u in base.utterances]
    event = base.model_copy(
        update={"utterances": one_voice, "single_speaker": True, "roles_low_confidence": True}
    )
    out = await analyze(event, ports(Recording()))
    assert "single_speaker" in out.flags
    assert "roles_low_confidence" not in out.flags


async def test_two_party_call_with_unsure_roles_keeps_its_flag() -> None:
    event = example_transcript().model_copy(update={"roles_low_confidence": True})
    out = await analyze(event, ports(Recording()))
    assert "roles_low_confidence" in out.flags
    assert "single_speaker" not in out.flags
