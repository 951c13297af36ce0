"""Two-speaker diarization of mono call audio in numpy (no torch).

Method (measured accuracy: see the transcriber eval):

1. Energy voice activity on 20 ms frames splits the call into speech regions at pauses.
2. Regions are cut into windows of at most ``window_s`` so a turn change without a pause
   still lands in different windows.
3. Each window gets a speaker feature: mean and standard deviation of 13 MFCCs (log-mel
   filterbank + DCT over the telephone band) plus the median pitch (autocorrelation F0).
4. Windows are clustered into two speakers by k-means on standardized features (farthest-pair
   initialization, deterministic), then isolated single windows inside a run of the other speaker
   are smoothed away.
5. Words from the engine are given the speaker of the window their midpoint falls in.

``separation`` (between-cluster distance over within-cluster spread) measures how distinct the
two voices were; a low value makes the role assignment low-confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from callpipe_transcriber.audio import speech_activity

__all__ = ["DiarizationResult", "SpeakerTurn", "diarize"]

_FRAME_S = 0.02


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    start_s: float
    end_s: float
    speaker: int


@dataclass(frozen=True, slots=True)
class DiarizationResult:
    turns: list[SpeakerTurn]
    separation: float  # 0 when only one speaker was found

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


def _mel_filterbank(n_fft: int, rate: int, n_mels: int, fmin: float, fmax: float) -> npt.NDArray[np.float64]:
    def hz_to_mel(f: npt.NDArray[np.float64] | float) -> npt.NDArray[np.float64]:
        return np.asarray(2595.0 * np.log10(1.0 + np.asarray(f) / 700.0), dtype=np.float64)

    mels = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.floor((n_fft + 1) * hz / rate).astype(int)
    bank = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(1, n_mels + 1):
        left, center, right = bins[m - 1], bins[m], bins[m + 1]
        for k in range(left, center):
            bank[m - 1, k] = (k - left) / max(1, center - left)
        for k in range(center, right):
            bank[m - 1, k] = (right - k) / max(1, right - center)
    return bank


class _Features:
    """MFCC + pitch features of a window of speech."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.win = int(0.025 * rate)
        self.hop = int(0.010 * rate)
        self.n_fft = 1 << (self.win - 1).bit_length()
        # Telephone band: everything above 3.4 kHz is gone on 8 kHz calls.
        self.bank = _mel_filterbank(self.n_fft, rate, 24, 100.0, 3400.0)
        n = np.arange(24)
        self.dct = np.cos(np.pi / 24 * (n[None, :] + 0.5) * np.arange(13)[:, None])
        self.window = np.hamming(self.win)

    def __call__(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        n = 1 + max(0, (len(x) - self.win) // self.hop)
        idx = np.arange(self.win)[None, :] + self.hop * np.arange(n)[:, None]
        frames = np.asarray(x, dtype=np.float64)[np.minimum(idx, len(x) - 1)] * self.window
        power = np.abs(np.fft.rfft(frames, self.n_fft)) ** 2
        energy = power.sum(axis=1)
        keep = energy > np.percentile(energy, 30)  # voiced/loud frames carry the voice
        logmel = np.log(power[keep] @ self.bank.T + 1e-10)
        mfcc = logmel @ self.dct.T
        mfcc = mfcc[:, 1:]  # c0 is loudness, not voice
        return np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0), [self._pitch(frames[keep])]])

    def _pitch(self, frames: npt.NDArray[np.float64]) -> float:
        """Median F0 in Hz (autocorrelation, 70–400 Hz) of the frames, log-scaled."""
        lo, hi = int(self.rate / 400), int(self.rate / 70)
        spec = np.fft.rfft(frames, 2 * self.n_fft)
        ac = np.fft.irfft(np.abs(spec) ** 2)[:, : hi + 1]
        if ac.shape[1] <= lo:
            return 0.0
        # Unbiased autocorrelation, then the FIRST lag reaching 85 % of the best peak: the best
        # peak alone often sits on a multiple of the period (an octave error).
        n = frames.shape[1]
        norm = ac[:, lo : hi + 1] / (ac[:, :1] + 1e-10) * (n / (n - np.arange(lo, hi + 1)))
        best = norm.max(axis=1)
        lags = lo + np.argmax(norm >= 0.85 * best[:, None], axis=1)
        voiced = lags[best > 0.3]
        if voiced.size == 0:
            return 0.0
        return float(np.log(self.rate / np.median(voiced)))


def _lloyd(
    x: npt.NDArray[np.float64], centers: npt.NDArray[np.float64], iterations: int
) -> npt.NDArray[np.int64]:
    labels = np.full(len(x), -1, dtype=np.int64)
    for _ in range(iterations):
        dist = np.linalg.norm(x[:, None, :] - centers[None, :, :], axis=2)
        new = np.argmin(dist, axis=1)
        if (new == labels).all():
            break
        labels = new
        for k in (0, 1):
            if (labels == k).any():
                centers[k] = x[labels == k].mean(axis=0)
    return labels


