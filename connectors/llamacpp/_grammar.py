"""GBNF grammars for constrained decoding: tool choice, tool arguments, digits.

JSON schemas are converted with llama-cpp-python's own converter
(``llama_cpp.llama_grammar.json_schema_to_gbnf``, a port of llama.cpp's
``json_schema_to_grammar``), so the grammar follows the same rules as the
``response_format`` of llama.cpp servers. Before conversion a schema is tightened
for generation: objects without ``additionalProperties`` get ``false`` (a model
should not invent arguments) and unbounded strings and arrays get generous upper
bounds, so a small model that starts repeating itself still closes the value within
the token budget and the call stays parseable.

One rule of that converter is corrected after conversion: its string character
``[^"\\]`` admits raw control characters (a newline inside a string), which JSON
forbids, so a model could write a "constrained" call that ``json.loads`` rejects.
llama.cpp's own converter excludes them; so does the grammar here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sapient.core.errors import ConfigurationError

__all__ = ["call_arguments_grammar", "choice_grammar", "schema_grammar", "digits_grammar", "prepare_schema",
           "json_complete"]

#: Upper bounds added where a schema sets none (characters per string, items per array).
MAX_STRING = 160
MAX_ITEMS = 24


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def choice_grammar(names: Sequence[str]) -> str:
    """One of ``names`` followed by the closing quote of the JSON string."""
    if not names:
        raise ConfigurationError("No tool names to choose from.")
    alts = " | ".join(_literal(n) for n in names)
    return f'root ::= ({alts}) "\\""\n'


#: Keys that give a schema its type; a nested schema with none of them accepts any value.
_TYPE_KEYS = frozenset({"type", "enum", "const", "$ref", "anyOf", "oneOf", "allOf", "not",
                        "properties", "items", "prefixItems", "pattern", "format"})
_ANY_TYPES = ("string", "number", "boolean", "array", "object", "null")


def prepare_schema(schema: dict[str, Any], *, max_string: int = MAX_STRING,
                   max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """A copy of ``schema`` tightened for generation (see module docstring).

    A nested schema that says nothing about its type (``{"description": ...}``, which
    JSON Schema reads as "any value") gets an explicit list of every JSON type: the
    converter rejects it otherwise, and BFCL's ``any`` parameters arrive that way.
    """
    out = copy.deepcopy(schema)

    def visit(node: Any, nested: bool = True) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        if nested and not _TYPE_KEYS & node.keys():
            node["type"] = list(_ANY_TYPES)
        types = node.get("type")
        types = types if isinstance(types, list) else [types]
        if "object" in types or "properties" in node:
            node.setdefault("additionalProperties", False)
        if ("string" in types and "maxLength" not in node and "enum" not in node
                and "const" not in node and "pattern" not in node and "format" not in node):
            node["maxLength"] = max(max_string, int(node.get("minLength", 0)))
        if "array" in types and "maxItems" not in node:
            node["maxItems"] = max(max_items, int(node.get("minItems", 0)))
        for key, value in node.items():
            if key in ("properties", "$defs", "definitions", "patternProperties"):
                if isinstance(value, dict):
                    for sub in value.values():
                        visit(sub)
            elif key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf",
                         "prefixItems"):
                visit(value)

    visit(out, nested=False)
    return out


#: JSON's string character: anything but a quote, a backslash or a control character.
_JSON_CHAR = r'[^"\\\x7F\x00-\x1F]'


@lru_cache(maxsize=256)
def _convert(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar = json_schema_to_gbnf(schema_json)
    return re.sub(r'^(char ::= )\[\^"\\\\\]', lambda m: m.group(1) + _JSON_CHAR, grammar,
                  flags=re.MULTILINE)


def schema_grammar(schema: dict[str, Any], *, tighten: bool = True) -> str:
    """The GBNF grammar of JSON documents valid under ``schema`` (cached)."""
    prepared = prepare_schema(schema) if tighten else schema
    try:
        return _convert(json.dumps(prepared, sort_keys=True))
    except Exception as exc:
        raise ConfigurationError(
            f"Cannot turn this JSON schema into a grammar ({type(exc).__name__}: {exc}). "
            "Simplify the schema (local $refs, anyOf, enums, objects, arrays and scalar "
            "types are supported)."
        ) from exc


def call_arguments_grammar(schema: dict[str, Any]) -> str:
    """Arguments under ``schema`` followed by the ``}`` that closes the call object.

    The closing brace is part of the grammar because models write ``5}}`` as one
    token more often than ``5`` then ``}``; a grammar that ended at the arguments
    would reject that token and push the model onto a worse one (``50...``).
    """
    body = schema_grammar(schema)
    renamed = re.sub(r"^root ::=", "call-arguments ::=", body, flags=re.MULTILINE)
    return renamed.rstrip("\n") + '\nroot ::= call-arguments "}"\n'


def digits_grammar(*, separator: str | None = ",", max_digits: int | None = None,
                   max_items: int | None = None, allow_empty: bool = False,
                   negative: bool = False) -> str:
    """Integers only, optionally a ``separator``-joined list (SigLLM-style answers).

    Args:
        separator: text between numbers (``","`` gives ``3,14,15``); ``None`` allows
            exactly one number.
        max_digits: most digits per number.
        max_items: most numbers in the list.
        allow_empty: whether an empty answer is allowed ("no anomalies").
        negative: allow a leading minus sign.
    """
    digits = "[0-9]" + (f"{{1,{max_digits}}}" if max_digits else "+")
    number = ('"-"? ' if negative else "") + digits
    if separator is None:
        body = "num"
    elif max_items is not None:
        if max_items < 1:
            raise ConfigurationError("max_items must be at least 1.")
        body = f"num ({_literal(separator)} num){{0,{max_items - 1}}}"
    else:
        body = f"num ({_literal(separator)} num)*"
    root = f"({body})?" if allow_empty else body
    return f"root ::= {root}\nnum ::= {number}\n"


def json_complete(text: str) -> bool:
    """Whether ``text`` is one whole JSON value (used to stop without an extra step)."""
    stripped = text.strip()
    if not stripped or stripped[-1] not in "}]\"":  # numbers could still grow
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True
