"""Prompt building and grammar helpers of the llamacpp connector (no model needed)."""

from __future__ import annotations

import json

import pytest
from sapient import ConfigurationError, Message, ToolCall, tool
from sapient.connectors.llamacpp._grammar import (
    call_arguments_grammar,
    choice_grammar,
    digits_grammar,
    json_complete,
    prepare_schema,
)
from sapient.connectors.llamacpp._prompt import PromptFormat, normalise, render_tools


@tool
def lookup(city: str, unit: str = "celsius", days: list[int] | None = None) -> str:
    """Look up the weather.

    Args:
        city: the city.
        unit: celsius or fahrenheit.
        days: which days ahead.
    """
    return "ok"


def test_normalise_makes_plain_alternating_turns():
    msgs = [
        Message.system("Be brief."),
        Message.user("Weather in Rome?"),
        Message.assistant(None, [ToolCall("lookup", {"city": "Rome"}, "c1")]),
        Message.tool("sunny", tool_call_id="c1", name="lookup"),
        Message.tool("windy", tool_call_id="c2", name="lookup"),
        Message.user("And tomorrow?"),
    ]
    turns = normalise(msgs, "TOOLS")
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user"]
    assert turns[0]["content"] == "Be brief.\n\nTOOLS"
    assert json.loads(turns[2]["content"]) == {"name": "lookup", "arguments": {"city": "Rome"}}
    assert turns[3]["content"] == ("Result of lookup: sunny\n\nResult of lookup: windy"
                                   "\n\nAnd tomorrow?")


def test_gemma_format_merges_the_system_turn():
    fmt = PromptFormat("gemma", bos="<bos>")
    text = fmt.render([{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
                       {"role": "assistant", "content": "A"}])
    assert text == ("<bos><start_of_turn>user\nS\n\nU<end_of_turn>\n"
                    "<start_of_turn>model\nA<end_of_turn>\n<start_of_turn>model\n")
    assert "<end_of_turn>" in fmt.stop


def test_template_from_metadata_and_unknown_formats():
    class FakeLlama:
        metadata = {"tokenizer.chat_template":
                    "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
                    "{% if add_generation_prompt %}[assistant]{% endif %}"}

        def token_bos(self) -> int:
            return -1

        def token_eos(self) -> int:
            return -1

    fmt = PromptFormat.for_model(FakeLlama())
    assert fmt.name == "template"
    assert fmt.render([{"role": "user", "content": "hi"}]) == "[user]hi[assistant]"
    with pytest.raises(ConfigurationError, match="Unknown chat_format"):
        PromptFormat.for_model(FakeLlama(), "alpaca")


def test_tools_are_listed_as_signatures():
    text = render_tools([lookup], allow_answer=True)
    assert "- lookup(city: string, unit: string (optional), days: " in text
    assert "    city: the city." in text
    assert '"answer"' in text
    assert '"answer"' not in render_tools([lookup], allow_answer=False)


def test_schema_is_tightened_for_generation():
    schema = prepare_schema(lookup.parameters)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["city"]["maxLength"] == 160
    assert lookup.parameters["properties"]["city"].get("maxLength") is None  # a copy


def test_untyped_arguments_accept_any_json_value():
    """BFCL's ``any`` parameters arrive as a schema with only a description."""
    params = {"type": "object", "properties": {"data": {"description": "training data"}},
              "required": ["data"]}
    assert "type" not in prepare_schema(params)["properties"]["data"]  # left to the converter
    grammar = call_arguments_grammar(params)  # the stock converter refused this schema
    data_rule = next(line for line in grammar.splitlines() if line.startswith("data ::="))
    assert data_rule == "data ::= value"
    value_rule = next(line for line in grammar.splitlines() if line.startswith("value ::="))
    assert "string" in value_rule and "number" in value_rule and "null" in value_rule


def test_grammars_have_the_expected_shape():
    assert choice_grammar(["a.b", "answer"]) == 'root ::= ("a.b" | "answer") "\\""\n'
    g = call_arguments_grammar(lookup.parameters)
    assert g.rstrip().endswith('root ::= call-arguments "}"')
    assert g.count("root ::=") == 1
    assert digits_grammar(separator=",", max_items=3) == (
        'root ::= num ("," num){0,2}\nnum ::= [0-9]+\n')
    with pytest.raises(ConfigurationError):
        choice_grammar([])


@pytest.mark.parametrize(("text", "whole"), [
    ('{"a": 1}', True), ('{"a": 1', False), ('"x"', True), ("12", False), ("", False),
    ('{"a": "}"', False),
])
def test_json_complete(text, whole):
    assert json_complete(text) is whole
