"""Sentences for structured evidence: graph facts and anomalous intervals."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sapient import Citation

__all__ = ["graph_answer", "interval_answer", "anchor_of", "named_in"]

_HOP = re.compile(r"(<-\[(?P<back>[^\]]+)\]-|-\[(?P<fwd>[^\]]+)\]->)")


def _paths(citation: Citation) -> list[str]:
    """The distinct paths of a graph citation (``a ; b`` joins several)."""
    return list(dict.fromkeys(p.strip() for p in citation.text.split(";") if p.strip()))


def _pattern(path: str) -> tuple[str, ...]:
    """The relation types along a path, with their direction: what kind of answer it is."""
    return tuple(("<" + m["back"]) if m["back"] else m["fwd"] for m in _HOP.finditer(path))


def anchor_of(citation: Citation) -> str:
    """The entity a graph path starts from (the one the question was linked to)."""
    paths = _paths(citation)
    return re.split(r" <?-\[", paths[0], maxsplit=1)[0].strip() if paths else ""


def named_in(entity: str, question: str) -> bool:
    """Whether the question names ``entity`` (every content word of the name appears).

    The graph retriever links question words to nodes by name, then fuzzily and by
    embedding; a path from an entity the question does not name ("Paris" for "the
    capital of France") answers another question.
    """
    from ._text import terms

    wanted = set(terms(entity))
    return bool(wanted) and wanted <= set(terms(question))


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def graph_answer(citations: Sequence[Citation]) -> str:
    """The entities the best path kind leads to, with the paths that support them.

    A question asks one relation ("who does X know": KNOWS), so the answers are those
    reached by the same relation path as the best-scored one, not every neighbour.
    """
    best = citations[0]
    kind = _pattern(_paths(best)[0])
    chosen = [c for c in citations if _paths(c) and _pattern(_paths(c)[0]) == kind]
    names = list(dict.fromkeys(str(c.metadata["answer"]) for c in chosen))
    paths = list(dict.fromkeys(p for c in chosen for p in _paths(c)[:1]))
    anchor = anchor_of(best)
    if len(kind) == 1 and not kind[0].startswith("<"):
        head = f"{anchor} {kind[0].lower().replace('_', ' ')} {_join(names)}"
    else:
        head = f"The graph links {anchor} to {_join(names)}"
    return f"{head}. Graph path{'s' if len(paths) > 1 else ''}: {'; '.join(paths)}."


def _when(start: str | None, end: str | None) -> str:
    """``2026-11-22 02:15 to 02:55`` (the date once when both ends share it)."""
    try:
        a, b = datetime.fromisoformat(str(start)), datetime.fromisoformat(str(end))
    except (TypeError, ValueError):
        return f"{start} to {end}"
    if a.date() == b.date():
        return f"on {a:%Y-%m-%d} from {a:%H:%M} to {b:%H:%M}"
    return f"from {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M}"


def _what(citation: Citation) -> str:
    """The size of the deviation as the detector described it (``values up to ...``)."""
    text = citation.text.split(": ", 1)[-1]
    return text.split(";")[0].strip()


def interval_answer(citations: Sequence[Citation]) -> str:
    """When, how much and how severe: one sentence per interval (at most three)."""
    ordered = sorted(citations, key=lambda c: -(c.score or 0.0))
    n = len(ordered)
    lines = [f"{n} unusual period{'s were' if n > 1 else ' was'} found"
             + (", the most severe first." if n > 1 else ".")]
    for c in ordered[:3]:
        meta = c.metadata
        where = (_when(meta.get("start_time"), meta.get("end_time")) if meta.get("start_time")
                 else f"points {meta['start']} to {meta['end']}")
        lines.append(f"{where[0].upper() + where[1:]}: {_what(c)}; {meta['severity']} "
                     f"severity [{c.source_id}].")
    return " ".join(lines)
