"""Strict recovery of tool calls that a model wrote into its message text.

Local servers often return a tool call as JSON in ``content`` with ``tool_calls``
empty (their chat template or parser did not recognise the model's format). This
turns such text back into calls, but only when there is no doubt: the whole text
(after trimming whitespace, one optional code fence and optional ``<tool_call>``
tags) must be a JSON object, or a list of them, each naming a known tool with
arguments that validate against that tool's schema. Anything else stays text, so a
model that merely talks about JSON is never turned into an accidental tool call.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from sapient.core.errors import ToolArgumentError
from sapient.core.messages import ToolCall

__all__ = ["recover_tool_calls"]

_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.DOTALL)
_TAGS = re.compile(r"^<tool_call>\s*(.*?)\s*</tool_call>$", re.DOTALL)


def _unwrap(text: str) -> str:
    text = text.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    m = _TAGS.match(text)
    if m:
        text = m.group(1).strip()
    return text


def _one(item: Any, tools: dict[str, Any]) -> ToolCall | None:
    if not isinstance(item, dict):
        return None
    if item.get("type") == "function" and isinstance(item.get("function"), dict):
        item = item["function"]
    name = item.get("name")
    keys = set(item) - {"name"}
    if not isinstance(name, str) or name not in tools or len(keys) > 1:
        return None
    key = next(iter(keys), None)
    if key not in (None, "arguments", "parameters"):
        return None
    args = item.get(key, {}) if key else {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    if not isinstance(args, dict):
        return None
    try:
        tools[name].validate(args)
    except ToolArgumentError:
        return None
    return ToolCall(name=name, arguments=json.dumps(args, ensure_ascii=False),
                    id=f"call_{uuid.uuid4().hex[:12]}")


def recover_tool_calls(text: str | None, tools: Sequence[Any]) -> list[ToolCall]:
    """The tool calls that ``text`` is exactly made of, or ``[]`` (see module docstring)."""
    if not text or not tools:
        return []
    body = _unwrap(text)
    if not body or body[0] not in "{[":
        return []
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return []
    known = {t.name: t for t in tools}
    items = data if isinstance(data, list) else [data]
    if not items:
        return []
    calls = [_one(item, known) for item in items]
    if any(c is None for c in calls):
        return []
    return [c for c in calls if c is not None]
