"""Retries of LLM server calls: one policy for errors, bad bodies and broken streams.

The ``openai`` SDK retries 429, 5xx and connection errors by itself, but not a 200
whose body is not a completion, nor a stream that stops before its end, and it
counts attempts without a time budget. So the connector turns the SDK's retries off
and runs every request through :func:`run_with_retries`: up to ``attempts`` tries
within ``budget_s`` seconds, waiting what a 429/503 ``Retry-After`` asks (when it
fits the budget) or else an exponential backoff with jitter. Errors a retry cannot
fix (a refused key, an unknown model, a bad request) stop at once.

A stream is retried the same way. Text already shown to the user is never shown
twice: the retried answer is compared with it (:class:`Resume`); if it starts with
the same text, only the rest is passed on, otherwise the call ends with
:class:`StreamCutError`, which says that the answer shown was cut.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sapient.core.errors import LLMError

__all__ = ["Attempts", "MalformedResponse", "Resume", "RetryPolicy", "StreamCutError",
           "TruncatedStream", "arun_with_retries", "next_wait", "retry_after",
           "run_with_retries"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one model before giving up (or moving to a fallback).

    Attributes:
        attempts: tries in all (1 = no retry).
        budget_s: seconds for all tries and waits together; a ``Retry-After`` that
            does not fit ends the retries at once.
        base_s / cap_s: the backoff before retry ``n`` is drawn between half and all
            of ``min(cap_s, base_s * 2**n)`` (jitter spreads clients that failed
            together).
    """

    attempts: int = 4
    budget_s: float = 60.0
    base_s: float = 0.5
    cap_s: float = 8.0

    def backoff(self, retry: int) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** retry)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


class MalformedResponse(LLMError):
    """The server answered 200 with a body that is not a chat completion."""


class TruncatedStream(LLMError):
    """A stream ended (or broke) before the server said the answer was finished."""


class StreamCutError(LLMError):
    """A stream broke after text was shown, and no retry could continue that text.

    Attributes:
        shown: the text already passed on (it is incomplete).
    """

    def __init__(self, message: str, *, shown: str = "", **context: Any) -> None:
        super().__init__(message, **context)
        self.shown = shown


def retry_after(exc: BaseException) -> float | None:
    """Seconds a 429/503 answer asks the client to wait (``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    try:
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return None if when is None else max(0.0, when.timestamp() - time.time())


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, LLMError):
        return exc.retryable
    return False


@dataclass
class Attempts:
    """What happened over the tries (for the final error message)."""

    count: int = 0
    started: float = 0.0
    last: BaseException | None = None
    gave_up: str = ""
    #: The time budget (or a ``Retry-After`` beyond it) ended the tries.
    out_of_time: bool = False

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


def next_wait(policy: RetryPolicy, tries: Attempts, exc: BaseException) -> float | None:
    """Seconds to wait before the next try, or None to stop."""
    if not _retryable(exc):
        tries.gave_up = "not retryable"
        return None
    if tries.count >= policy.attempts:
        tries.gave_up = "every attempt failed"
        return None
    left = policy.budget_s - tries.seconds
    asked = retry_after(getattr(exc, "__cause__", None) or exc)
    wait = asked if asked is not None else policy.backoff(tries.count - 1)
    if wait >= left:
        tries.out_of_time = True
        tries.gave_up = (f"the server asked to wait {asked:g} s, beyond the retry budget"
                         if asked is not None else f"the {policy.budget_s:g} s retry budget is "
                         "spent")
        return None
    return wait


def run_with_retries(call: Callable[[float], T], policy: RetryPolicy,
                     fail: Callable[[Attempts], LLMError], timeout: float) -> T:
    """``call(timeout_for_this_try)`` until it succeeds or the policy says stop.

    ``call`` raises :class:`LLMError` (``retryable`` set) for failures; ``fail``
    turns the record of tries into the one error raised at the end.
    """
    tries = Attempts(started=time.monotonic())
    while True:
        tries.count += 1
        try:
            return call(max(0.1, min(timeout, policy.budget_s - tries.seconds)))
        except LLMError as exc:
            tries.last = exc
            wait = next_wait(policy, tries, exc)
            if wait is None:
                raise fail(tries) from exc
        time.sleep(wait)


async def arun_with_retries(call: Callable[[float], Awaitable[T]], policy: RetryPolicy,
                            fail: Callable[[Attempts], LLMError], timeout: float) -> T:
    """The async twin of :func:`run_with_retries`."""
    tries = Attempts(started=time.monotonic())
    while True:
        tries.count += 1
        try:
            return await call(max(0.1, min(timeout, policy.budget_s - tries.seconds)))
        except LLMError as exc:
            tries.last = exc
            wait = next_wait(policy, tries, exc)
            if wait is None:
                raise fail(tries) from exc
        await asyncio.sleep(wait)


class Resume:
    """Pass on a retried stream's text only beyond what was already shown.

    ``feed(text)`` returns the part of ``text`` that is new to the user. While the
    retried answer has not yet reached the length of the shown text it is held; once
    it has, it must start with the shown text, or :class:`StreamCutError` is raised.
    """

    def __init__(self, shown: str, where: str) -> None:
        self.shown = shown
        self.where = where
        self._seen = ""
        self._checked = not shown

    def feed(self, text: str) -> str:
        if self._checked:
            return text
        self._seen += text
        if len(self._seen) < len(self.shown):
            if not self.shown.startswith(self._seen):
                raise self._cut()
            return ""
        if not self._seen.startswith(self.shown):
            raise self._cut()
        self._checked = True
        return self._seen[len(self.shown):]

    def finish(self) -> None:
        """The retried answer ended: it must have covered the shown text."""
        if not self._checked:
            raise self._cut()

    def _cut(self) -> StreamCutError:
        return StreamCutError(
            f"The answer from {self.where} was cut after {len(self.shown)} characters and "
            "the retry wrote a different answer, so the text shown so far is incomplete. "
            "Ask again; if it keeps happening, check the server's stability.",
            shown=self.shown, provider="openai", retryable=False)
