"""Choosing among tools by likelihood, batched scoring, and the grammar's safety nets
(real Gemma 3 270M, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from sapient import ConfigurationError, Message, Tool
from sapient.connectors.llamacpp import LlamaCppLLM, parse_spec
from sapient.connectors.llamacpp._engine import _log_softmax
from sapient.connectors.llamacpp._grammar import call_arguments_grammar


def _tool(name: str, description: str, **params: str) -> Tool:
    schema = {"type": "object", "properties": {k: {"type": t} for k, t in params.items()},
              "required": list(params)}
    return Tool.from_json_schema(name, description, schema, lambda **kw: kw)


TOOLS = [
    _tool("get_weather", "Get the current weather forecast for a city.", city="string"),
    _tool("add", "Add two integers and return their sum.", a="integer", b="integer"),
    _tool("stock_price", "Look up the latest share price of a company on the stock market.",
          company="string"),
]


@pytest.mark.parametrize(("request_text", "expected"), [
    ("Will it rain in Paris tomorrow?", "get_weather"),
    ("What is 17 plus 25?", "add"),
    ("How much is one Apple share trading for today?", "stock_price"),
])
def test_the_tool_the_request_is_about_is_chosen(local_llm, request_text, expected):
    resp = local_llm.complete([Message.user(request_text)], TOOLS, tool_choice="required",
                              max_tokens=24)
    assert resp.tool_calls[0].name == expected
    scores = resp.raw["choice_scores"]
    assert set(scores) == {t.name for t in TOOLS}
    assert max(scores, key=scores.get) == expected


def test_grammar_choice_remains_available(local_llm):
    llm = LlamaCppLLM(local_llm.model_path, n_ctx=2048, max_tokens=24, choose_tool="grammar")
    resp = llm.complete([Message.user("What is 17 plus 25?")], TOOLS, tool_choice="required")
    assert resp.tool_calls[0].name in {t.name for t in TOOLS}
    assert "choice_scores" not in resp.raw
    assert parse_spec("default?choose_tool=grammar")[1] == {"choose_tool": "grammar"}
    with pytest.raises(ConfigurationError, match="choose_tool='vote'"):
        LlamaCppLLM(local_llm.model_path, choose_tool="vote")


def test_batched_score_equals_step_by_step_log_probabilities(local_llm):
    engine = local_llm._engine
    prefix = engine.tokenize("The capital of France is", add_bos=True)
    continuation = engine.tokenize(" Paris, and the capital of Italy is Rome.", add_bos=False)
    batched = engine.score(prefix, continuation)
    stepwise = 0.0
    for i, token in enumerate(continuation):
        engine._feed(prefix + continuation[:i])
        stepwise += float(_log_softmax(engine._logits())[token])
    # Batched and one-token evaluations use different quantized kernels, so their
    # logits differ slightly (about 0.02 nats per token here); a misaligned position
    # would be off by whole nats.
    assert batched == pytest.approx(stepwise, abs=0.05 * len(continuation))
    # A likely continuation scores higher than an unlikely one of similar length.
    odd = engine.tokenize(" purple, and the capital of Italy is soup.", add_bos=False)
    assert batched > engine.score(prefix, odd)


def _sampler_after(engine, grammar: str, text: str):
    smpl = engine._grammar_sampler(grammar)
    for token in engine.tokenize(text, add_bos=False):
        assert engine._allowed(smpl, token), text
        engine._lib.llama_sampler_accept(smpl, token)
    return smpl


def test_strings_in_calls_cannot_hold_raw_control_characters(local_llm):
    engine = local_llm._engine
    grammar = call_arguments_grammar({"type": "object", "properties": {"note": {"type": "string"}}})
    smpl = _sampler_after(engine, grammar, '{"note": "one')
    try:
        newline = engine.tokenize("\n", add_bos=False)
        escaped = engine.tokenize("\\n", add_bos=False)
        assert len(newline) == 1 and not engine._allowed(smpl, newline[0])
        assert engine._allowed(smpl, escaped[0])
    finally:
        engine._lib.llama_sampler_free(smpl)


def test_a_value_ends_where_the_model_meant_it_to(local_llm):
    """The model wants ',' after a number but no argument is left: the number ends."""
    engine = local_llm._engine
    schema = {"type": "object", "properties": {"top": {"type": "integer"}}, "required": ["top"]}
    smpl = _sampler_after(engine, call_arguments_grammar(schema), '{"top": 5')
    try:
        ids = {t: engine.tokenize(t, add_bos=False)[0] for t in (",", "0", "}")}
        logits = np.full(engine.n_vocab, -20.0, dtype=np.float32)
        logits[ids[","]], logits[ids["0"]], logits[ids["}"]] = 10.0, 9.0, 2.0
        picked = engine._constrained_pick(smpl, ids[","], logits, None, 0.0, 40, 0.95)
        assert engine.piece(picked).lstrip().startswith(b"}")
        # Without that intent (the model wanted another digit), digits stay allowed.
        logits[ids[","]] = -20.0
        assert engine._allowed(smpl, ids["0"])
    finally:
        engine._lib.llama_sampler_free(smpl)
