"""``callpipe bench audio-redaction``: a spoken card number, before and after the audio redaction.

A two-party 8 kHz call is synthesized (espeak-ng, two voices) in which the caller reads out a
Luhn-valid card number, its expiry and its security code. It goes through the transcriber's
stage (faster-whisper, local) and the analyzer's stage with a real local recording store, as the
services run them; the analyzer writes the recording's redacted copy. That copy is transcribed
again, and the figures compare what speech-to-text hears before and after:

- card digits heard: the longest run of the card's digits, in order, in the raw transcript;
- card numbers the text redactor still detects (0 means nothing left to steal);
- seconds of audio replaced, and whether the original was deleted.

    callpipe bench audio-redaction [--model tiny.en|base] [--mode tone|silence]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["CARD", "RedactionFigures", "main", "run_eval"]

CARD = "4539148803436467"  # Luhn-valid test number (not a real account)
_SPOKEN = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
           "7": "seven", "8": "eight", "9": "nine"}  # fmt: skip
_WORD_DIGITS = {**{v: k for k, v in _SPOKEN.items()}, "oh": "0"}


def _say_digits(digits: str) -> str:
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    return ", ".join(" ".join(_SPOKEN[d] for d in group) for group in groups)


def digits_heard(text: str) -> str:
    """Every digit in ``text``, written or spoken, in order."""
    out = []
    for token in re.findall(r"[a-z]+|\d", text.lower()):
        if token.isdigit():
            out.append(token)
        elif token in _WORD_DIGITS:
            out.append(_WORD_DIGITS[token])
    return "".join(out)


def longest_card_run(heard: str, card: str = CARD) -> int:
    """Length of the longest stretch of the card's digits heard in order (a common substring)."""
    best = 0
    for i in range(len(card)):
        for j in range(i + best + 1, len(card) + 1):
            if card[i:j] in heard:
                best = j - i
            else:
                break
    return best


@dataclass(frozen=True)
class RedactionFigures:
    before_run: int
    after_run: int
    before_cards: int
    after_cards: int
    redacted_seconds: float
    original_deleted: bool
    flags: tuple[str, ...]
    before_text: str
    after_text: str


async def run_eval(model: str, mode: str, workdir: Path) -> RedactionFigures:
    import httpx

    from callpipe.models import CallMetadata, ChannelRole, RecordingReady, RecordingSource, Role
    from callpipe.store import LocalRecordingStore, original_uri_of
    from callpipe_analyzer.redaction import Redactor
    from callpipe_analyzer.settings import AnalyzerSettings, AudioRedactionSettings
    from callpipe_analyzer.stage import analyze
    from callpipe_analyzer.wiring import build_ports
    from callpipe_tools.synthetic.calls import CallScript, ScriptTurn, generate_call
    from callpipe_transcriber.engines.factory import build_engine
    from callpipe_transcriber.fetch import AudioFetcher, FetchOptions
    from callpipe_transcriber.settings import TranscriberSettings
    from callpipe_transcriber.stage import TranscriberPorts, transcribe

    agent, caller = Role.AGENT, Role.CALLER
    lines = [
        (agent, "Thank you for calling Northwind billing, how can I help you today?"),
        (caller, "Hi, I would like to pay my overdue bill by card please."),
        (agent, "Of course. Please read me the card number."),
        (caller, f"The card number is {_say_digits(CARD)}."),
        (agent, "Thank you. And the expiration date and the security code?"),
        (caller, "It expires twelve twenty eight, and the security code is seven one nine."),
        (agent, "Thank you, the payment went through. Is there anything else?"),
    ]
    script = CallScript(call_id="pci-audio", turns=[ScriptTurn(role=r, text=t) for r, t in lines])
    call = generate_call(script, workdir / "synth")
    store = LocalRecordingStore(workdir / "store")
    data = call.stereo_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    uri = await store.put(f"audio/{digest[:2]}/{digest}.wav", data, "audio/wav")
    channels = [ChannelRole(channel=0, role=Role.CALLER), ChannelRole(channel=1, role=Role.AGENT)]

    def recording(audio_uri: str, suffix: str) -> RecordingReady:
        return RecordingReady(
            call_id=f"pci-audio-{suffix}", recording_id=digest, source=RecordingSource.UPLOAD,
            audio_uri=audio_uri, channel_count=2, channel_roles=channels, metadata=CallMetadata(),
            received_at=datetime.now(UTC),
        )  # fmt: skip

    t_settings = TranscriberSettings(whisper_model=model)
    a_settings = AnalyzerSettings(audio_redaction=AudioRedactionSettings(mode=mode))
    redactor = Redactor()
    async with httpx.AsyncClient(timeout=60.0) as http:
        engine = build_engine(t_settings, http)
        t_ports = TranscriberPorts(
            fetcher=AudioFetcher(http, store, FetchOptions()), store=store, engine=engine, language="en"
        )
        a_ports = build_ports(a_settings, http_client=http, recordings=store)
        before = await transcribe(recording(uri, "before"), t_ports)
        analysis = await analyze(before, a_ports)
        after = await transcribe(recording(analysis.audio_uri, "after"), t_ports)
        await engine.aclose()
    before_text = " ".join(u.text for u in before.utterances)
    after_text = " ".join(u.text for u in after.utterances)
    deleted = (
        original_uri_of(analysis.audio_uri) == uri and not (workdir / "store" / store.key_of(uri)).exists()
    )
    seconds = 0.0
    if a_ports.audio_redactor is not None:
        spans = redactor.redact(sorted(before.utterances, key=lambda u: u.start_s)).audio_spans
        from callpipe_analyzer.audio_redaction import merge_spans

        wanted = [s for s in spans if s.kind in a_ports.audio_redactor.options.kinds]
        seconds = sum(b - a for a, b in merge_spans(wanted, a_ports.audio_redactor.options.pad_s, 1e9))
    return RedactionFigures(
        before_run=longest_card_run(digits_heard(before_text)),
        after_run=longest_card_run(digits_heard(after_text)),
        before_cards=redactor.redact(before.utterances).counts.get("card_number", 0),
        after_cards=redactor.redact(after.utterances).counts.get("card_number", 0),
        redacted_seconds=round(seconds, 2),
        original_deleted=deleted,
        flags=tuple(analysis.flags),
        before_text=before_text,
        after_text=after_text,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="callpipe bench audio-redaction", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", default="base", help="Whisper model of both transcriptions")
    parser.add_argument("--mode", default="tone", choices=["tone", "silence"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="callpipe-pci-") as tmp:
        f = asyncio.run(run_eval(args.model, args.mode, Path(tmp)))
    print(f"Whisper {args.model}, redaction by {args.mode}; the card has {len(CARD)} digits\n")
    print(f"{'':<34} {'before':>8} {'after':>8}")
    print(f"{'longest run of card digits heard':<34} {f.before_run:>8} {f.after_run:>8}")
    print(f"{'card numbers the redactor detects':<34} {f.before_cards:>8} {f.after_cards:>8}")
    print(f"\naudio replaced: {f.redacted_seconds:.2f} s; original deleted: {f.original_deleted}")
    print(f"flags: {', '.join(f.flags)}")
    print(f"\nbefore: {f.before_text}\nafter:  {f.after_text}")
    return 0 if f.after_run < 4 and f.after_cards == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
