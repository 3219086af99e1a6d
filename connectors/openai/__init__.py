"""OpenAI and OpenAI-compatible servers (Ollama, vLLM, llama.cpp server, LM Studio).

Spec strings: ``openai:gpt-4o-mini`` (api.openai.com, ``OPENAI_API_KEY``) and
``openai:http://127.0.0.1:11434/v1#llama3.1`` (any compatible server: base URL, then
``#`` and the model id).
"""

from __future__ import annotations

from typing import Any

from sapient.core.hookspecs import hookimpl

from ._capabilities import ServerCapabilities, probe_server
from ._client import OpenAIChat, parse_spec
from ._recovery import recover_tool_calls

__all__ = ["OpenAIChat", "ServerCapabilities", "parse_spec", "probe_server",
           "recover_tool_calls"]


def _from_spec(rest: str, settings: Any = None) -> OpenAIChat:
    base_url, model = parse_spec(rest)
    return OpenAIChat(model=model, base_url=base_url)


@hookimpl
def register_llms(register: Any) -> None:
    register(
        "openai",
        _from_spec,
        help="OpenAI API (openai:gpt-4o-mini) or a compatible server "
        "(openai:http://127.0.0.1:11434/v1#llama3.1)",
    )
