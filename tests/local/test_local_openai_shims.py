"""The openai connector's help for weak OpenAI-compatible servers: capability probe,
tool_choice shims, response_format styles and strict recovery of leaked tool calls.

The server is an injected client whose replies are real ``openai`` SDK objects built
by a function of the request, so each test states how the server behaves."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from sapient import Message, StreamDelta, tool
from sapient.connectors.openai import (
    OpenAIChat,
    ServerCapabilities,
    probe_server,
    recover_tool_calls,
)
from sapient.core.llm import LLMResponse


@tool
def get_weather(city: str) -> str:
    """Weather in a city.

    Args:
        city: the city.
    """
    return "sunny"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def completion(content: str | None = None, calls: list[tuple[str, dict]] | None = None
               ) -> ChatCompletion:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"id": f"c{i}", "type": "function",
             "function": {"name": n, "arguments": json.dumps(a)}}
            for i, (n, a) in enumerate(calls)]
    return ChatCompletion.model_validate({
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})


def chunks(text: str) -> list[ChatCompletionChunk]:
    base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    out = [ChatCompletionChunk.model_validate(
        {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        for piece in [text[: len(text) // 2], text[len(text) // 2:]]]
    out.append(ChatCompletionChunk.model_validate(
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    return out


class FakeClient:
    """``client.chat.completions.create(**req)`` answered by ``behave(req)``."""

    def __init__(self, behave: Callable[[dict[str, Any]], Any]) -> None:
        self.requests: list[dict[str, Any]] = []
        self.behave = behave
        self.chat = self
        self.completions = self

    def create(self, **req: Any) -> Any:
        self.requests.append(req)
        reply = self.behave(req)
        if isinstance(reply, Exception):
            raise reply
        return reply


def llama_server_like(req: dict[str, Any]) -> Any:
    """Downgrades named tool_choice to auto, fails on "required", ignores json_schema
    response formats but enforces json_object + schema (llama-cpp-python style)."""
    import httpx
    import openai

    if req.get("tool_choice") == "required":
        return openai.InternalServerError("boom", response=httpx.Response(
            500, request=httpx.Request("POST", "http://x")), body=None)
    rf = req.get("response_format")
    if rf and rf["type"] == "json_object" and "schema" in rf:
        schema = rf["schema"]
        if schema.get("properties", {}).get("colour"):
            return completion('{"colour": "octarine"}')
        if "anyOf" in schema or "name" in schema.get("properties", {}):
            return completion('{"name": "add", "arguments": {"a": 2, "b": 3}}')
        return completion('{"city": "Rome"}')
    if req.get("tools"):
        first = req["tools"][0]["function"]["name"]
        return completion(calls=[(first, {"x": 1} if first.startswith("probe") else {})])
    return completion("hello")


def test_probe_detects_what_the_server_enforces():
    caps = probe_server(FakeClient(llama_server_like), "m", "http://fake-1/v1")
    assert caps == ServerCapabilities(tools=True, named_tool_choice=False,
                                      required_tool_choice=False,
                                      response_format="json_object_schema")

    def full(req: dict[str, Any]) -> Any:
        if req.get("response_format", {}).get("type") == "json_schema":
            return completion('{"colour": "octarine"}')
        choice = req.get("tool_choice")
        if isinstance(choice, dict):
            return completion(calls=[(choice["function"]["name"], {"y": 1})])
        return completion(calls=[("probe_alpha", {"x": 1})])

    assert probe_server(FakeClient(full), "m", "http://fake-2/v1") == ServerCapabilities()


def test_named_tool_choice_shim_uses_the_tool_schema_as_response_format():
    client = FakeClient(llama_server_like)
    llm = OpenAIChat("m", base_url="http://fake-3/v1", client=client)
    resp = llm.complete([Message.user("Weather in Rome?")], [get_weather, add],
                        tool_choice="get_weather")
    assert [(c.name, json.loads(c.arguments)) for c in resp.tool_calls] == [
        ("get_weather", {"city": "Rome"})]
    assert resp.text is None and resp.finish_reason == "tool_calls"
    last = client.requests[-1]
    assert "tools" not in last
    assert last["response_format"] == {"type": "json_object",
                                       "schema": get_weather.parameters}
    assert "get_weather" in last["messages"][0]["content"]  # the instruction


def test_required_tool_choice_shim_asks_for_one_call_object():
    client = FakeClient(llama_server_like)
    llm = OpenAIChat("m", base_url="http://fake-4/v1", client=client)
    resp = llm.complete([Message.user("2+3?")], [get_weather, add], tool_choice="required")
    assert [(c.name, json.loads(c.arguments)) for c in resp.tool_calls] == [
        ("add", {"a": 2, "b": 3})]
    schema = client.requests[-1]["response_format"]["schema"]
    assert [alt["properties"]["name"]["const"] for alt in schema["anyOf"]] == [
        "get_weather", "add"]


def test_capabilities_given_skip_the_probe_and_native_calls_pass_through():
    client = FakeClient(lambda req: completion(calls=[("get_weather", {"city": "Oslo"})]))
    llm = OpenAIChat("m", base_url="http://fake-5/v1", client=client,
                     capabilities=ServerCapabilities())
    resp = llm.complete([Message.user("hi")], [get_weather], tool_choice="get_weather")
    assert len(client.requests) == 1
    assert client.requests[0]["tool_choice"] == {"type": "function",
                                                 "function": {"name": "get_weather"}}
    assert resp.tool_calls[0].name == "get_weather"


def test_output_schema_in_the_servers_style_or_as_an_instruction():
    client = FakeClient(lambda req: completion('{"ok": true}'))
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    styled = OpenAIChat("m", base_url="http://x/v1", client=client,
                        capabilities=ServerCapabilities(response_format="json_object_schema"))
    styled.complete([Message.user("hi")], output_schema=schema)
    assert client.requests[-1]["response_format"] == {"type": "json_object", "schema": schema}
    plain = OpenAIChat("m", base_url="http://x/v1", client=client,
                       capabilities=ServerCapabilities(response_format=None))
    plain.complete([Message.system("Be brief."), Message.user("hi")], output_schema=schema)
    req = client.requests[-1]
    assert "response_format" not in req
    assert req["messages"][0]["role"] == "system"
    assert req["messages"][0]["content"].startswith("Be brief.")
    assert json.dumps(schema) in req["messages"][0]["content"]


@pytest.mark.parametrize("text", [
    '{"name": "get_weather", "arguments": {"city": "Rome"}}',
    '  ```json\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n```  ',
    '<tool_call>\n{"name": "get_weather", "parameters": {"city": "Rome"}}\n</tool_call>',
    '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Rome\\"}"}}',
])
def test_leaked_calls_are_recovered_when_exact(text):
    calls = recover_tool_calls(text, [get_weather, add])
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather",
                                                                   {"city": "Rome"})]


@pytest.mark.parametrize("text", [
    'Sure! {"name": "get_weather", "arguments": {"city": "Rome"}}',   # words around it
    '{"name": "get_time", "arguments": {}}',                          # unknown tool
    '{"name": "get_weather", "arguments": {"town": "Rome"}}',         # invalid arguments
    '{"name": "get_weather", "arguments": {"city": "Rome"}, "x": 1}',  # extra keys
    '[{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "nope"}]',  # one bad item
    '{"name": "get_weather", "arguments": {"city": "Rome"}',          # not valid JSON
    "The weather tool takes a city.",
])
def test_anything_else_stays_text(text):
    assert recover_tool_calls(text, [get_weather, add]) == []


def test_two_leaked_calls_and_the_option_to_turn_recovery_off():
    text = '[{"name": "add", "arguments": {"a": 1, "b": 2}}, ' \
           '{"name": "get_weather", "arguments": {"city": "Oslo"}}]'
    assert [c.name for c in recover_tool_calls(text, [get_weather, add])] == [
        "add", "get_weather"]
    client = FakeClient(lambda req: completion(text))
    on = OpenAIChat("m", client=client)
    assert [c.name for c in on.complete([Message.user("x")], [get_weather, add]).tool_calls] \
        == ["add", "get_weather"]
    off = OpenAIChat("m", client=client, recover_tool_calls=False)
    resp = off.complete([Message.user("x")], [get_weather, add])
    assert resp.tool_calls == [] and resp.text == text


def test_streamed_leak_is_held_back_and_recovered():
    leaked = '{"name": "get_weather", "arguments": {"city": "Rome"}}'
    llm = OpenAIChat("m", client=FakeClient(lambda req: chunks(leaked)))
    items = list(llm.stream([Message.user("Weather?")], [get_weather]))
    assert not [i for i in items if isinstance(i, StreamDelta)]
    final = items[-1]
    assert isinstance(final, LLMResponse) and final.tool_calls[0].name == "get_weather"

    talk = "{curly} braces are fine in text"
    llm = OpenAIChat("m", client=FakeClient(lambda req: chunks(talk)))
    items = list(llm.stream([Message.user("hi")], [get_weather]))
    assert "".join(i.text for i in items if isinstance(i, StreamDelta)) == talk
    assert items[-1].text == talk and items[-1].tool_calls == []


def test_unknown_forced_tool_is_a_clear_error():
    from sapient import ConfigurationError

    llm = OpenAIChat("m", client=FakeClient(lambda req: completion("x")),
                     capabilities=ServerCapabilities())
    with pytest.raises(ConfigurationError, match="not among the tools"):
        llm.complete([Message.user("x")], [get_weather], tool_choice="add")
