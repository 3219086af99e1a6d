"""The LLM protocol every model connector implements.

One required method, :meth:`LLM.complete`. ``acomplete`` (async) and ``stream``
(text deltas) are optional capabilities: :func:`acomplete` and :func:`stream` below
fall back to ``complete`` when a connector lacks them, so the agent loop never has to
care which backend it talks to.

Options every connector should understand (and may ignore when not applicable):

``tool_choice``
    ``"auto"`` (default), ``"none"``, ``"required"`` or a tool name to force.
``output_schema``
    a JSON schema the answer text must follow (structured output); connectors that
    can enforce it (``response_format`` on OpenAI, grammars on llama.cpp) do so.
``temperature``, ``max_tokens``, ``stop``, ``seed``
    the usual sampling options.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .messages import Message, ToolCall, Usage

if TYPE_CHECKING:
    from .tools import Tool

__all__ = ["LLM", "LLMResponse", "StreamDelta", "acomplete", "stream", "astream"]


@dataclass(slots=True)
class LLMResponse:
    """One model turn: text and/or tool calls, token usage and why it stopped."""

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None
    raw: Any = None

    def to_message(self) -> Message:
        return Message.assistant(self.text, self.tool_calls)


@dataclass(slots=True)
class StreamDelta:
    """A piece of text from a streaming model."""

    text: str


@runtime_checkable
class LLM(Protocol):
    """What the agent needs from a model backend.

    Implement ``complete``; optionally ``acomplete(messages, tools, **options)``
    (awaitable) and ``stream(messages, tools, **options)`` yielding
    :class:`StreamDelta` items and finally exactly one :class:`LLMResponse` that
    holds the whole turn (text, tool calls and usage).
    """

    def complete(
        self, messages: Sequence[Message], tools: Sequence[Tool] = (), **options: Any
    ) -> LLMResponse: ...


async def acomplete(
    llm: LLM, messages: Sequence[Message], tools: Sequence[Tool] = (), **options: Any
) -> LLMResponse:
    """Call the model asynchronously, using ``acomplete`` if it has one, else a thread."""
    native = getattr(llm, "acomplete", None)
    if native is not None:
        return await native(messages, tools, **options)
    return await asyncio.to_thread(llm.complete, messages, tools, **options)


def stream(
    llm: LLM, messages: Sequence[Message], tools: Sequence[Tool] = (), **options: Any
) -> Iterator[StreamDelta | LLMResponse]:
    """Stream from the model; a backend without streaming yields its whole text once."""
    native = getattr(llm, "stream", None)
    if native is not None:
        yield from native(messages, tools, **options)
        return
    response = llm.complete(messages, tools, **options)
    if response.text:
        yield StreamDelta(response.text)
    yield response


async def astream(
    llm: LLM, messages: Sequence[Message], tools: Sequence[Tool] = (), **options: Any
) -> AsyncIterator[StreamDelta | LLMResponse]:
    """Async wrapper over :func:`stream`: the blocking iterator runs in a worker thread."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    done = object()

    def pump() -> None:
        try:
            for item in stream(llm, messages, tools, **options):
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except BaseException as exc:  # handed to the consumer, re-raised there
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, done)

    worker = loop.run_in_executor(None, pump)
    try:
        while True:
            item = await queue.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        await worker
