"""GBNF grammars for constrained decoding: tool choice, tool arguments, digits.

JSON schemas are converted by llama-cpp-python's converter (a port of llama.cpp's
``json_schema_to_grammar``, so the grammar follows the same rules as the
``response_format`` of llama.cpp servers), extended in ``_schema.py`` with the
keywords it skipped: numeric bounds, patterns, ``type`` lists and ``enum`` beside
other keywords, ``allOf``. Before conversion a schema is tightened for generation:
objects with ``properties`` but no ``additionalProperties`` get ``false`` (a model
should not invent arguments) and unbounded strings and arrays get generous upper
bounds, so a small model that starts repeating itself still closes the value within
the token budget and the call stays parseable.

One rule of that converter is corrected after conversion: its string character
``[^"\\]`` admits raw control characters (a newline inside a string), which JSON
forbids, so a model could write a "constrained" call that ``json.loads`` rejects.
llama.cpp's own converter excludes them; so does the grammar here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sapient.core.errors import ConfigurationError

from ._schema import MAX_ITEMS, MAX_STRING, NOT_ENFORCED

__all__ = ["NOT_ENFORCED", "call_arguments_grammar", "choice_grammar", "digits_grammar",
           "json_complete", "prepare_schema", "schema_grammar"]


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def choice_grammar(names: Sequence[str]) -> str:
    """One of ``names`` followed by the closing quote of the JSON string."""
    if not names:
        raise ConfigurationError("No tool names to choose from.")
    alts = " | ".join(_literal(n) for n in names)
    return f'root ::= ({alts}) "\\""\n'


def prepare_schema(schema: dict[str, Any], *, max_string: int = MAX_STRING,
                   max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """A copy of ``schema`` tightened for generation (see module docstring).

    Every change narrows what the grammar admits and never widens it, so a call
    decoded under the tightened schema is valid under the original one.
    """
    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {k: _visit_children(k, v, visit) for k, v in node.items()}
        types = out.get("type")
        types = types if isinstance(types, list) else [types]
        if "properties" in out:
            out.setdefault("additionalProperties", False)
        if ("string" in types and "maxLength" not in out and "enum" not in out
                and "const" not in out and "pattern" not in out and "format" not in out):
            out["maxLength"] = max(max_string, int(out.get("minLength", 0)))
        if "array" in types and "maxItems" not in out:
            out["maxItems"] = max(max_items, int(out.get("minItems", 0)))
        return out

    return visit(schema)  # type: ignore[no-any-return]


def _visit_children(key: str, value: Any, visit: Any) -> Any:
    """Visit the subschemas under ``key`` (and leave data such as ``enum`` alone)."""
    if key in ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas"):
        return {k: visit(v) for k, v in value.items()} if isinstance(value, dict) else value
    if key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf",
               "prefixItems", "contains", "if", "then", "else"):
        return visit(value)
    return value


#: JSON's string character: anything but a quote, a backslash or a control character.
_JSON_CHAR = r'[^"\\\x7F\x00-\x1F]'


@lru_cache(maxsize=256)
def _convert(schema_json: str) -> str:
    from ._schema import schema_to_gbnf

    grammar = schema_to_gbnf(json.loads(schema_json))
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
            "Fix or simplify the schema (local $refs, anyOf, enums, bounds, patterns, objects, "
            "arrays and scalar types are supported)."
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
