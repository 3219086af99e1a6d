"""The llamacpp connector on the real bundled Gemma 3 270M model (CPU, short outputs)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import BaseModel
from sapient import Agent, ConfigurationError, Message, tool
from sapient.connectors.llamacpp import LlamaCppLLM, digits_grammar, parse_spec
from sapient.core.llm import LLMResponse, StreamDelta


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the current weather in a city.

    Args:
        city: the city name, e.g. Paris.
        unit: celsius or fahrenheit.
    """
    return f"Sunny, 21 degrees {unit} in {city}."


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: first number.
        b: second number.
    """
    return a + b


def test_spec_options_are_parsed_and_checked():
    name, opts = parse_spec("default?n_ctx=4096&threads=2&temperature=0.5")
    assert name == "default"
    assert opts == {"n_ctx": 4096, "n_threads": 2, "temperature": 0.5}
    with pytest.raises(ConfigurationError, match="Unknown llamacpp option 'ctx_size'"):
        parse_spec("default?ctx_size=10")
    with pytest.raises(ConfigurationError, match="not a valid int"):
        parse_spec("default?n_ctx=big")


def test_forced_tool_call_validates(local_llm):
    resp = local_llm.complete([Message.user("What is the weather in Paris?")],
                              [get_weather, add], tool_choice="get_weather")
    assert resp.text is None and len(resp.tool_calls) == 1
    call = resp.tool_calls[0]
    assert call.name == "get_weather"
    args = get_weather.validate(call.arguments)  # raises if the call does not validate
    assert isinstance(args["city"], str)
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0


def test_automatic_tool_call_validates(local_llm):
    resp = local_llm.complete([Message.user("What is 2 plus 3?")], [get_weather, add],
                              tool_choice="auto")
    assert resp.finish_reason == "tool_calls"
    call = resp.tool_calls[0]
    assert call.name in ("add", "get_weather")
    {"add": add, "get_weather": get_weather}[call.name].validate(call.arguments)


def test_structured_output_follows_schema(local_llm):
    class City(BaseModel):
        name: str
        population: int

    schema = City.model_json_schema()
    resp = local_llm.complete([Message.user("Describe Paris as JSON.")], output_schema=schema)
    data = json.loads(resp.text)
    jsonschema.validate(data, schema)
    City.model_validate(data)


def test_digit_constrained_output(local_llm):
    resp = local_llm.complete([Message.user("List three numbers.")],
                              grammar=digits_grammar(separator=",", max_digits=3, max_items=5))
    parts = resp.text.split(",")
    assert 1 <= len(parts) <= 5
    assert all(p.isdigit() and len(p) <= 3 for p in parts), resp.text


def test_stream_yields_deltas_then_one_response(local_llm):
    items = list(local_llm.stream([Message.user("Say hello.")], max_tokens=8))
    final = items[-1]
    assert isinstance(final, LLMResponse)
    deltas = [i for i in items[:-1] if isinstance(i, StreamDelta)]
    assert "".join(d.text for d in deltas) == final.text
    assert final.usage.completion_tokens <= 8


def test_agent_runs_a_tool_with_the_local_model(local_llm):
    agent = Agent(local_llm, tools=[get_weather], max_steps=2,
                  model_options={"tool_choice": "get_weather"})
    result = agent.run("What is the weather in Paris?")
    assert result.tool_calls and result.tool_calls[0].name == "get_weather"
    assert result.tool_calls[0].error is None


def test_missing_model_file_is_a_clear_error(tmp_path):
    from sapient.connectors.llamacpp import from_spec

    with pytest.raises(ConfigurationError, match="No GGUF model file"):
        from_spec(str(tmp_path / "nope.gguf"))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigurationError, match="not a GGUF file"):
        from_spec(str(bad))
    assert isinstance(LlamaCppLLM(bad), LlamaCppLLM)  # building does no I/O
