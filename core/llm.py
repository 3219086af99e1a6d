"""The LLM protocol every model connector implements.

One required method, :meth:`LLM.complete`, and one optional capability, ``stream``
(text deltas, then the whole turn); :func:`stream` below falls back to ``complete``
when a connector lacks it, so the agent loop never has to care which backend it
talks to.

Every model call of a run goes through the ``call_model`` hook, whose built-in
implementation calls ``complete`` (or ``stream`` when the run streams): that is the
one path, so a ``call_model`` wrapper (tracing, retries, budgets, redaction) sees
every call. Async runs (``Agent.arun``/``astream``) make the same blocking call on a
worker thread; an ``acomplete``/``astream`` a connector may offer for direct use is
not part of the protocol and the agent never calls it (pluggy's hooks are
synchronous: an async model path would bypass the wrappers or need a second set).

Options every connector should understand (and may ignore when not applicable):

``tool_choice``
    ``"auto"`` (default), ``"none"``, ``"required"``, or one tool to force: its name,
    ``{"type": "function", "function": {"name": ...}}`` or ``{"name": ...}``.
    :func:`tool_choice_mode` and :func:`forced_tool` read every form. The agent sends
    ``"required"`` or a named tool until the model has called a tool (that tool, for a
    named one), then ``"auto"``, as the OpenAI API's agents do.
``output_schema``
    a JSON schema the answer text must follow (structured output); connectors that
    can enforce it (``response_format`` on OpenAI, grammars on llama.cpp) do so.
``temperature``, ``max_tokens``, ``stop``, ``seed``
    the usual sampling options.

A streaming connector sets ``finish_reason`` on the final :class:`LLMResponse`
(``"stop"``, ``"tool_calls"``, ``"length"``): a streamed turn without one was cut
off, and the agent reports it as an :class:`~sapient.LLMError` rather than passing
half an answer on as a whole one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import ConfigurationError
from .messages import Message, ToolCall, Usage

if TYPE_CHECKING:
    from .tools import Tool

__all__ = ["LLM", "LLMResponse", "StreamDelta", "stream", "tool_choice_mode", "forced_tool"]

_CHOICE_MODES = ("auto", "none", "required")


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

    Implement ``complete``; optionally ``stream(messages, tools, **options)``
    yielding :class:`StreamDelta` items and finally exactly one :class:`LLMResponse`
    that holds the whole turn (text, tool calls, usage and ``finish_reason``).
    """

    def complete(
        self, messages: Sequence[Message], tools: Sequence[Tool] = (), **options: Any
    ) -> LLMResponse: ...


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


def _named(choice: Any) -> Any:
    """The tool name inside a dict-shaped choice; anything else unchanged."""
    if isinstance(choice, dict):
        return (choice.get("function") or {}).get("name") or choice.get("name")
    return choice


def tool_choice_mode(choice: Any) -> str:
    """``"auto"`` (also for ``None``), ``"none"``, ``"required"``, or ``"tool"`` when
    ``choice`` forces one named tool (in any of the forms the module docstring lists)."""
    choice = _named(choice)
    if not choice:
        return "auto"
    return choice if choice in _CHOICE_MODES else "tool"


def forced_tool(choice: Any, tools: Sequence[Any] | None = None) -> str | None:
    """The tool name a ``tool_choice`` forces, or ``None`` for auto/none/required/unset.

    With ``tools`` given, the choice is checked against them: a named tool that is not
    among them, or ``"required"`` with no tools, raises :class:`ConfigurationError`.
    """
    mode = tool_choice_mode(choice)
    if tools is not None and mode == "required" and not tools:
        raise ConfigurationError("tool_choice='required' but no tools were given.")
    if mode != "tool":
        return None
    name = str(_named(choice))
    if tools is not None and name not in (names := [t.name for t in tools]):
        raise ConfigurationError(
            f"tool_choice names '{name}', which is not among the tools given "
            f"({', '.join(names) or 'none'}). Pass that tool or another choice."
        )
    return name
