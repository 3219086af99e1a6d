"""The openai connector against a fault-injecting server on 127.0.0.1 (official SDK).

Every fault ends in a successful retry or one clear :class:`LLMError`; none hangs
(each test has a generous timeout that catches hangs, not a speed limit). Waits
between retries are recorded instead of slept, except where a stall needs real time.
"""

from __future__ import annotations

import asyncio

import pytest
from fault_server import Fault, FaultServer
from sapient import Host, LLMError, Message, StreamDelta
from sapient.connectors.openai import FallbackLLM, OpenAIChat, RetryPolicy, StreamCutError
from sapient.connectors.openai import _retry as retry_module
from sapient.core.llm import LLMResponse

pytestmark = pytest.mark.timeout(60)

HI = [Message.user("hi")]


@pytest.fixture
def waits(monkeypatch):
    """The waits between retries, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(retry_module.time, "sleep", recorded.append)
    return recorded


def chat(server: FaultServer, attempts: int = 4, **kw) -> OpenAIChat:
    kw.setdefault("probe", False)
    return OpenAIChat("m", base_url=server.url, retry=RetryPolicy(attempts=attempts), **kw)


def streamed(llm, messages=HI) -> tuple[str, LLMResponse]:
    text, final = "", None
    for item in llm.stream(messages):
        if isinstance(item, StreamDelta):
            text += item.text
        else:
            final = item
    assert isinstance(final, LLMResponse)
    return text, final


@pytest.mark.parametrize("fault", [
    Fault("status", 429, {"Retry-After": "1"}),
    Fault("status", 500),
    Fault("status", 503),
    Fault("drop"),
    Fault("malformed"),
    Fault("malformed", body='{"object": "chat.completion", "choices": []}'),
], ids=["429", "500", "503", "drop", "malformed-json", "no-choices"])
def test_a_fault_then_success_is_retried(fault_server, waits, fault):
    fault_server.script(fault)
    assert chat(fault_server).complete(HI).text == "Hello world!"
    assert len(fault_server.requests) == 2 and len(waits) == 1


def test_retry_after_is_honoured(fault_server, waits):
    fault_server.script(Fault("status", 429, {"Retry-After": "2"}),
                        Fault("status", 503, {"retry-after-ms": "1500"}))
    assert chat(fault_server).complete(HI).text == "Hello world!"
    assert waits == [2.0, 1.5]


def test_a_retry_after_beyond_the_budget_stops_at_once(fault_server, waits):
    fault_server.script(Fault("status", 429, {"Retry-After": "3600"}))
    with pytest.raises(LLMError, match="asked to wait 3600 s, beyond the retry budget"):
        chat(fault_server).complete(HI)
    assert waits == [] and len(fault_server.requests) == 1


@pytest.mark.parametrize("fault", [
    Fault("status", 503), Fault("drop"), Fault("malformed"),
    Fault("malformed", body='{"object": "x"}'),
], ids=["503", "drop", "malformed-json", "not-a-completion"])
def test_a_lasting_fault_is_one_clear_error(fault_server, waits, fault):
    fault_server.script(*[fault] * 4)
    with pytest.raises(LLMError) as info:
        chat(fault_server).complete(HI)
    message = str(info.value)
    assert type(info.value) is LLMError and info.value.retryable
    assert fault_server.url in message and "after 4 attempt(s)" in message
    assert "Check that the server is running" in message
    assert len(fault_server.requests) == 4 and len(waits) == 3
    assert all(0 < w <= RetryPolicy().cap_s for w in waits)


def test_errors_a_retry_cannot_fix_are_not_retried(fault_server, waits):
    fault_server.script(Fault("status", 404))
    with pytest.raises(LLMError, match="does not know model 'm'"):
        chat(fault_server).complete(HI)
    assert len(fault_server.requests) == 1 and waits == []


def test_async_calls_are_retried(fault_server, monkeypatch):
    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(retry_module.asyncio, "sleep", no_wait)
    fault_server.script(Fault("status", 500), Fault("malformed"))
    assert asyncio.run(chat(fault_server).acomplete(HI)).text == "Hello world!"
    assert len(fault_server.requests) == 3


def test_a_stall_past_the_timeout_is_retried(fault_server):
    fault_server.script(Fault("stall", seconds=5))
    llm = chat(fault_server, attempts=2, timeout=0.5)
    llm.retry = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.01)
    assert llm.complete(HI).text == "Hello world!"


def test_a_lasting_stall_is_one_clear_error(fault_server):
    fault_server.script(Fault("stall", seconds=5), Fault("stall", seconds=5))
    llm = OpenAIChat("m", base_url=fault_server.url, probe=False, timeout=0.5,
                     retry=RetryPolicy(attempts=2, base_s=0.01, cap_s=0.01))
    with pytest.raises(LLMError, match="within 0.5 s") as info:
        llm.complete(HI)
    assert "after 2 attempt(s)" in str(info.value)


# -- streams ----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [
    Fault("truncated_sse"), Fault("drop_mid_stream"),
    Fault("stall_mid_stream", seconds=5), Fault("status", 503), Fault("drop"),
], ids=["truncated", "dropped", "stalled", "503", "refused"])
def test_a_broken_stream_is_retried_and_text_is_shown_once(fault_server, waits, fault):
    fault_server.script(fault)
    text, final = streamed(chat(fault_server, timeout=1.0))
    assert text == "Hello world!" == final.text  # never "Hello world!Hello world!"
    assert final.finish_reason == "stop" and len(fault_server.requests) == 2


def test_a_truncated_stream_is_never_a_success(fault_server, waits):
    fault_server.script(*[Fault("truncated_sse")] * 4)
    shown = ""
    with pytest.raises(StreamCutError) as info:
        for item in chat(fault_server).stream(HI):
            assert isinstance(item, StreamDelta)  # no final response
            shown += item.text
    assert shown == "Hello world!" == info.value.shown
    assert "The answer was cut" in str(info.value) and fault_server.url in str(info.value)


def test_a_retry_that_writes_another_answer_says_the_shown_text_was_cut(fault_server, waits):
    fault_server.reply = "Goodbye now"
    fault_server.script(Fault("drop_mid_stream", chunks=("Hello", " wor")))
    with pytest.raises(StreamCutError, match="cut after 9 characters") as info:
        streamed(chat(fault_server))
    assert info.value.shown == "Hello wor"


def test_a_stream_that_fails_before_any_text_is_one_clear_error(fault_server, waits):
    fault_server.script(*[Fault("status", 503)] * 4)
    with pytest.raises(LLMError, match="after 4 attempt") as info:
        streamed(chat(fault_server))
    assert not isinstance(info.value, StreamCutError)


def test_the_probe_is_retried_on_a_busy_server(fault_server, waits):
    fault_server.script(Fault("status", 503))
    llm = OpenAIChat("m", base_url=fault_server.url)
    assert llm.capabilities is not None and len(waits) == 1


# -- fallback ---------------------------------------------------------------------------


@pytest.fixture
def backup():
    server = FaultServer(reply="From the backup.").start()
    yield server
    server.close()


def test_fallback_model_answers_when_the_server_stays_down(fault_server, backup, waits):
    fault_server.script(*[Fault("status", 503)] * 2)
    spec = (f"openai:{fault_server.url}#m?retries=1&fallback=openai:{backup.url}#b")
    llm = Host(load_entrypoints=False).llm(spec)
    assert isinstance(llm, FallbackLLM)
    assert llm.complete(HI).text == "From the backup."
    assert llm.fallbacks == 1 and len(fault_server.requests) == 2
    fault_server.script(*[Fault("status", 503)] * 2)
    text, final = streamed(llm)
    assert text == "From the backup." == final.text and llm.fallbacks == 2
    assert backup.requests[-1]["body"]["model"] == "b"


def test_fallback_from_the_environment(fault_server, backup, waits, monkeypatch):
    monkeypatch.setenv("SAPIENT_LLM_FALLBACK", f"openai:{backup.url}#b")
    fault_server.script(*[Fault("drop")] * 2)
    llm = Host(load_entrypoints=False).llm(f"openai:{fault_server.url}#m?retries=1")
    text, final = streamed(llm)
    assert text == "From the backup." == final.text
    plain = Host(load_entrypoints=False).llm(f"openai:{fault_server.url}#m?fallback=none")
    assert isinstance(plain, OpenAIChat)


def test_no_fallback_for_errors_another_model_cannot_fix(fault_server, backup, waits):
    fault_server.script(Fault("status", 401))
    llm = FallbackLLM(chat(fault_server), chat(backup))
    with pytest.raises(LLMError, match="refused the API key"):
        llm.complete(HI)
    assert backup.requests == []


def test_both_failing_is_one_error_naming_both(fault_server, backup, waits):
    fault_server.script(*[Fault("status", 503)] * 2)
    backup.script(*[Fault("status", 500)] * 2)
    llm = FallbackLLM(chat(fault_server, attempts=2), chat(backup, attempts=2), name="backup")
    with pytest.raises(LLMError) as info:
        llm.complete(HI)
    message = str(info.value)
    assert fault_server.url in message and backup.url in message
    assert "The fallback model backup failed too" in message
    assert info.value.retryable


def test_an_agent_does_not_finish_on_a_cut_stream(fault_server, waits):
    from sapient import Agent
    from sapient.core.messages import FinalAnswer, TextDelta

    fault_server.script(*[Fault("truncated_sse")] * 4)
    events = []
    with pytest.raises(StreamCutError):
        for event in Agent(chat(fault_server)).stream("hi"):
            events.append(event)
    # Text the output guards have not passed yet is held back (a cut turn is never
    # checked as a whole), so at most a prefix is shown, and never twice.
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "Hello world!".startswith(shown)
    assert not any(isinstance(e, FinalAnswer) for e in events)


def test_async_fallback(fault_server, backup, monkeypatch):
    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(retry_module.asyncio, "sleep", no_wait)
    fault_server.script(*[Fault("status", 503)] * 2)
    llm = FallbackLLM(chat(fault_server, attempts=2), chat(backup))
    assert asyncio.run(llm.acomplete(HI)).text == "From the backup."
    assert llm.fallbacks == 1
