"""Streamed text passes the output guards: a secret split over deltas never leaves, and
the joined stream is exactly the guarded answer (core/_streamguard.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sapient import Agent, GuardViolation, LLMResponse, StreamDelta, ToolCall, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.core._streamguard import StreamGuard
from sapient.core.redact import redact
from sapient.plugins.policy import Policy, redact_pii

KEY = "sk-proj-" + "Zq8" * 12
FILLER = "Plenty more words to stream before the next part. " * 8
TEXT = (f"Here is the config you asked for. The key is {KEY} and the header reads "
        "Authorization: Bearer abcdefghijklmnop1234 so keep both safe. Mail "
        "jane.doe@example.org or call +1 415 555 0134 for help. " + FILLER
        + "Late in a long answer: password = hunter2hunter2 and IBAN "
        "DE89 3704 0044 0532 0130 00 and token ghp_" + "x9Y" * 10 + " end. " + FILLER)
SECRETS = (KEY, "abcdefghijklmnop1234", "jane.doe", "555 0134", "hunter2", "0532 0130",
           "ghp_x9Y")


def guard(text: str) -> str:
    return redact_pii(redact(text))


def chunked(text: str, rng: random.Random) -> Iterator[str]:
    i = 0
    while i < len(text):
        n = rng.randint(1, 9)
        yield text[i:i + n]
        i += n


@pytest.mark.parametrize("seed", range(16))
def test_any_split_releases_only_the_redacted_text(seed: int) -> None:
    sg = StreamGuard(guard)
    final = guard(TEXT)
    shown, releases = "", 0
    for piece in chunked(TEXT, random.Random(seed)):
        released = sg.feed(piece)
        releases += bool(released)
        shown += released
        assert final.startswith(shown)  # what was shown is never taken back
    shown += sg.flush(final)
    assert shown == final
    assert not any(secret in shown for secret in SECRETS)
    assert releases >= 5  # it still streams, a window behind the model


def test_without_the_guard_the_split_secret_would_show() -> None:
    """The check above can fail: the raw deltas do carry the secret."""
    raw = "".join(chunked(TEXT, random.Random(0)))
    assert KEY in raw and KEY not in guard(raw)


def test_a_guard_that_blocks_stops_the_release() -> None:
    def strict(text: str) -> str:
        if "forbidden" in text:
            raise GuardViolation("no")
        return text

    sg = StreamGuard(strict, window=8)
    words = ["one", "two", "three", "four", "five", "forbidden", "six"]
    shown = "".join(sg.feed(w + " ") for w in words)
    assert "forbidden" not in shown and sg.blocked
    assert sg.flush() == ""


class ChunkingLLM(ScriptedLLM):
    """Streams its scripted answer three characters at a time (secrets split apart)."""

    def stream(self, messages, tools=(), **options) -> Iterator[StreamDelta | LLMResponse]:
        response = self.complete(messages, tools, **options)
        text = response.text or ""
        for i in range(0, len(text), 3):
            yield StreamDelta(text[i:i + 3])
        yield response


def test_agent_stream_equals_the_redacted_answer() -> None:
    agent = Agent(ChunkingLLM([TEXT]), policy=Policy(redact_pii=True))
    events = list(agent.stream("config?"))
    deltas = [e.text for e in events if e.kind == "TextDelta"]
    streamed = "".join(deltas)
    whole = Agent(ChunkingLLM([TEXT]), policy=Policy(redact_pii=True)).run("config?").answer
    assert streamed == events[-1].result.answer == whole
    assert not any(secret in streamed for secret in SECRETS)
    assert "[REDACTED]" in streamed and "[redacted email]" in streamed
    assert len(deltas) >= 5


def test_text_before_a_tool_call_is_released_guarded_before_the_call() -> None:
    @tool(effects=[])
    def clock() -> str:
        """The time."""
        return "noon"

    llm = ChunkingLLM([LLMResponse(text=f"Checking with {KEY} now. ",
                                   tool_calls=[ToolCall("clock", {})]), "It is noon."])
    events = list(Agent(llm, tools=[clock]).stream("time?"))
    kinds = [e.kind for e in events]
    assert kinds.index("TextDelta") < kinds.index("ToolCallStarted")
    texts = "".join(e.text for e in events if e.kind == "TextDelta")
    assert texts == "Checking with [REDACTED] now. It is noon."
