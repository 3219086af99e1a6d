"""A light encoder for sentence-transformers BERT models with mean pooling.

Why it exists: importing ``sentence_transformers`` pulls in ``transformers`` (which in
turn imports ``torch._dynamo``, ``torch.distributed`` and SciPy) and scikit-learn: about
9 CPU seconds before the first query can be embedded, for a model that is six standard
transformer layers. A command such as ``sapient search`` paid that on every start.

This module computes the same function as sentence-transformers for a model folder made
of ``Transformer`` (a BERT) + ``Pooling`` (mean of the token vectors) [+ ``Normalize``],
which is what ``all-MiniLM-L6-v2`` is, from the folder's own files and three well-kept
libraries: the model's ``tokenizer.json`` through ``tokenizers`` (the Rust tokenizer
``transformers`` itself uses), the weights through ``safetensors``, and the six BERT
layers as torch's functional operations (linear, layer norm, GELU and
``scaled_dot_product_attention``, the attention kernel ``transformers`` runs for BERT on
CPU; torch's own ``TransformerEncoderLayer`` computes the same function but its fused
CPU attention was 15% slower here). Importing it costs torch alone (about 3 CPU s
instead of 12 with sentence-transformers). The vectors equal
sentence-transformers' to float32 rounding (a test checks it), so an index built with
either stays valid and records the same model name. Any other folder is loaded by
sentence-transformers as before (:func:`is_supported` decides).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["BertMeanEncoder", "is_supported"]

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _mean_pooling_only(pooling: dict[str, Any]) -> bool:
    modes = {k: v for k, v in pooling.items() if k.startswith("pooling_mode_")}
    return modes.get("pooling_mode_mean_tokens") is True and sum(map(bool, modes.values())) == 1


def is_supported(folder: str | Path) -> bool:
    """True when ``folder`` is a sentence-transformers BERT + mean pooling model that
    this encoder reproduces exactly (anything else goes to sentence-transformers)."""
    folder = Path(folder)
    try:
        modules = _read_json(folder / "modules.json")
        types = [m["type"] for m in modules]
        if types not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
            return False
        if modules[0].get("path", "") != "":
            return False
        config = _read_json(folder / "config.json")
        pooling = _read_json(folder / modules[1]["path"] / "config.json")
        st_config = _read_json(folder / "sentence_bert_config.json")
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return False
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and _mean_pooling_only(pooling) and not st_config.get("do_lower_case", False)
            and (folder / "tokenizer.json").is_file()
            and (folder / "model.safetensors").is_file())


def _tokenizer(folder: Path, max_length: int) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # sentence-transformers truncates at the model's max_seq_length and pads each batch
    # to its longest text, whatever tokenizer.json itself says.
    tok.enable_truncation(max_length=max_length)
    pad_id = tok.token_to_id("[PAD]")
    tok.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
    return tok


class _Layer:
    """One BERT layer (post-norm: attention, add and norm; GELU feed-forward, add and norm).

    Attention is ``torch.nn.functional.scaled_dot_product_attention``, the kernel
    ``transformers`` uses for BERT too; the query, key and value projections are stacked
    into one matrix product.
    """

    def __init__(self, w: dict[str, Any], heads: int, eps: float) -> None:
        import torch

        qkv = ("attention.self.query", "attention.self.key", "attention.self.value")
        self.qkv_weight = torch.cat([w[f"{n}.weight"] for n in qkv])
        self.qkv_bias = torch.cat([w[f"{n}.bias"] for n in qkv])
        self.heads, self.eps = heads, eps
        self.w = w

    def __call__(self, x: Any, mask: Any) -> Any:
        from torch.nn import functional as F

        w, (batch, length, size) = self.w, x.shape
        qkv = F.linear(x, self.qkv_weight, self.qkv_bias)
        q, k, v = qkv.view(batch, length, 3, self.heads, size // self.heads).permute(
            2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        attended = attended.transpose(1, 2).reshape(batch, length, size)
        x = self._norm(x + F.linear(attended, w["attention.output.dense.weight"],
                                    w["attention.output.dense.bias"]), "attention.output")
        hidden = F.gelu(F.linear(x, w["intermediate.dense.weight"], w["intermediate.dense.bias"]))
        return self._norm(x + F.linear(hidden, w["output.dense.weight"], w["output.dense.bias"]),
                          "output")

    def _norm(self, x: Any, name: str) -> Any:
        from torch.nn import functional as F

        return F.layer_norm(x, x.shape[-1:], self.w[f"{name}.LayerNorm.weight"],
                            self.w[f"{name}.LayerNorm.bias"], self.eps)


def _layer_weights(weights: dict[str, Any], i: int) -> dict[str, Any]:
    prefix = f"encoder.layer.{i}."
    return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}


class BertMeanEncoder:
    """Unit-length mean-pooled BERT sentence vectors, as sentence-transformers computes them.

    Build it with :meth:`load` on a folder :func:`is_supported` accepts.
    """

    def __init__(self, folder: Path, config: dict[str, Any], max_length: int) -> None:
        from safetensors.torch import load_file

        weights = load_file(str(folder / "model.safetensors"))
        if not any(k.startswith("embeddings.") for k in weights):  # saved with a "bert." prefix
            weights = {k.removeprefix("bert."): v for k, v in weights.items()}
        self.dimension = int(config["hidden_size"])
        self.max_length = max_length
        self._tokenizer = _tokenizer(folder, max_length)
        self._word = weights["embeddings.word_embeddings.weight"]
        self._position = weights["embeddings.position_embeddings.weight"]
        self._token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self._norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        self._eps = float(config["layer_norm_eps"])
        self._layers = [_Layer(_layer_weights(weights, i), int(config["num_attention_heads"]),
                               self._eps) for i in range(config["num_hidden_layers"])]

    @classmethod
    def load(cls, folder: str | Path) -> BertMeanEncoder:
        folder = Path(folder)
        config = _read_json(folder / "config.json")
        st_config = _read_json(folder / "sentence_bert_config.json")
        max_length = min(int(st_config.get("max_seq_length") or 512),
                         int(config["max_position_embeddings"]))
        return cls(folder, config, max_length)

    def _forward(self, texts: list[str]) -> Any:
        import torch

        encodings = self._tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        keep = torch.tensor([e.attention_mask for e in encodings], dtype=torch.bool)
        x = self._word[ids] + self._position[: ids.shape[1]] + self._token_type
        x = torch.nn.functional.layer_norm(x, x.shape[-1:], *self._norm, self._eps)
        attend = keep[:, None, None, :]  # every query attends to the real tokens only
        for layer in self._layers:
            x = layer(x, attend)
        x = x.masked_fill(~keep.unsqueeze(-1), 0.0)
        counts = keep.sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)
        return torch.nn.functional.normalize(x.sum(dim=1) / counts, dim=1)

    def encode(self, texts: list[str], batch_size: int = 64, show_progress: bool = False) -> Any:
        """An ``(n, dimension)`` float32 array of unit rows, batches formed by length
        (as sentence-transformers does, so little is padded); ``show_progress`` shows a
        bar over the batches on stderr."""
        import numpy as np
        import torch

        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts: Any = range(0, len(texts), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        with torch.inference_mode():
            for start in starts:
                rows = order[start:start + batch_size]
                out[rows] = self._forward([texts[i] for i in rows]).numpy()
        return out
