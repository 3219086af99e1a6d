"""The OpenAI chat-completions wire format: requests in, completions and chunks out.

Requests are validated with pydantic (the models below); anything a client may send
that Sapient cannot honour (client-side tools, ``n > 1``, images) is refused with a
400 naming the parameter, rather than silently ignored. Responses are built as plain
dicts: they are created per request and per streamed piece, and dicts keep that cheap.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field
from sapient import Citation, Message, ToolCall

__all__ = [
    "APIError",
    "ChatRequest",
    "to_messages",
    "message_to_dict",
    "message_from_dict",
    "completion",
    "ChunkWriter",
    "usage_dict",
    "citation_dict",
    "finish_reason",
    "validation_error",
]

#: Standard finish reasons for Sapient's stop reasons.
_FINISH = {"answer": "stop", "guard": "content_filter", "output_invalid": "stop",
           "approval_pending": "tool_calls"}


class APIError(Exception):
    """An error answered with an OpenAI-shaped body: ``{"error": {message, type, param, code}}``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}


class _Function(BaseModel):
    name: str
    arguments: str = "{}"


class _ToolCallIn(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: _Function


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of a request (the roles and fields OpenAI clients send)."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_Part] | None = None
    name: str | None = None
    tool_calls: list[_ToolCallIn] | None = None
    tool_call_id: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``. Unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(None, ge=1)
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None

    def check_supported(self) -> None:
        """Refuse what the agent cannot do, naming the parameter."""
        if self.tools or self.functions:
            raise APIError(400, "Client-side tools are not supported: this server runs its "
                           "agent's own tools. Remove 'tools' from the request.",
                           param="tools" if self.tools else "functions", code="unsupported_parameter")
        if self.n not in (None, 1):
            raise APIError(400, "Only one choice per request is supported; set n to 1.",
                           param="n", code="unsupported_parameter")
        if self.response_format and self.response_format.get("type", "text") != "text":
            raise APIError(400, "Only response_format {'type': 'text'} is supported.",
                           param="response_format", code="unsupported_parameter")
        if self.logprobs:
            raise APIError(400, "logprobs are not supported; remove 'logprobs'.",
                           param="logprobs", code="unsupported_parameter")
        if not self.messages:
            raise APIError(400, "'messages' is empty; send at least one user message.",
                           param="messages", code="empty_array")

    def model_options(self) -> dict[str, Any]:
        """The sampling options the request set, in the agent's option names."""
        options: dict[str, Any] = {}
        for name in ("temperature", "top_p", "stop", "seed"):
            value = getattr(self, name)
            if value is not None:
                options[name] = value
        limit = self.max_completion_tokens or self.max_tokens
        if limit is not None:
            options["max_tokens"] = limit
        return options


def _is_type_tag(part: str) -> bool:
    """Whether a pydantic error-location part names a union member, not a field."""
    return part in _TYPE_TAGS or "[" in part or part.startswith("function-")


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "_Part", "StreamOptions"}


def validation_error(exc: pydantic.ValidationError) -> APIError:
    """A 400 for the first problem pydantic found, with the parameter path in ``param``."""
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"] if not _is_type_tag(str(p))]
    param = ""
    for part in loc:
        param += f"[{part}]" if part.isdigit() else (f".{part}" if param else part)
    if err["type"] == "json_invalid":
        return APIError(400, "The request body is not valid JSON "
                        f"({err.get('ctx', {}).get('error', err['msg'])}).", code="invalid_json")
    where = f"'{param}'" if param else "the request body"
    return APIError(400, f"Invalid value for {where}: {err['msg']}.", param=param or None,
                    code="invalid_value" if err["type"] != "missing" else "missing_required_parameter")


def _text(msg: ChatMessage, index: int) -> str | None:
    if msg.content is None or isinstance(msg.content, str):
        return msg.content
    texts = []
    for part in msg.content:
        if part.type != "text" or part.text is None:
            raise APIError(400, f"Only text content is supported; message {index} has a "
                           f"'{part.type}' part.", param=f"messages[{index}].content",
                           code="unsupported_content")
        texts.append(part.text)
    return "".join(texts)


