"""Speaker clustering (count found, never forced) and the CAM++ diarizer on the committed sample call."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from callpipe.errors import DependencyUnavailableError
from callpipe_transcriber.diarize import (
    DiarizationOptions,
    cluster_speakers,
    cluster_with_cannot_links,
    diarize,
)
from callpipe_transcriber.speaker_embedding import load_campplus

from .transcriber_unit_support import Clip


def _voices(rng: np.random.Generator, counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Unit-length embeddings around one random direction per voice."""
    dim = 32
    centres = rng.normal(size=(len(counts), dim))
    rows, truth = [], []
    for k, n in enumerate(counts):
        rows.append(centres[k] + rng.normal(0, 0.3, size=(n, dim)))
        truth += [k] * n
    x = np.vstack(rows)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), np.array(truth)


def _same_partition(labels: np.ndarray, truth: np.ndarray) -> bool:
    pairs = {(int(a), int(b)) for a, b in zip(labels, truth, strict=True)}
    return len(pairs) == len(set(labels.tolist())) == len(set(truth.tolist()))


@pytest.mark.parametrize("counts", [[12], [10, 9], [8, 7, 9]])
def test_the_number_of_speakers_is_found(counts: list[int]) -> None:
    x, truth = _voices(np.random.default_rng(len(counts)), counts)
    labels = cluster_speakers(x, np.full(len(x), 1.5), threshold=0.35, min_speaker_s=3.0)
    assert _same_partition(labels, truth)


def test_a_voice_with_too_little_speech_is_not_a_party() -> None:
    x, truth = _voices(np.random.default_rng(7), [10, 9, 1])
    labels = cluster_speakers(x, np.full(len(x), 1.5), threshold=0.35, min_speaker_s=3.0)
    assert len(set(labels.tolist())) == 2
    assert _same_partition(labels[:-1], truth[:-1])


def _alike_voices(rng: np.random.Generator, per_chunk: int, chunks: int) -> tuple[np.ndarray, np.ndarray]:
    """Two voices whose embeddings barely differ (like two similar synthetic voices), alternating
    in every chunk: window embeddings, truth."""
    dim = 32
    shared = rng.normal(size=dim)
    offset = rng.normal(size=dim)
    offset *= 0.35 * np.linalg.norm(shared) / np.linalg.norm(offset)
    rows, truth = [], []
    for _ in range(chunks):
        for k in range(per_chunk):
            voice = k % 2
            rows.append(shared + (offset if voice else -offset) + rng.normal(0, 0.15, size=dim))
            truth.append(voice)
    x = np.vstack(rows)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), np.array(truth)


def test_cannot_links_keep_two_alike_voices_apart() -> None:
    per_chunk, chunks = 6, 5
    x, truth = _alike_voices(np.random.default_rng(11), per_chunk, chunks)
    durations = np.full(len(x), 1.5)
    assert len(set(cluster_speakers(x, durations, threshold=0.35, min_speaker_s=3.0).tolist())) == 1
    chunk = np.repeat(np.arange(chunks), per_chunk)
    units = chunk * 2 + truth  # segmentation: local speaker = voice within each chunk
    unit_chunk, unit_local = np.arange(2 * chunks) // 2, np.arange(2 * chunks) % 2
    cannot = (unit_chunk[:, None] == unit_chunk[None, :]) & (unit_local[:, None] != unit_local[None, :])
    labels = cluster_with_cannot_links(x, durations, units, cannot, threshold=0.35, min_speaker_s=3.0)
    assert _same_partition(labels, truth)


def test_without_cannot_links_one_voice_stays_one_speaker() -> None:
    x, _ = _voices(np.random.default_rng(5), [14])
    durations = np.full(len(x), 1.5)
    units = np.arange(len(x)) // 4  # four windows per local speaker, one per chunk
    cannot = np.zeros((units.max() + 1,) * 2, dtype=bool)
    labels = cluster_with_cannot_links(x, durations, units, cannot, threshold=0.35, min_speaker_s=3.0)
    assert set(labels.tolist()) == {0}


def test_windows_no_local_speaker_dominates_join_the_nearest_voice() -> None:
    x, truth = _voices(np.random.default_rng(8), [8, 8])
    durations = np.full(len(x), 1.5)
    units = np.where(np.arange(len(x)) % 3 == 0, -1, truth)  # a third of the windows: no unit
    cannot = np.array([[False, True], [True, False]])
    labels = cluster_with_cannot_links(x, durations, units, cannot, threshold=0.35, min_speaker_s=3.0)
    assert _same_partition(labels, truth)


def _resampled(samples: np.ndarray, rate: int) -> np.ndarray:
    """8 kHz int16 → 16 kHz float32 (linear interpolation is enough for a speaker check)."""
    x = samples.astype(np.float32) / 32768.0
    t = np.arange(0, len(x), rate / 16000)
    resampled: np.ndarray = np.interp(t, np.arange(len(x)), x).astype(np.float32)
    return resampled


def test_two_voices_of_the_sample_call_are_two_speakers(clip: Clip) -> None:
    result = diarize(_resampled(clip.mono, clip.rate), 16000)
    assert result.speakers == 2
    for turn in clip.turns:  # agent, caller, agent: the first and last share a label
        mid = (turn.start_s + turn.end_s) / 2
        expected = 0 if turn.role.value == clip.turns[0].role.value else 1
        assert result.speaker_at(mid) == expected


def test_one_voice_is_one_speaker(clip: Clip) -> None:
    agent_only = clip.stereo[:, 1]
    result = diarize(_resampled(agent_only, clip.rate), 16000)
    assert result.speakers == 1
    assert result.separation == 0.0
    assert result.overlaps == ()


def test_where_embeddings_merge_two_voices_the_segmentation_keeps_them_apart(clip: Clip) -> None:
    mono = _resampled(clip.mono, clip.rate)
    merge_all = DiarizationOptions(merge_similarity=-1.0)  # embeddings alone: one cluster, always
    assert diarize(mono, 16000, replace(merge_all, segmentation=False)).speakers == 1
    result = diarize(mono, 16000, merge_all)
    assert result.speakers == 2
    first, second, third = ((t.start_s + t.end_s) / 2 for t in clip.turns)
    assert result.speaker_at(first) == result.speaker_at(third) != result.speaker_at(second)


def test_talk_over_is_marked_as_overlap(clip: Clip) -> None:
    agent = _resampled(clip.stereo[:, 1], clip.rate)
    caller = _resampled(clip.stereo[:, 0], clip.rate)
    greeting, reply = clip.turns[0], clip.turns[1]
    # The caller's reply starts 3 s early, over the end of the agent's greeting.
    piece = caller[int(reply.start_s * 16000) : int(reply.end_s * 16000)]
    start = int((reply.start_s - 3.0) * 16000)
    mixed = agent.copy()
    mixed[start : start + len(piece)] += piece
    result = diarize(mixed, 16000)
    talk_over = (reply.start_s - 3.0, greeting.end_s)
    covered = sum(max(0.0, min(e, talk_over[1]) - max(s, talk_over[0])) for s, e in result.overlaps)
    marked = sum(e - s for s, e in result.overlaps)
    assert covered >= 0.6 * (talk_over[1] - talk_over[0])
    assert marked <= 1.5 * (talk_over[1] - talk_over[0])


def test_a_checkpoint_with_the_wrong_hash_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "campplus.pt"
    fake.write_bytes(b"not the weights")
    with pytest.raises(DependencyUnavailableError, match="SHA-256"):
        load_campplus(fake)
