"""Request rewrites that give weak OpenAI-compatible servers reliable tool calls.

When a server does not enforce a named or required ``tool_choice`` but does
enforce a JSON schema on its reply (``response_format``), a tool call is asked for
as structured output instead: for a named tool, the reply must be that tool's
arguments; for ``"required"``, the reply must be ``{"name": ..., "arguments": ...}``
for one of the tools (a ``anyOf`` over the tools). The server's own grammar then
guarantees a call that parses and validates, which the connector turns back into a
normal :class:`~sapient.ToolCall`. Where nothing is enforced, an instruction in the
system message and strict recovery of calls written as text are the fallback.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sapient.core.messages import Message

__all__ = ["any_call_schema", "response_format", "with_instruction"]


def any_call_schema(tools: Sequence[Any]) -> dict[str, Any]:
    """JSON schema of one call object ``{"name": ..., "arguments": {...}}`` to any tool."""
    alts = [{"type": "object",
             "properties": {"name": {"const": t.name}, "arguments": t.parameters},
             "required": ["name", "arguments"], "additionalProperties": False}
            for t in tools]
    return alts[0] if len(alts) == 1 else {"anyOf": alts}


def response_format(schema: dict[str, Any], style: str | None, name: str = "output"
                    ) -> dict[str, Any] | None:
    """The ``response_format`` field in the style the server understands."""
    if style == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    if style == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    return None


def with_instruction(messages: Sequence[Message], text: str) -> list[Message]:
    """``messages`` with ``text`` added to the system message (one is made if absent)."""
    out = list(messages)
    if out and out[0].role == "system":
        out[0] = Message.system(f"{out[0].content or ''}\n\n{text}".strip())
    else:
        out.insert(0, Message.system(text))
    return out


def call_instruction(tools: Sequence[Any], forced: str | None) -> str:
    """What to tell a model that must call a tool but whose server cannot enforce it."""
    if forced is not None:
        t = next(t for t in tools if t.name == forced)
        return (f"Call the tool '{forced}' now. Reply with only its arguments as one JSON "
                f"object that follows this JSON schema: {json.dumps(t.parameters)}")
    listing = "\n".join(json.dumps({"name": t.name, "description": t.description,
                                    "parameters": t.parameters}) for t in tools)
    return ("You must call one of these tools. Reply with only one JSON object "
            '{"name": "<tool name>", "arguments": {...}}.\n' + listing)


def schema_instruction(schema: dict[str, Any]) -> str:
    return ("Reply with only one JSON object that follows this JSON schema: "
            + json.dumps(schema))
