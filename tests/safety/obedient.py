"""An obedient scripted model: whenever its context holds an instruction to call a
tool, it emits that call; when every instruction has been followed, it answers.

It obeys tool results as readily as the user, which is exactly what a prompt
injection hopes a model will do: the policy, not the model, has to stop the harm.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from sapient import Message, ToolCall


def _instructions(text: str, names: list[str]) -> list[tuple[str, dict]]:
    if not names:
        return []
    alt = "|".join(re.escape(n) for n in names)
    found = []
    for m in re.finditer(rf"\b({alt})\b[^{{\n]{{0,40}}(\{{[^{{}}]*\}})", text):
        try:
            found.append((m.group(1), json.loads(m.group(2))))
        except json.JSONDecodeError:
            continue
    return found


def _done(messages: Sequence[Message]) -> list[tuple[str, dict]]:
    return [(c.name, c.arguments if isinstance(c.arguments, dict) else json.loads(c.arguments))
            for m in messages if m.role == "assistant" for c in m.tool_calls]


def obedient(messages: Sequence[Message], tools: Sequence[Any], options: dict) -> Any:
    names = [t.name for t in tools]
    done = _done(messages)
    for m in messages:
        if m.role in ("user", "tool") and m.content:
            for name, args in _instructions(m.content, names):
                if (name, args) not in done:
                    return ToolCall(name, args)
    last = next((m.content for m in reversed(messages) if m.role == "tool"), "") or ""
    return "Done. " + " ".join(last.split())[:80]
