"""@tool schema building, definition errors, Tool.from_json_schema, argument
validation and deterministic serialization."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field
from sapient import Tool, ToolArgumentError, ToolDefinitionError, ToolOutput, tool
from sapient.core.tools import parse_docstring, serialize_result


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip_code: int


class Order(BaseModel):
    item: str
    quantity: int = 1
    ship_to: Address


@tool
def everything(
    name: str,
    count: int,
    ratio: float,
    flag: bool,
    mode: Literal["fast", "slow"],
    color: Color,
    maybe: int | None,
    tags: list[str],
    weights: dict[str, float],
    order: Order,
    note: Annotated[str, Field(description="free text for the log")] = "none",
    limit: int = 5,
) -> str:
    """Exercise every supported kind of parameter.

    A second paragraph that also belongs to the description.

    Args:
        name: who is asking.
        count: how many items
            to return (continued line).
        flag (bool): whether to shout.
        order: the order to place.

    Returns:
        A summary line (not part of any argument).
    """
    return f"{name}:{count}:{ratio}:{flag}:{mode}:{color.value}:{maybe}:{tags}:{order.item}"


def props() -> dict:
    return everything.parameters["properties"]


# --- schema building ------------------------------------------------------------------


def test_name_and_description_come_from_the_function():
    assert everything.name == "everything"
    assert everything.description.startswith("Exercise every supported kind of parameter.")
    assert "second paragraph" in everything.description
    assert "Returns" not in everything.description


def test_scalar_types_map_to_json_types():
    p = props()
    assert p["name"]["type"] == "string"
    assert p["count"]["type"] == "integer"
    assert p["ratio"]["type"] == "number"
    assert p["flag"]["type"] == "boolean"


def test_literal_and_enum_become_enums():
    p = props()
    assert p["mode"]["enum"] == ["fast", "slow"]
    ref = p["color"]["$ref"].rsplit("/", 1)[-1]
    assert everything.parameters["$defs"][ref]["enum"] == ["red", "blue"]


def test_optional_list_dict_and_nested_models():
    p = props()
    assert {"type": "null"} in p["maybe"]["anyOf"]
    assert {"type": "integer"} in p["maybe"]["anyOf"]
    assert p["tags"] == {"type": "array", "items": {"type": "string"}}
    assert p["weights"]["type"] == "object"
    assert p["weights"]["additionalProperties"] == {"type": "number"}
    defs = everything.parameters["$defs"]
    order_ref = p["order"]["$ref"].rsplit("/", 1)[-1]
    assert defs[order_ref]["required"] == ["item", "ship_to"]
    assert "Address" in defs


def test_defaults_and_required():
    p = props()
    assert p["limit"]["default"] == 5
    assert p["note"]["default"] == "none"
    required = set(everything.parameters["required"])
    assert {"name", "count", "maybe", "order"} <= required
    assert not {"limit", "note"} & required
    assert everything.parameters["additionalProperties"] is False


def test_descriptions_from_docstring_args_and_annotated():
    p = props()
    assert p["name"]["description"] == "who is asking."
    assert p["count"]["description"] == "how many items to return (continued line)."
    assert p["flag"]["description"] == "whether to shout."
    assert p["note"]["description"] == "free text for the log"
    assert "description" not in p["ratio"]
    assert "title" not in p["name"]


def test_openai_spec_shape():
    spec = everything.spec()
    assert spec["type"] == "function"
    assert spec["function"]["name"] == "everything"
    assert spec["function"]["parameters"] is everything.parameters


def test_decorator_options_and_still_callable():
    @tool(name="lookup", description="Find it.", timeout=2.5)
    def find(q: str) -> str:
        return q.upper()

    assert (find.name, find.description, find.timeout) == ("lookup", "Find it.", 2.5)
    assert find("x") == "X"


def test_async_function_is_marked_async():
    @tool
    async def later(x: int) -> int:
        """Later."""
        return x

    assert later.is_async


def test_parse_docstring_sections():
    desc, args = parse_docstring(
        """Summary.

        Args:
            a: first.
            b (int): second
                and more.

        Raises:
            ValueError: not an argument.
        """
    )
    assert desc == "Summary."
    assert args == {"a": "first.", "b": "second and more."}


# --- schema problems fail at registration ---------------------------------------------


class NotJson:
    pass


def test_missing_type_hint_is_rejected_with_fix():
    def f(x):  # noqa: ANN001
        return x

    with pytest.raises(ToolDefinitionError, match=r"Parameter 'x' of tool 'f' has no type hint"):
        tool(f)


def test_var_args_are_rejected():
    def f(*items: int) -> int:
        return 0

    with pytest.raises(ToolDefinitionError, match=r"takes \*items"):
        tool(f)


def test_unsupported_type_names_the_parameter():
    def f(a: int, thing: NotJson) -> int:
        return a

    with pytest.raises(ToolDefinitionError) as info:
        tool(f)
    msg = str(info.value)
    assert "parameter 'thing'" in msg and "NotJson" in msg
    assert "JSON-friendly types" in msg
    assert info.value.tool == "f"


def test_unresolvable_annotation_is_rejected():
    def f(a: DoesNotExist) -> int:  # noqa: F821
        return 0

    with pytest.raises(ToolDefinitionError, match="Cannot read the type hints"):
        tool(f)


def test_invalid_tool_name_is_rejected():
    with pytest.raises(ToolDefinitionError, match="is not valid"):
        tool(name="has space")(lambda x: x)


# --- validation -----------------------------------------------------------------------

GOOD = {
    "name": "ann", "count": 2, "ratio": 0.5, "flag": True, "mode": "fast", "color": "red",
    "maybe": None, "tags": ["a"], "weights": {"w": 1.5},
    "order": {"item": "pen", "ship_to": {"street": "Main", "zip_code": 12345}},
}


def test_valid_arguments_are_coerced_to_python_types():
    args = everything.validate(json.dumps(GOOD))
    assert args["color"] is Color.RED
    assert isinstance(args["order"], Order)
    assert args["order"].ship_to.zip_code == 12345
    assert args["limit"] == 5 and args["note"] == "none"
    assert everything.invoke(args) == "ann:2:0.5:True:fast:red:None:['a']:pen"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"count": "many"}, "'count': Input should be a valid integer"),
        ({"mode": "medium"}, "'mode': Input should be 'fast' or 'slow'"),
        ({"color": "green"}, "'color'"),
        ({"tags": "a"}, "'tags': Input should be a valid list"),
        ({"order": {"item": "pen", "ship_to": {"street": "Main", "zip_code": "x"}}},
         "'order.ship_to.zip_code'"),
        ({"surprise": 1}, "'surprise' is not a parameter of this tool; remove it"),
    ],
)
def test_invalid_arguments_are_reported_precisely(change, expected):
    with pytest.raises(ToolArgumentError) as info:
        everything.validate({**GOOD, **change})
    assert expected in str(info.value)
    assert info.value.tool == "everything"
    assert "call it again" in str(info.value)


def test_missing_arguments_are_each_named():
    with pytest.raises(ToolArgumentError) as info:
        everything.validate({"name": "x"})
    assert "'count' is required but missing" in info.value.problems
    assert "'order' is required but missing" in info.value.problems
    assert not any("'limit'" in p for p in info.value.problems)


@pytest.mark.parametrize("raw", ['{"a": 1,', "[1, 2]", '"text"', "nope"])
def test_malformed_json_is_reported(add_tool, raw):
    with pytest.raises(ToolArgumentError) as info:
        add_tool.validate(raw)
    msg = str(info.value)
    assert "not valid JSON" in msg or "must be a JSON object" in msg


def test_empty_arguments_mean_no_arguments():
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    assert ping.validate("") == {} and ping.validate(None) == {}
    assert ping.parameters["properties"] == {}


# --- Tool.from_json_schema --------------------------------------------------------------


def test_from_json_schema_validates_with_jsonschema():
    seen = {}

    def fn(**kw):
        seen.update(kw)
        return "done"

    t = Tool.from_json_schema(
        "weather.get",
        "Weather for a city.",
        {"type": "object", "properties": {"city": {"type": "string"},
                                          "days": {"type": "integer", "minimum": 1}},
         "required": ["city"]},
        fn,
    )
    assert t.validate('{"city": "Oslo", "days": 2}') == {"city": "Oslo", "days": 2}
    assert t.invoke({"city": "Oslo"}) == "done" and seen == {"city": "Oslo"}
    with pytest.raises(ToolArgumentError) as info:
        t.validate({"days": 0, "extra": True})
    msg = str(info.value)
    assert "'city' is a required property" in msg
    assert "'days': 0 is less than the minimum of 1" in msg
    assert "'extra' was unexpected" in msg


def test_from_json_schema_normalises_bfcl_types():
    t = Tool.from_json_schema(
        "f", "", {"type": "dict", "properties": {
            "x": {"type": "float"}, "pts": {"type": "tuple", "items": {"type": "integer"}},
            "anything": {"type": "any"}, "opts": {"type": "dict"}}, "required": ["x"]},
        lambda **kw: kw,
    )
    assert t.parameters["type"] == "object"
    assert t.parameters["properties"]["x"]["type"] == "number"
    assert t.validate({"x": 1, "pts": [1, 2], "anything": [None], "opts": {}})["x"] == 1
    with pytest.raises(ToolArgumentError, match="'x': 'a' is not of type 'number'"):
        t.validate({"x": "a"})


def test_from_json_schema_keeps_a_property_named_type():
    t = Tool.from_json_schema(
        "f", "", {"type": "dict", "properties": {"type": {"type": "string"}},
                  "required": ["type"]}, lambda **kw: kw)
    assert t.validate({"type": "violent"}) == {"type": "violent"}
    with pytest.raises(ToolArgumentError):
        t.validate({"type": 3})


def test_from_json_schema_rejects_bad_schemas():
    with pytest.raises(ToolDefinitionError, match="must describe an object"):
        Tool.from_json_schema("f", "", {"type": "string"}, print)
    with pytest.raises(ToolDefinitionError, match="is invalid"):
        Tool.from_json_schema("f", "", {"type": "object", "properties": {"a": {"type": 5}}},
                              print)
    with pytest.raises(ToolDefinitionError, match="must be a JSON schema object"):
        Tool.from_json_schema("f", "", ["not", "a", "schema"], print)  # type: ignore[arg-type]


def test_from_json_schema_can_pass_one_dict():
    t = Tool.from_json_schema("f", "", {"type": "object", "properties": {"a": {}}},
                              lambda args: sorted(args), pass_arguments_as_dict=True)
    assert t.invoke(t.validate({"a": 1})) == ["a"]


# --- serialization ----------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    y: int
    x: int


def test_serialization_is_deterministic():
    assert serialize_result("plain") == "plain"
    assert serialize_result(None) == "null"
    assert serialize_result(3) == "3"
    assert serialize_result({"b": 1, "a": [Color.RED, (1, 2)]}) == '{"a": ["red", [1, 2]], "b": 1}'
    assert serialize_result(Point(y=2, x=1)) == '{"x": 1, "y": 2}'
    assert serialize_result(Address(street="s", zip_code=1)) == '{"street": "s", "zip_code": 1}'
    assert serialize_result({"é": "ü"}) == '{"é": "ü"}'
    assert serialize_result(ToolOutput({"z": 1, "a": 2})) == '{"a": 2, "z": 1}'
    # the same value, built in another order, serialises identically
    assert serialize_result({"a": 1, "b": 2}) == serialize_result({"b": 2, "a": 1})
