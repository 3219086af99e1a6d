"""Messages, tool calls, usage, citations and the typed events of a run.

Plain dataclasses (not pydantic models): they are created on every step of the
loop, and dataclasses keep the per-step overhead small. Validation happens where
untrusted data enters (tool arguments, structured output), not here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Role",
    "ToolCall",
    "Message",
    "Usage",
    "Citation",
    "ToolOutput",
    "ToolCallRecord",
    "Event",
    "RunStarted",
    "TextDelta",
    "ModelResponded",
    "ToolCallStarted",
    "ToolCallFinished",
    "ApprovalRequested",
    "FinalAnswer",
    "RunError",
]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True)
class ToolCall:
    """One tool call requested by the model.

    ``arguments`` is kept as the model sent it (a JSON string, or a dict when the
    backend already parsed it) so malformed JSON can be reported back precisely.
    """

    name: str
    arguments: str | dict[str, Any]
    id: str = ""

    def arguments_json(self) -> str:
        """The arguments as a JSON string, in the form the OpenAI wire format uses.

        Arguments nested too deeply for ``json`` (a runaway model) become an object
        saying so, so the conversation can still be sent on.
        """
        if isinstance(self.arguments, str):
            return self.arguments
        try:
            return json.dumps(self.arguments, ensure_ascii=False, sort_keys=True)
        except RecursionError:
            return '{"error": "arguments nested too deeply to encode"}'


@dataclass(slots=True)
class Message:
    """A chat message in the OpenAI-style roles every backend understands.

    Tool results carry ``tool_call_id``/``name`` and ``metadata`` with provenance
    (``untrusted``: true, ``source``: which plugin's tool produced it), so guards and
    renderers can tell model-authored text from data that came from outside.
    """

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def system(cls, content: str) -> Message:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str | None, tool_calls: list[ToolCall] | None = None) -> Message:
        return cls("assistant", content, list(tool_calls or []))

    @classmethod
    def tool(
        cls, content: str, *, tool_call_id: str, name: str, metadata: dict[str, Any] | None = None
    ) -> Message:
        return cls("tool", content, tool_call_id=tool_call_id, name=name, metadata=metadata or {})

    def to_openai(self) -> dict[str, Any]:
        """This message as an OpenAI chat-completions message dict."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_json()},
                }
                for c in self.tool_calls
            ]
        if self.role == "tool":
            out["tool_call_id"] = self.tool_call_id
            if self.name:
                out["name"] = self.name
        return out


@dataclass(slots=True)
class Usage:
    """Token counts. Adds up with ``+`` so per-call usage sums to a run total."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.requests + other.requests,
        )


@dataclass(slots=True)
class Citation:
    """A piece of evidence a tool returned, with a stable id the answer can cite."""

    source_id: str
    text: str = ""
    score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ToolOutput:
    """What a tool may return when it has more to say than a plain value.

    ``content`` goes to the model; ``citations`` are collected into the run's
    ``Result.citations``; ``data`` stays on the Python side for the caller.
    """

    content: Any
    citations: list[Citation] = field(default_factory=list)
    data: Any = None


@dataclass(slots=True)
class ToolCallRecord:
    """What happened to one tool call: arguments, result text, error, duration."""

    name: str
    arguments: dict[str, Any] | str
    call_id: str
    result: str | None = None
    error: str | None = None
    duration_s: float = 0.0
    source: str | None = None
    data: Any = None


# --- events -------------------------------------------------------------------------


@dataclass(slots=True)
class Event:
    """Base class of every event a run yields (``Agent.stream``) and hooks observe."""

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(slots=True)
class RunStarted(Event):
    prompt: str


@dataclass(slots=True)
class TextDelta(Event):
    """A piece of streamed model text."""

    text: str


@dataclass(slots=True)
class ModelResponded(Event):
    """The model finished one turn (with or without tool calls)."""

    message: Message
    usage: Usage
    step: int


@dataclass(slots=True)
class ToolCallStarted(Event):
    call: ToolCall
    step: int


@dataclass(slots=True)
class ToolCallFinished(Event):
    record: ToolCallRecord
    step: int


@dataclass(slots=True)
class ApprovalRequested(Event):
    """A call waits for someone's approval; the run pauses after this turn
    (``stop_reason="approval_pending"``) instead of finishing the call."""

    call: ToolCall
    reasons: list[str]
    step: int


@dataclass(slots=True)
class FinalAnswer(Event):
    """The run ended; ``output`` is the validated structured output if one was asked."""

    text: str | None
    output: Any
    stop_reason: str
    result: Any = None


@dataclass(slots=True)
class RunError(Event):
    """A recoverable problem during the run (fed back to the model) or the fatal one."""

    message: str
    fatal: bool = False
