"""PCI in audio: spans from word timings, the bleep, and the redacted copy in a real local store."""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import numpy as np
import pytest

from callpipe.models import Role, Utterance, Word
from callpipe.store import LocalRecordingStore, original_uri_of
from callpipe_analyzer.audio_redaction import AudioRedactionOptions, AudioRedactor, bleep, merge_spans
from callpipe_analyzer.redaction import AudioSpan, Redactor, RedactorOptions, audio_spans

RATE = 8000
CARD = "4111 1111 1111 1111"


def words(text: str, start: float, step: float = 0.5) -> list[Word]:
    return [
        Word(word=w, start_s=start + i * step, end_s=start + i * step + step * 0.8)
        for i, w in enumerate(text.split())
    ]


def caller(text: str, start: float, *, timed: bool = True) -> Utterance:
    n = len(text.split())
    return Utterance(
        role=Role.CALLER, speaker="ch0", channel=0, start_s=start, end_s=start + n * 0.5, text=text,
        words=words(text, start) if timed else None,
    )  # fmt: skip


def stereo_wav(seconds: float) -> tuple[bytes, np.ndarray]:
    t = np.arange(int(seconds * RATE)) / RATE
    samples = np.stack([3000 * np.sin(2 * np.pi * 300 * t), 2000 * np.sin(2 * np.pi * 500 * t)]).astype(
        np.int16
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(np.ascontiguousarray(samples.T).tobytes())
    return out.getvalue(), samples


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        return frames.reshape(-1, wav.getnchannels()).T, wav.getframerate()


def test_a_card_number_is_located_by_its_words() -> None:
    utterance = caller(f"my card is {CARD} thanks", 10.0)
    result = Redactor().redact([utterance])
    assert result.utterances[0].text == "my card is [CARD_NUMBER] thanks"
    # Words 3..6 (the four groups) at 10 + i * 0.5 s, each 0.4 s: 11.5 → 13.4, nothing else.
    assert {s.kind for s in result.audio_spans} == {"card_number"}
    [(start, end)] = merge_spans(result.audio_spans, 0.25, 60.0)
    assert start == 11.25 and end == pytest.approx(13.65)


def test_without_word_timings_the_whole_utterance_is_the_span() -> None:
    utterance = caller(f"it is {CARD}", 3.0, timed=False)
    assert [(s.start_s, s.end_s) for s in Redactor().redact([utterance]).audio_spans] == [(3.0, 6.0)]


def test_a_word_that_cannot_be_placed_in_the_text_falls_back_to_the_whole_utterance() -> None:
    utterance = caller(f"card {CARD}", 0.0).model_copy(
        update={"words": [Word(word="something-else", start_s=0.0, end_s=0.4)]}
    )
    assert [(s.start_s, s.end_s) for s in audio_spans(utterance, [(5, 24, "card_number")])] == [(0.0, 2.5)]


def test_spans_are_padded_clipped_and_merged() -> None:
    spans = [
        AudioSpan(1.0, 2.0, "card_number"),
        AudioSpan(2.3, 3.0, "card_security"),
        AudioSpan(9.9, 11, "ssn"),
    ]
    assert merge_spans(spans, 0.25, 10.0) == [(0.75, 3.25), (9.65, 10.0)]


def test_bleep_replaces_every_channel_in_the_span_only() -> None:
    _, samples = stereo_wav(3.0)
    out = bleep(samples, RATE, [(1.0, 2.0)], AudioRedactionOptions())
    inside, before = out[:, RATE + 100 : 2 * RATE - 100], out[:, : RATE - 1]
    assert np.array_equal(before, samples[:, : RATE - 1])
    assert np.array_equal(inside[0], inside[1])  # the same tone on both channels, nothing left
    spectrum = np.abs(np.fft.rfft(inside[0].astype(float)))
    assert np.fft.rfftfreq(inside.shape[1], 1 / RATE)[spectrum.argmax()] == pytest.approx(1000, abs=2)
    silent = bleep(samples, RATE, [(1.0, 2.0)], AudioRedactionOptions(mode="silence"))
    assert not silent[:, RATE : 2 * RATE].any()


def store_with_call(tmp_path: Path) -> tuple[LocalRecordingStore, str, np.ndarray]:
    store = LocalRecordingStore(tmp_path / "store")
    data, samples = stereo_wav(6.0)
    uri = asyncio.run(store.put("audio/ab/call-1.wav", data, "audio/wav"))
    return store, uri, samples


def test_the_redacted_copy_replaces_the_original(tmp_path: Path) -> None:
    store, uri, samples = store_with_call(tmp_path)
    redactor = AudioRedactor(store)
    outcome = asyncio.run(redactor.redact(uri, [AudioSpan(2.0, 3.0, "card_number")]))
    assert outcome.audio_uri == uri + ".pci-redacted.wav" and original_uri_of(outcome.audio_uri) == uri
    assert outcome.flags == ("audio_redacted",) and outcome.redacted_seconds == pytest.approx(1.5)
    assert not (tmp_path / "store/audio/ab/call-1.wav").exists()  # the original is gone
    copy, rate = read_wav(tmp_path / "store/audio/ab/call-1.wav.pci-redacted.wav")
    assert rate == RATE and copy.shape == samples.shape
    assert np.array_equal(copy[:, : int(1.7 * RATE)], samples[:, : int(1.7 * RATE)])
    assert not np.array_equal(copy[:, 2 * RATE : 3 * RATE], samples[:, 2 * RATE : 3 * RATE])
    # Redelivered after the original was deleted: the copy is found and named again.
    again = asyncio.run(redactor.redact(uri, [AudioSpan(2.0, 3.0, "card_number")]))
    assert again.audio_uri == outcome.audio_uri and again.flags == ("audio_redacted",)


def test_keep_original_keeps_it_beside_the_copy(tmp_path: Path) -> None:
    store, uri, _ = store_with_call(tmp_path)
    redactor = AudioRedactor(store, AudioRedactionOptions(keep_original=True))
    outcome = asyncio.run(redactor.redact(uri, [AudioSpan(2.0, 3.0, "ssn")]))
    assert outcome.audio_uri.endswith(".pci-redacted.wav")
    assert (tmp_path / "store/audio/ab/call-1.wav").exists()


def test_nothing_to_remove_leaves_the_recording_as_it_is(tmp_path: Path) -> None:
    store, uri, _ = store_with_call(tmp_path)
    redactor = AudioRedactor(store)
    for spans in ([], [AudioSpan(2.0, 3.0, "phone"), AudioSpan(4.0, 5.0, "email")]):
        outcome = asyncio.run(redactor.redact(uri, spans))
        assert (outcome.audio_uri, outcome.flags) == (uri, ())
    assert sorted(p.name for p in (tmp_path / "store/audio/ab").iterdir()) == ["call-1.wav"]


def test_what_cannot_be_redacted_is_flagged_not_failed(tmp_path: Path) -> None:
    store = LocalRecordingStore(tmp_path / "store")
    redactor = AudioRedactor(store)
    span = [AudioSpan(0.0, 1.0, "card_number")]
    broken = asyncio.run(store.put("audio/broken.wav", b"RIFF\x00\x00not audio at all", "audio/wav"))
    cases = {
        "": "audio_redaction_failed:no_recording",
        "https://api.twilio.com/rec/RE1.mp3": "audio_redaction_failed:outside_store",
        store.uri_for("audio/never-stored.wav"): "audio_redaction_failed:recording_missing",
        broken: "audio_redaction_failed:undecodable",
    }
    for uri, flag in cases.items():
        outcome = asyncio.run(redactor.redact(uri, span))
        assert (outcome.audio_uri, outcome.flags) == (uri, (flag,))


def test_a_misheard_card_number_is_still_redacted() -> None:
    # Speech-to-text dropped a digit ("4539" heard as "459"): no Luhn check can pass any more.
    misheard = caller("the card number is 459 1488 0343 6467 thanks", 0.0)
    result = Redactor().redact([misheard])
    assert result.utterances[0].text == "the card number is [CARD_NUMBER] thanks"
    assert result.counts == {"card_number": 1} and result.audio_spans
    luhn_only = Redactor(RedactorOptions(unverified_card_digits=0)).redact([misheard])
    assert "1488" in luhn_only.utterances[0].text  # what the checksum alone would have let through
    # An order number of 12 digits is no card: left as said.
    order = caller("my order is 1234 5678 9012", 0.0)
    assert Redactor().redact([order]).utterances[0].text == "my order is 1234 5678 9012"
