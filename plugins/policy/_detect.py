"""A prompt-injection detector for text that came from outside the user.

It looks for what an injection needs in order to work, not for topics: phrases that
try to override the agent's instructions, markers that impersonate another chat role,
characters a reader cannot see, and tool-call syntax naming a tool the agent has.
Each finding says which of these it is, so the policy and a person can see why text
was marked. Plain regular expressions: fast (microseconds per passage), no model to
load, and every rule can be read and argued with.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Finding", "detect_injection", "strip_hidden"]

_OVERRIDE = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}?"
    r"\b(previous|prior|above|earlier|preceding|all|any|your|the|system)\b[^.\n]{0,25}?"
    r"\b(instructions?|prompts?|rules|directions|guidelines|guardrails|policy|policies)\b",
    re.IGNORECASE,
)
_NEW_ORDERS = re.compile(
    r"\b(new|updated|real|actual|hidden|secret|important|urgent)\s+(instructions?|task|orders|"
    r"directive)s?\s*[:!-]"
    r"|\b(ai|assistant|language model|llm|agent|chatbot)s?\s+(reading|processing|parsing|"
    r"summari[sz]ing|that reads?|who reads?)\s+(this|these|the)\b"
    r"|\b(if you are|note to|attention,?|dear) (an? |all )?(ai|assistant|language model|llm|"
    r"agent|chatbot)s?\b"
    r"|\byou are now\b|\bfrom now on,? you\b|\bact as (an?|the) (admin|system|developer)\b"
    r"|\b(call|invoke|execute|run|use|trigger)\s+(the\s+)?[\w.-]+\s+(tool|function)\b",
    re.IGNORECASE,
)
_ROLE_MARKER = re.compile(
    r"<\|(im_start|im_end|system|user|assistant|endoftext|start_header_id)\|>"
    r"|\[/?INST\]|<</?SYS>>|<start_of_turn>|<end_of_turn>"
    r"|^\s*#{1,4}\s*(system|instruction|assistant)\b"
    r"|^\s*(system|assistant|developer)\s*:"
    r"|<\s*/?\s*(system|assistant|developer|tool_call|function_call|untrusted-data)\b[^>]*>"
    r"|\bBEGIN\s+(SYSTEM|ADMIN|DEVELOPER)\s+(PROMPT|MESSAGE|INSTRUCTIONS?)\b",
    re.IGNORECASE | re.MULTILINE,
)
#: Zero-width, bidirectional-override and Unicode "tag" characters: invisible to a
#: reader, visible to a model.
_HIDDEN = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason text looks like a prompt injection."""

    kind: str  # "override", "orders", "role_marker", "hidden_characters", "tool_call"
    excerpt: str

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')}: {self.excerpt!r}"


def strip_hidden(text: str) -> str:
    """``text`` without invisible characters (and NFKC-normalised, so look-alike
    full-width letters read as what they are)."""
    return unicodedata.normalize("NFKC", _HIDDEN.sub("", text))


def _excerpt(text: str, match: re.Match[str]) -> str:
    start, end = max(0, match.start() - 20), min(len(text), match.end() + 20)
    return " ".join(text[start:end].split())[:120]


def _tool_call_pattern(tool_names: Iterable[str]) -> re.Pattern[str] | None:
    names = sorted({n for n in tool_names if n}, key=len, reverse=True)
    if not names:
        return None
    alt = "|".join(re.escape(n) for n in names)
    return re.compile(
        rf"\b({alt})\s*\(|[\"']?name[\"']?\s*[:=]\s*[\"']({alt})[\"']"
        rf"|\b(call|invoke|run|use|execute|trigger)\b[^.\n]{{0,30}}?\b({alt})\b",
        re.IGNORECASE,
    )


def detect_injection(text: str, tool_names: Iterable[str] = ()) -> list[Finding]:
    """Findings that ``text`` tries to instruct the agent; empty when it looks like data.

    Args:
        text: text from outside (a passage, a tool result, a graph property).
        tool_names: the tools the agent can call; text that spells a call to one of
            them is marked, since data has no reason to address the agent's tools.
    """
    findings: list[Finding] = []
    hidden = _HIDDEN.search(text)
    if hidden:
        findings.append(Finding("hidden_characters", f"U+{ord(hidden.group()):04X}"))
    visible = strip_hidden(text)
    for kind, pattern in (("override", _OVERRIDE), ("orders", _NEW_ORDERS),
                          ("role_marker", _ROLE_MARKER), ("tool_call", _tool_call_pattern(tool_names))):
        if pattern is None:
            continue
        match = pattern.search(visible)
        if match:
            findings.append(Finding(kind, _excerpt(visible, match)))
    return findings