def to_messages(request_messages: list[ChatMessage], offset: int = 0) -> list[Message]:
    """Request messages as Sapient messages; tool results from clients are marked untrusted."""
    out: list[Message] = []
    names: dict[str, str] = {}
    for i, m in enumerate(request_messages, start=offset):
        text = _text(m, i)
        if m.role in ("system", "developer"):
            out.append(Message.system(text or ""))
        elif m.role == "user":
            out.append(Message.user(text or ""))
        elif m.role == "assistant":
            calls = [ToolCall(c.function.name, c.function.arguments, c.id) for c in m.tool_calls or ()]
            names.update({c.id: c.name for c in calls})
            out.append(Message.assistant(text, calls))
        else:
            if not m.tool_call_id:
                raise APIError(400, f"Message {i} has role 'tool' but no 'tool_call_id'.",
                               param=f"messages[{i}].tool_call_id",
                               code="missing_required_parameter")
            out.append(Message.tool(text or "", tool_call_id=m.tool_call_id,
                                    name=m.name or names.get(m.tool_call_id, "tool"),
                                    metadata={"untrusted": True, "source": "client"}))
    return out


def message_to_dict(message: Message) -> dict[str, Any]:
    """A message as stored in a session (OpenAI form plus Sapient's provenance metadata)."""
    out = message.to_openai()
    if message.metadata:
        out["metadata"] = message.metadata
    return out


def message_from_dict(data: dict[str, Any]) -> Message:
    """The inverse of :func:`message_to_dict`."""
    calls = [ToolCall(c["function"]["name"], c["function"]["arguments"], c.get("id", ""))
             for c in data.get("tool_calls") or ()]
    return Message(data["role"], data.get("content"), calls, data.get("tool_call_id"),
                   data.get("name"), dict(data.get("metadata") or {}))


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage_dict(usage: Any) -> dict[str, int]:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens}


def citation_dict(c: Citation) -> dict[str, Any]:
    meta = json.loads(json.dumps(c.metadata, default=str)) if c.metadata else {}
    source = meta.get("source")
    return {"id": c.source_id, "text": c.text, "score": c.score,
            "source": source if isinstance(source, str) else None, "metadata": meta}


def finish_reason(stop_reason: str) -> str:
    """The OpenAI finish reason for a run's stop reason (max steps, loops: ``length``)."""
    return _FINISH.get(stop_reason, "length")


def completion(cid: str, model: str, answer: str | None, stop_reason: str, usage: Any,
               extension: dict[str, Any],
               tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` with Sapient's ``sapient`` extension field
    (and the calls waiting for approval as ``tool_calls``)."""
    message: dict[str, Any] = {"role": "assistant", "content": answer}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_reason(stop_reason), "logprobs": None}],
        "usage": usage_dict(usage),
        "sapient": extension,
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=str).encode()


class ChunkWriter:
    """The SSE ``data:`` lines of one stream's ``chat.completion.chunk`` objects.

    The fields every chunk of a stream shares (id, created, model) are encoded once;
    each chunk then encodes only its delta. Tool steps ride in an extra top-level
    ``sapient`` field of a chunk with an empty delta: clients that know it show the
    step, the official ``openai`` client and other front ends see an empty delta and
    carry on.
    """

    def __init__(self, cid: str, created: int, model: str, *, with_usage: bool) -> None:
        head = _dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                       "model": model})
        self._head = b"data: " + head[:-1] + b', "choices": '
        self._with_usage = with_usage

    def __call__(self, *, delta: dict[str, Any] | None = None, finish: str | None = None,
                 usage: dict[str, int] | None = None, extension: dict[str, Any] | None = None,
                 no_choices: bool = False) -> bytes:
        parts = [self._head]
        if no_choices:
            parts.append(b"[]")
        else:
            parts += [b'[{"index": 0, "delta": ', _dumps(delta or {}), b', "finish_reason": ',
                      _dumps(finish), b', "logprobs": null}]']
        if self._with_usage:
            parts += [b', "usage": ', _dumps(usage)]
        if extension is not None:
            parts += [b', "sapient": ', _dumps(extension)]
        parts.append(b"}\n\n")
        return b"".join(parts)
