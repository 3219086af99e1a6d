"""Integration: llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with the bundled
Gemma GGUF, driven through the openai connector (probe, shims, agent, streaming)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import jsonschema
import pytest
from sapient import Agent, Message, tool
from sapient.connectors.openai import OpenAIChat
from sapient.core.messages import FinalAnswer, ToolCallFinished, ToolCallStarted

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

STARTUP_TIMEOUT = 90.0


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: the city name, e.g. Paris.
    """
    return f"Sunny and 21 degrees in {city}."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(gguf_path, tmp_path_factory):
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    port = _free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path),
         "--model_alias", "gemma", "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "2048", "--n_threads", "1", "--chat_format", "chatml-function-calling"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start within {STARTUP_TIMEOUT:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def server_llm(server_url):
    return OpenAIChat("gemma", base_url=server_url, max_retries=2, timeout=120,
                      default_options={"temperature": 0, "max_tokens": 48})


def test_probe_and_forced_call_through_the_server(server_llm):
    caps = server_llm.capabilities
    assert caps.tools
    resp = server_llm.complete([Message.user("What is the weather in Paris?")], [get_weather],
                               tool_choice="get_weather")
    assert [c.name for c in resp.tool_calls] == ["get_weather"]
    get_weather.validate(resp.tool_calls[0].arguments)  # raises if invalid


def test_structured_output_through_the_server(server_llm):
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40},
                                               "sunny": {"type": "boolean"}},
              "required": ["city", "sunny"], "additionalProperties": False}
    if server_llm.capabilities.response_format is None:
        pytest.fail("the server enforces JSON schemas; the probe should have found how")
    resp = server_llm.complete([Message.user("Is it sunny in Paris? Answer in JSON.")],
                               output_schema=schema)
    jsonschema.validate(json.loads(resp.text), schema)


# The server's chatml-function-calling template shows the tools only inside a system
# message, and the 270M base model needs to be told to use them.
SYSTEM = "You are a weather assistant. Use the get_weather function to answer weather questions."


def test_agent_with_a_tool_over_the_server(server_llm):
    agent = Agent(server_llm, tools=[get_weather], system_prompt=SYSTEM, max_steps=2)
    result = agent.run("What is the weather in Paris?")
    assert result.tool_calls, result.messages
    first = result.tool_calls[0]
    assert first.name == "get_weather" and first.error is None
    assert "Sunny" in (first.result or "")
    assert result.stop_reason in ("answer", "max_steps")  # a 270M base model may call again
    assert result.usage.requests == 2 and result.usage.prompt_tokens > 0


def test_agent_streams_over_the_server(server_llm):
    agent = Agent(server_llm, tools=[get_weather], system_prompt=SYSTEM, max_steps=2)
    events = list(agent.stream("What is the weather in Paris?"))
    kinds = [type(e) for e in events]
    assert ToolCallStarted in kinds and ToolCallFinished in kinds
    assert isinstance(events[-1], FinalAnswer)
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.record.error is None
