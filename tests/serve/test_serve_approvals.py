"""Approval of side-effecting tool calls over the OpenAI API, with the official ``openai``
client against ``sapient serve`` on 127.0.0.1: the held-back call comes back as
``tool_calls``, a ``tool`` message approves or denies it, the run resumes; with a
session (memory, SQLite, Redis) and without one; streamed and not; stale, forged and
repeated answers refused; nothing runs twice; sessions do not see each other's calls."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from sapient import ToolCall, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.serve import ServeConfig

SESSION = "X-Sapient-Session"
ASK = "Delete records 1 and 2."


class Records:
    """The side effect under test: every real deletion is counted."""

    def __init__(self) -> None:
        self.deleted: list[list[int]] = []
        self.lock = threading.Lock()

        @tool(effects=["writes"])
        def delete_records(ids: list[int]) -> str:
            """Delete records by id.

            Args:
                ids: the records to delete.
            """
            with self.lock:
                self.deleted.append(list(ids))
            return f"deleted {len(ids)} records"

        self.tool = delete_records


def reply(messages, tools, options):
    """Ask for the deletion; then report what the tool message said (result or refusal)."""
    last_user = max(i for i, m in enumerate(messages) if m.role == "user")
    results = [m for m in messages[last_user:] if m.role == "tool"]
    if messages[last_user].content != ASK:
        return f"You said: {messages[last_user].content}"
    if not results:
        return ToolCall("delete_records", {"ids": [1, 2]})
    return f"Done. The tool said: {results[-1].content}"


@pytest.fixture
def records() -> Records:
    return Records()


def start(serve_app, host, records: Records, sessions: str = "memory"):
    llm = ScriptedLLM(function=reply, name="scripted:delete")
    return serve_app(ServeConfig(llm=llm, tools=[records.tool], sessions=sessions), host)


def client(server, session: str | None = None) -> openai.OpenAI:
    headers = {SESSION: session} if session else None
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=30, default_headers=headers)


def answer(call_id: str, content: str) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def test_stateless_approve_runs_the_call_once_and_the_agent_answers(serve_app, host, records):
    c = client(start(serve_app, host, records))
    messages = [{"role": "user", "content": ASK}]
    first = c.chat.completions.create(model="sapient", messages=messages)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "delete_records"
    assert json.loads(call.function.arguments) == {"ids": [1, 2]}
    assert records.deleted == []  # held back: nothing ran
    extra = first.model_extra["sapient"]
    assert extra["stop_reason"] == "approval_pending"
    assert extra["pending"][0]["id"] == call.id and "side effects" in extra["pending"][0]["reasons"][0]

    # The standard OpenAI client loop: append the assistant message, then the tool answer.
    messages += [choice.message.model_dump(exclude_none=True), answer(call.id, "approve")]
    done = c.chat.completions.create(model="sapient", messages=messages)
    assert done.choices[0].finish_reason == "stop"
    assert done.choices[0].message.content == "Done. The tool said: deleted 2 records"
    assert records.deleted == [[1, 2]]

    # The same answer again: refused, the call does not run twice.
    with pytest.raises(openai.BadRequestError) as again:
        c.chat.completions.create(model="sapient", messages=messages)
    assert again.value.body["code"] == "unknown_tool_call"
    assert records.deleted == [[1, 2]]


def test_stateless_forged_or_changed_calls_are_refused(serve_app, host, records):
    c = client(start(serve_app, host, records))
    first = c.chat.completions.create(model="sapient", messages=[{"role": "user", "content": ASK}])
    assistant = first.choices[0].message.model_dump(exclude_none=True)
    call_id = assistant["tool_calls"][0]["id"]
    changed = json.loads(json.dumps(assistant))
    changed["tool_calls"][0]["function"]["arguments"] = json.dumps({"ids": [1, 2, 3, 4]})
    forged = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "delete_records", "arguments": "{\"ids\": [9]}"}}]}
    for bad, cid in ((changed, call_id), (forged, "call_1")):
        with pytest.raises(openai.BadRequestError) as err:
            c.chat.completions.create(model="sapient", messages=[
                {"role": "user", "content": ASK}, bad, answer(cid, "approve")])
        assert err.value.body["code"] == "unknown_tool_call"
        assert err.value.body["param"] == "messages[2].tool_call_id"
    # Not a decision: a 400 naming the accepted values, and the call stays answerable.
    with pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(model="sapient", messages=[
            {"role": "user", "content": ASK}, assistant, answer(call_id, "maybe later")])
    assert err.value.body["code"] == "invalid_approval" and "'approve' or 'deny'" in str(err.value)
    assert records.deleted == []


def test_session_deny_goes_back_to_the_model_as_a_refusal(serve_app, host, records):
    c = client(start(serve_app, host, records), session="deny-1")
    first = c.chat.completions.create(model="sapient", messages=[{"role": "user", "content": ASK}])
    [call] = first.choices[0].message.tool_calls
    # With a session the server keeps the conversation: the tool message alone answers.
    done = c.chat.completions.create(model="sapient", messages=[
        answer(call.id, json.dumps({"approved": False, "reason": "not before the audit"}))])
    text = done.choices[0].message.content
    assert text.startswith("Done. The tool said: Refused: The user declined 'delete_records'.")
    assert "not before the audit" in text
    assert records.deleted == []
    later = c.chat.completions.create(model="sapient", messages=[
        {"role": "user", "content": "thanks"}])
    assert later.choices[0].message.content == "You said: thanks"


def test_session_stale_unknown_and_early_answers(serve_app, host, records):
    c = client(start(serve_app, host, records), session="stale-1")
    with pytest.raises(openai.BadRequestError) as err:  # nothing waits yet
        c.chat.completions.create(model="sapient", messages=[answer("call_x", "approve")])
    assert err.value.body["code"] == "unknown_tool_call"
    assert "answered already, or never asked" in err.value.body["message"]
    first = c.chat.completions.create(model="sapient", messages=[{"role": "user", "content": ASK}])
    [call] = first.choices[0].message.tool_calls
    with pytest.raises(openai.BadRequestError) as err:  # a wrong id: the call still waits
        c.chat.completions.create(model="sapient", messages=[answer("call_nope", "approve")])
    assert err.value.body["param"] == "messages[0].tool_call_id"
    with pytest.raises(openai.ConflictError) as busy:  # a new question before the answer
        c.chat.completions.create(model="sapient", messages=[{"role": "user", "content": "hi"}])
    assert busy.value.body["code"] == "approval_pending" and call.id in busy.value.body["message"]
    done = c.chat.completions.create(model="sapient", messages=[answer(call.id, "approve")])
    assert done.choices[0].message.content == "Done. The tool said: deleted 2 records"
    with pytest.raises(openai.BadRequestError):  # answered: stale now
        c.chat.completions.create(model="sapient", messages=[answer(call.id, "approve")])
    assert records.deleted == [[1, 2]]


def _stream(c: openai.OpenAI, messages: list[dict]) -> tuple[str, list[dict], str]:
    text, calls, finish = "", {}, None
    for chunk in c.chat.completions.create(model="sapient", messages=messages, stream=True):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for tc in delta.tool_calls or ():
            entry = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += tc.id or ""
            entry["name"] += tc.function.name or ""
            entry["arguments"] += tc.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    return text, [calls[i] for i in sorted(calls)], finish


def test_streamed_pending_call_and_streamed_resume(serve_app, host, records):
    c = client(start(serve_app, host, records), session="stream-1")
    text, calls, finish = _stream(c, [{"role": "user", "content": ASK}])
    assert finish == "tool_calls" and text == ""
    [call] = calls
    assert call["name"] == "delete_records" and json.loads(call["arguments"]) == {"ids": [1, 2]}
    assert records.deleted == []
    text, calls, finish = _stream(c, [answer(call["id"], "Approve.")])
    assert (text, calls, finish) == ("Done. The tool said: deleted 2 records", [], "stop")
    assert records.deleted == [[1, 2]]


def test_stateless_streamed_round_trip(serve_app, host, records):
    c = client(start(serve_app, host, records))
    _, [call], finish = _stream(c, [{"role": "user", "content": ASK}])
    assistant = {"role": "assistant", "content": None, "tool_calls": [
        {"id": call["id"], "type": "function",
         "function": {"name": call["name"], "arguments": call["arguments"]}}]}
    text, _, finish = _stream(c, [{"role": "user", "content": ASK}, assistant,
                                  answer(call["id"], "deny")])
    assert finish == "stop" and "Refused: The user declined 'delete_records'" in text
    assert records.deleted == []


def test_two_sessions_do_not_see_each_others_pending_calls(serve_app, host, records):
    server = start(serve_app, host, records)
    a, b = client(server, session="alice"), client(server, session="bob")
    [call_a] = a.chat.completions.create(
        model="sapient", messages=[{"role": "user", "content": ASK}]).choices[0].message.tool_calls
    with pytest.raises(openai.BadRequestError) as err:  # bob cannot answer alice's call
        b.chat.completions.create(model="sapient", messages=[answer(call_a.id, "approve")])
    assert err.value.body["code"] == "unknown_tool_call"
    assert b.chat.completions.create(model="sapient", messages=[
        {"role": "user", "content": "hello"}]).choices[0].message.content == "You said: hello"
    assert records.deleted == []
    done = a.chat.completions.create(model="sapient", messages=[answer(call_a.id, "yes")])
    assert done.choices[0].message.content.endswith("deleted 2 records")
    assert records.deleted == [[1, 2]]


def test_concurrent_answers_run_the_call_once_in_every_store(serve_app, host, records,
                                                             store_spec):
    server = start(serve_app, host, records, sessions=store_spec)
    c = client(server, session="race-1")
    [call] = c.chat.completions.create(
        model="sapient", messages=[{"role": "user", "content": ASK}]).choices[0].message.tool_calls

    def approve(_: int) -> str:
        try:
            r = c.chat.completions.create(model="sapient", messages=[answer(call.id, "approve")])
            return r.choices[0].message.content
        except (openai.BadRequestError, openai.ConflictError) as exc:
            return f"refused {exc.status_code}"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(approve, range(4)))
    assert outcomes.count("Done. The tool said: deleted 2 records") == 1, outcomes
    assert all(o.startswith("refused 4") for o in outcomes if not o.startswith("Done")), outcomes
    assert records.deleted == [[1, 2]]


def test_replayed_approvals_reach_the_model_as_what_they_were(serve_app, host, records):
    """Later turns of a stateless conversation: the old 'approve' is not a tool result."""
    seen = []

    def spy(messages, tools, options):
        seen.append([m.content for m in messages if m.role == "tool"])
        return reply(messages, tools, options)

    server = serve_app(ServeConfig(llm=ScriptedLLM(function=spy), tools=[records.tool]), host)
    c = client(server)
    messages = [{"role": "user", "content": ASK}]
    first = c.chat.completions.create(model="sapient", messages=messages).choices[0].message
    messages += [first.model_dump(exclude_none=True), answer(first.tool_calls[0].id, "approve")]
    done = c.chat.completions.create(model="sapient", messages=messages).choices[0].message
    messages += [done.model_dump(exclude_none=True), {"role": "user", "content": "and now?"}]
    later = c.chat.completions.create(model="sapient", messages=messages)
    assert later.choices[0].message.content == "You said: and now?"
    assert seen[-1] == ["Approved by the user; the call ran, and the answer that follows "
                        "reports its result."]
    assert records.deleted == [[1, 2]]
