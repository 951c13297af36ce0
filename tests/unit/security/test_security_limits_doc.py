"""README's input-limits table is rendered from callpipe.limits and the settings defaults, so the
documented numbers are the enforced ones. On failure, paste the printed table into README."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from callpipe import limits
from callpipe.transcripts import MAX_TRANSCRIPT_BYTES
from callpipe_ingest.intake import CallId
from callpipe_ingest.settings import IngestSettings
from callpipe_sink.settings import InsightsSettings

README = Path(__file__).resolve().parents[3] / "README.md"
BEGIN = "<!-- limits-table:begin (checked by tests/unit/security/test_security_limits_doc.py) -->"
END = "<!-- limits-table:end -->"


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n / 1024:g} KiB"


def render() -> str:
    upload = IngestSettings.model_fields["max_upload_bytes"].default
    page = InsightsSettings.model_fields["max_page_size"].default
    call_id = get_args(CallId)[1].pattern
    future_days = limits.MAX_FUTURE.days
    rows = [
        (
            "audio file (`POST /recordings`, `audio_url`, `callpipe import`)",
            f"{_mib(upload)} (`INGEST_MAX_UPLOAD_BYTES`)",
            "413 (`audio_url`: the one generic 422; import: rejected with the reason)",
        ),
        ("transcript file", _mib(MAX_TRANSCRIPT_BYTES), "413"),
        (
            "audio duration",
            f"{limits.AUDIO_MIN_DURATION_S:g} s – {limits.AUDIO_MAX_DURATION_S / 3600:g} h",
            "422",
        ),
        ("audio channels", f"1 – {limits.AUDIO_MAX_CHANNELS}", "422"),
        ("sample rate", f"{limits.AUDIO_MIN_SAMPLE_RATE} – {limits.AUDIO_MAX_SAMPLE_RATE} Hz", "422"),
        (
            "truncated compressed audio",
            f"refused when decoded length falls short of the declared one by more than "
            f"{limits.AUDIO_TRUNCATION_TOLERANCE:.0%} and 0.5 s",
            "422",
        ),
        ("`call_id`", f"`{call_id}`", "422"),
        (
            "`agent_id`, `queue`, label filters",
            f"≤ {limits.LABEL_MAX_CHARS} chars of `{limits.LABEL_PATTERN}`",
            "422",
        ),
        ("`from_number`, `to_number`", f"`{limits.PARTY_PATTERN}`", "422"),
        (
            "`attributes`",
            f"≤ {limits.ATTRIBUTES_MAX_COUNT} keys of `{limits.ATTRIBUTE_KEY_PATTERN}`, values ≤ "
            f"{limits.ATTRIBUTE_VALUE_MAX_CHARS} chars, ≤ {_mib(limits.ATTRIBUTES_MAX_BYTES)} in all",
            "422",
        ),
        (
            "`started_at`, `since`, `until`",
            f"{limits.EARLIEST_CALL.date()} – now + {future_days} day{'s' if future_days != 1 else ''}",
            "422",
        ),
        ("page size (`limit`)", f"≤ {page} (`INSIGHTS_MAX_PAGE_SIZE`)", "422"),
    ]
    lines = [BEGIN, "", "| input | accepted | API answer otherwise |", "|---|---|---|"]
    lines += [
        f"| {what} | {accepted.replace('|', chr(92) + '|')} | {status} |" for what, accepted, status in rows
    ]
    return "\n".join([*lines, "", END])


def test_readme_limits_table_matches_the_enforced_limits() -> None:
    text = README.read_text()
    assert BEGIN in text and END in text, "README lacks the input-limits table markers"
    current = text[text.index(BEGIN) : text.index(END) + len(END)]
    expected = render()
    assert current == expected, f"README input limits are stale; replace them with:\n{expected}"


if __name__ == "__main__":
    print(render())
