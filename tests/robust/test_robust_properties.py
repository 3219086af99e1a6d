"""Property-based tests: whatever a model, a file or a user sends, the answer is a value
or one plain SapientError, never a raw exception."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sapient import Agent, SapientError, Tool, ToolArgumentError, ToolDefinitionError, tool
from sapient.connectors.scripted import ScriptedLLM

FAST = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
)
names = st.sampled_from(["query", "k", "xs", "opt", "mode", "nested", "other", ""])
argument_dicts = st.dictionaries(names | st.text(max_size=6), json_values, max_size=6)
raw_arguments = (argument_dicts | json_values
                 | argument_dicts.map(json.dumps) | st.text(max_size=60)
                 | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))


def plain(message: str) -> bool:
    """One readable message: not empty, no traceback, no repr of an exception class."""
    return bool(message.strip()) and "Traceback" not in message and "Error(" not in message


@tool
def typed(query: str, k: int = 3, xs: list[float] | None = None,
          opt: dict[str, int] | None = None, mode: Literal["a", "b"] = "a") -> str:
    """A tool with the usual argument types.

    Args:
        query: text.
        k: how many.
        xs: numbers.
        opt: options.
        mode: a choice.
    """
    return query


SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "pattern": "^[a-z ]+$"},
        "k": {"type": "integer", "minimum": 1, "maximum": 10},
        "xs": {"type": "array", "items": {"type": "number"}, "maxItems": 3},
        "mode": {"enum": ["a", "b"]},
        "nested": {"type": "object", "properties": {"deep": {"$ref": "#/$defs/leaf"}}},
    },
    "required": ["query"],
    "$defs": {"leaf": {"type": ["string", "null"]}},
}
schema_tool = Tool.from_json_schema("schema_tool", "A tool from a JSON schema.", SCHEMA,
                                    lambda **kw: kw)


@FAST
@given(raw_arguments)
def test_typed_tool_validation_returns_arguments_or_one_clear_error(arguments) -> None:
    for t in (typed, schema_tool):
        try:
            out = t.validate(arguments)
        except ToolArgumentError as exc:
            assert plain(str(exc)) and exc.problems
        else:
            assert isinstance(out, dict)


schema_keywords = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["object", "string", "integer", "number", "array", "boolean",
                             "null", "dict", "float", "tuple", "any", "bogus"])
    | st.lists(st.sampled_from(["string", "integer", "null", "any"]), max_size=3),
    "minimum": st.integers(-5, 5) | st.text(max_size=3),
    "maxLength": st.integers(-2, 5),
    "pattern": st.sampled_from(["^a+$", "(", "[z-a]", "\\", "a{2,1}", ".*"]),
    "enum": st.lists(json_scalars, max_size=3),
    "format": st.sampled_from(["date-time", "email", "regex", "uri", "nonsense"]),
    "$ref": st.sampled_from(["#/$defs/x", "#/nowhere", "http://example.invalid/s.json"]),
    "items": st.just({"type": "integer"}) | st.just(True) | st.just({"$ref": "#/bad"}),
    "required": st.lists(st.text(max_size=4), max_size=2) | st.just("query"),
})
schemas = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["object", "dict", "string", "any"]),
    "properties": st.dictionaries(names, schema_keywords, max_size=4) | st.just([1]),
    "required": st.lists(names, max_size=3),
    "additionalProperties": st.booleans() | schema_keywords,
    "$defs": st.fixed_dictionaries({"x": schema_keywords}),
}) | st.none() | st.lists(st.integers(), max_size=2)


@FAST
@given(schemas, raw_arguments)
def test_tools_from_any_schema_build_or_say_why_then_validate(schema, arguments) -> None:
    try:
        t = Tool.from_json_schema("t", "from a schema", schema, lambda **kw: kw)
    except ToolDefinitionError as exc:
        assert plain(str(exc))
        return
    try:
        out = t.validate(arguments)
    except (ToolArgumentError, ToolDefinitionError) as exc:  # bad input / a broken $ref
        assert plain(str(exc))
    else:
        assert isinstance(out, dict)


@pytest.mark.parametrize("ref", ["#/nowhere", "#/$defs/missing", "http://example.invalid/s"])
def test_a_schema_reference_that_does_not_resolve_is_named(ref: str) -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": ref}}}
    t = Tool.from_json_schema("t", "d", schema, lambda **kw: kw)
    with pytest.raises(ToolDefinitionError, match="does not resolve"):
        t.validate({"a": 1})
    llm = ScriptedLLM([{"tool": "t", "args": {"a": 1}}, "done"])
    result = Agent(llm, tools=[t]).run("go")  # fed back to the model, the run goes on
    assert result.ok and "does not resolve" in result.tool_calls[0].error


def _nested(depth: int) -> dict:
    value: object = "leaf"
    for _ in range(depth):
        value = {"deeper": value}
    return {"query": "x", "opt": value}


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_arguments_are_fed_back_not_raised(depth: int) -> None:
    nested = _nested(depth)
    as_text = '{"query": "x", "opt": ' + '{"deeper": ' * depth + '"leaf"' + "}" * depth + "}"
    for arguments in (as_text, nested) if depth <= 1_000 else (as_text,):
        llm = ScriptedLLM([{"tool": "typed", "args": {}}, "done"])
        llm._replies[0] = {"tool": "typed", "args": arguments}
        result = Agent(llm, tools=[typed]).run("go")
        assert result.ok, result.error
        assert result.tool_calls[0].error and plain(result.tool_calls[0].error)


# -- the calculator --------------------------------------------------------------------

def test_the_calculator_refuses_huge_powers_before_computing() -> None:
    from sapient.plugins.functions import calculator

    for expression in ["((9**999)**999)**999", "9**999 * 9**999 * 9**999 * 9**999 * 9**999",
                       "2**999**999", "10.0**1000", "exp(100000)", "(" * 5000 + "1" + ")" * 5000,
                       "-" * 100_000 + "1", "1" + "+1" * 100_000, "9" * 5000 + "**2"]:
        out = calculator(expression)
        assert out.startswith("Error:") and plain(out), (expression[:40], out)
    assert calculator("2**10") == "1024" and calculator("sqrt(16)") == "4.0"


arithmetic = st.recursive(
    st.integers(-10**6, 10**6).map(str) | st.sampled_from(["pi", "e", "0.5", "1e308"]),
    lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]),
                            inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    | inner.map(lambda x: f"sqrt({x})") | inner.map(lambda x: f"exp({x})")
    | inner.map(lambda x: f"-{x}"),
    max_leaves=12,
)


@FAST
@given(arithmetic | st.text(alphabet=string.printable, max_size=40))
def test_the_calculator_answers_or_explains_any_expression(expression: str) -> None:
    from sapient.plugins.functions import calculator

    out = calculator(expression)
    assert isinstance(out, str) and out
    if out.startswith("Error:"):
        assert plain(out)


# -- file loaders ----------------------------------------------------------------------

suffixes = st.sampled_from([".txt", ".md", ".html", ".htm", ".pdf", ".rst"])
file_bytes = (st.binary(max_size=300)
              | st.text(max_size=300).map(lambda s: s.encode("utf-8"))
              | st.text(max_size=300).map(lambda s: s.encode("utf-16"))
              | st.sampled_from([b"%PDF-1.4\n", b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\ntrailer\n<<>>\n",
                                 b"<html><title>t</title><body>x</body></html>", b"\x00" * 64,
                                 b"<<<>>>", b"# h\n\n## i\n\n" * 5]))


@FAST
@given(suffixes, file_bytes)
def test_any_file_reads_into_sections_or_one_clear_error(tmp_path: Path, suffix: str,
                                                         data: bytes) -> None:
    pytest.importorskip("bs4")
    pytest.importorskip("pypdf")
    from sapient.plugins.retrieval._loaders import Chunker, read_file

    path = tmp_path / f"doc{suffix}"
    path.write_bytes(data)
    try:
        sections = read_file(path)
    except SapientError as exc:
        assert plain(str(exc))
        return
    chunker = Chunker(100, 10)
    for section in sections:
        assert isinstance(section.text, str)
        assert "\x00" not in section.text
        chunker.split(section)


# -- the anomaly CSV reader ----------------------------------------------------------

csv_cells = (st.integers(-1000, 1000).map(str) | st.floats(allow_nan=True).map(str)
             | st.sampled_from(["", "nan", "NaN", "inf", "-inf", "x", "2024-05-01", "1e400",
                                "2024-13-45 99:99", '"', "a,b", "\x00", "ä", "1_000"]))
csv_rows = st.lists(st.lists(csv_cells, min_size=1, max_size=4), max_size=30)
csv_headers = st.lists(st.sampled_from(["value", "timestamp", "time", "x", "", "value", "ä"]),
                       min_size=1, max_size=4)


@FAST
@given(csv_headers, csv_rows, st.sampled_from([None, "value", "missing"]),
       st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_any_csv_gives_a_series_or_one_clear_error(tmp_path: Path, header, rows, column,
                                                   encoding) -> None:
    pytest.importorskip("pandas")
    from sapient.plugins.anomaly._input import load_series

    text = "\n".join(",".join(r) for r in [header, *rows])
    path = tmp_path / "series.csv"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        assume(False)
    try:
        series = load_series(path, column=column)
    except SapientError as exc:
        assert plain(str(exc))
    else:
        assert len(series) > 0


@FAST
@given(st.binary(max_size=400))
def test_binary_bytes_as_a_csv_give_a_series_or_one_clear_error(tmp_path: Path,
                                                                data: bytes) -> None:
    pytest.importorskip("pandas")
    from sapient.plugins.anomaly._input import load_series

    path = tmp_path / "blob.csv"
    path.write_bytes(data)
    try:
        load_series(path)
    except SapientError as exc:
        assert plain(str(exc))
