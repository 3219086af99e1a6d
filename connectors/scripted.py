"""A scripted LLM for deterministic tests, shipped so plugin authors can use it too.

Two ways to script it:

* a list of replies, replayed in order: a string (final text), a :class:`ToolCall`,
  a list of ToolCalls (several calls in one turn), a dict
  ``{"tool": name, "args": {...}}``, or a ready :class:`LLMResponse`;
* a function ``fn(messages, tools, options)`` returning any of those, which can
  react to what the agent sent (e.g. answer from the last tool result).

It records every call in ``calls`` for assertions, streams word by word, and reports
token usage (words), so usage accounting is testable too. Spec strings:
``scripted:echo`` repeats the last user message; ``scripted:recall`` answers with every
user message of its context, in order, joined by `` | `` (so a test can check what a
conversation holds, e.g. that a server session kept exactly its own turns).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sapient.core.errors import ConfigurationError
from sapient.core.hookspecs import hookimpl
from sapient.core.llm import LLMResponse, StreamDelta
from sapient.core.messages import Message, ToolCall, Usage

__all__ = ["ScriptedLLM", "Reply"]

Reply = str | ToolCall | list[ToolCall] | dict[str, Any] | LLMResponse


@dataclass
class RecordedCall:
    messages: list[Message]
    tools: list[str]
    options: dict[str, Any]


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


class ScriptedLLM:
    """An LLM whose replies are scripted. See the module docstring."""

    #: Replies come from memory, so the agent may call it without a worker thread.
    blocking = False

    def __init__(
        self,
        replies: Sequence[Reply] | None = None,
        *,
        function: Callable[[Sequence[Message], Sequence[Any], dict[str, Any]], Reply] | None = None,
        name: str = "scripted",
    ) -> None:
        if (replies is None) == (function is None):
            raise ConfigurationError("ScriptedLLM needs either a list of replies or function=...")
        self._replies = list(replies) if replies is not None else None
        self._position = 0
        self._function = function
        self.name = name
        self.calls: list[RecordedCall] = []
        self._ids = itertools.count()

    def reset(self) -> None:
        """Replay the script from the start and forget recorded calls."""
        self._position = 0
        self.calls.clear()

    def _next_reply(self, messages: Sequence[Message], tools: Sequence[Any],
                    options: dict[str, Any]) -> Reply:
        if self._function is not None:
            return self._function(messages, tools, options)
        assert self._replies is not None
        if self._position >= len(self._replies):
            raise ConfigurationError(
                f"ScriptedLLM ran out of replies after {len(self._replies)} calls; the agent "
                "asked for one more. Add replies to the script or check why the loop went on."
            )
        reply = self._replies[self._position]
        self._position += 1
        return reply

    def _to_response(self, reply: Reply, messages: Sequence[Message]) -> LLMResponse:
        if isinstance(reply, LLMResponse):
            response = reply
        elif isinstance(reply, str):
            response = LLMResponse(text=reply, finish_reason="stop")
        elif isinstance(reply, ToolCall):
            response = LLMResponse(tool_calls=[reply], finish_reason="tool_calls")
        elif isinstance(reply, dict):
            call = ToolCall(reply["tool"], reply.get("args", {}), reply.get("id", ""))
            response = LLMResponse(tool_calls=[call], finish_reason="tool_calls")
        elif isinstance(reply, list):
            response = LLMResponse(tool_calls=list(reply), finish_reason="tool_calls")
        else:
            raise TypeError(f"ScriptedLLM cannot reply with a {type(reply).__name__}")
        for call in response.tool_calls:
            if not call.id:
                call.id = f"scripted_{next(self._ids)}"
        if response.finish_reason is None:  # a replayed turn is always whole
            response.finish_reason = "tool_calls" if response.tool_calls else "stop"
        if response.usage.requests == 0:
            prompt_tokens = sum(_words(m.content) for m in messages)
            completion = _words(response.text) + sum(
                _words(c.arguments_json()) + 1 for c in response.tool_calls
            )
            response.usage = Usage(prompt_tokens, completion, 1)
        response.model = response.model or self.name
        return response

    def complete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                 **options: Any) -> LLMResponse:
        self.calls.append(RecordedCall(list(messages), [t.name for t in tools], dict(options)))
        return self._to_response(self._next_reply(messages, tools, options), messages)

    def stream(self, messages: Sequence[Message], tools: Sequence[Any] = (),
               **options: Any) -> Iterator[StreamDelta | LLMResponse]:
        response = self.complete(messages, tools, **options)
        if response.text:
            for piece in re.findall(r"\S+\s*", response.text):
                yield StreamDelta(piece)
        yield response


def _echo(messages: Sequence[Message], tools: Sequence[Any], options: dict[str, Any]) -> str:
    last = next((m.content for m in reversed(messages) if m.role == "user"), "")
    return last or ""


def _recall(messages: Sequence[Message], tools: Sequence[Any], options: dict[str, Any]) -> str:
    return " | ".join(m.content or "" for m in messages if m.role == "user")


_NAMED = {"echo": _echo, "recall": _recall}


def from_spec(rest: str, settings: Any = None) -> ScriptedLLM:
    """Build a scripted LLM from ``scripted:<name>`` (``echo``, ``recall``)."""
    name = rest or "echo"
    if name not in _NAMED:
        raise ConfigurationError(
            f"Unknown scripted LLM '{name}'. Known: {', '.join(sorted(_NAMED))}. "
            "For custom scripts build ScriptedLLM([...]) in Python."
        )
    return ScriptedLLM(function=_NAMED[name], name=f"scripted:{name}")


@hookimpl
def register_llms(register: Any) -> None:
    register("scripted", from_spec, help="scripted test double: scripted:echo, scripted:recall")
