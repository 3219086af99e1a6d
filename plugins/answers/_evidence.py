"""What the tools of one run returned, kept for composing and checking the answer.

The ``call_tool`` wrapper of this plugin records each tool's output in the run's
``state``; the kinds below are read from the shape of the citations, not from tool
names, so a third-party tool that returns the same shapes is answered the same way:

``passage``   a citation with text (retrieved documents): the answer is chosen from
              its sentences.
``fact``      a citation whose metadata names an ``answer`` (graph retrieval): the
              answer states the entity and the path that supports it.
``interval``  a citation whose metadata has ``start``, ``end`` and ``severity``
              (anomaly detection): the answer states when, how much and how severe.
``result``    a tool output without citations (a function's return value): the answer
              states the call and its result.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from sapient import Citation, ToolOutput

__all__ = ["Evidence", "STATE_KEY", "record", "evidence_of", "kind_of"]

STATE_KEY = "sapient.answers.evidence"
_lock = threading.Lock()


@dataclass
class Evidence:
    """One tool call's output: what the tool said, and the citations it gave."""

    tool: str
    arguments: dict[str, Any]
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    error: str | None = None


def kind_of(citation: Citation) -> str:
    """``fact``, ``interval`` or ``passage`` (see the module docstring)."""
    meta = citation.metadata or {}
    if "answer" in meta:
        return "fact"
    if {"start", "end", "severity"} <= set(meta):
        return "interval"
    return "passage"


def _text(value: Any) -> str:
    content = value.content if isinstance(value, ToolOutput) else value
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False, default=str)


def _abstained(value: Any) -> bool:
    data = value.data if isinstance(value, ToolOutput) else None
    return isinstance(data, dict) and bool(data.get("abstained"))


def record(invocation: Any, value: Any = None, error: BaseException | None = None) -> None:
    """Keep one tool call's output in its run's state (thread-safe: calls may overlap)."""
    run = invocation.run
    if run is None:
        return
    item = Evidence(
        tool=invocation.tool.name, arguments=dict(invocation.arguments or {}),
        text="" if error is not None else _text(value),
        citations=list(value.citations) if isinstance(value, ToolOutput) else [],
        abstained=error is None and _abstained(value),
        error=None if error is None else f"{type(error).__name__}: {error}",
    )
    with _lock:
        run.state.setdefault(STATE_KEY, []).append(item)


def evidence_of(run: Any) -> list[Evidence]:
    """The evidence recorded so far in this run (empty when no tool ran)."""
    if run is None:
        return []
    return list(run.state.get(STATE_KEY, []))
