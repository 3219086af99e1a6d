"""Memory against amnesia over the server: a session kept under ``memory_tokens``
answers, at turn 200, facts the user stated at turn 1, and no model call is sent more
than the budget; the same server keeping only its last messages forgets them."""

from __future__ import annotations

import sys
from pathlib import Path

import openai
import pytest
from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.serve import ServeConfig
from sapient.plugins.serve._sessions import SessionState

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "robust"))
from robust_dialog import QUESTIONS, SYSTEM, brain, dialog_messages, lookup, sent_tokens  # noqa: E402

BUDGET = 1200


def _dialog(server_url: str, session: str, turns: int) -> dict[str, str]:
    """The robust dialog's turns sent to the server, one request each, in one session."""
    client = openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused", max_retries=0)
    answers: dict[str, str] = {}
    for text in dialog_messages(turns):
        reply = client.chat.completions.create(
            model="sapient", messages=[{"role": "user", "content": text}],
            extra_headers={"X-Sapient-Session": session})
        answers[text] = reply.choices[0].message.content or ""
    return {q: answers[q] for q, _, _ in QUESTIONS}


def _first_calls(llm: ScriptedLLM) -> list[int]:
    """Tokens sent on each turn's first model call (summary calls left out)."""
    return [sent_tokens(c.messages) for c in llm.calls
            if c.messages[-1].role == "user" and c.messages[0].content == SYSTEM]


@pytest.mark.slow
def test_a_200_turn_session_stays_in_budget_and_recalls_turn_1(serve_app, host) -> None:
    llm = ScriptedLLM(function=brain)
    server = serve_app(ServeConfig(llm=llm, tools=[lookup], system_prompt=SYSTEM,
                                   memory_tokens=BUDGET), host)
    answers = _dialog(server.url, "long-chat", 200)
    assert answers == {q: f"It is {a}." for q, _, a in QUESTIONS}
    sent = _first_calls(llm)
    assert len(sent) >= 200 and max(sent) <= BUDGET
    assert any(c.messages[0].content != SYSTEM for c in llm.calls)  # summaries were written


def test_without_memory_a_trimmed_session_forgets(serve_app, host) -> None:
    """The same dialog with only the last 40 messages kept: turn 1 is gone (the test bites)."""
    llm = ScriptedLLM(function=brain)
    server = serve_app(ServeConfig(llm=llm, tools=[lookup], system_prompt=SYSTEM,
                                   max_session_messages=40), host)
    answers = _dialog(server.url, "short-memory", 60)
    assert set(answers.values()) == {"I do not know."}


def test_memory_state_survives_a_session_store_round_trip() -> None:
    state = SessionState([{"role": "user", "content": "hi"}], [], 3, {"summary": "s"})
    again = SessionState.loads(state.dumps())
    assert again.memory == {"summary": "s"} and again.version == 3
    assert SessionState.loads('{"messages": [], "version": 1}').memory is None


def test_a_budget_too_small_is_refused() -> None:
    from sapient import ConfigurationError

    with pytest.raises(ConfigurationError, match="memory_tokens"):
        ServeConfig(memory_tokens=10).check()


def test_an_approval_in_a_session_with_memory(serve_app, host) -> None:
    """A call paused for approval resumes in a memory-kept session, and the turn (call,
    result, answer) is in the memory the next turn is built from."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_serve_approvals import ASK, Records, answer, client, reply

    records = Records()
    llm = ScriptedLLM(function=reply, name="scripted:delete")
    server = serve_app(ServeConfig(llm=llm, tools=[records.tool], memory_tokens=800), host)
    c = client(server, session="mem-approve")
    first = c.chat.completions.create(model="sapient", messages=[{"role": "user", "content": ASK}])
    [call] = first.choices[0].message.tool_calls
    done = c.chat.completions.create(model="sapient", messages=[answer(call.id, "approve")])
    assert done.choices[0].message.content == "Done. The tool said: deleted 2 records"
    assert records.deleted == [[1, 2]]
    later = c.chat.completions.create(model="sapient", messages=[
        {"role": "user", "content": "thanks"}])
    assert later.choices[0].message.content == "You said: thanks"
    sent = llm.calls[-1].messages
    assert [m.content for m in sent if m.role == "user"] == [ASK, "thanks"]
    assert any(m.role == "tool" and m.content == "deleted 2 records" for m in sent)
    assert records.deleted == [[1, 2]]  # nothing ran twice
