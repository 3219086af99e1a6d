"""LangChain interop on ``langchain-core`` alone (``pip install 'sapient[langchain-core]'``).

* :func:`to_langchain_tool` / :func:`from_langchain_tool`: tools both ways.
* :class:`LangChainLLM`: any LangChain chat model as a Sapient LLM (tool calls and
  usage mapped both ways); also as an LLM spec,
  ``langchain:langchain_openai.ChatOpenAI#gpt-4o-mini``.
* :func:`as_retriever` / ``SapientRetriever``: Sapient document search as a
  LangChain ``BaseRetriever``.
* :func:`load_documents` and :func:`ingest_langchain_documents`: LangChain document
  loaders feeding a Sapient index (also ``sapient ingest --loader CLASS``).

Importing this module imports no LangChain package; each function does on first use.
"""

from __future__ import annotations

from typing import Any

from sapient.core._lazy import lazy_exports
from sapient.core.errors import ConfigurationError
from sapient.core.hookspecs import hookimpl

__all__ = [
    "LangChainLLM",
    "SapientRetriever",
    "as_retriever",
    "from_ai_message",
    "from_langchain_tool",
    "ingest_langchain_documents",
    "load_documents",
    "to_langchain_messages",
    "to_langchain_tool",
    "from_spec",
]

INSTALL_HINT = "LangChain interop needs langchain-core: pip install 'sapient[langchain-core]'."



def _require_langchain_core() -> None:
    """One sentence with the install hint when ``langchain-core`` is missing."""
    try:
        import langchain_core  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(f"{INSTALL_HINT} ({exc})") from exc


__getattr__, __dir__ = lazy_exports(__name__, {
    "LangChainLLM": "._llm", "from_ai_message": "._llm", "to_langchain_messages": "._llm",
    "to_langchain_tool": "._tools", "from_langchain_tool": "._tools",
    "SapientRetriever": "._documents", "as_retriever": "._documents",
    "load_documents": "._documents", "ingest_langchain_documents": "._documents",
}, require=_require_langchain_core)


def from_spec(rest: str, settings: Any = None) -> Any:
    """``langchain:package.module.ChatClass#model``: build the chat model and wrap it.

    The part after ``#`` is passed as ``model=...``; without it the class is built
    with no arguments (its own defaults and environment variables apply).
    """
    from ._documents import resolve_loader

    path, _, model = rest.partition("#")
    if not path:
        raise ConfigurationError(
            "Write a LangChain model as langchain:package.module.ChatClass#model, e.g. "
            "langchain:langchain_openai.ChatOpenAI#gpt-4o-mini.")
    cls = resolve_loader(path)
    try:
        chat_model = cls(model=model) if model else cls()
    except Exception as exc:
        raise ConfigurationError(f"Cannot build {path}: {type(exc).__name__}: {exc}") from None
    return __getattr__("LangChainLLM")(chat_model)


@hookimpl
def register_llms(register: Any) -> None:
    register("langchain", from_spec,
             help="any LangChain chat model: langchain:langchain_openai.ChatOpenAI#gpt-4o-mini")
