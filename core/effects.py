"""What a tool touches: the vocabulary the safety policy reasons with.

A tool declares its effects (``@tool(effects=["writes"])``, or ``Tool.effects``); a
plain function declares nothing, and nothing declared means *side effects unknown*.
The names, and what the default policy (``sapient.plugins.policy``) does with them:

``reads_untrusted``
    its output may hold text written by someone other than the user (documents,
    web pages, graph properties, other servers' tools). The output is quarantined
    and scanned for prompt injection.
``reads_private``
    its output may hold the user's private data (files, databases, mail).
``writes``
    it changes data (files, records, graphs): a side effect.
``network``
    it sends data to another machine: an outward action and a side effect.
``runs_code``
    it runs code or commands: a side effect.

An empty set declares a pure tool (arithmetic, the clock). A tool is
*side-effecting* when its effects are unknown or include ``writes``, ``network``
or ``runs_code``; the default policy asks for approval before such a call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "READS_UNTRUSTED",
    "READS_PRIVATE",
    "WRITES",
    "NETWORK",
    "RUNS_CODE",
    "EFFECTS",
    "SIDE_EFFECTS",
    "OUTWARD",
    "declare",
    "is_side_effecting",
]

READS_UNTRUSTED = "reads_untrusted"
READS_PRIVATE = "reads_private"
WRITES = "writes"
NETWORK = "network"
RUNS_CODE = "runs_code"

EFFECTS = frozenset({READS_UNTRUSTED, READS_PRIVATE, WRITES, NETWORK, RUNS_CODE})
SIDE_EFFECTS = frozenset({WRITES, NETWORK, RUNS_CODE})
#: Effects that can carry data out of the run (exfiltration).
OUTWARD = frozenset({NETWORK, WRITES, RUNS_CODE})


def declare(effects: Iterable[str] | str) -> frozenset[str]:
    """Check effect names and return them as a frozenset.

    Raises ``ToolDefinitionError`` (at definition time) for a name not in the
    vocabulary, so a typo cannot silently declare a tool pure.
    """
    from .errors import ToolDefinitionError

    names = frozenset([effects] if isinstance(effects, str) else effects)
    unknown = sorted(names - EFFECTS)
    if unknown:
        raise ToolDefinitionError(
            f"Unknown tool effect(s) {', '.join(map(repr, unknown))}. "
            f"Use some of: {', '.join(sorted(EFFECTS))} (or [] for a pure tool)."
        )
    return names


def is_side_effecting(tool: Any) -> bool:
    """Unknown effects, or any of ``writes``/``network``/``runs_code``."""
    effects = getattr(tool, "effects", None)
    return effects is None or bool(effects & SIDE_EFFECTS)
