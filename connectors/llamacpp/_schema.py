"""JSON schema to GBNF: llama-cpp-python's converter, with the keywords it skips.

llama-cpp-python ships a port of llama.cpp's ``json_schema_to_grammar``
(``llama_cpp.llama_grammar.SchemaConverter``). It enforces objects (``properties``,
``required``, ``additionalProperties``), arrays (``items``, ``prefixItems``,
``minItems``, ``maxItems``), ``enum``, ``const``, ``anyOf``/``oneOf``, ``$ref``,
string lengths and the formats ``date``, ``time``, ``date-time`` and ``uuid``. It
silently drops what it does not know, so a "constrained" call could still break the
schema. :class:`Converter` subclasses it and handles those cases too:

``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``
    exact digit-by-digit ranges (``_ranges.py``); the converter ignored them.
``type: [..]`` with other keywords
    each type keeps the schema's other keywords; the converter kept the bare types,
    so ``{"type": ["string", "null"], "enum": ["a", "b"]}`` admitted any string.
``enum`` / ``const`` beside other keywords
    only the values that satisfy the whole schema (checked with ``jsonschema``).
``pattern``
    parsed by Python's regular-expression parser and written JSON-safe
    (``_regex.py``); the converter rejected unanchored patterns and ``\\d``, and let
    ``[^,]`` write a raw quote.
``anyOf`` / ``oneOf`` beside other keywords, ``allOf``
    the other keywords are merged into each alternative; ``allOf`` parts are merged
    into one schema.
``multipleOf`` on a bounded integer
    the allowed values are listed when there are at most 1,000 of them.
arrays with ``minItems``/``maxItems`` but no ``items``
    the bounds apply to items of any type (the converter ignored them).

What a grammar cannot express (``uniqueItems``, ``contains``, ``not``,
``if``/``then``/``else``, ``minProperties``, ``patternProperties``, ``multipleOf``
over wide ranges, lookaheads in patterns, a ``pattern`` together with length
bounds) is left to the check after decoding: the connector validates every call
against the tool's schema and reports a call that fails (see ``_connector.py``).
"""

from __future__ import annotations

import json
from typing import Any

from ._ranges import has_bounds, integer_rule, number_rule
from ._regex import UnsupportedPattern, pattern_rule

__all__ = ["MAX_ITEMS", "MAX_STRING", "NOT_ENFORCED", "UnsatisfiableSchema", "schema_to_gbnf"]

#: Keywords that the grammar does not enforce; calls are validated after decoding.
NOT_ENFORCED = frozenset({
    "uniqueItems", "contains", "minContains", "maxContains", "not", "if", "then", "else",
    "minProperties", "maxProperties", "patternProperties", "propertyNames",
    "dependentRequired", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems",
})
#: Keywords that only annotate (never merged as constraints).
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "$comment",
                          "deprecated", "readOnly", "writeOnly", "optional"})
#: Keywords that say what type a value has; a schema with none of them accepts any value.
_TYPE_KEYS = frozenset({"type", "enum", "const", "$ref", "anyOf", "oneOf", "allOf",
                        "properties", "items", "prefixItems", "pattern", "format",
                        "additionalProperties", "required"})
#: Upper bounds added where a schema sets none (characters per string, items per array),
#: so a small model that starts repeating itself still closes the value.
MAX_STRING = 160
MAX_ITEMS = 24
#: Most integers listed for ``multipleOf``.
_MAX_LISTED = 1000


