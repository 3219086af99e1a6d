"""The agent loop with the scripted LLM: tool errors, retries, timeouts, concurrency,
structured output, stops, usage, streaming, async and chat sessions."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from pydantic import BaseModel
from sapient import (
    Agent,
    Citation,
    LLMError,
    LLMResponse,
    ModelRetry,
    ToolCall,
    ToolOutput,
    Usage,
    hookimpl,
    tool,
)
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.messages import (
    FinalAnswer,
    ModelResponded,
    RunError,
    RunStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)


def tool_messages(result):
    return [m for m in result.messages if m.role == "tool"]


def test_tool_call_then_answer(add_tool):
    llm = ScriptedLLM([{"tool": "add", "args": {"a": 2, "b": 3}}, "It is 5."])
    result = Agent(llm, tools=[add_tool], system_prompt="Be exact.").run("2+3?")
    assert result.ok and result.answer == "It is 5." and result.stop_reason == "answer"
    assert [m.role for m in result.messages] == ["system", "user", "assistant", "tool",
                                                 "assistant"]
    tool_msg = tool_messages(result)[0]
    assert tool_msg.content == "5"
    assert tool_msg.tool_call_id == result.messages[2].tool_calls[0].id
    assert tool_msg.metadata["untrusted"] is True
    record = result.tool_calls[0]
    assert (record.name, record.arguments, record.result, record.error) == (
        "add", {"a": 2, "b": 3}, "5", None)
    # the model saw the tool spec and the system prompt
    assert llm.calls[0].tools == ["add"]
    assert llm.calls[0].messages[0].content == "Be exact."
    assert str(result) == "It is 5."


def test_plain_functions_are_accepted_as_tools():
    def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    llm = ScriptedLLM([ToolCall("shout", '{"text": "hi"}'), "done"])
    result = Agent(llm, tools=[shout]).run("go")
    assert tool_messages(result)[0].content == "HI"


def test_invalid_arguments_never_reach_the_function_and_the_model_retries():
    calls = []

    @tool
    def square(n: int) -> int:
        """Square a number."""
        calls.append(n)
        return n * n

    def script(messages, tools, options):
        last = messages[-1]
        if last.role == "user":
            return ToolCall("square", '{"n": "seven"}')
        if last.content.startswith("Error"):
            return ToolCall("square", {"n": 7})
        return f"Result {last.content}"

    result = Agent(ScriptedLLM(function=script), tools=[square]).run("square 7")
    assert calls == [7]  # the invalid call never ran
    first, second = tool_messages(result)
    assert "Invalid arguments for tool 'square'" in first.content
    assert "'n': Input should be a valid integer" in first.content
    assert first.metadata["error"] is True
    assert second.content == "49" and result.answer == "Result 49"
    assert result.tool_calls[0].error is not None and result.tool_calls[1].error is None


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": 1', "not valid JSON"),
        ('{"a": 1}', "'b' is required but missing"),
        ('{"a": 1, "b": 2, "c": 3}', "'c' is not a parameter of this tool"),
    ],
)
def test_bad_arguments_are_fed_back(add_tool, arguments, expected):
    seen = []

    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        seen.append((a, b))
        return a + b

    llm = ScriptedLLM([ToolCall("add", arguments), "gave up"])
    result = Agent(llm, tools=[add]).run("x")
    assert seen == []
    assert expected in tool_messages(result)[0].content
    # the model received the message on its next call
    assert expected in llm.calls[1].messages[-1].content


def test_unknown_tool_is_fed_back(add_tool):
    llm = ScriptedLLM([ToolCall("subtract", "{}"), "ok"])
    result = Agent(llm, tools=[add_tool]).run("x")
    msg = tool_messages(result)[0].content
    assert "no tool named 'subtract'" in msg and "Available tools: add" in msg


def test_tool_exception_is_fed_back_and_the_run_goes_on():
    @tool
    def fragile(x: int) -> int:
        """Fails on zero."""
        return 10 // x

    llm = ScriptedLLM([ToolCall("fragile", {"x": 0}), ToolCall("fragile", {"x": 2}), "5"])
    result = Agent(llm, tools=[fragile]).run("x")
    first, second = tool_messages(result)
    assert first.content.startswith("Error: tool 'fragile' failed: ZeroDivisionError")
    assert second.content == "5" and result.ok
    assert any(isinstance(e, RunError) and "ZeroDivisionError" in e.message
               for e in result.events)


def test_model_retry_sends_feedback():
    @tool
    def find_customer(customer_id: int) -> str:
        """Find a customer."""
        if customer_id != 7:
            raise ModelRetry(f"No customer {customer_id}; known ids are 7.")
        return "Ada"

    llm = ScriptedLLM([ToolCall("find_customer", {"customer_id": 42}),
                       ToolCall("find_customer", {"customer_id": 7}), "Ada"])
    result = Agent(llm, tools=[find_customer]).run("who?")
    first, second = tool_messages(result)
    assert first.content == "Retry: No customer 42; known ids are 7."
    assert second.content == "Ada"


@pytest.fixture
def release():
    """An event tests set at the end, so abandoned worker threads finish quickly."""
    event = threading.Event()
    yield event
    event.set()


def test_sync_tool_timeout(release):
    @tool(timeout=0.2)
    def slow() -> str:
        """Slow."""
        release.wait(10)
        return "late"

    llm = ScriptedLLM([ToolCall("slow", {}), "gave up"])
    t0 = time.perf_counter()
    result = Agent(llm, tools=[slow]).run("x")
    assert time.perf_counter() - t0 < 5
    assert "timed out after 0.2 s" in tool_messages(result)[0].content
    assert "ToolTimeoutError" in result.tool_calls[0].error


@pytest.mark.parametrize("entry", ["run", "arun"])
def test_async_tool_timeout(entry):
    cancelled = threading.Event()

    @tool(timeout=0.2)
    async def slow() -> str:
        """Slow."""
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    agent = Agent(ScriptedLLM([ToolCall("slow", {}), "gave up"]), tools=[slow])
    result = agent.run("x") if entry == "run" else asyncio.run(agent.arun("x"))
    assert "timed out after 0.2 s" in tool_messages(result)[0].content
    assert cancelled.is_set()  # an async tool is really cancelled


def test_a_tools_own_timeout_error_is_not_reported_as_ours():
    @tool
    async def net() -> str:
        """Net."""
        raise TimeoutError("socket timed out")

    result = Agent(ScriptedLLM([ToolCall("net", {}), "ok"]), tools=[net]).run("x")
    assert "TimeoutError: socket timed out" in tool_messages(result)[0].content


def barrier_tools():
    barrier = threading.Barrier(2, timeout=5)

    @tool
    def left() -> str:
        """Waits for right."""
        barrier.wait()
        return "left done"

    @tool
    async def right() -> str:
        """Waits for left (async, on another thread)."""
        await asyncio.to_thread(barrier.wait)
        return "right done"

    @tool
    def right_sync() -> str:
        """Waits for left."""
        barrier.wait()
        return "right done"

    return left, right, right_sync


@pytest.mark.parametrize("entry", ["run", "arun", "stream"])
@pytest.mark.parametrize("other", ["right", "right_sync"])
def test_calls_of_one_turn_run_concurrently(entry, other):
    # Each tool waits until the other has started: run one after the other, the
    # barrier would time out and the results would be errors.
    left, right, right_sync = barrier_tools()
    llm = ScriptedLLM([[ToolCall("left", {}), ToolCall(other, {})], "both done"])
    agent = Agent(llm, tools=[left, right, right_sync])
    if entry == "run":
        result = agent.run("go")
    elif entry == "arun":
        result = asyncio.run(agent.arun("go"))
    else:
        result = list(agent.stream("go"))[-1].result
    assert [m.content for m in tool_messages(result)] == ["left done", "right done"]
    assert result.answer == "both done"


def test_results_come_back_in_the_models_order():
    @tool
    def wait(ms: int) -> int:
        """Sleep a bit."""
        time.sleep(ms / 1000)
        return ms

    calls = [ToolCall("wait", {"ms": ms}) for ms in (150, 10, 80)]
    result = Agent(ScriptedLLM([calls, "done"]), tools=[wait]).run("x")
    assert [m.content for m in tool_messages(result)] == ["150", "10", "80"]
    assert [m.tool_call_id for m in tool_messages(result)] == [c.id for c in calls]
    assert [r.result for r in result.tool_calls] == ["150", "10", "80"]


def test_citations_and_data_from_tool_output():
    @tool
    def search(q: str) -> ToolOutput:
        """Search."""
        return ToolOutput("Paris is the capital.",
                          citations=[Citation("doc1", "Paris is the capital.", 0.9)],
                          data={"hits": 1})

    result = Agent(ScriptedLLM([ToolCall("search", {"q": "capital"}), "Paris [doc1]"]),
                   tools=[search]).run("capital?")
    assert [c.source_id for c in result.citations] == ["doc1"]
    assert result.tool_calls[0].data == {"hits": 1}
    assert tool_messages(result)[0].content == "Paris is the capital."


def test_long_tool_results_are_cut():
    @tool
    def big() -> str:
        """Big."""
        return "x" * 100

    result = Agent(ScriptedLLM([ToolCall("big", {}), "ok"]), tools=[big],
                   max_tool_result_chars=10).run("x")
    assert tool_messages(result)[0].content == "x" * 10 + "\n[cut: the result had 100 characters]"


# --- structured output --------------------------------------------------------------------


class City(BaseModel):
    name: str
    population: int


def test_structured_output_via_final_result_tool():
    llm = ScriptedLLM([ToolCall("final_result", {"name": "Oslo", "population": 700000})])
    result = Agent(llm, output_type=City).run("Oslo?")
    assert result.output == City(name="Oslo", population=700000)
    assert "final_result" in llm.calls[0].tools
    assert llm.calls[0].options["output_schema"]["required"] == ["name", "population"]


def test_structured_output_reasks_after_invalid_output():
    llm = ScriptedLLM([
        ToolCall("final_result", {"name": "Oslo", "population": "many"}),
        ToolCall("final_result", {"name": "Oslo", "population": 700000}),
    ])
    result = Agent(llm, output_type=City).run("Oslo?")
    assert result.ok and result.output.population == 700000
    feedback = llm.calls[1].messages[-1]
    assert feedback.role == "tool" and "population" in feedback.content
    assert "does not match the required schema" in feedback.content


def test_structured_output_from_json_text():
    llm = ScriptedLLM(['```json\n{"name": "Oslo", "population": 1}\n```'])
    assert Agent(llm, output_type=City).run("x").output == City(name="Oslo", population=1)


def test_structured_output_of_a_non_object_type():
    llm = ScriptedLLM([ToolCall("final_result", {"value": [1, 2, 3]})])
    assert Agent(llm, output_type=list[int]).run("x").output == [1, 2, 3]


def test_structured_output_retries_are_bounded():
    llm = ScriptedLLM(["not json"] * 10)
    result = Agent(llm, output_type=City, output_retries=2).run("x")
    assert result.stop_reason == "output_invalid" and result.output is None
    assert len(llm.calls) == 3
    assert "after 3 attempts" in result.error


# --- stops ----------------------------------------------------------------------------------


def test_max_steps_stop(add_tool):
    llm = ScriptedLLM(function=lambda m, t, o: ToolCall("add", {"a": len(m), "b": 1}))
    result = Agent(llm, tools=[add_tool], max_steps=4).run("loop")
    assert result.stop_reason == "max_steps" and result.answer is None
    assert len(llm.calls) == 4 and len(result.tool_calls) == 4
    assert "Stopped after 4 model calls" in result.error and "max_steps" in result.error
    assert not result.ok and str(result).startswith("[stopped:")


def test_repeated_call_stop():
    ran = []

    @tool
    def lookup(q: str) -> str:
        """Look up."""
        ran.append(q)
        return "nothing"

    llm = ScriptedLLM(function=lambda m, t, o: ToolCall("lookup", '{"q": "same"}'))
    result = Agent(llm, tools=[lookup], max_steps=10, max_repeated_calls=3).run("x")
    assert result.stop_reason == "repeated_call"
    assert len(ran) == 2  # the third identical call is refused
    assert "called 'lookup' with the same arguments 3 times" in result.error


def test_same_arguments_in_another_key_order_count_as_repeats(add_tool):
    llm = ScriptedLLM([ToolCall("add", '{"a": 1, "b": 2}'), ToolCall("add", '{"b": 2, "a": 1}')])
    result = Agent(llm, tools=[add_tool], max_repeated_calls=2).run("x")
    assert result.stop_reason == "repeated_call"


def test_llm_error_aborts_the_run_with_a_fatal_event():
    class Down:
        def complete(self, messages, tools=(), **options):
            raise LLMError("server down", provider="test")

    seen = []

    class Observer:
        @hookimpl
        def on_event(self, event):
            seen.append(event)

    with pytest.raises(LLMError, match="server down"):
        Agent(Down(), plugins=[Observer()]).run("x")
    assert isinstance(seen[-1], RunError) and seen[-1].fatal


def test_a_connector_returning_garbage_is_a_programming_error():
    class Bad:
        def complete(self, messages, tools=(), **options):
            return "not a response"

    with pytest.raises(TypeError, match="must return an LLMResponse"):
        Agent(Bad()).run("x")


# --- usage, streaming, async, chat ----------------------------------------------------------


def scripted_three_steps():
    return ScriptedLLM([
        LLMResponse(tool_calls=[ToolCall("add", {"a": 1, "b": 2})], usage=Usage(10, 3, 1)),
        LLMResponse(tool_calls=[ToolCall("add", {"a": 3, "b": 4})], usage=Usage(20, 4, 1)),
        LLMResponse(text="3 and 7 it is", usage=Usage(30, 5, 1)),
    ])


def test_usage_is_summed_per_call(add_tool):
    result = Agent(scripted_three_steps(), tools=[add_tool]).run("x")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens,
            result.usage.requests, result.usage.total_tokens) == (60, 12, 3, 72)
    per_call = [e.usage for e in result.events if isinstance(e, ModelResponded)]
    assert [u.prompt_tokens for u in per_call] == [10, 20, 30]


def test_usage_is_the_same_when_streaming(add_tool):
    events = list(Agent(scripted_three_steps(), tools=[add_tool]).stream("x"))
    result = events[-1].result
    assert (result.usage.prompt_tokens, result.usage.completion_tokens,
            result.usage.requests) == (60, 12, 3)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "3 and 7 it is"


def test_scripted_usage_counts_words(add_tool):
    llm = ScriptedLLM(["one two three"])
    result = Agent(llm).run("a b")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (2, 3)


def test_stream_event_sequence(add_tool):
    llm = ScriptedLLM([ToolCall("add", {"a": 1, "b": 2}), "The sum is 3."])
    events = list(Agent(llm, tools=[add_tool]).stream("1+2?"))
    kinds = [e.kind for e in events]
    # The answer is shorter than the stream guard's window: the guards see it whole
    # and it is released once, at the end of its turn (see core/_streamguard.py).
    assert kinds == ["RunStarted", "ModelResponded", "ToolCallStarted", "ToolCallFinished",
                     "ModelResponded", "TextDelta", "FinalAnswer"]
    assert isinstance(events[0], RunStarted) and events[0].prompt == "1+2?"
    assert isinstance(events[2], ToolCallStarted) and events[2].call.name == "add"
    assert isinstance(events[3], ToolCallFinished) and events[3].record.result == "3"
    final = events[-1]
    assert isinstance(final, FinalAnswer) and final.text == "The sum is 3."
    assert final.result.events == events


def test_run_records_the_same_events_without_deltas(add_tool):
    llm = ScriptedLLM([ToolCall("add", {"a": 1, "b": 2}), "The sum is 3."])
    result = Agent(llm, tools=[add_tool]).run("1+2?")
    assert [e.kind for e in result.events] == [
        "RunStarted", "ModelResponded", "ToolCallStarted", "ToolCallFinished",
        "ModelResponded", "FinalAnswer"]


def test_arun_and_astream(add_tool):
    async def main():
        agent = Agent(ScriptedLLM([ToolCall("add", {"a": 1, "b": 2}), "three"]),
                      tools=[add_tool])
        result = await agent.arun("x")
        agent2 = Agent(ScriptedLLM([ToolCall("add", {"a": 1, "b": 2}), "three"]),
                       tools=[add_tool])
        events = [e async for e in agent2.astream("x")]
        return result, events

    result, events = asyncio.run(main())
    assert result.answer == "three" and tool_messages(result)[0].content == "3"
    assert events[-1].text == "three" and events[-1].result.usage.requests == 2


def test_run_inside_a_running_event_loop(add_tool):
    async def main():
        return Agent(ScriptedLLM(["fine"])).run("x")

    assert asyncio.run(main()).answer == "fine"


def test_chat_keeps_history():
    llm = ScriptedLLM(function=lambda m, t, o: f"{sum(x.role == 'user' for x in m)} turns")
    session = Agent(llm, system_prompt="sys").chat()
    assert session.send("hello").answer == "1 turns"
    assert session.send("again").answer == "2 turns"
    assert [m.role for m in session.history] == ["user", "assistant", "user", "assistant"]
    # the system prompt is sent once per call, not stored in the history
    assert [m.role for m in llm.calls[1].messages].count("system") == 1
    events = list(session.stream("third"))
    assert events[-1].text == "3 turns" and len(session.history) == 6
    assert asyncio.run(session.asend("fourth")).answer == "4 turns"


def test_scripted_llm_runs_out_with_a_clear_error():
    from sapient import ConfigurationError

    with pytest.raises(ConfigurationError, match="ran out of replies after 1 calls"):
        Agent(ScriptedLLM([ToolCall("nope", {})])).run("x")


def test_reserved_and_duplicate_tool_names(add_tool):
    from sapient import ConfigurationError

    @tool(name="add")
    def other(a: int) -> int:
        return a

    with pytest.raises(ConfigurationError, match="Two tools are named 'add'"):
        Agent(ScriptedLLM(["x"]), tools=[add_tool, other])

    @tool
    def final_result() -> str:
        return ""

    with pytest.raises(ConfigurationError, match="reserved"):
        Agent(ScriptedLLM(["x"]), tools=[final_result])


# --- the scripted LLM itself ------------------------------------------------------------------


def test_scripted_llm_reply_forms_and_reset():
    from sapient.core.messages import Message

    llm = ScriptedLLM([
        {"tool": "add", "args": {"a": 1, "b": 2}},
        [ToolCall("add", {"a": 1, "b": 2}), ToolCall("add", "{}")],
        LLMResponse(text="ready", usage=Usage(1, 2, 1)),
    ])
    msgs = [Message.user("hi there")]
    first = llm.complete(msgs)
    assert [c.name for c in first.tool_calls] == ["add"] and first.tool_calls[0].id
    second = llm.complete(msgs)
    assert len(second.tool_calls) == 2
    assert len({c.id for c in first.tool_calls + second.tool_calls}) == 3
    third = llm.complete(msgs)
    assert third.text == "ready" and third.usage.prompt_tokens == 1  # given usage is kept
    assert len(llm.calls) == 3
    llm.reset()
    assert llm.calls == [] and llm.complete(msgs).tool_calls[0].name == "add"


def test_scripted_llm_needs_exactly_one_script():
    from sapient import ConfigurationError

    with pytest.raises(ConfigurationError, match="either a list of replies or function"):
        ScriptedLLM()
    with pytest.raises(ConfigurationError):
        ScriptedLLM(["x"], function=lambda m, t, o: "y")


def test_scripted_spec_names():
    from sapient import ConfigurationError
    from sapient.connectors.scripted import from_spec

    assert from_spec("echo").name == "scripted:echo"
    with pytest.raises(ConfigurationError, match="Unknown scripted LLM 'nope'. Known: echo"):
        from_spec("nope")


def test_leaving_a_stream_early_does_not_hang(add_tool):
    agent = Agent(ScriptedLLM([ToolCall("add", {"a": 1, "b": 2}), "done"]), tools=[add_tool])
    kinds = []
    for event in agent.stream("x"):
        kinds.append(event.kind)
        if event.kind == "ModelResponded":
            break
    assert kinds == ["RunStarted", "ModelResponded"]
    # the agent is still usable afterwards
    agent2 = Agent(ScriptedLLM(["again"]))
    assert agent2.run("x").answer == "again"
