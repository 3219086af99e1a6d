"""Sapient's metadata filters as Milvus boolean expressions.

The filters are the MongoDB-style conditions of ``sapient.connectors.docstore``
(``{"year": {"$gte": 2020}, "lang": ["en", "de"]}``). Each condition becomes a Milvus
expression over the ``metadata`` JSON field, written only with operators that both
Milvus and Milvus Lite evaluate the same way (``==``, ``<``, ``exists``, ``like``,
``or``/``and``/``not``). Where Milvus cannot say exactly what the filter means
(``like`` treats ``%`` and ``_`` in a prefix as wildcards; a ``$contains`` that may be
a substring or a list element; values that are not scalars) the expression selects a
superset and :func:`to_expr` reports that the results need the exact check in Python
(``CompiledFilter``), which the store then applies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sapient.connectors.docstore import compile_filter

__all__ = ["to_expr", "literal", "field"]

#: Keys kept in their own scalar fields (exact and indexed), not only in the JSON.
_SCALAR = {"doc_id": "doc_id", "chunk_id": "id"}


def literal(value: Any) -> str | None:
    """A Milvus literal for a scalar, or None when the value is not one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and value == value:  # not NaN
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # double-quoted, with \" and \\ escapes
    return None


def field(key: str) -> str:
    return _SCALAR.get(key) or f"metadata[{json.dumps(key)}]"


def _condition(key: str, op: str, want: Any) -> tuple[str | None, bool]:
    """(expression or None for "no server-side condition", exact?) for one condition."""
    f = field(key)
    scalar_field = key in _SCALAR
    present = "" if scalar_field else f"exists {f} and "
    if op in ("$eq", "$ne"):
        lit = literal(want)
        if lit is None:
            return None, False
        if op == "$eq":
            return f"{f} == {lit}", True
        return (f"{f} != {lit}" if scalar_field else f"(not exists {f} or {f} != {lit})"), True
    if op in ("$in", "$nin"):
        lits = [literal(v) for v in want]
        if not lits or any(lit is None for lit in lits):
            return None, False
        if scalar_field:  # a field reference takes `in` in Milvus and Milvus Lite alike
            return f"{f} {'in' if op == '$in' else 'not in'} [{', '.join(lits)}]", True
        if op == "$in":
            return "(" + " or ".join(f"{f} == {lit}" for lit in lits) + ")", True
        every = " and ".join(f"{f} != {lit}" for lit in lits)
        return (f"({every})" if scalar_field else f"(not exists {f} or ({every}))"), True
    if op in ("$gt", "$gte", "$lt", "$lte"):
        lit = literal(want)
        if lit is None or isinstance(want, bool):
            return None, False
        sign = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        return f"({present}{f} {sign} {lit})", isinstance(want, (int, float))
    if op == "$exists":
        if scalar_field:  # always present; the exact check decides
            return None, False
        return (f"exists {f}" if want else f"not exists {f}"), True
    if op == "$prefix":
        return f"{f} like {json.dumps(want + '%')}", not any(ch in want for ch in "%_\\")
    if op == "$contains" and isinstance(want, str):
        like = json.dumps("%" + want + "%")
        return (f"({f} like {like} or json_contains({f}, {json.dumps(want)}))",
                False)
    return None, False


def to_expr(filters: Mapping[str, Any] | None) -> tuple[str, Any]:
    """(Milvus expression, exact check or None): ``""`` matches everything.

    The second item is the compiled filter when the expression may select more than
    the filter means; the caller applies it to the rows that come back.
    """
    compiled = compile_filter(filters)  # validates: bad input fails before any request
    if compiled is None:
        return "", None
    parts: list[str] = []
    exact = True
    for key, op, want, _check in compiled.checks:
        expr, ok = _condition(key, op, want)
        exact = exact and ok
        if expr:
            parts.append(expr)
    return " and ".join(parts), (None if exact else compiled)
