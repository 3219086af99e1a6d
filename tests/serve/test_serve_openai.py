"""The official ``openai`` client against a real ``sapient serve`` app on 127.0.0.1:
answers streamed and not, usage, tool steps, sessions, isolation and OpenAI-shaped errors."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import openai
import pytest
from sapient import LLMError, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.serve import ServeConfig
from serve_helpers import PASSAGES, search_docs

FIRST = next(iter(PASSAGES))


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


@pytest.fixture
def rag_server(serve_app, rag_llm, host):
    return serve_app(ServeConfig(llm=rag_llm, tools=[search_docs]), host)


def test_non_streamed_answer_with_tool_steps_citations_and_usage(rag_server):
    c = client(rag_server.url)
    done = c.chat.completions.create(model="sapient", messages=[
        {"role": "user", "content": "How long does the X2 log in a power cut?"}])
    choice = done.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content.startswith(f"The Aurora X2 keeps logging for 72 hours [{FIRST}]")
    assert done.usage.prompt_tokens > 0 and done.usage.completion_tokens > 0
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    extra = done.model_extra["sapient"]  # the extension field; the client keeps it as extra
    [step] = extra["steps"]
    assert step["name"] == "search_docs" and step["step"] == 1
    assert step["arguments"] == {"query": "How long does the X2 log in a power cut?"}
    assert "72 hours" in step["result"] and step["error"] is None
    assert [c["id"] for c in extra["citations"]] == list(PASSAGES)
    assert extra["citations"][0]["source"] == "aurora-x2-specifications.md"
    assert extra["stop_reason"] == "answer" and extra["session"] is None


def test_streamed_answer_with_steps_and_usage_in_the_last_chunk(rag_server):
    c = client(rag_server.url)
    chunks = list(c.chat.completions.create(
        model="sapient", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "power cut?"}]))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text.startswith(f"The Aurora X2 keeps logging for 72 hours [{FIRST}]")
    texts = [ch for ch in chunks if ch.choices and ch.choices[0].delta.content]
    assert len(texts) > 5  # word by word, not one block
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == [] and last.usage.total_tokens > 0
    assert all(ch.usage is None for ch in chunks[:-1])
    steps = [ch.model_extra["sapient"] for ch in chunks if (ch.model_extra or {}).get("sapient")]
    kinds = [s["type"] for s in steps]
    assert kinds == ["tool_call", "tool_result", "done"]
    assert steps[0]["name"] == "search_docs" and steps[0]["arguments"] == {"query": "power cut?"}
    assert "72 hours" in steps[1]["result"] and steps[1]["id"] == steps[0]["id"]
    assert steps[2]["citations"][0]["id"] == FIRST
    assert all(ch.id == chunks[0].id for ch in chunks)


def test_streamed_without_include_usage_has_no_usage_chunk(rag_server):
    chunks = list(client(rag_server.url).chat.completions.create(
        model="sapient", stream=True, messages=[{"role": "user", "content": "hi"}]))
    assert all(ch.choices for ch in chunks)
    assert all(ch.usage is None for ch in chunks)


def test_stateless_requests_carry_the_whole_conversation(serve_app, host):
    server = serve_app(ServeConfig(llm="scripted:recall", tools=[]), host)
    c = client(server.url)
    messages = [{"role": "system", "content": "be brief"},
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": "noted"},
                {"role": "user", "content": [{"type": "text", "text": "two"}]}]
    assert c.chat.completions.create(model="sapient", messages=messages).choices[0] \
        .message.content == "one | two"
    # The server kept nothing: the next stateless request starts from scratch.
    assert c.chat.completions.create(model="sapient", messages=[
        {"role": "user", "content": "three"}]).choices[0].message.content == "three"


def test_a_session_keeps_the_conversation_server_side(serve_app, host):
    server = serve_app(ServeConfig(llm="scripted:recall", tools=[]), host)
    c = client(server.url)

    def say(session: str, text: str) -> str:
        out = c.chat.completions.create(model="sapient", messages=[{"role": "user", "content": text}],
                                        extra_headers={"X-Sapient-Session": session})
        assert out.model_extra["sapient"]["session"] == session
        return out.choices[0].message.content

    assert say("alice-1", "a1") == "a1"
    assert say("bob-1", "b1") == "b1"
    assert say("alice-1", "a2") == "a1 | a2"
    assert say("bob-1", "b2") == "b1 | b2"
    with c.chat.completions.with_streaming_response.create(
            model="sapient", stream=True, messages=[{"role": "user", "content": "a3"}],
            extra_headers={"X-Sapient-Session": "alice-1"}) as raw:
        assert raw.headers["X-Sapient-Session"] == "alice-1"
        text = "".join(ch.choices[0].delta.content or "" for ch in raw.parse() if ch.choices)
    assert text == "a1 | a2 | a3"


def test_a_session_keeps_tool_results_for_the_next_turn(serve_app, rag_llm, host):
    server = serve_app(ServeConfig(llm=rag_llm, tools=[search_docs]), host)
    c = client(server.url)
    for turn in (1, 2):
        out = c.chat.completions.create(model="sapient", messages=[
            {"role": "user", "content": f"question {turn}"}], extra_headers={"X-Sapient-Session": "s"})
        assert f"(turn {turn}; you asked: question {turn})" in out.choices[0].message.content
    # The second turn's model call saw the first turn's tool call and (untrusted) result.
    context = rag_llm.calls[-1].messages
    tool_msgs = [m for m in context if m.role == "tool"]
    assert len(tool_msgs) == 2 and all(m.metadata.get("untrusted") for m in tool_msgs)


def test_concurrent_conversations_do_not_leak(serve_app, host):
    server = serve_app(ServeConfig(llm="scripted:recall", tools=[]), host)

    async def main() -> list[tuple[int, str, str]]:
        c = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=60)

        async def conversation(n: int) -> list[tuple[int, str, str]]:
            seen = []
            for turn in range(3):
                stream = turn % 2 == 1
                kwargs = {"model": "sapient", "extra_headers": {"X-Sapient-Session": f"conv-{n}"},
                          "messages": [{"role": "user", "content": f"c{n}t{turn}"}]}
                if stream:
                    text = ""
                    async for ch in await c.chat.completions.create(stream=True, **kwargs):
                        text += ch.choices[0].delta.content or "" if ch.choices else ""
                else:
                    text = (await c.chat.completions.create(**kwargs)).choices[0].message.content
                want = " | ".join(f"c{n}t{i}" for i in range(turn + 1))
                seen.append((n, want, text))
            return seen

        results = await asyncio.gather(*(conversation(n) for n in range(40)))
        await c.close()
        return [r for conv in results for r in conv]

    results = asyncio.run(main())
    assert len(results) == 120
    assert [r for r in results if r[1] != r[2]] == []


def test_openai_shaped_errors(rag_server):
    c = client(rag_server.url)
    with pytest.raises(openai.NotFoundError) as err:
        c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    body = err.value.body
    assert set(body) == {"message", "type", "param", "code"}
    assert body["code"] == "model_not_found" and body["param"] == "model"
    assert "sapient" in body["message"]
    cases = [
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 7}, "temperature"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 3}, "n"),
        ({"messages": [{"role": "user", "content": "x"}],
          "tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
         "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "http://x"}}]}]}, "messages[0].content"),
    ]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as err:
            c.chat.completions.create(model="sapient", **extra)
        assert err.value.status_code == 400
        assert err.value.body["type"] == "invalid_request_error", extra
        assert err.value.body["param"] == param, (extra, err.value.body)
        assert err.value.body["message"].endswith("."), err.value.body
    with pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(model="sapient", messages=[{"role": "user", "content": "x"}],
                                  extra_headers={"X-Sapient-Session": "no spaces allowed"})
    assert err.value.body["param"] == "X-Sapient-Session"
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("gpt-4o")
    assert [m.id for m in c.models.list()] == ["sapient"]
    assert c.models.retrieve("sapient").owned_by == "sapient"


def raw(url: str, data: bytes | None = None, headers: dict | None = None,
        method: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_raw_http_errors(serve_app, host):
    server = serve_app(ServeConfig(llm="scripted:echo", tools=[], max_body_bytes=2000), host)
    url = f"{server.url}/v1/chat/completions"
    assert raw(url, b"{not json", {"Content-Type": "application/json"})[0] == 400
    status, body = raw(url, b"{not json")
    assert body["error"]["code"] == "invalid_json"
    status, body = raw(url, json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode())
    assert (status, body["error"]["param"]) == (400, "model")
    status, body = raw(url, json.dumps({"model": "sapient", "messages": [
        {"role": "user", "content": "x" * 5000}]}).encode())
    assert status == 413 and body["error"]["code"] == "request_too_large"
    assert raw(f"{server.url}/v1/nothing")[0] == 404
    status, body = raw(f"{server.url}/v1/models", b"{}", method="POST")
    assert status == 405 and set(body["error"]) == {"message", "type", "param", "code"}
    assert raw(f"{server.url}/health") == (200, {"status": "ok", "sessions": "memory"})


def test_api_key_is_checked_when_configured(serve_app, host):
    server = serve_app(ServeConfig(llm="scripted:echo", tools=[], api_key="s3cret-key"), host)
    with pytest.raises(openai.AuthenticationError) as err:
        client(server.url, "wrong").chat.completions.create(
            model="sapient", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 401 and err.value.body["code"] == "invalid_api_key"
    assert "s3cret" not in json.dumps(err.value.body)
    with pytest.raises(openai.AuthenticationError):
        client(server.url, "wrong").models.list()
    good = client(server.url, "s3cret-key")
    assert good.chat.completions.create(model="sapient", messages=[
        {"role": "user", "content": "hello"}]).choices[0].message.content == "hello"
    assert raw(f"{server.url}/health")[0] == 200  # load balancers need no key


def test_model_failure_is_a_502_or_a_stream_error(serve_app, host):
    def broken(messages, tools, options):
        raise LLMError("the upstream model server answered 503")

    server = serve_app(ServeConfig(llm=ScriptedLLM(function=broken), tools=[]), host)
    c = client(server.url)
    with pytest.raises(openai.InternalServerError) as err:
        c.chat.completions.create(model="sapient", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 502 and err.value.body["code"] == "upstream_error"
    assert "503" in err.value.body["message"]
    with pytest.raises(openai.APIError) as err:
        list(c.chat.completions.create(model="sapient", stream=True,
                                       messages=[{"role": "user", "content": "x"}]))
    assert "503" in err.value.message


def test_a_run_that_stops_without_an_answer_says_why(serve_app, host):
    loop = ScriptedLLM(function=lambda m, t, o: {"tool": "ping", "args": {}})

    @tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    server = serve_app(ServeConfig(llm=loop, tools=[ping], max_steps=2), host)
    out = client(server.url).chat.completions.create(
        model="sapient", messages=[{"role": "user", "content": "x"}])
    assert out.choices[0].message.content is None
    assert out.choices[0].finish_reason == "length"
    assert "max_steps" in out.model_extra["sapient"]["error"]


def test_request_options_reach_the_model_and_do_not_leak_into_other_requests(serve_app, host):
    llm = ScriptedLLM(function=lambda m, t, o: json.dumps(o, sort_keys=True))
    server = serve_app(ServeConfig(llm=llm, tools=[], model_options={"temperature": 0.1}), host)
    c = client(server.url)

    def ask(**kw) -> dict:
        out = c.chat.completions.create(model="sapient", messages=[{"role": "user", "content": "x"}],
                                        **kw)
        return json.loads(out.choices[0].message.content)

    assert ask(temperature=0.9, max_tokens=5, seed=3) == {"max_tokens": 5, "seed": 3,
                                                          "temperature": 0.9}
    assert ask() == {"temperature": 0.1}
    assert ask(max_completion_tokens=7) == {"max_tokens": 7, "temperature": 0.1}


def test_a_concurrent_turn_on_the_same_session_gets_409(serve_app, host):
    @tool
    def slow() -> str:
        """Wait a moment."""
        time.sleep(1.0)
        return "done"

    def reply(messages, tools, options):
        last = [m for m in messages if m.role == "user"][-1].content
        if last == "slow" and messages[-1].role == "user":
            return {"tool": "slow", "args": {}}
        return "ok"

    server = serve_app(ServeConfig(llm=ScriptedLLM(function=reply), tools=[slow]), host)

    async def main():
        c = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=30)
        headers = {"X-Sapient-Session": "shared"}
        slow_turn = asyncio.create_task(c.chat.completions.create(
            model="sapient", messages=[{"role": "user", "content": "slow"}], extra_headers=headers))
        await asyncio.sleep(0.3)
        fast = await c.chat.completions.create(
            model="sapient", messages=[{"role": "user", "content": "fast"}], extra_headers=headers)
        try:
            await slow_turn
            outcome = "saved"
        except openai.ConflictError as exc:
            outcome = exc.body["code"]
        await c.close()
        return fast.choices[0].message.content, outcome

    assert asyncio.run(main()) == ("ok", "session_conflict")
