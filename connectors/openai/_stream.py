"""Streaming chat completions, retried without ever showing text twice.

A stream can fail in three ways: an error before the first byte (retried like any
request), a connection that breaks or stalls in the middle, and a body that simply
ends before the server said the answer was finished (no ``finish_reason``): the
last one used to come back as a successful, silently cut answer. All three are
retried under the connector's :class:`RetryPolicy`. Text already passed on is
tracked; a retried stream is passed through :class:`Resume`, which shows only what
goes beyond it, or raises :class:`StreamCutError` when the retry wrote something
else (the caller then knows the text it has is incomplete). When the retries are
spent after text was shown, the error is a :class:`StreamCutError` too.

Text that may be a tool call written as JSON is held back until the end (see
``_recovery.py``), so a recovered call is never shown to the user as text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from sapient.core.errors import ConfigurationError, LLMError
from sapient.core.llm import LLMResponse, StreamDelta
from sapient.core.messages import Message, ToolCall, Usage

from ._retry import Attempts, Resume, StreamCutError, TruncatedStream, next_wait

__all__ = ["stream_chat"]


class _Run:
    """What one streamed attempt has delivered so far."""

    def __init__(self, watch: bool) -> None:
        self.held: list[str] = []
        self.holding: bool | None = None if watch else False
        self.text: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.usage = Usage()
        self.finish: str | None = None
        self.model: str | None = None
        self.answered = False

    def add(self, chunk: Any) -> list[str]:
        """Take one chunk; return the text that may be shown now."""
        if getattr(chunk, "usage", None) is not None:
            self.usage = Usage(chunk.usage.prompt_tokens or 0,
                               chunk.usage.completion_tokens or 0, 1)
        self.model = getattr(chunk, "model", None) or self.model
        if not chunk.choices:
            return []
        self.answered = True
        choice = chunk.choices[0]
        self.finish = choice.finish_reason or self.finish
        delta = choice.delta
        for tc in delta.tool_calls or []:
            slot = self.calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            if tc.id:
                slot["id"] = tc.id
            if tc.function is not None:
                slot["name"] += tc.function.name or ""
                slot["arguments"] += tc.function.arguments or ""
        return self._text(delta.content) if delta.content else []

    def _text(self, piece: str) -> list[str]:
        self.text.append(piece)
        if self.holding is None:  # undecided: is this a call written as JSON?
            self.held.append(piece)
            start = "".join(self.held).lstrip()
            if not start:
                return []
            self.holding = start[0] in "{[`<"
            if self.holding:
                return []
            out, self.held = ["".join(self.held)], []
            return out
        if self.holding:
            self.held.append(piece)
            return []
        return [piece]

    def response(self, model: str) -> LLMResponse:
        calls = [ToolCall(c["name"], c["arguments"] or "{}", c["id"])
                 for _, c in sorted(self.calls.items())]
        return LLMResponse(text="".join(self.text) or None, tool_calls=calls, usage=self.usage,
                           finish_reason=self.finish, model=self.model or model)


def _attempt(llm: Any, req: dict[str, Any], run: _Run) -> Iterator[str]:
    """Stream once, yielding showable text; any failure becomes an :class:`LLMError`."""
    try:
        for chunk in llm.client.chat.completions.create(**req):
            yield from run.add(chunk)
    except (ConfigurationError, LLMError):
        raise
    except Exception as exc:  # broken connection, stall, malformed chunk: one error type
        raise llm._error(exc) from exc
    if run.answered and run.finish is None:
        raise TruncatedStream(
            f"The stream from {llm.where} ended before the answer was finished (no "
            "finish_reason): the connection was cut or the server stopped.",
            provider="openai", model=llm.model, retryable=True)


def stream_chat(llm: Any, messages: Sequence[Message], tools: Sequence[Any],
                options: dict[str, Any]) -> Iterator[StreamDelta | LLMResponse]:
    """``OpenAIChat.stream`` (see the module docstring)."""
    req, mode = llm.plan(messages, tools, options)
    if mode != "native":  # a shimmed call arrives whole
        yield llm.read(llm.create(req), mode, tools, options)
        return
    req = {**req, "stream": True, "stream_options": {"include_usage": True}}
    choice = {**llm.default_options, **options}.get("tool_choice")
    watch = bool(tools) and choice != "none" and llm.recover_tool_calls
    shown = ""
    tries = Attempts(started=time.monotonic())
    while True:
        tries.count += 1
        run = _Run(watch)
        resume = Resume(shown, llm.where)
        try:
            for text in _attempt(llm, req, run):
                new = resume.feed(text)
                if new:
                    shown += new
                    yield StreamDelta(new)
            if not run.answered and not tools:
                raise TruncatedStream(f"{llm.where} closed the stream without an answer.",
                                      provider="openai", model=llm.model, retryable=True)
            if not run.answered:
                break  # some servers cannot stream tool calls and close empty: ask whole
            response = llm.read(run.response(llm.model), mode, tools, options)
            new = resume.feed("".join(run.held)) if run.held and response.text else ""
            resume.finish()
            if new:
                yield StreamDelta(new)
            yield response
            return
        except StreamCutError:
            raise
        except LLMError as exc:
            tries.last = exc
            wait = next_wait(llm.retry, tries, exc)
            if wait is None:
                raise _final(llm, tries, shown) from exc
        time.sleep(wait)
    yield from _whole(llm, messages, tools, options, resume)


def _whole(llm: Any, messages: Sequence[Message], tools: Sequence[Any],
           options: dict[str, Any], resume: Resume) -> Iterator[StreamDelta | LLMResponse]:
    response = llm.complete(messages, tools, **options)
    new = resume.feed(response.text or "")
    resume.finish()
    if new:
        yield StreamDelta(new)
    yield response


def _final(llm: Any, tries: Attempts, shown: str) -> LLMError:
    err: LLMError = llm._gave_up(tries)
    if not shown:
        return err
    return StreamCutError(
        f"{err} The answer was cut: only its first {len(shown)} characters were shown.",
        shown=shown, provider="openai", model=llm.model, status_code=err.status_code)
