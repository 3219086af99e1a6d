"""Tests of the sapient-hello plugin with Sapient's scripted LLM (no real model)."""

from __future__ import annotations

import sapient_hello
from sapient import Agent, Host, ToolCall
from sapient.connectors.scripted import ScriptedLLM


def test_greet_function():
    assert sapient_hello.greet("Ada", "fr") == "Bonjour, Ada!"


def test_plugin_registers_the_tool():
    host = Host(plugins=[sapient_hello], load_entrypoints=False)
    tools = host.tools()
    assert tools["greet"].source == "sapient_hello"
    assert tools["greet"].parameters["properties"]["language"]["enum"] == ["en", "fr", "de"]
    assert not host.load_errors


def test_agent_uses_the_tool():
    host = Host(plugins=[sapient_hello], load_entrypoints=False)
    llm = ScriptedLLM([
        ToolCall("greet", {"name": "Ada", "language": "de"}),
        "I said: Hallo, Ada!",
    ])
    result = Agent(llm, tools=["greet"], host=host).run("Greet Ada in German")
    assert result.tool_calls[0].result == "Hallo, Ada!"
    assert result.answer == "I said: Hallo, Ada!"


def test_invalid_language_is_refused_before_the_call():
    llm = ScriptedLLM([ToolCall("greet", {"name": "Ada", "language": "xx"}), "sorry"])
    result = Agent(llm, tools=[sapient_hello.greet]).run("Greet Ada")
    assert "Input should be 'en', 'fr' or 'de'" in result.tool_calls[0].error