class UnsatisfiableSchema(ValueError):
    """No JSON value satisfies the schema (e.g. an ``enum`` outside the bounds)."""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Both schemas at once, as far as one schema can say it (see module docstring)."""
    out = dict(base)
    for key, value in extra.items():
        if key in _ANNOTATIONS and key in out:
            continue
        if key == "properties" and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif key == "required" and isinstance(out.get(key), list):
            out[key] = list(dict.fromkeys([*out[key], *value]))
        elif key == "type" and key in out and out[key] != value:
            a = out[key] if isinstance(out[key], list) else [out[key]]
            b = value if isinstance(value, list) else [value]
            both = [t for t in a if t in b or (t == "integer" and "number" in b)] + [
                "integer" for t in a if t == "number" and "integer" in b]
            out[key] = list(dict.fromkeys(both)) or ["null-never"]
        else:
            out[key] = value
    return out


class _Keywords:
    """The keyword handling of the module docstring, mixed into ``SchemaConverter``.

    Written as a mixin so that ``llama_cpp`` is imported only when a grammar is
    built (``_converter_class``); ``super().visit`` is the stock converter's.
    """

    _rules: dict[str, str]
    _refs: dict[str, Any]

    def visit(self, schema: Any, name: str) -> str:
        from llama_cpp.llama_grammar import PRIMITIVE_RULES, RESERVED_NAMES

        rule_name = name + "-" if name in RESERVED_NAMES else name or "root"
        if schema is True or (isinstance(schema, dict) and not _TYPE_KEYS & schema.keys()):
            return self._add_rule(rule_name, self._add_primitive("value", PRIMITIVE_RULES[
                "value"]))
        if not isinstance(schema, dict) or schema.get("type") == ["null-never"]:
            raise UnsatisfiableSchema(f"no value satisfies {schema!r}")
        if "$ref" in schema:
            return super().visit(schema, name)  # type: ignore[misc, no-any-return]
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged = _merge(merged, self._deref(part))
            return self.visit(merged, name)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                rest = {k: v for k, v in schema.items() if k not in (key, *_ANNOTATIONS)}
                alts = [_merge(rest, self._deref(alt)) for alt in schema[key]]
                return self._union(rule_name, name, alts)
        if "enum" in schema or "const" in schema:
            return self._add_rule(rule_name, self._values(schema))
        types = schema.get("type")
        if isinstance(types, list):
            return self._union(rule_name, name, [{**schema, "type": t} for t in types])
        custom = self._custom(schema, name)
        if custom is not None:
            return self._add_rule(rule_name, custom)
        return super().visit(schema, name)  # type: ignore[misc, no-any-return]

    def _deref(self, part: Any) -> Any:
        if isinstance(part, dict) and "$ref" in part and part["$ref"] in self._refs:
            rest = {k: v for k, v in part.items() if k != "$ref"}
            return _merge(self._refs[part["$ref"]], rest)
        return part

    def _union(self, rule_name: str, name: str, alts: list[Any]) -> str:
        rules = []
        for i, alt in enumerate(alts):
            try:
                rules.append(self.visit(alt, f"{name}{'-' if name else 'alternative-'}{i}"))
            except UnsatisfiableSchema:
                continue
        if not rules:
            raise UnsatisfiableSchema("no alternative of the schema can be satisfied")
        return self._add_rule(rule_name, " | ".join(rules))

    def _values(self, schema: dict[str, Any]) -> str:
        import jsonschema

        values = [schema["const"]] if "const" in schema else list(schema["enum"])
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const")}
        ok = [v for v in values if jsonschema.Draft202012Validator(rest).is_valid(v)]
        if not ok:
            raise UnsatisfiableSchema(f"none of the values {values!r} fits the schema")
        return " | ".join(self._generate_constant_rule(v) for v in ok)

    def _custom(self, schema: dict[str, Any], name: str) -> str | None:
        kind = schema.get("type")
        if kind in ("integer", "number") and "multipleOf" in schema:
            listed = _listed_integers(schema)
            if listed is not None:
                return listed
        if kind == "integer" and has_bounds(schema):
            rule = integer_rule(schema)
        elif kind == "number" and has_bounds(schema):
            rule = number_rule(schema)
        elif kind in ("string", None) and "pattern" in schema:
            try:
                return pattern_rule(schema["pattern"])
            except UnsupportedPattern:  # checked after decoding instead
                rest = {k: v for k, v in schema.items() if k != "pattern"}
                rest.setdefault("maxLength", max(MAX_STRING, rest.get("minLength", 0)))
                return self.visit({**rest, "type": "string"}, name + "-text")
        elif kind == "array" and _loose_items(schema):
            return self.visit(_items_fixed(schema), name)
        elif kind == "object" and _undeclared(schema):
            return self.visit(_declared(schema), name)
        else:
            return None
        if rule is None:
            raise UnsatisfiableSchema(f"no number satisfies the bounds of {schema!r}")
        return f"{rule} space"


def _converter_class() -> type:
    from llama_cpp.llama_grammar import SchemaConverter

    return type("Converter", (_Keywords, SchemaConverter), {})


def _loose_items(schema: dict[str, Any]) -> bool:
    items = schema.get("items")
    return ("prefixItems" in schema and not isinstance(items, list)) or items in (None, {})


def _items_fixed(schema: dict[str, Any]) -> dict[str, Any]:
    """Array items in the shape the converter reads.

    No ``items`` (or ``{}``) means items of any type (``True``); ``prefixItems``
    become the converter's tuple form, so the array holds exactly those items.
    """
    out = {k: v for k, v in schema.items() if k != "prefixItems"}
    out["items"] = schema.get("prefixItems", True)
    return out


def _undeclared(schema: dict[str, Any]) -> list[str]:
    """Required names that ``properties`` does not describe."""
    props = schema.get("properties") or {}
    return [r for r in schema.get("required") or [] if r not in props]


def _declared(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its undescribed required names added as any-value properties.

    Only where extra properties are allowed; otherwise no object can satisfy it.
    """
    if schema.get("additionalProperties") is False:
        raise UnsatisfiableSchema(
            f"'required' names {_undeclared(schema)} but 'properties' does not describe them "
            "and additionalProperties is false: no object satisfies it")
    extra = schema.get("additionalProperties")
    value = extra if isinstance(extra, dict) else {}
    props = {**(schema.get("properties") or {}), **{n: value for n in _undeclared(schema)}}
    return {**schema, "properties": props}


def _listed_integers(schema: dict[str, Any]) -> str | None:
    """The integers of a bounded ``multipleOf`` schema, listed, or None when too many."""
    import jsonschema

    lo, hi = schema.get("minimum"), schema.get("maximum")
    lo = schema.get("exclusiveMinimum", lo) if lo is None else lo
    hi = schema.get("exclusiveMaximum", hi) if hi is None else hi
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in (lo, hi)):
        return None
    if hi - lo > _MAX_LISTED * max(1, schema.get("multipleOf", 1)):
        return None
    check = jsonschema.Draft202012Validator({**schema, "type": "integer"})
    values = [v for v in range(int(lo) - 1, int(hi) + 2) if check.is_valid(v)]
    if not values or len(values) > _MAX_LISTED:
        return None
    return "(" + " | ".join(f'"{v}"' for v in values) + ") space"


_CONVERTER: type | None = None


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """The GBNF grammar (root rule ``root``) of JSON documents valid under ``schema``."""
    global _CONVERTER
    if _CONVERTER is None:
        _CONVERTER = _converter_class()
    converter = _CONVERTER(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    resolved = converter.resolve_refs(json.loads(json.dumps(schema)), "stdin")
    converter.visit(resolved, "")
    return str(converter.format_grammar())
