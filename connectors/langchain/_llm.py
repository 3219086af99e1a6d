"""Any LangChain chat model as a Sapient LLM.

Sapient messages become LangChain messages (system, human, AI with ``tool_calls``,
tool), the agent's tools are bound with ``bind_tools`` in the OpenAI form LangChain
accepts, and the ``AIMessage`` that comes back becomes an :class:`~sapient.LLMResponse`:
text, tool calls (malformed ones kept as raw text, so the agent can tell the model
exactly what was wrong), ``usage_metadata`` as token usage, and the finish reason.

Options: ``tool_choice`` maps to ``bind_tools(tool_choice=...)`` (``"none"`` binds no
tools), ``stop`` is passed to the call, and ``temperature``, ``max_tokens``,
``top_p`` and ``seed`` are passed as call keyword arguments, which provider models
forward to their API. A model without ``bind_tools`` (test fakes) is called without
tool specs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sapient.core.llm import LLMResponse, StreamDelta
from sapient.core.messages import Message, ToolCall, Usage

__all__ = ["LangChainLLM", "to_langchain_messages", "from_ai_message"]

_CALL_OPTIONS = ("temperature", "max_tokens", "top_p", "seed")


def to_langchain_messages(messages: Sequence[Message]) -> list[Any]:
    """Sapient messages as LangChain ``BaseMessage`` objects."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    out: list[Any] = []
    for m in messages:
        if m.role == "system":
            out.append(SystemMessage(m.content or ""))
        elif m.role == "user":
            out.append(HumanMessage(m.content or ""))
        elif m.role == "assistant":
            calls = [{"name": c.name, "args": _as_dict(c.arguments), "id": c.id,
                      "type": "tool_call"} for c in m.tool_calls]
            out.append(AIMessage(content=m.content or "", tool_calls=calls))
        else:
            out.append(ToolMessage(m.content or "", tool_call_id=m.tool_call_id or "",
                                   name=m.name))
    return out


def _as_dict(arguments: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        return {"__raw__": arguments}
    return value if isinstance(value, dict) else {"value": value}


def _text(message: Any) -> str:
    text = getattr(message, "text", None)
    if isinstance(text, str):  # langchain-core >= 1.0: a property (a str subclass)
        return str(text)
    if callable(text):  # older langchain-core: a method
        text = text()
        if isinstance(text, str):
            return text
    content = getattr(message, "content", "")
    return content if isinstance(content, str) else ""


def from_ai_message(message: Any, model: str | None = None) -> LLMResponse:
    """A LangChain ``AIMessage`` (or merged chunk) as an :class:`LLMResponse`."""
    calls = [ToolCall(c["name"], dict(c.get("args") or {}), c.get("id") or "")
             for c in getattr(message, "tool_calls", None) or []]
    calls += [ToolCall(c.get("name") or "", c.get("args") or "", c.get("id") or "")
              for c in getattr(message, "invalid_tool_calls", None) or []]
    meta = getattr(message, "usage_metadata", None) or {}
    usage = Usage(int(meta.get("input_tokens") or 0), int(meta.get("output_tokens") or 0), 1)
    info = getattr(message, "response_metadata", None) or {}
    reason = info.get("finish_reason") or info.get("stop_reason") or (
        "tool_calls" if calls else "stop")
    text = _text(message)
    return LLMResponse(text=text or None, tool_calls=calls, usage=usage, finish_reason=reason,
                       model=info.get("model_name") or info.get("model") or model, raw=message)


class LangChainLLM:
    """Wraps a LangChain chat model (``BaseChatModel``) as a Sapient LLM.

    Example::

        from langchain_openai import ChatOpenAI
        agent = Agent(LangChainLLM(ChatOpenAI(model="gpt-4o-mini")), tools=[...])

    Args:
        model: the chat model.
        name: a label for traces and results; default the model's own name.
    """

    def __init__(self, model: Any, *, name: str | None = None) -> None:
        self.chat_model = model
        self.model = name or _model_name(model)

    def _prepare(self, tools: Sequence[Any], options: dict[str, Any]) -> tuple[Any, dict]:
        runnable = self.chat_model
        choice = options.get("tool_choice")
        if tools and choice != "none":
            specs = [t.spec() for t in tools]
            extra = {"tool_choice": choice} if choice not in (None, "auto") else {}
            try:
                runnable = self.chat_model.bind_tools(specs, **extra)
            except NotImplementedError:
                runnable = self.chat_model
        kwargs = {k: options[k] for k in _CALL_OPTIONS if options.get(k) is not None}
        if options.get("stop"):
            stop = options["stop"]
            kwargs["stop"] = [stop] if isinstance(stop, str) else list(stop)
        return runnable, kwargs

    def complete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                 **options: Any) -> LLMResponse:
        runnable, kwargs = self._prepare(tools, options)
        message = runnable.invoke(to_langchain_messages(messages), **kwargs)
        return from_ai_message(message, self.model)

    async def acomplete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                        **options: Any) -> LLMResponse:
        runnable, kwargs = self._prepare(tools, options)
        message = await runnable.ainvoke(to_langchain_messages(messages), **kwargs)
        return from_ai_message(message, self.model)

    def stream(self, messages: Sequence[Message], tools: Sequence[Any] = (),
               **options: Any) -> Iterator[StreamDelta | LLMResponse]:
        runnable, kwargs = self._prepare(tools, options)
        merged: Any = None
        for chunk in runnable.stream(to_langchain_messages(messages), **kwargs):
            merged = chunk if merged is None else merged + chunk
            piece = _text(chunk)
            if piece:
                yield StreamDelta(piece)
        yield from_ai_message(merged, self.model) if merged is not None else LLMResponse(
            text=None, finish_reason="stop", model=self.model)

    def __repr__(self) -> str:
        return f"LangChainLLM({type(self.chat_model).__name__}, model={self.model!r})"


def _model_name(model: Any) -> str:
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__
