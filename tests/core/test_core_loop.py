"""The loop's steps at their edges: ``tool_choice`` across turns, runaway arguments,
a stray ``final_result`` call, a stream cut short, and the one way a tool is run."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from pydantic import BaseModel
from sapient import (
    Agent,
    ConfigurationError,
    LLMError,
    LLMResponse,
    StreamDelta,
    Tool,
    ToolCall,
    ToolTimeoutError,
    tool,
)
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.llm import forced_tool, tool_choice_mode
from sapient.core.messages import FinalAnswer, RunError, TextDelta


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return f"value of {key}"


@tool
def note(text: str) -> str:
    """Write a note."""
    return "noted"


def choices(llm: ScriptedLLM) -> list[Any]:
    """The tool_choice the model was sent on each call."""
    return [call.options.get("tool_choice") for call in llm.calls]


# --- tool_choice ------------------------------------------------------------------------------


def test_required_holds_for_the_first_turn_then_the_model_may_answer():
    llm = ScriptedLLM([ToolCall("lookup", {"key": "a"}), "The value is a."])
    result = Agent(llm, tools=[lookup], model_options={"tool_choice": "required"}).run("x")
    assert result.ok and result.answer == "The value is a."
    assert choices(llm) == ["required", "auto"]


@pytest.mark.parametrize("choice", ["lookup", {"type": "function", "function": {"name": "lookup"}},
                                    {"name": "lookup"}])
def test_a_named_tool_is_forced_until_that_tool_was_called(choice):
    llm = ScriptedLLM([ToolCall("note", {"text": "first"}), ToolCall("lookup", {"key": "b"}),
                       "The value is b."])
    agent = Agent(llm, tools=[lookup, note], model_options={"tool_choice": choice})
    result = agent.run("x")
    assert result.ok and [r.name for r in result.tool_calls] == ["note", "lookup"]
    assert choices(llm) == [choice, choice, "auto"]
    assert agent.model_options == {"tool_choice": choice}  # the agent's own setting is kept


def test_auto_and_none_are_left_alone():
    for choice in ("auto", "none"):
        llm = ScriptedLLM([ToolCall("lookup", {"key": "a"}), "done"])
        Agent(llm, tools=[lookup], model_options={"tool_choice": choice}).run("x")
        assert choices(llm) == [choice, choice]


def test_every_run_starts_from_the_agents_choice():
    llm = ScriptedLLM([ToolCall("lookup", {"key": "a"}), "one", ToolCall("lookup", {"key": "b"}),
                       "two"])
    chat = Agent(llm, tools=[lookup], model_options={"tool_choice": "required"}).chat()
    assert chat.send("first").answer == "one" and chat.send("second").answer == "two"
    assert choices(llm) == ["required", "auto", "required", "auto"]


def test_tool_choice_forms_are_read_in_one_place():
    assert [tool_choice_mode(c) for c in (None, "", "auto", "none", "required", "lookup",
                                          {"function": {"name": "lookup"}})] == [
        "auto", "auto", "auto", "none", "required", "tool", "tool"]
    assert forced_tool({"type": "function", "function": {"name": "lookup"}}) == "lookup"
    assert forced_tool("required", [lookup]) is None
    assert forced_tool("lookup", [lookup, note]) == "lookup"
    with pytest.raises(ConfigurationError, match="names 'nope', which is not among the tools"):
        forced_tool("nope", [lookup])
    with pytest.raises(ConfigurationError, match="'required' but no tools"):
        forced_tool("required", [])


# --- runaway input never crashes the loop -------------------------------------------------------


def nested_json(depth: int) -> str:
    return '{"data": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


def nested_dict(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return {"data": value}


@tool
def store(data: dict[str, Any]) -> str:
    """Store a document."""
    return "stored"


@pytest.mark.parametrize("streaming", [False, True], ids=["run", "stream"])
def test_arguments_nested_a_thousand_levels_deep_are_fed_back(streaming):
    llm = ScriptedLLM([ToolCall("store", nested_json(1000)), "I will send less."])
    agent = Agent(llm, tools=[store])
    result = list(agent.stream("x"))[-1].result if streaming else agent.run("x")
    assert result.ok and result.answer == "I will send less."
    assert "arguments nest too deeply to read" in result.tool_calls[0].error
    assert "nest too deeply" in llm.calls[1].messages[-1].content  # the model was told


def test_a_deep_object_from_the_connector_is_encoded_or_replaced():
    llm = ScriptedLLM([ToolCall("store", nested_dict(1000)), ToolCall("store", nested_dict(1000)),
                       "done"])
    result = Agent(llm, tools=[store]).run("x")
    assert result.ok and result.answer == "done"  # neither counted as a repeat nor crashed
    assert "too deeply" in ToolCall("store", nested_dict(1000)).arguments_json()


def test_a_final_result_call_without_output_type_is_an_unknown_tool():
    llm = ScriptedLLM([ToolCall("final_result", {"answer": 42}), "It is 42."])
    result = Agent(llm, tools=[lookup]).run("x")
    assert result.ok and result.answer == "It is 42."
    assert result.tool_calls[0].error.startswith("Error: there is no tool named 'final_result'")


class City(BaseModel):
    name: str


def test_every_final_result_call_gets_an_answer_message():
    llm = ScriptedLLM([[ToolCall("final_result", {"name": "Oslo"}),
                        ToolCall("final_result", {"name": "Rome"})]])
    result = Agent(llm, output_type=City).run("x")
    assert result.output == City(name="Oslo")
    replies = [m for m in result.messages if m.role == "tool"]
    assert sorted(m.tool_call_id for m in replies) == sorted(
        c.id for c in result.messages[1].tool_calls)


class CutStream:
    """Streams part of an answer, then the connection drops: no finish reason."""

    def complete(self, messages, tools=(), **options):
        return LLMResponse(text="Hello world.", finish_reason="stop")

    def stream(self, messages, tools=(), **options):
        yield StreamDelta("Hello wor")
        yield LLMResponse(text="Hello wor")


def test_a_stream_cut_short_is_an_error_not_an_answer():
    events = []
    with pytest.raises(LLMError, match="ended before the model finished") as info:
        for event in Agent(CutStream()).stream("x"):
            events.append(event)
    assert info.value.retryable
    # The stream guard held the short text back, so the cut-off part never showed.
    assert [e.text for e in events if isinstance(e, TextDelta)] == []
    assert isinstance(events[-1], RunError) and events[-1].fatal
    assert not any(isinstance(e, FinalAnswer) for e in events)
    assert Agent(CutStream()).run("x").answer == "Hello world."  # complete() is whole


# --- one way to run a tool ----------------------------------------------------------------------


def test_tool_invoke_applies_the_timeout_like_the_agent(release_later):
    @tool(timeout=0.2)
    def slow() -> str:
        """Slow."""
        release_later.wait(10)
        return "late"

    @tool(timeout=0.2)
    async def slow_async() -> str:
        """Slow too."""
        await asyncio.sleep(10)
        return "late"

    for t in (slow, slow_async):
        started = time.perf_counter()
        with pytest.raises(ToolTimeoutError, match="timed out after 0.2 s"):
            t.invoke({})
        assert time.perf_counter() - started < 5
    assert not hasattr(Tool, "ainvoke")


@pytest.fixture
def release_later():
    event = threading.Event()
    yield event
    event.set()
