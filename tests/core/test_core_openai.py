"""The OpenAI connector against a real HTTP server on 127.0.0.1 (no network):
tool calls, streaming with usage, async, request mapping and error mapping."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sapient import Agent, Host, LLMError, LLMResponse, StreamDelta, tool
from sapient.connectors.openai import OpenAIChat
from sapient.core.messages import Message, TextDelta


class FakeOpenAI:
    """A tiny OpenAI-compatible server. Queue replies; it records every request.

    A reply is ``("json", status, body)``, ``("sse", chunks)`` or ``("sleep", s)``.
    """

    def __init__(self) -> None:
        self.replies: list[tuple] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                outer.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = outer.replies.pop(0) if outer.replies else ("json", 500, {})
                if reply[0] == "sleep":
                    time.sleep(reply[1])
                    reply = ("json", 200, completion("late"))
                if reply[0] == "json":
                    body = json.dumps(reply[2]).encode()
                    self.send_response(reply[1])
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for chunk in reply[1]:
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (timeout test) is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    s = FakeOpenAI()
    yield s
    s.close()


def completion(text: str | None = None, tool_calls: list[dict] | None = None,
               usage: tuple[int, int] = (11, 7)) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test-model",
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                  "total_tokens": sum(usage)},
    }


def call(id_: str, name: str, args: dict) -> dict[str, Any]:
    return {"id": id_, "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}


def chunk(delta: dict, finish: str | None = None, usage: tuple[int, int] | None = None,
          choices: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "created": 0,
                           "model": "test-model",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
                           if choices else []}
    if usage:
        out["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                        "total_tokens": sum(usage)}
    return out


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 21 C, sunny"


def llm_for(server: FakeOpenAI, **kw: Any) -> OpenAIChat:
    kw.setdefault("max_retries", 0)
    kw.setdefault("probe", False)  # these tests script every reply; probing is tested apart
    return OpenAIChat("test-model", base_url=server.url, **kw)


def test_agent_with_tool_calls_over_http(server):
    server.replies = [
        ("json", 200, completion(tool_calls=[call("call_a", "get_weather", {"city": "Oslo"})])),
        ("json", 200, completion("It is sunny in Oslo.", usage=(30, 6))),
    ]
    result = Agent(llm_for(server), tools=[get_weather], system_prompt="sys").run("Weather?")
    assert result.answer == "It is sunny in Oslo."
    assert result.tool_calls[0].result == "Oslo: 21 C, sunny"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens,
            result.usage.requests) == (41, 13, 2)
    first, second = server.requests
    assert first["model"] == "test-model"
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert first["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool"]
    assert second["messages"][2]["tool_calls"][0]["id"] == "call_a"
    assert second["messages"][3] == {"role": "tool", "content": "Oslo: 21 C, sunny",
                                     "tool_call_id": "call_a", "name": "get_weather"}
    # a local server gets no key unless one is configured for it
    assert "authorization" not in server.headers[0]


def test_request_options_map_to_the_api(server):
    server.replies = [("json", 200, completion("{}")), ("json", 200, completion("x"))]
    llm = llm_for(server)
    llm.complete([Message.user("hi")], (), output_schema={"type": "object"}, temperature=0.2,
                 max_tokens=5, seed=3, top_k=40)
    req = server.requests[0]
    assert req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert (req["temperature"], req["max_tokens"], req["seed"]) == (0.2, 5, 3)
    assert req["top_k"] == 40  # unknown options travel as extra body
    llm.complete([Message.user("hi")], [get_weather], tool_choice="get_weather")
    assert server.requests[1]["tool_choice"] == {"type": "function",
                                                 "function": {"name": "get_weather"}}


def test_streaming_text_tool_calls_and_usage(server):
    server.replies = [("sse", [
        chunk({"role": "assistant", "content": "Let me "}),
        chunk({"content": "check."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Rome"}'}}]}),
        chunk({}, finish="tool_calls"),
        chunk({}, usage=(50, 12), choices=False),
    ])]
    items = list(llm_for(server).stream([Message.user("weather in Rome?")], [get_weather]))
    assert [i.text for i in items if isinstance(i, StreamDelta)] == ["Let me ", "check."]
    final = items[-1]
    assert isinstance(final, LLMResponse)
    assert final.text == "Let me check." and final.finish_reason == "tool_calls"
    assert [(c.id, c.name, json.loads(c.arguments)) for c in final.tool_calls] == [
        ("call_1", "get_weather", {"city": "Rome"})]
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (50, 12)
    req = server.requests[0]
    assert req["stream"] is True and req["stream_options"] == {"include_usage": True}


def test_agent_stream_over_http_counts_usage(server):
    server.replies = [
        ("sse", [chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                                        "function": {"name": "get_weather",
                                                     "arguments": '{"city": "Oslo"}'}}]}),
                 chunk({}, finish="tool_calls"), chunk({}, usage=(10, 5), choices=False)]),
        ("sse", [chunk({"content": "Sunny"}), chunk({"content": " today."}),
                 chunk({}, finish="stop"), chunk({}, usage=(20, 3), choices=False)]),
    ]
    events = list(Agent(llm_for(server), tools=[get_weather]).stream("Weather?"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Sunny today."
    result = events[-1].result
    assert result.answer == "Sunny today."
    assert (result.usage.prompt_tokens, result.usage.completion_tokens,
            result.usage.requests) == (30, 8, 2)


def test_acomplete_over_http(server):
    server.replies = [("json", 200, completion("async hello"))]
    response = asyncio.run(llm_for(server).acomplete([Message.user("hi")]))
    assert response.text == "async hello" and response.usage.prompt_tokens == 11


def test_spec_string_builds_a_connector_for_a_local_server(server):
    server.replies = [("json", 200, completion("via spec"))]
    llm = Host(load_entrypoints=False).llm(f"openai:{server.url}#test-model")
    assert isinstance(llm, OpenAIChat) and llm.model == "test-model"
    assert Agent(llm).run("hi").answer == "via spec"


def test_missing_api_key_for_openai_is_explained():
    from sapient import ConfigurationError

    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY is not set"):
        OpenAIChat("gpt-4o-mini").complete([Message.user("hi")])


# --- error mapping ---------------------------------------------------------------------------


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "code": code}}


@pytest.mark.parametrize(
    ("status", "expected", "retryable"),
    [
        (401, "refused the API key (401)", False),
        (429, "Rate limited by", True),
        (404, "does not know model 'test-model' (404)", False),
        (503, "answered 503", True),
    ],
)
def test_http_errors_become_llm_errors(server, status, expected, retryable):
    server.replies = [("json", status, error_body("nope", "x"))]
    with pytest.raises(LLMError) as info:
        llm_for(server).complete([Message.user("hi")])
    err = info.value
    assert expected in str(err)
    assert server.url in str(err)
    assert (err.provider, err.model, err.retryable) == ("openai", "test-model", retryable)
    assert err.status_code == status


def test_errors_while_streaming_become_llm_errors(server):
    server.replies = [("json", 401, error_body("bad key", "invalid_api_key"))]
    with pytest.raises(LLMError, match="refused the API key"):
        list(llm_for(server).stream([Message.user("hi")]))


def test_retries_are_the_sdks(server):
    server.replies = [("json", 429, error_body("slow down", "rate")),
                      ("json", 200, completion("after retry"))]
    llm = llm_for(server, max_retries=1)
    assert llm.complete([Message.user("hi")]).text == "after retry"
    assert len(server.requests) == 2


def test_timeout_becomes_llm_error(server):
    server.replies = [("sleep", 2.0)]
    t0 = time.perf_counter()
    with pytest.raises(LLMError) as info:
        llm_for(server, timeout=0.3).complete([Message.user("hi")])
    assert time.perf_counter() - t0 < 1.9
    assert "within 0.3 s" in str(info.value) and info.value.retryable


def test_connection_refused_becomes_llm_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    llm = OpenAIChat("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(LLMError) as info:
        llm.complete([Message.user("hi")])
    assert f"Cannot connect to http://127.0.0.1:{port}/v1" in str(info.value)
    assert "Is the server running" in str(info.value)


def test_llm_error_in_a_run_is_raised_to_the_caller(server):
    server.replies = [("json", 401, error_body("bad key", "invalid_api_key"))]
    with pytest.raises(LLMError, match="401"):
        Agent(llm_for(server)).run("hi")
