"""Run-time objects passed to hooks, and the built-in implementations of the
``call_tool`` and ``call_model`` hooks.

This module is itself a default plugin: its ``trylast`` hookimpls do the real work,
so any plugin can wrap them (``@hookimpl(wrapper=True)``) or replace them (a
non-wrapper ``call_tool`` returning a value first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import LLMError
from .hookspecs import hookimpl
from .llm import LLM, LLMResponse, StreamDelta, stream
from .messages import Event, Message, TextDelta, ToolCall, Usage

if TYPE_CHECKING:
    from .tools import Tool

__all__ = ["RunContext", "ToolInvocation", "ModelRequest"]


@dataclass
class RunContext:
    """State of one run, shared with hooks: the agent, messages so far, usage, step.

    ``emit`` delivers an event to observers (and to ``Agent.stream``).
    ``state`` is a free dict plugins may use to keep per-run data.
    """

    agent: Any
    messages: list[Message]
    usage: Usage = field(default_factory=Usage)
    step: int = 0
    state: dict[str, Any] = field(default_factory=dict)
    emit: Callable[[Event], None] = lambda event: None
    loop: asyncio.AbstractEventLoop | None = None


@dataclass
class ToolInvocation:
    """One validated tool call on its way to the tool's function."""

    tool: Tool
    arguments: dict[str, Any]
    call: ToolCall
    run: RunContext | None = None


@dataclass
class ModelRequest:
    """One model call: which LLM, which messages and tools, with which options.

    ``streaming`` asks the built-in implementation to stream and emit
    :class:`~sapient.core.messages.TextDelta` events as text arrives.
    """

    llm: LLM
    messages: Sequence[Message]
    tools: Sequence[Tool]
    options: dict[str, Any] = field(default_factory=dict)
    run: RunContext | None = None
    streaming: bool = False


@hookimpl(trylast=True)
def call_tool(invocation: ToolInvocation) -> Any:
    """Run the tool (:meth:`Tool.invoke`: its timeout; async tools on the run's loop)."""
    run = invocation.run
    return invocation.tool.invoke(invocation.arguments,
                                  loop=run.loop if run is not None else None)


@hookimpl(trylast=True)
def call_model(request: ModelRequest) -> LLMResponse:
    """Call ``llm.complete``, or stream and emit text deltas when asked to.

    A native stream whose final response has no ``finish_reason`` was cut off (a
    dropped connection, a server that closed early): that is an :class:`LLMError`
    (retryable), not a short answer.
    """
    if not request.streaming:
        return request.llm.complete(request.messages, request.tools, **request.options)
    final: LLMResponse | None = None
    emit = request.run.emit if request.run is not None else (lambda e: None)
    for item in stream(request.llm, request.messages, request.tools, **request.options):
        if isinstance(item, StreamDelta):
            if item.text:
                emit(TextDelta(item.text))
        elif isinstance(item, LLMResponse):
            final = item
    name = type(request.llm).__name__
    if final is None:
        raise RuntimeError(
            f"{name}.stream() ended without a final LLMResponse; "
            "a streaming connector must yield one LLMResponse last."
        )
    if final.finish_reason is None and getattr(request.llm, "stream", None) is not None:
        raise LLMError(
            f"The model's stream ({name}) ended before the model finished its turn "
            "(no finish reason): the connection was probably cut. Try again; if it "
            "keeps happening, check the model server.",
            provider=getattr(request.llm, "provider", None), model=final.model,
            retryable=True,
        )
    return final
