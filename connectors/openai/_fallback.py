"""A second model to turn to when the first one's server stays down.

``FallbackLLM(primary, fallback)`` answers with ``primary``; when a call fails with
an error that a later try could have fixed (the server is down, overloaded, rate
limited or cut the stream: ``LLMError.retryable``) after the primary's own retries,
the same call goes to ``fallback``. Errors no other model can fix (a refused key, a
bad request) are raised as they are. Only one level: a fallback's own fallback is
not used, so two models naming each other cannot loop.

Streaming: the fallback takes over only while nothing has been shown, or when its
answer starts with the text already shown (only the rest is passed on); otherwise
the call ends with :class:`StreamCutError`, which says the shown answer was cut.
Specs: ``openai:...?fallback=SPEC`` or ``SAPIENT_LLM_FALLBACK=SPEC`` (see
``docs/local_llms.md``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sapient.core.errors import LLMError
from sapient.core.llm import LLMResponse, StreamDelta
from sapient.core.llm import stream as _stream
from sapient.core.messages import Message

from ._retry import Resume, StreamCutError

__all__ = ["FallbackLLM"]


async def _acomplete(llm: Any, messages: Sequence[Message], tools: Sequence[Any],
                     **options: Any) -> LLMResponse:
    """``llm.acomplete`` where it has one, else ``llm.complete`` in a worker thread."""
    native = getattr(llm, "acomplete", None)
    if native is not None:
        return await native(messages, tools, **options)  # type: ignore[no-any-return]
    return await asyncio.to_thread(llm.complete, messages, tools, **options)


class FallbackLLM:
    """``primary``, or ``fallback`` when the primary's server fails for good.

    Args:
        primary: the model to use.
        fallback: the second model, or a function that returns it (called on the
            first failure, so the fallback is built only if it is needed).
        name: how the fallback is named in messages (default: its ``model``).
    """

    def __init__(self, primary: Any, fallback: Any | Callable[[], Any], *,
                 name: str | None = None) -> None:
        self.primary = primary
        self._fallback = fallback
        self._name = name
        #: How many calls went to the fallback (for logs and tests).
        self.fallbacks = 0

    def __repr__(self) -> str:
        return f"FallbackLLM({self.primary!r}, fallback={self.fallback_name!r})"

    def __getattr__(self, name: str) -> Any:  # provider, model, writes_answers, ...
        if name.startswith("_") or name in ("primary",):
            raise AttributeError(name)
        return getattr(self.primary, name)

    @property
    def fallback(self) -> Any:
        """The fallback model (resolved on first use; one level only)."""
        if callable(self._fallback) and not hasattr(self._fallback, "complete"):
            self._fallback = self._fallback()
        return getattr(self._fallback, "primary", self._fallback)

    @property
    def fallback_name(self) -> str:
        if self._name:
            return self._name
        return str(getattr(self._fallback, "model", None) or "the fallback model")

    @staticmethod
    def _falls_back(exc: LLMError) -> bool:
        return exc.retryable and not isinstance(exc, StreamCutError)

    def _both_failed(self, first: LLMError, second: LLMError) -> LLMError:
        return LLMError(f"{first} The fallback model {self.fallback_name} failed too: {second}",
                        provider=first.provider, model=first.model,
                        status_code=second.status_code, retryable=second.retryable)

    def complete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                 **options: Any) -> LLMResponse:
        try:
            return self.primary.complete(messages, tools, **options)  # type: ignore[no-any-return]
        except LLMError as exc:
            if not self._falls_back(exc):
                raise
            first = exc
        self.fallbacks += 1
        try:
            return self.fallback.complete(messages, tools, **options)  # type: ignore[no-any-return]
        except LLMError as exc:
            raise self._both_failed(first, exc) from exc

    async def acomplete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                        **options: Any) -> LLMResponse:
        try:
            return await _acomplete(self.primary, messages, tools, **options)
        except LLMError as exc:
            if not self._falls_back(exc):
                raise
            first = exc
        self.fallbacks += 1
        try:
            return await _acomplete(self.fallback, messages, tools, **options)
        except LLMError as exc:
            raise self._both_failed(first, exc) from exc

    def stream(self, messages: Sequence[Message], tools: Sequence[Any] = (),
               **options: Any) -> Iterator[StreamDelta | LLMResponse]:
        shown = ""
        try:
            for item in _stream(self.primary, messages, tools, **options):
                if isinstance(item, StreamDelta):
                    shown += item.text
                yield item
            return
        except LLMError as exc:
            if not self._falls_back(exc):
                raise
            first = exc
        self.fallbacks += 1
        resume = Resume(shown, f"the fallback model {self.fallback_name}")
        try:
            for item in _stream(self.fallback, messages, tools, **options):
                if isinstance(item, StreamDelta):
                    new = resume.feed(item.text)
                    if new:
                        yield StreamDelta(new)
                else:
                    resume.finish()
                    yield item
        except StreamCutError:
            raise
        except LLMError as exc:
            raise self._both_failed(first, exc) from exc
