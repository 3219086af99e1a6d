"""What an OpenAI-compatible server really does with tools and JSON schemas.

Servers accept the same request fields but honour them differently: llama.cpp's
server downgrades a named ``tool_choice`` to ``"auto"``, llama-cpp-python's
``chatml-function-calling`` handler fails on ``"required"``, some servers ignore
``response_format`` of type ``json_schema`` but honour ``json_object`` with a
``schema`` field, and a few reject ``tools`` outright. The probe asks a handful of
tiny questions whose honest answers a model would not give by itself (a forced tool
the prompt does not ask for; an enum value nobody would write) and records what the
server enforced. The connector then shims what is missing (see ``_client.py``).

OpenAI's own API is not probed: it supports everything.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["ServerCapabilities", "probe_server", "FULL"]


@dataclass(frozen=True)
class ServerCapabilities:
    """Which tool-calling features a server enforces.

    Attributes:
        tools: accepts ``tools`` in a request.
        named_tool_choice: a named ``tool_choice`` yields a call to that tool.
        required_tool_choice: ``tool_choice="required"`` yields a tool call.
        response_format: how to ask for schema-valid JSON: ``"json_schema"``
            (OpenAI style), ``"json_object_schema"`` (``{"type": "json_object",
            "schema": ...}``, llama-cpp-python style) or ``None`` (not enforced).
    """

    tools: bool = True
    named_tool_choice: bool = True
    required_tool_choice: bool = True
    response_format: str | None = "json_schema"


FULL = ServerCapabilities()

_PROBE_TOOLS = [
    {"type": "function", "function": {
        "name": "probe_alpha", "description": "Say hello.",
        "parameters": {"type": "object", "properties": {"x": {"type": "integer"}},
                       "required": ["x"]}}},
    {"type": "function", "function": {
        "name": "probe_beta", "description": "Never call this unless told to.",
        "parameters": {"type": "object", "properties": {"y": {"type": "integer"}},
                       "required": ["y"]}}},
]
_PROBE_SCHEMA = {"type": "object", "properties": {"colour": {"type": "string",
                                                             "enum": ["octarine"]}},
                 "required": ["colour"], "additionalProperties": False}
_CACHE: dict[tuple[str | None, str], ServerCapabilities] = {}
_LOCK = threading.Lock()


def _ask(client: Any, model: str, **req: Any) -> Any:
    import openai

    try:
        return client.chat.completions.create(model=model, temperature=0, max_tokens=48,
                                              **req)
    except openai.APIConnectionError:
        raise  # the server is not there: that is an error for the caller, not a capability
    except openai.APIStatusError as exc:
        if exc.status_code in (401, 403, 404, 408, 409, 429) or exc.status_code > 500:
            raise  # wrong key or model, or a busy server: not a missing feature
        return None  # 400/422/500: the feature is not supported


def _called(resp: Any, name: str | None) -> bool:
    if resp is None or not resp.choices:
        return False
    calls = resp.choices[0].message.tool_calls or []
    if not calls:
        return False
    return name is None or calls[0].function.name == name


def _json_ok(resp: Any) -> bool:
    if resp is None or not resp.choices:
        return False
    try:
        return json.loads(resp.choices[0].message.content or "") == {"colour": "octarine"}
    except (ValueError, TypeError):
        return False


def probe_server(client: Any, model: str, base_url: str | None) -> ServerCapabilities:
    """Probe once per (server, model) and cache the answer for the process."""
    key = (base_url, model)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    ask = [{"role": "user", "content": "Call probe_alpha with x=1."}]
    named = _ask(client, model, messages=ask, tools=_PROBE_TOOLS,
                 tool_choice={"type": "function", "function": {"name": "probe_beta"}})
    plain_tools = named if named is not None else _ask(client, model, messages=ask,
                                                       tools=_PROBE_TOOLS)
    tools_ok = named is not None or plain_tools is not None
    required = _ask(client, model, messages=[{"role": "user", "content": "Say hi."}],
                    tools=_PROBE_TOOLS, tool_choice="required") if tools_ok else None
    hi = [{"role": "user", "content": "Say hi."}]
    style: str | None = None
    if _json_ok(_ask(client, model, messages=hi, response_format={
            "type": "json_schema",
            "json_schema": {"name": "probe", "schema": _PROBE_SCHEMA}})):
        style = "json_schema"
    elif _json_ok(_ask(client, model, messages=hi,
                       response_format={"type": "json_object", "schema": _PROBE_SCHEMA})):
        style = "json_object_schema"
    caps = ServerCapabilities(tools=tools_ok, named_tool_choice=_called(named, "probe_beta"),
                              required_tool_choice=_called(required, None),
                              response_format=style)
    with _LOCK:
        _CACHE[key] = caps
    return caps
