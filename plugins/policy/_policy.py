"""The policy: which tool calls may run, which need a person's approval, and why.

The rules follow the data, not the tool's name:

1. A tool declared without side effects (none of ``writes``, ``network``,
   ``runs_code``) always runs.
2. A tool that declares side effects needs approval, unless the user allowed it
   (``Policy(allow={"send_email"})``).
3. An allowed side-effecting tool, and a tool whose effects are not declared (a plain
   function the user handed to the agent), need approval once the run has read
   untrusted content and either (a) that content was marked as a likely prompt
   injection, or (b) the call's arguments do not come from the user's own messages:
   then the call may be the content speaking, not the user, and when private data
   was read too it may carry that data out of the run. ``strict=True`` treats
   undeclared tools like declared side-effecting ones (rule 2).

Untrusted content is what tools declaring ``reads_untrusted`` return (documents,
graph properties, MCP tools); private data is what ``reads_private`` tools return.

Approval goes to the callback (``approve(request) -> bool``); with none, the call is
refused. A refusal goes back to the model as a plain message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sapient.core.effects import READS_PRIVATE, READS_UNTRUSTED, SIDE_EFFECTS
from sapient.core.errors import ApprovalPending, ConfigurationError, ToolRefused

from ._detect import Finding

__all__ = ["Policy", "ApprovalRequest", "Taint", "arguments_grounded"]

ON_INJECTION = ("mark", "approve", "drop")


@dataclass
class ApprovalRequest:
    """What an approval callback is shown: the call and why it needs a yes."""

    tool: str
    arguments: dict[str, Any]
    effects: frozenset[str] | None
    reasons: list[str]
    run: Any = None
    call_id: str = ""

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"{self.tool}({args}): " + "; ".join(self.reasons)


@dataclass
class Taint:
    """What a run has read so far: untrusted text, private data, injection findings."""

    untrusted: list[str] = field(default_factory=list)
    private: bool = False
    findings: list[tuple[str, Finding]] = field(default_factory=list)


def _leaves(value: Any, key: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v, key)
    else:
        yield key, value


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def arguments_grounded(arguments: dict[str, Any], user_text: str) -> bool:
    """Whether every value of a call's arguments appears in the user's own messages.

    Strings and numbers must occur in the text (case and spacing ignored); a ``True``
    flag needs its name there ("delete *all* records"); ``False``/``None`` and empty
    values are defaults and need nothing.
    """
    text = _norm(user_text)
    words = set(re.findall(r"[\w.@+-]+", text))
    for key, value in _leaves(arguments):
        if value is None or value is False or value == "":
            continue
        if value is True:
            if not any(part in words for part in _norm(key).replace("-", "_").split("_") if part):
                return False
        elif isinstance(value, (int, float)):
            if _norm(str(value)) not in words and _norm(f"{value:g}") not in words:
                return False
        elif _norm(str(value)) not in text:
            return False
    return True


class Policy:
    """Decides whether a tool call may run.

    Args:
        approve: ``approve(request: ApprovalRequest) -> bool``, asked when a call needs
            approval; ``None`` refuses such calls.
        allow: names of side-effecting tools the user allows without asking (rule 2).
        on_injection: what text marked as a likely injection does: ``"mark"`` (only
            marked for the model), ``"approve"`` (default: marked, and later
            side-effecting calls need approval), ``"drop"`` (withheld from the model,
            and later side-effecting calls need approval).
        allow_exfiltration: let allowed tools run with arguments that came from
            untrusted content (turns off rule 3b).
        quarantine: deliver tool results to the model as delimited data.
        redact_pii: also redact personal data in answers (secrets always are).
        strict: treat tools whose effects are not declared as side-effecting.
        enabled: ``False`` lets every call through (``Policy.permissive()``).
    """

    def __init__(
        self,
        *,
        approve: Callable[[ApprovalRequest], bool] | None = None,
        allow: Iterable[str] = (),
        on_injection: str = "approve",
        allow_exfiltration: bool = False,
        quarantine: bool = True,
        redact_pii: bool = False,
        strict: bool = False,
        enabled: bool = True,
    ) -> None:
        if on_injection not in ON_INJECTION:
            raise ConfigurationError(
                f"on_injection must be one of {', '.join(ON_INJECTION)}, not {on_injection!r}."
            )
        self.approve = approve
        self.allow = frozenset(allow)
        self.on_injection = on_injection
        self.allow_exfiltration = allow_exfiltration
        self.quarantine = quarantine
        self.redact_pii = redact_pii
        self.strict = strict
        self.enabled = enabled

    @classmethod
    def permissive(cls) -> Policy:
        """A policy that allows every call: for trusted, closed set-ups only."""
        return cls(enabled=False, quarantine=False)

    # -- decisions -----------------------------------------------------------------

    def reasons(self, tool: Any, arguments: dict[str, Any], taint: Taint,
                user_text: str) -> list[str]:
        """Why this call needs approval (empty: it may run)."""
        effects = getattr(tool, "effects", None)
        declared_side = effects is not None and bool(effects & SIDE_EFFECTS)
        if not self.enabled or (effects is not None and not declared_side):
            return []
        if tool.name not in self.allow:
            if declared_side:
                return [f"it has side effects ({', '.join(sorted(effects & SIDE_EFFECTS))})"]
            if self.strict:
                return ["its side effects are not declared"]
        reasons = []
        if taint.findings and self.on_injection != "mark":
            source, finding = taint.findings[0]
            reasons.append(f"it follows text from {source} marked as a likely prompt "
                           f"injection ({finding})")
        if (taint.untrusted and not self.allow_exfiltration
                and not arguments_grounded(arguments, user_text)):
            what = ("could carry private data out of the run"
                    if taint.private else "may come from untrusted content")
            reasons.append(f"its arguments are not from your messages and {what}")
        return reasons

    def check(self, tool: Any, arguments: dict[str, Any], taint: Taint, user_text: str,
              run: Any = None, call_id: str = "") -> None:
        """Raise :class:`ToolRefused` unless the call may run (asking when needed).

        An approval callback that cannot answer now raises
        :class:`~sapient.core.errors.ApprovalPending`; it passes through (with the tool
        and the reasons filled in) and the loop pauses the run.
        """
        reasons = self.reasons(tool, arguments, taint, user_text)
        if not reasons:
            return
        request = ApprovalRequest(tool.name, arguments, tool.effects, reasons, run, call_id)
        if self.approve is None:
            raise ToolRefused(
                f"'{tool.name}' needs approval because {' and '.join(reasons)}, and no one "
                "was asked (no approval callback). Do not retry it; tell the user what you "
                "wanted to do.", tool=tool.name, reasons=reasons)
        try:
            approved = self.approve(request)
        except ApprovalPending as exc:
            exc.tool = exc.tool or tool.name
            exc.reasons = exc.reasons or reasons
            raise
        if not approved:
            raise ToolRefused(f"The user declined '{tool.name}'. Do not retry it.",
                              tool=tool.name, reasons=reasons)

    @staticmethod
    def observe(tool: Any, taint: Taint, text: str, findings: list[Finding]) -> None:
        """Record what a finished call brought into the run."""
        effects = getattr(tool, "effects", None)
        if effects is None or READS_UNTRUSTED in effects:
            # An undeclared tool's text counts only when the detector marked it.
            taint.findings.extend((tool.name, f) for f in findings)
        if effects is not None and READS_UNTRUSTED in effects:
            taint.untrusted.append(text)
        if effects is not None and READS_PRIVATE in effects:
            taint.private = True
