"""OpenAI and OpenAI-compatible servers (Ollama, vLLM, llama.cpp server, LM Studio).

Spec strings: ``openai:gpt-4o-mini`` (api.openai.com, ``OPENAI_API_KEY``) and
``openai:http://127.0.0.1:11434/v1#llama3.1`` (any compatible server: base URL, then
``#`` and the model id). Options follow the model after ``?``, joined by ``&``:

``fallback=SPEC``
    a model to use when this one's server stays down after its retries (default
    ``SAPIENT_LLM_FALLBACK``; ``fallback=none`` turns that off).
``api_key_env=NAME``
    the environment variable holding this server's key (default: ``OPENAI_API_KEY``
    for OpenAI only, ``SAPIENT_LLM_API_KEY`` for other servers, else no key).
``timeout=S`` / ``retries=N`` / ``retry_budget=S``
    seconds to wait for the server's next bytes (120), retries after the first try
    (3), seconds for all tries together (60).
``writes_answers=0``
    the model cannot write answers from tool results itself (default ``1``).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl

from sapient.core.errors import ConfigurationError
from sapient.core.hookspecs import hookimpl

from ._auth import credentials, is_openai_host
from ._capabilities import ServerCapabilities, probe_server
from ._client import OpenAIChat, parse_spec, split_options
from ._fallback import FallbackLLM
from ._recovery import recover_tool_calls
from ._retry import RetryPolicy, StreamCutError

__all__ = ["FallbackLLM", "OpenAIChat", "RetryPolicy", "ServerCapabilities", "StreamCutError",
           "credentials", "from_spec", "is_openai_host", "parse_spec", "probe_server",
           "recover_tool_calls", "spec_options"]


def _flag(value: str) -> bool:
    low = value.strip().lower()
    if low in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return low in ("1", "true", "yes", "on")
    raise ValueError(value)


_OPTIONS: dict[str, Any] = {"fallback": str, "api_key_env": str, "timeout": float,
                            "retries": int, "retry_budget": float, "writes_answers": _flag}


def spec_options(rest: str, allowed: tuple[str, ...] = tuple(_OPTIONS)) -> dict[str, Any]:
    """The typed options of an ``openai:`` spec (see the module docstring)."""
    options: dict[str, Any] = {}
    for key, value in parse_qsl(split_options(rest)[1], keep_blank_values=True):
        if key not in allowed:
            raise ConfigurationError(
                f"Unknown openai option '{key}'. Known: {', '.join(allowed)}. Example: "
                "'openai:http://127.0.0.1:8080/v1#local?api_key_env=MY_KEY'.")
        try:
            options[key] = _OPTIONS[key](value)
        except ValueError:
            raise ConfigurationError(f"openai option '{key}' has the value {value!r}, which is "
                                     "not valid here.") from None
    return options


def from_spec(rest: str, settings: Any = None, host: Any = None) -> Any:
    """The connector for ``openai:<rest>``, wrapped in a fallback when one is configured."""
    base_url, model = parse_spec(rest)
    opts = spec_options(rest)
    retry = RetryPolicy(attempts=opts.get("retries", 3) + 1,
                        budget_s=opts.get("retry_budget", RetryPolicy.budget_s))
    llm = OpenAIChat(model=model, base_url=base_url, api_key_env=opts.get("api_key_env"),
                     timeout=opts.get("timeout", 120.0), retry=retry,
                     writes_answers=opts.get("writes_answers", True))
    fallback = opts.get("fallback", os.environ.get("SAPIENT_LLM_FALLBACK", ""))
    own = "openai:" + split_options(rest)[0]
    if not fallback or fallback == "none" or split_options(fallback)[0] == own:
        return llm
    if host is None:
        raise ConfigurationError(
            f"fallback={fallback!r} needs a host to resolve it: build the model with "
            "Host().llm(spec) or Agent(llm=spec), or wrap it yourself with FallbackLLM.")
    return FallbackLLM(llm, lambda: host.llm(fallback), name=fallback)


@hookimpl
def register_llms(register: Any) -> None:
    register(
        "openai",
        from_spec,
        help="OpenAI API (openai:gpt-4o-mini) or a compatible server "
        "(openai:http://127.0.0.1:11434/v1#llama3.1), options ?fallback=SPEC&api_key_env=VAR",
    )

