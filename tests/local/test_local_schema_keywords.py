"""Every JSON-Schema keyword the grammar converter handles, checked in llama.cpp itself.

For each keyword: JSON the schema accepts must be admitted by the grammar, and JSON
it rejects must not be (``jsonschema`` confirms each expectation first, so a wrong
case cannot pass). Keywords a grammar cannot express are caught after decoding.
"""

from __future__ import annotations

import json
import random

import jsonschema
import pytest
from sapient import ConfigurationError, Message, Tool
from sapient.connectors.llamacpp import schema_grammar
from sapient.connectors.llamacpp._connector import argument_problems
from sapient.connectors.llamacpp._schema import NOT_ENFORCED

# (keyword, schema, JSON texts it accepts, JSON texts it rejects)
CASES = [
    ("type", {"type": "integer"}, ["0", "-12"], ['"1"', "1.5", "true"]),
    ("enum", {"enum": ["a", 1, None]}, ['"a"', "1", "null"], ['"b"', "2"]),
    ("const", {"const": "x"}, ['"x"'], ['"y"']),
    ("enum beside a type list", {"type": ["string", "null"], "enum": ["a", None, 3]},
     ['"a"', "null"], ['"c"', "3"]),
    ("type list keeps the other keywords", {"type": ["string", "null"], "maxLength": 2},
     ['"ab"', "null"], ['"abc"']),
    ("minimum/maximum (integer)", {"type": "integer", "minimum": 1, "maximum": 400},
     ["1", "37", "400"], ["0", "401", "-1", "1000"]),
    ("exclusiveMinimum/exclusiveMaximum (integer)",
     {"type": "integer", "exclusiveMinimum": -5, "exclusiveMaximum": -1},
     ["-4", "-2"], ["-5", "-1", "0"]),
    ("minimum/maximum (number)", {"type": "number", "minimum": 0, "maximum": 1},
     ["0", "0.25", "1", "1.0"], ["1.5", "-0.1", "2"]),
    ("fractional exclusive bounds", {"type": "number", "exclusiveMinimum": 0.5,
                                     "maximum": 2.25},
     ["0.51", "1", "2.25"], ["0.5", "0.50", "2.26", "-1"]),
    ("multipleOf", {"type": "integer", "minimum": 0, "maximum": 20, "multipleOf": 5},
     ["0", "15"], ["7", "25"]),
    ("minLength/maxLength", {"type": "string", "minLength": 2, "maxLength": 3},
     ['"ab"', '"abc"'], ['"a"', '"abcd"']),
    ("pattern", {"type": "string", "pattern": "^\\d{2}:\\d{2}$"},
     ['"19:30"'], ['"7pm"', '"1:30"']),
    ("pattern (unanchored)", {"type": "string", "pattern": "C[0-9]{4}"},
     ['"C0042"'], ['"42"']),
    ("pattern (negated class stays JSON)", {"type": "string", "pattern": "^[^,]+$"},
     ['"a b"', '"say \\"hi\\""'], ['"a,b"']),
    ("pattern (alternation, groups)", {"type": "string", "pattern": "^(red|green)(-dark)?$"},
     ['"red"', '"green-dark"'], ['"blue"', '"red-"']),
    ("format: date", {"type": "string", "format": "date"},
     ['"2024-02-29"'], ['"2024-13-01"', '"tomorrow"']),
    ("format: uuid", {"type": "string", "format": "uuid"},
     ['"123e4567-e89b-12d3-a456-426614174000"'], ['"123"']),
    ("items", {"type": "array", "items": {"type": "integer"}}, ["[1, 2]", "[]"], ['["a"]']),
    ("minItems/maxItems", {"type": "array", "items": {"type": "integer"}, "minItems": 1,
                           "maxItems": 2},
     ["[1]", "[1, 2]"], ["[]", "[1, 2, 3]"]),
    ("minItems without items", {"type": "array", "minItems": 2}, ['[1, "x"]'], ["[1]"]),
    ("prefixItems", {"type": "array", "prefixItems": [{"type": "integer"},
                                                      {"type": "string"}]},
     ['[1, "a"]'], ['["a", 1]']),
    ("properties/required", {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "integer"}, "b": {"type": "string"}}},
     ['{"a": 1}', '{"a": 1, "b": "x"}'], ['{"b": "x"}', '{"a": "1"}']),
    ("nested required", {"type": "object", "required": ["p"], "properties": {"p": {
        "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}},
     ['{"p": {"x": 1}}'], ['{"p": {}}']),
    ("additionalProperties: false", {"type": "object", "properties": {
        "a": {"type": "integer"}}, "additionalProperties": False},
     ['{"a": 1}'], ['{"a": 1, "z": 2}']),
    ("additionalProperties: schema", {"type": "object",
                                      "additionalProperties": {"type": "integer"}},
     ['{"k": 1}'], ['{"k": "v"}']),
    ("required names a property not described", {"type": "object", "required": ["id"]},
     ['{"id": 3}'], ["{}"]),
    ("anyOf", {"anyOf": [{"type": "integer", "minimum": 10},
                         {"type": "string", "maxLength": 1}]},
     ["12", '"a"'], ["5", '"ab"']),
    ("oneOf", {"oneOf": [{"type": "integer"}, {"type": "boolean"}]}, ["1", "true"], ['"x"']),
    ("anyOf beside properties", {"type": "object", "properties": {
        "a": {"type": "integer"}, "b": {"type": "integer"}},
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
     ['{"a": 1}', '{"b": 2}'], ["{}"]),
    ("allOf", {"allOf": [{"type": "integer", "minimum": 0}, {"maximum": 5}]},
     ["3"], ["-1", "6"]),
    ("$ref", {"$defs": {"P": {"type": "integer", "maximum": 3}}, "type": "object",
              "properties": {"n": {"$ref": "#/$defs/P"}}, "required": ["n"]},
     ['{"n": 3}'], ['{"n": 4}']),
    ("no type: any value", {"description": "anything"},
     ["1", '"x"', "[1]", '{"a": null}'], []),
    ("strings hold no raw control characters", {"type": "string"},
     ['"a\\nb"'], ['"a\nb"']),
]


def _valid(schema: dict, text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    return jsonschema.Draft202012Validator(schema, format_checker=checker).is_valid(value)


@pytest.mark.parametrize(("keyword", "schema", "good", "bad"), CASES,
                         ids=[c[0] for c in CASES])
def test_grammar_enforces_the_keyword(grammar_accepts, keyword, schema, good, bad):
    grammar = schema_grammar(schema)
    for text in good:
        assert _valid(schema, text), f"test case: {text} should be valid"
        assert grammar_accepts(grammar, text), f"{keyword}: the grammar refused {text}"
    for text in bad:
        assert not _valid(schema, text), f"test case: {text} should be invalid"
        assert not grammar_accepts(grammar, text), f"{keyword}: the grammar admitted {text}"


def test_numeric_bounds_agree_with_jsonschema_on_random_cases(grammar_accepts):
    """Seeded random bounds and values: the grammar admits exactly the valid ones."""
    rng = random.Random(7)
    checked = 0
    for _ in range(40):
        kind = rng.choice(["integer", "number"])
        schema: dict = {"type": kind}
        for key in rng.sample(["minimum", "maximum", "exclusiveMinimum",
                               "exclusiveMaximum"], rng.randint(1, 2)):
            schema[key] = rng.choice([rng.randint(-300, 300), round(rng.uniform(-50, 50), 2)])
        try:
            grammar = schema_grammar(schema)
        except ConfigurationError:  # empty ranges are refused (tested below)
            continue
        for _ in range(12):
            if kind == "integer":
                text = str(rng.randint(-400, 400))
            else:
                text = f"{rng.uniform(-60, 60):.{rng.randint(0, 3)}f}"
            if text.startswith("-0") and float(text) == 0:
                continue  # "-0" is valid JSON that the grammar writes as "0"
            assert grammar_accepts(grammar, text) == _valid(schema, text), (schema, text)
            checked += 1
    assert checked > 300


@pytest.mark.parametrize("schema", [
    {"type": "integer", "minimum": 5, "maximum": 1},
    {"type": "string", "enum": ["a", "b"], "maxLength": 0},
    {"type": "object", "required": ["x"], "additionalProperties": False},
])
def test_a_schema_no_value_satisfies_is_a_clear_error(schema):
    with pytest.raises(ConfigurationError, match="Cannot turn this JSON schema into a grammar"):
        schema_grammar(schema)


def _tool(properties: dict) -> Tool:
    return Tool.from_json_schema("t", "A tool.", {"type": "object", "properties": properties,
                                                  "required": list(properties)},
                                 lambda **kw: kw)


def test_keywords_a_grammar_cannot_express_are_checked_after_decoding(grammar_accepts):
    assert {"uniqueItems", "not", "if"} <= NOT_ENFORCED
    tool = _tool({"tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}})
    assert argument_problems(tool, '{"tags": ["a", "b"]}', "stop", 64) == []
    assert argument_problems(tool, '{"tags": ["a", "a"]}', "stop", 64)
    # A lookahead cannot be written as a grammar: the string stays free, the check stays.
    tool = _tool({"code": {"type": "string", "pattern": "^(?!x)[a-z]+$"}})
    grammar = schema_grammar(tool.parameters)
    assert grammar_accepts(grammar, '{"code": "xyz"}')
    assert argument_problems(tool, '{"code": "xyz"}', "stop", 64)
    assert argument_problems(tool, '{"code": "abc"}', "stop", 64) == []


def test_a_call_cut_by_max_tokens_is_reported_as_cut():
    tool = _tool({"city": {"type": "string"}})
    problems = argument_problems(tool, '{"city": "Par', "length", 8)
    assert "cut at max_tokens=8" in problems[0]
    assert any("not valid JSON" in p for p in problems)


@pytest.mark.slow
@pytest.mark.parametrize(("properties", "question"), [
    ({"level": {"type": "integer", "minimum": 0, "maximum": 10}}, "Turn the volume up to 11."),
    ({"time": {"type": "string", "pattern": "^\\d{2}:\\d{2}$", "description": "HH:MM"}},
     "Book a table at 7pm."),
    ({"room": {"type": ["string", "null"], "enum": ["A", "B", None]}},
     "Schedule the meeting in room C."),
    ({"stars": {"type": "number", "exclusiveMinimum": 0, "maximum": 5}},
     "Rate the movie Cats zero stars."),
])
def test_real_model_calls_keep_the_keyword(local_llm, properties, question):
    """Questions that ask for a value the schema forbids; the call must still be valid."""
    tool = _tool(properties)
    resp = local_llm.complete([Message.user(question)], [tool], tool_choice="t")
    tool.validate(resp.tool_calls[0].arguments)
    assert "argument_problems" not in resp.raw


@pytest.mark.slow
def test_real_model_call_breaking_an_unenforced_keyword_is_reported(local_llm):
    tool = _tool({"city": {"type": "string", "not": {"const": "Paris"}}})
    resp = local_llm.complete([Message.user("What is the weather in Paris?")], [tool],
                              tool_choice="t")
    assert json.loads(resp.tool_calls[0].arguments_json()) == {"city": "Paris"}
    assert resp.raw["argument_problems"]  # the grammar let it through; the check did not
