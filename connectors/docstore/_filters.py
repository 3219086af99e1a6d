"""Metadata filters: a small, documented subset of MongoDB-style conditions.

``{"category": "pricing"}`` is equality; a list value means "any of"
(``{"lang": ["en", "de"]}``); a dict value holds operators: ``$eq $ne $in $nin $gt
$gte $lt $lte $exists $contains $prefix``. All conditions must hold (AND). Keys are matched
against a chunk's metadata, which always includes ``source``, ``doc_id`` and
``chunk_id``. The FAISS store checks them in Python over its chunk table (fine up
to a few hundred thousand chunks); the Milvus store turns them into Milvus
expressions evaluated by the server (``sapient.connectors.milvus._expr``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._errors import FilterError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["compile_filter", "CompiledFilter", "Filters", "MISSING"]

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
    if op == "$prefix":
        if not isinstance(want, str):
            raise FilterError(f"Filter operator $prefix needs a string, got {want!r}.")
        return lambda v: isinstance(v, str) and v.startswith(want)
    raise FilterError(
        f"Unknown filter operator {op!r}. Use one of $eq $ne $in $nin $gt $gte $lt $lte "
        "$exists $contains $prefix, e.g. {'year': {'$gte': 2020}}."
    )


class CompiledFilter:
    """A compiled filter: call it on one metadata dict, or ``mask`` a whole column set."""

    def __init__(self, checks: list[tuple[str, str, Any, Callable[[Any], bool]]]) -> None:
        self.checks = checks

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        return all(check(metadata.get(key, _MISSING)) for key, _, _, check in self.checks)

    def mask(self, column: Callable[[str], np.ndarray], n: int) -> np.ndarray:
        """Boolean mask over ``n`` rows; ``column(key)`` gives that key's values per row
        (an object array holding :data:`MISSING` where a row lacks the key)."""
        import numpy as np

        out = np.ones(n, dtype=bool)
        for key, op, want, check in self.checks:
            col = column(key)
            if op == "$eq" and isinstance(want, (str, int, float, bool)):
                # numpy compares object arrays element by element in C: no Python loop.
                out &= np.asarray(col == want, dtype=bool)
            else:
                out &= np.fromiter((check(v) for v in col), dtype=bool, count=n)
        return out


MISSING = _MISSING


def compile_filter(filters: Filters | None) -> CompiledFilter | None:
    """Compile a filter mapping (None or empty: no filter)."""
    if not filters:
        return None
    if not isinstance(filters, Mapping):
        raise FilterError(
            f"Filters must be a mapping of metadata key to value, got {type(filters).__name__}; "
            "e.g. {'category': 'pricing'}."
        )
    checks: list[tuple[str, str, Any, Callable[[Any], bool]]] = []
    for key, cond in filters.items():
        if not isinstance(key, str):
            raise FilterError(f"Filter keys must be strings, got {key!r}.")
        if isinstance(cond, Mapping):
            if not cond:
                raise FilterError(f"Filter for {key!r} is an empty mapping; give an operator.")
            for op, want in cond.items():
                checks.append((key, str(op), want, _cmp(str(op), want)))
        elif isinstance(cond, (list, tuple, set, frozenset)):
            checks.append((key, "$in", list(cond), _cmp("$in", list(cond))))
        else:
            checks.append((key, "$eq", cond, _cmp("$eq", cond)))
    return CompiledFilter(checks)
