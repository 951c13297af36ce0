"""The transcriber stage: ``RecordingReady`` → ``TranscriptReady``.

``transcribe(event, ports)`` is a plain async function: the stage runner calls it per message and
the ``callpipe analyze`` CLI calls it in-process. Steps: fetch the audio, archive it in the
recording store (so any call can be re-transcribed later), decode and validate it, transcribe with
the configured engine, attach speaker roles (channel map, or diarization + cues for mono), and
emit utterances ordered by start. Silent audio yields ``status=no_speech``; undecodable audio
raises ``InvalidInputError`` (dead-letter with the reason).

Single-speaker recordings (a voicemail, an IVR prompt, one side of a call): when the channel
analysis finds one party only, or the diarizer (or a diarizing engine) finds one voice, every
utterance carries that voice's one role and the transcript says ``single_speaker=True``, so the
analysis downstream does not treat it as a two-party call whose roles could not be resolved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

import numpy as np

from callpipe.models import (
    OverlapSpan,
    RecordingReady,
    Role,
    StageTiming,
    TranscriptReady,
    TranscriptStatus,
    Utterance,
    Word,
)
from callpipe.store import RecordingStore
from callpipe_transcriber.audio import DecodedAudio, decode_audio, is_silent
from callpipe_transcriber.channels import (
    ChannelLayout,
    ChannelOptions,
    ChannelPlan,
    drop_bleed,
    plan_channels,
)
from callpipe_transcriber.diarize import diarize
from callpipe_transcriber.engines.base import EngineRequest, EngineResult, EngineSegment, SpeechEngine
from callpipe_transcriber.fetch import AudioFetcher, archive_key
from callpipe_transcriber.roles import RoleAssignment, RoleCues, assign_roles, channel_roles_for

__all__ = ["TranscriberPorts", "transcribe"]

_TURN_GAP_S = 1.0  # words of one speaker further apart than this start a new utterance


@dataclass(slots=True)
class TranscriberPorts:
    """What the stage needs from the outside world (built in ``__main__`` or by the CLI)."""

    fetcher: AudioFetcher
    store: RecordingStore
    engine: SpeechEngine
    cues: RoleCues = field(default_factory=RoleCues)
    language: str | None = None
    keyterms: tuple[str, ...] = ()
    # Separation below which mono diarization is considered unreliable (scales role confidence).
    min_separation: float = 1.0
    channel_options: ChannelOptions = field(default_factory=ChannelOptions)
    # Longer audio is refused (InvalidInputError → dead letter) while decoding, before it fills memory.
    max_audio_duration_s: float = 7200.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class _Timer:
    def __init__(self) -> None:
        self.timings: list[StageTiming] = []

    def lap(self, step: str, started: float) -> float:
        now = time.perf_counter()
        self.timings.append(StageTiming(stage=f"transcriber.{step}", seconds=round(now - started, 4)))
        return now


async def transcribe(event: RecordingReady, ports: TranscriberPorts) -> TranscriptReady:
    timer = _Timer()
    start = t = time.perf_counter()
    data, served_type = await ports.fetcher.fetch(event.audio_uri)
    t = timer.lap("download", t)
    content_type = event.content_type or served_type
    audio_uri = event.audio_uri
    if urlsplit(audio_uri).scheme in ("http", "https"):
        key = archive_key(event.call_id, event.recording_id, content_type, audio_uri)
        audio_uri = await ports.store.put(key, data, content_type=content_type)
        t = timer.lap("archive", t)
    audio = await asyncio.to_thread(decode_audio, data, max_duration_s=ports.max_audio_duration_s)
    t = timer.lap("decode", t)

    def result(
        status: TranscriptStatus,
        utterances: list[Utterance],
        language: str | None,
        roles: RoleAssignment | None,
        model: str,
        single_speaker: bool = False,
        overlaps: Sequence[OverlapSpan] = (),
    ) -> TranscriptReady:
        timer.lap("total", start)
        return TranscriptReady(
            call_id=event.call_id,
            recording_id=event.recording_id,
            source=event.source,
            status=status,
            audio_uri=audio_uri,
            audio_duration_s=round(audio.duration_s, 3),
            channel_count=audio.channel_count,
            language=language or ports.language,
            engine=ports.engine.name,
            model=model or ports.engine.model,
            utterances=utterances,
            roles_low_confidence=roles.low_confidence if roles else False,
            role_confidence=roles.confidence if roles else None,
            metadata=event.metadata,
            received_at=event.received_at,
            timings=[*event.timings, *timer.timings],
            single_speaker=single_speaker,
            overlaps=list(overlaps),
        )

    if is_silent(audio):
        return result(TranscriptStatus.NO_SPEECH, [], None, None, "")
    plan = await asyncio.to_thread(plan_channels, audio, ports.channel_options)
    engine_audio = _engine_audio(audio, plan)
    multichannel = plan.layout in (ChannelLayout.SEPARATE, ChannelLayout.SINGLE_PARTY)
    engine_result = await ports.engine.transcribe(
        EngineRequest(
            data=data,
            content_type=content_type,
            audio=engine_audio,
            multichannel=multichannel,
            language=ports.language,
            keyterms=ports.keyterms,
            channels=plan.active if multichannel else (),
        )
    )
    t = timer.lap("stt", t)
    if multichannel:
        segments = [seg for seg in engine_result.segments if seg.channel in plan.active]
        if plan.layout is ChannelLayout.SEPARATE:
            segments = drop_bleed(segments, audio, ports.channel_options)
        engine_result = replace(engine_result, segments=segments)
    if not any(seg.text.strip() for seg in engine_result.segments):
        return result(TranscriptStatus.NO_SPEECH, [], engine_result.language, None, engine_result.model)
    overlaps: list[OverlapSpan] = []
    if multichannel:
        utterances, roles = _channel_utterances(event, audio, engine_result, ports.cues, ports.keyterms)
        single = plan.layout is ChannelLayout.SINGLE_PARTY or len(plan.active) == 1
    elif engine_result.diarized:
        utterances, roles = _speaker_utterances(engine_result.segments, ports.cues, 1.0, ports.keyterms)
        single = len({u.speaker for u in utterances}) == 1
    else:
        mono = engine_audio.mono()
        diarization = await asyncio.to_thread(diarize, mono, engine_audio.sample_rate)
        quality = min(1.0, diarization.separation / ports.min_separation) if ports.min_separation > 0 else 1.0
        segments = _split_by_speaker(engine_result.segments, diarization.speaker_at)
        utterances, roles = _speaker_utterances(segments, ports.cues, quality, ports.keyterms)
        single = diarization.speakers <= 1 or len({u.speaker for u in utterances}) == 1
        # Each utterance has one voice, so talk-over on mono shows only in the diarizer's spans.
        if not single:
            overlaps = [OverlapSpan(start_s=a, end_s=b) for a, b in diarization.overlaps]
        t = timer.lap("diarize", t)
    language, model = engine_result.language, engine_result.model
    return result(TranscriptStatus.OK, utterances, language, roles, model, single, overlaps)


def _engine_audio(audio: DecodedAudio, plan: ChannelPlan) -> DecodedAudio:
    """The audio the engine gets: one mix for duplicated channels, else the recording."""
    if plan.layout is ChannelLayout.DUPLICATE:
        samples = audio.samples.mean(axis=0, keepdims=True).astype(np.float32)
        return replace(audio, samples=samples)
    return audio


def _utterance(seg: EngineSegment, role: Role, speaker: str) -> Utterance:
    return Utterance(
        role=role,
        speaker=speaker,
        channel=seg.channel,
        start_s=seg.start_s,
        end_s=seg.end_s,
        text=seg.text.strip(),
        confidence=seg.confidence,
        words=list(seg.words) if seg.words else None,
    )


def _channel_utterances(
    event: RecordingReady, audio: DecodedAudio, result: EngineResult, cues: RoleCues, brands: tuple[str, ...]
) -> tuple[list[Utterance], RoleAssignment]:
    mapping = channel_roles_for(audio.channel_count, event.channel_roles, event.metadata.direction)
    if mapping is not None:
        roles = RoleAssignment(
            roles={f"ch{ch}": role for ch, role in mapping.items()}, confidence=1.0, low_confidence=False
        )
    else:
        speech = [(f"ch{seg.channel}", seg.start_s, seg.text) for seg in result.segments]
        roles = assign_roles(speech, cues, brands=brands)
    # Engines may return one long segment per channel (Whisper merges VAD chunks into 30 s
    # windows): cut at pauses using word timings so turns interleave by start time.
    pieces = [piece for seg in result.segments for piece in _split_by_speaker([seg], _constant(seg.channel))]
    utterances = [
        _utterance(seg, roles.roles.get(f"ch{seg.channel}", Role.UNKNOWN), f"ch{seg.channel}")
        for seg in pieces
        if seg.text.strip()
    ]
    utterances.sort(key=lambda u: (u.start_s, u.channel or 0))
    return utterances, roles


def _constant(value: int | None) -> Callable[[float], int | None]:
    def at(_t: float) -> int | None:
        return value

    return at


def _speaker_utterances(
    segments: list[EngineSegment], cues: RoleCues, quality: float, brands: tuple[str, ...]
) -> tuple[list[Utterance], RoleAssignment]:
    speech = [(seg.speaker or "spk0", seg.start_s, seg.text) for seg in segments if seg.text.strip()]
    # The configured keyterms are the call center's own brand names: the agent's greeting says them.
    roles = assign_roles(speech, cues, diarization_quality=quality, brands=brands)
    utterances = [
        _utterance(seg, roles.roles.get(seg.speaker or "spk0", Role.UNKNOWN), seg.speaker or "spk0")
        for seg in segments
        if seg.text.strip()
    ]
    utterances.sort(key=lambda u: u.start_s)
    return utterances, roles


def _split_by_speaker(
    segments: list[EngineSegment], speaker_at: Callable[[float], int | None]
) -> list[EngineSegment]:
    """Re-cut undiarized engine segments into single-speaker segments using word timings."""
    out: list[EngineSegment] = []
    for seg in segments:
        words: list[Word] = list(seg.words)
        if not words:
            label = speaker_at((seg.start_s + seg.end_s) / 2)
            out.append(_with_speaker(seg, [], label))
            continue
        run: list[Word] = []
        run_label: int | None = None
        for word in words:
            label = speaker_at((word.start_s + word.end_s) / 2)
            if run and (label != run_label or word.start_s - run[-1].end_s > _TURN_GAP_S):
                out.append(_with_speaker(seg, run, run_label))
                run = []
            run.append(word)
            run_label = label
        out.append(_with_speaker(seg, run, run_label))
    # Join consecutive pieces of the same speaker that the engine had cut at a pause.
    merged: list[EngineSegment] = []
    for piece in out:
        prev = merged[-1] if merged else None
        if prev and prev.speaker == piece.speaker and piece.start_s - prev.end_s <= _TURN_GAP_S:
            merged[-1] = _merge(prev, piece)
        else:
            merged.append(piece)
    return merged


def _with_speaker(seg: EngineSegment, words: list[Word], label: int | None) -> EngineSegment:
    if seg.channel is not None:
        speaker = f"ch{seg.channel}"  # channel audio: the channel is the speaker
    else:
        speaker = f"spk{label}" if label is not None else "spk0"
    if not words:
        return EngineSegment(seg.start_s, seg.end_s, seg.text, seg.channel, speaker, seg.confidence, ())
    confs = [w.confidence for w in words if w.confidence is not None]
    return EngineSegment(
        start_s=words[0].start_s,
        end_s=words[-1].end_s,
        text=" ".join(w.word for w in words),
        channel=seg.channel,
        speaker=speaker,
        confidence=round(sum(confs) / len(confs), 4) if confs else None,
        words=tuple(words),
    )


def _merge(a: EngineSegment, b: EngineSegment) -> EngineSegment:
    confs = [c for c in (a.confidence, b.confidence) if c is not None]
    return EngineSegment(
        start_s=a.start_s,
        end_s=max(a.end_s, b.end_s),
        text=f"{a.text} {b.text}".strip(),
        channel=a.channel,
        speaker=a.speaker,
        confidence=round(sum(confs) / len(confs), 4) if confs else None,
        words=a.words + b.words,
    )