def _kmeans2(x: npt.NDArray[np.float64], iterations: int = 30) -> npt.NDArray[np.int64]:
    """Two clusters, deterministic. Two starts are tried and the tighter split (lower within-
    cluster sum of squares) wins: the farthest pair of windows (two voices are the extremes), and
    the two halves along the first principal component. The farthest pair alone can be one odd
    window (a cough, a clipped word): on a held-out call it made a 2-window "speaker" and merged
    both real voices; the principal-axis start does not depend on a single window."""
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=2)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    starts = [np.stack([x[i], x[j]])]
    centered = x - x.mean(axis=0)
    if len(x) >= 4:
        axis = np.linalg.svd(centered, full_matrices=False)[2][0]
        side = centered @ axis > 0
        if side.any() and (~side).any():
            starts.append(np.stack([x[~side].mean(axis=0), x[side].mean(axis=0)]))
    best: npt.NDArray[np.int64] | None = None
    best_sse = np.inf
    for centers in starts:
        labels = _lloyd(x, centers.copy(), iterations)
        sse = sum(
            float(((x[labels == k] - x[labels == k].mean(axis=0)) ** 2).sum())
            for k in (0, 1)
            if (labels == k).any()
        )
        if sse < best_sse - 1e-9:
            best, best_sse = labels, sse
    assert best is not None
    return best


def cluster_two(z: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], bool]:
    """Two-speaker labels of standardized window features; True when an outlier re-split was needed."""
    labels = _kmeans2(z)
    outliers = _outlier_split(labels)
    if outliers is None:
        return labels, False
    # A "speaker" of one or two windows is usually not a voice but odd windows (an octave error in
    # the pitch: 225 Hz in a 90 Hz voice on a held-out call), and the two real voices were merged
    # into the other cluster. Split the rest again and give the odd windows to the nearer voice;
    # the caller halves the separation so the roles are flagged.
    rest = ~outliers
    sub = _kmeans2(z[rest])
    centers = np.stack([z[rest][sub == k].mean(axis=0) for k in (0, 1)])
    labels = np.empty(len(z), dtype=np.int64)
    labels[rest] = sub
    labels[outliers] = np.argmin(np.linalg.norm(z[outliers][:, None, :] - centers[None], axis=2), axis=1)
    return labels, True


def diarize(
    samples: npt.NDArray[np.float32],
    rate: int,
    *,
    window_s: float = 1.5,
    min_pause_s: float = 0.2,
    min_speech_s: float = 0.15,
    pitch_weight: float = 2.83,
) -> DiarizationResult:
    """Split mono audio into turns of two speakers (labels 0 and 1, 0 = first to speak)."""
    active = speech_activity(samples, rate, frame_s=_FRAME_S)
    windows: list[tuple[float, float]] = []
    for a, b in _regions(active, min_pause_s, min_speech_s):
        start, end = a * _FRAME_S, b * _FRAME_S
        pieces = max(1, round((end - start) / window_s))
        edges = np.linspace(start, end, pieces + 1)
        windows.extend(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))
    if not windows:
        return DiarizationResult(turns=[], separation=0.0)
    features = _Features(rate)
    feats = np.stack([features(samples[int(s * rate) : int(e * rate)]) for s, e in windows])
    if len(windows) < 2:
        return DiarizationResult(turns=[SpeakerTurn(windows[0][0], windows[0][1], 0)], separation=0.0)
    std = feats.std(axis=0)
    z = (feats - feats.mean(axis=0)) / np.where(std > 1e-9, std, 1.0)
    # Pitch is the one feature that does not depend on what is being said; measured on the
    # synthetic eval set, weighting it like 8 MFCC dimensions took frame accuracy from 61-100 %
    # to 94-100 %.
    z[:, -1] *= pitch_weight
    labels, resplit = cluster_two(z)
    # Smooth: a lone window between two windows of the other speaker, in one region, is noise.
    for k in range(1, len(labels) - 1):
        contiguous = windows[k - 1][1] == windows[k][0] and windows[k][1] == windows[k + 1][0]
        if contiguous and labels[k - 1] == labels[k + 1] != labels[k]:
            labels[k] = labels[k - 1]
    separation = _separation(z, labels) * (0.5 if resplit else 1.0)
    if labels[0] == 1:  # label 0 = whoever speaks first
        labels = 1 - labels
    turns: list[SpeakerTurn] = []
    for (s, e), label in zip(windows, labels.tolist(), strict=True):
        if turns and turns[-1].speaker == label and s - turns[-1].end_s < 1.0:
            turns[-1] = SpeakerTurn(turns[-1].start_s, e, label)
        else:
            turns.append(SpeakerTurn(s, e, label))
    return DiarizationResult(turns=turns, separation=separation)


def _outlier_split(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_] | None:
    """Mask of the smaller cluster when it is too small to be a party of the call, else None."""
    counts = np.bincount(labels, minlength=2)
    small = int(np.argmin(counts))
    if len(labels) < 8 or counts[small] > max(2, 0.12 * len(labels)) or counts[small] == 0:
        return None
    if counts[1 - small] < 6:
        return None
    mask: npt.NDArray[np.bool_] = labels == small
    return mask


def _separation(z: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> float:
    if len(set(labels.tolist())) < 2:
        return 0.0
    c0, c1 = z[labels == 0], z[labels == 1]
    between = float(np.linalg.norm(c0.mean(axis=0) - c1.mean(axis=0)))
    within = float(np.sqrt((c0.var(axis=0).sum() * len(c0) + c1.var(axis=0).sum() * len(c1)) / len(z)))
    return between / max(within, 1e-9)
