"""The lexical half of the index: BM25 with ``bm25s`` (sparse matrices, no Python loop
per document).

bm25s has no incremental update, so the BM25 model is rebuilt from all live chunk
texts whenever the collection changed and a lexical search or a save needs it. That
is cheap next to embedding (tens of thousands of chunks per second on one core) and
keeps scores exact (document frequencies always match the collection).

Tokenisation: lower-case words of two or more characters, English stop words
removed and, when ``PyStemmer`` is installed, Snowball English stemming. The
tokeniser settings are stored in the manifest so a saved index is queried exactly as
it was built. Persisted as three ``.npy`` arrays (``allow_pickle=False``) and a JSON
vocabulary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BM25Index", "default_stemmer_name"]

FILES = ("bm25.data.npy", "bm25.indices.npy", "bm25.indptr.npy", "bm25.vocab.json")


def default_stemmer_name() -> str | None:
    try:
        import Stemmer  # noqa: F401  (PyStemmer)
    except ImportError:
        return None
    return "english"


def _stemmer(name: str | None) -> Any:
    if name is None:
        return None
    try:
        import Stemmer
    except ImportError as exc:
        from sapient.connectors.docstore import RetrievalError

        raise RetrievalError(
            f"This index was built with the '{name}' stemmer, which needs PyStemmer. "
            "Install it with: pip install PyStemmer (part of 'sapient[retrieval]')."
        ) from exc
    return Stemmer.Stemmer(name)


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:  # pragma: no cover
        from sapient.core.errors import ConfigurationError

        raise ConfigurationError(
            "Lexical search needs bm25s. Install it with: pip install 'sapient[retrieval]'"
        ) from exc
    return bm25s


class BM25Index:
    """A BM25 model over a fixed list of texts; row ``i`` scores text ``i``."""

    def __init__(self, stemmer: str | None = "auto", *, k1: float = 1.5, b: float = 0.75) -> None:
        self.stemmer_name = default_stemmer_name() if stemmer == "auto" else stemmer
        self._stemmer = _stemmer(self.stemmer_name)
        self.k1, self.b = k1, b
        self.model: Any = None
        self.size = 0

    @property
    def config(self) -> dict[str, Any]:
        return {"stemmer": self.stemmer_name, "stopwords": "en", "k1": self.k1, "b": self.b,
                "method": "lucene"}

    def build(self, texts: list[str]) -> None:
        bm25s = _bm25s()
        self.size = len(texts)
        if not texts:
            self.model = None
            return
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer,
                                show_progress=False)
        if not tokens.vocab:  # no text has an indexable word (all stop words, symbols)
            self.model = None
            return
        model = bm25s.BM25(k1=self.k1, b=self.b)
        model.index(tokens, show_progress=False)
        self.model = model

    def _query_tokens(self, query: str) -> list[str]:
        bm25s = _bm25s()
        out = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, return_ids=False,
                             show_progress=False)
        return [t for t in out[0] if t in self.model.vocab_dict]

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every row for ``query`` (0 where ``mask`` is 0)."""
        if self.model is None:
            return np.zeros(self.size, dtype=np.float32)
        tokens = self._query_tokens(query)
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens, weight_mask=mask), dtype=np.float32)

    def search(self, query: str, k: int, mask: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, rows) with a positive score, best first."""
        return self.search_scores(self.scores(query, mask), k)

    @staticmethod
    def search_scores(s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, rows) of a score vector, positive scores only, best first."""
        positive = int(np.count_nonzero(s > 0))
        k = min(k, positive)
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
        top = top[np.argsort(-s[top], kind="stable")]
        return s[top], top.astype(np.int64)

    # -- persistence -------------------------------------------------------------

    def write(self, folder: Path) -> list[str]:
        """Write the score matrix and vocabulary; returns the file names written."""
        if self.model is None:
            return []
        sc = self.model.scores
        arrays = {"bm25.data.npy": sc["data"], "bm25.indices.npy": sc["indices"],
                  "bm25.indptr.npy": sc["indptr"]}
        for name, arr in arrays.items():
            with open(folder / name, "wb") as fh:
                np.save(fh, np.asarray(arr), allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())
        with open(folder / "bm25.vocab.json", "w", encoding="utf-8") as fh:
            json.dump(self.model.vocab_dict, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        return list(FILES)

    @classmethod
    def read(cls, folder: Path, config: dict[str, Any], size: int) -> BM25Index:
        bm25s = _bm25s()
        self = cls(config.get("stemmer"), k1=float(config.get("k1", 1.5)),
                   b=float(config.get("b", 0.75)))
        self.size = size
        if size == 0 or not (folder / "bm25.vocab.json").exists():
            return self  # empty, or no text had an indexable word
        data = np.load(folder / "bm25.data.npy", allow_pickle=False)
        indices = np.load(folder / "bm25.indices.npy", allow_pickle=False)
        indptr = np.load(folder / "bm25.indptr.npy", allow_pickle=False)
        with open(folder / "bm25.vocab.json", encoding="utf-8") as fh:
            vocab = json.load(fh)
        if (not isinstance(vocab, dict) or not vocab or indptr.ndim != 1
                or len(indptr) < max(int(v) for v in vocab.values()) + 1
                or len(indptr) > len(vocab) + 1 or len(data) != len(indices)
                or int(indptr[-1]) != len(data)):
            raise ValueError("BM25 vocabulary does not match its score matrix")
        if len(indices) and (int(indices.max()) >= size or int(indices.min()) < 0):
            raise ValueError("BM25 matrix refers to rows beyond the chunk table")
        model = bm25s.BM25(k1=self.k1, b=self.b)
        model.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": size}
        model.vocab_dict = {str(k): int(v) for k, v in vocab.items()}
        model.unique_token_ids_set = set(model.vocab_dict.values())
        model.nonoccurrence_array = None
        self.model = model
        return self
