"""Metadata filters: a small, documented subset of MongoDB-style conditions.

``{"category": "pricing"}`` is equality; a list value means "any of"
(``{"lang": ["en", "de"]}``); a dict value holds operators: ``$eq $ne $in $nin $gt
$gte $lt $lte $exists $contains``. All conditions must hold (AND). Keys are matched
against a chunk's metadata, which always includes ``source``, ``doc_id`` and
``chunk_id``. Filters are checked in Python over the chunk table: fine up to a few
hundred thousand chunks, see docs/retrieval.md for the scale path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._errors import FilterError

__all__ = ["compile_filter", "Filters"]

Filters = Mapping[str, Any]

_MISSING = object()


def _cmp(op: str, want: Any) -> Callable[[Any], bool]:
    def safe(fn: Callable[[Any], bool]) -> Callable[[Any], bool]:
        def check(value: Any) -> bool:
            if value is _MISSING:
                return False
            try:
                return bool(fn(value))
            except TypeError:
                return False

        return check

    if op == "$eq":
        return lambda v: v is not _MISSING and v == want
    if op == "$ne":
        return lambda v: v is _MISSING or v != want
    if op in ("$in", "$nin"):
        if not isinstance(want, (list, tuple, set, frozenset)):
            raise FilterError(f"Filter operator {op} needs a list of values, got {want!r}.")
        pool = list(want)
        if op == "$in":
            return lambda v: v is not _MISSING and v in pool
        return lambda v: v is _MISSING or v not in pool
    if op == "$gt":
        return safe(lambda v: v > want)
    if op == "$gte":
        return safe(lambda v: v >= want)
    if op == "$lt":
        return safe(lambda v: v < want)
    if op == "$lte":
        return safe(lambda v: v <= want)
    if op == "$exists":
        return lambda v: (v is not _MISSING) == bool(want)
    if op == "$contains":
        return safe(lambda v: want in v)
    raise FilterError(
        f"Unknown filter operator {op!r}. Use one of $eq $ne $in $nin $gt $gte $lt $lte "
        "$exists $contains, e.g. {'year': {'$gte': 2020}}."
    )


def compile_filter(filters: Filters | None) -> Callable[[Mapping[str, Any]], bool] | None:
    """Turn a filter mapping into a predicate over a chunk's metadata (None: no filter)."""
    if not filters:
        return None
    if not isinstance(filters, Mapping):
        raise FilterError(
            f"Filters must be a mapping of metadata key to value, got {type(filters).__name__}; "
            "e.g. {'category': 'pricing'}."
        )
    checks: list[tuple[str, Callable[[Any], bool]]] = []
    for key, cond in filters.items():
        if not isinstance(key, str):
            raise FilterError(f"Filter keys must be strings, got {key!r}.")
        if isinstance(cond, Mapping):
            if not cond:
                raise FilterError(f"Filter for {key!r} is an empty mapping; give an operator.")
            for op, want in cond.items():
                checks.append((key, _cmp(str(op), want)))
        elif isinstance(cond, (list, tuple, set, frozenset)):
            checks.append((key, _cmp("$in", list(cond))))
        else:
            checks.append((key, _cmp("$eq", cond)))

    def predicate(metadata: Mapping[str, Any]) -> bool:
        return all(check(metadata.get(key, _MISSING)) for key, check in checks)

    return predicate
