"""Memory against amnesia: a long conversation stays under its token budget and the
facts the user stated at the start are still answered at the end."""

from __future__ import annotations

import asyncio
import json

import pytest
from robust_dialog import FACTS, QUESTIONS, SYSTEM, brain, run_dialog, sent_tokens
from sapient import Agent, ConversationMemory, LLMError, Message, SapientError
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.memory import BM25, estimate_tokens

BUDGET = 1200


def _expected() -> dict[str, str]:
    return {q: f"It is {a}." for q, _, a in QUESTIONS}


def test_200_turns_stay_under_budget_and_recall_turn_1_facts() -> None:
    run = run_dialog(ConversationMemory(BUDGET))
    assert len(run.tokens) == 200
    assert max(run.tokens) <= BUDGET
    assert run.answers == _expected()
    assert run.summary_calls > 0  # old turns were summarised by the agent's own LLM


def test_without_memory_the_context_grows_past_the_budget() -> None:
    run = run_dialog(None)
    assert run.tokens[-1] > 10 * BUDGET  # what the memory saves
    assert run.answers == _expected()


def test_a_plain_sliding_window_forgets_what_recall_keeps() -> None:
    """The same budget without recall or summary loses turn 1: the dialog is a real test."""
    window = run_dialog(ConversationMemory(BUDGET, summarize=False, recall_share=0))
    assert max(window.tokens) <= BUDGET
    assert set(window.answers.values()) == {"I do not know."}


def test_trimming_instead_of_summaries_still_recalls_turn_1() -> None:
    run = run_dialog(ConversationMemory(BUDGET, summarize=False))
    assert run.summary_calls == 0
    assert max(run.tokens) <= BUDGET
    assert run.answers == _expected()


def test_a_model_that_cannot_write_is_trimmed_not_asked_to_summarise() -> None:
    llm = ScriptedLLM(["unused"])
    llm.writes_answers = False  # type: ignore[attr-defined]
    memory = ConversationMemory(BUDGET)
    memory.add([Message.user(FACTS[0]), Message.assistant("Nice to meet you.")])
    for i in range(100):
        memory.add([Message.user(f"Tell me about topic {i}, in a few words please."),
                     Message.assistant("It is a topic. " * 8)])
    history = memory.context(QUESTIONS[0][0], llm)
    assert llm.calls == [] and memory.summary == "" and memory.folded > 0
    assert "Biscuit" in history[0].content
    assert memory.last_context_tokens <= BUDGET


def test_the_summary_reaches_the_model_and_stays_within_its_share() -> None:
    def summariser(messages, tools, options):
        if "keep the memory" in (messages[0].content or ""):
            return "SUMMARY: the user likes sailing. " + "filler " * 2000
        return "ok"

    llm = ScriptedLLM(function=summariser)
    memory = ConversationMemory(400)
    session = Agent(llm, system_prompt=SYSTEM).chat(memory=memory)
    for i in range(40):
        session.send(f"Message number {i} about nothing in particular, with some words.")
    assert memory.summary.startswith("SUMMARY: the user likes sailing.")
    assert estimate_tokens(memory.summary) <= 400 * memory.summary_share
    last = llm.calls[-1].messages
    note = [m for m in last if m.role == "system" and m.content != SYSTEM]
    assert note and "the user likes sailing" in note[0].content
    assert sent_tokens(last) <= 400


def test_the_llm_tokenizer_is_used_when_it_has_one() -> None:
    counted: list[str] = []

    class Tokenized(ScriptedLLM):
        def count_tokens(self, text: str) -> int:
            counted.append(text)
            return 2 * len(text.split())

    llm = Tokenized(function=lambda m, t, o: "a b c d e f g h")
    memory = ConversationMemory(300, summarize=False)
    session = Agent(llm).chat(memory=memory)
    for i in range(30):
        session.send(f"turn {i} " + "word " * 10)
        assert memory.last_context_tokens <= 300
    assert counted
    # by the estimate (chars / 4) far less would have been folded away
    assert memory.folded > 0 and len(memory.turns) < 10


def test_a_failing_summary_call_keeps_the_conversation_going() -> None:
    def flaky(messages, tools, options):
        if "keep the memory" in (messages[0].content or ""):
            raise LLMError("the model server is down")
        return brain(messages, tools, options)

    llm = ScriptedLLM(function=flaky)
    memory = ConversationMemory(300)
    session = Agent(llm, system_prompt=SYSTEM).chat(memory=memory)
    session.send(FACTS[0])
    for i in range(30):
        assert session.send(f"Tell me about topic {i}. Nothing else.").ok
    assert memory.folded > 0 and memory.summary == ""
    assert session.send(QUESTIONS[0][0]).answer == "It is Biscuit."


def test_recent_turns_start_with_a_user_message_so_tool_results_keep_their_call() -> None:
    memory = ConversationMemory(BUDGET)
    run_dialog(memory, turns=60)
    for turn in memory.turns:
        assert turn[0].role == "user"
    ids = {c.id for m in memory.messages() for c in m.tool_calls}
    assert all(m.tool_call_id in ids for m in memory.messages() if m.role == "tool")


def test_state_survives_a_json_round_trip() -> None:
    memory = ConversationMemory(BUDGET)
    run_dialog(memory, turns=80)
    data = json.loads(json.dumps(memory.to_dict()))
    restored = ConversationMemory.from_dict(data, budget_tokens=BUDGET)
    assert restored.to_dict() == memory.to_dict()
    question = QUESTIONS[0][0]
    llm = ScriptedLLM(function=brain)
    history = restored.context(question, llm)
    result = Agent(llm, system_prompt=SYSTEM).run(question, history=history)
    restored.add_result(result, history)
    assert result.answer == "It is Biscuit."
    assert restored.turns[-1][0].content == question


def test_async_and_streaming_sessions_use_the_memory() -> None:
    llm = ScriptedLLM(function=brain)
    memory = ConversationMemory(300)
    session = Agent(llm, system_prompt=SYSTEM).chat(memory=memory)

    async def talk() -> None:
        await session.asend(FACTS[0])
        for i in range(20):
            await session.asend(f"Tell me about topic {i}. Nothing more to say.")

    asyncio.run(talk())
    assert memory.folded > 0
    events = list(session.stream(QUESTIONS[0][0]))
    assert events[-1].text == "It is Biscuit."
    assert memory.turns[-1][0].content == QUESTIONS[0][0]


def test_recall_needs_a_real_match_not_one_common_word() -> None:
    memory = ConversationMemory(BUDGET, summarize=False)
    memory.add([Message.user("My dog is called Biscuit."), Message.assistant("Nice.")])
    for i in range(30):
        memory.add([Message.user(f"My plan for day {i} is rest."), Message.assistant("ok")])
    memory.context("x " * 2000)  # a huge message folds everything into the archive
    assert memory.folded == 31
    note = memory.context("What is my dog called?")[0].content
    assert "Biscuit" in note and "day 3 " not in note


def test_bm25_ranks_rare_shared_words_first() -> None:
    index = BM25()
    for text in ["my dog Biscuit", "my plan", "my lunch", "the cat"]:
        index.add(text)
    scores = index.scores("what is my dog called")
    assert scores[0] > scores[1] == scores[2] > scores[3] == 0


def test_estimate_counts_non_ascii_characters_one_each() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("日本語") == 3


def test_bad_settings_say_what_to_fix() -> None:
    with pytest.raises(SapientError, match="at least 64"):
        ConversationMemory(10)
    with pytest.raises(SapientError, match="less than 1"):
        ConversationMemory(1000, summary_share=0.6, recall_share=0.5)
