"""Safe by default: tool permissions and approval, quarantine of untrusted content,
prompt-injection marking and redaction, as a default plugin every agent runs under.

Python::

    from sapient import Agent, tool
    from sapient.plugins.policy import Policy

    @tool(effects=["writes"])
    def delete_records(ids: list[int]) -> str:
        "Delete records by id."

    agent = Agent(llm, tools=[delete_records],
                  approve=lambda req: input(f"Allow {req.describe()}? [y/N] ") == "y")
    # or: Agent(llm, tools=[...], policy=Policy(allow={"delete_records"}))

How the rules work is in :mod:`sapient.plugins.policy._policy` and
``docs/security.md``. The plugin wraps two hooks: ``call_tool`` (check before, scan
and record after) and ``call_model`` (deliver tool results quarantined), and guards
answers with ``check_output`` (redaction). An agent may pass its own
``policy=Policy(...)``; a replacement policy plugin is installed with
``SAPIENT_BLOCK_PLUGINS=sapient.plugins.policy`` so this one does not load.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sapient.core.effects import READS_UNTRUSTED
from sapient.core.hookspecs import hookimpl
from sapient.core.tools import serialize_result

from ._detect import Finding, detect_injection, strip_hidden
from ._policy import ApprovalRequest, Policy, Taint, arguments_grounded
from ._quarantine import QUARANTINE_NOTE, findings_of, quarantine_messages, wrap
from ._redact import redact, redact_pii, redact_secrets

__all__ = [
    "Policy",
    "ApprovalRequest",
    "Taint",
    "Finding",
    "detect_injection",
    "strip_hidden",
    "arguments_grounded",
    "quarantine_messages",
    "wrap",
    "QUARANTINE_NOTE",
    "redact",
    "redact_secrets",
    "redact_pii",
    "policy_for",
    "allowed_tools",
    "terminal_approver",
]


def allowed_tools(settings: Any) -> frozenset[str]:
    """Tools the user allowed to run without asking, by name: ``--allow-tool NAME``
    (``settings.extra["allow_tools"]``) or ``SAPIENT_ALLOW_TOOLS=a,b``."""
    extra = getattr(settings, "extra", None) or {}
    names = extra.get("allow_tools")
    if names is None:
        names = os.environ.get("SAPIENT_ALLOW_TOOLS", "")
    if isinstance(names, str):
        names = names.split(",")
    return frozenset(n.strip() for n in names if isinstance(n, str) and n.strip())


def policy_for(run: Any) -> Policy:
    """The run's policy: the agent's own, or a default one with the agent's approver and
    the tools its host's settings allow."""
    if run is None:
        return Policy.permissive()
    cached = run.state.get("policy")
    if cached is None:
        agent = run.agent
        cached = getattr(agent, "policy", None)
        if cached is None:
            host = getattr(agent, "host", None)
            cached = Policy(approve=getattr(agent, "approve", None),
                            allow=allowed_tools(getattr(host, "settings", None)))
        run.state["policy"] = cached
    return cached


def _taint(run: Any) -> Taint:
    taint = run.state.get("policy.taint")
    if taint is None:
        taint = run.state["policy.taint"] = Taint()
        if run.state.get("resumed"):
            _seed(run, taint)
    return taint


def _seed(run: Any, taint: Taint) -> None:
    """A resumed run (one paused for approval) starts with what its turn had read.

    The tool results after the last user message belong to the turn that paused; a
    fresh :class:`Taint` would forget them and let a later call through that the
    untrusted text asked for.
    """
    messages = list(run.messages)
    start = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1) + 1
    tools = getattr(run.agent, "tools", {}) or {}
    for m in messages[start:]:
        tool = tools.get(m.name or "")
        if m.role != "tool" or tool is None or (m.metadata or {}).get("error"):
            continue
        text = m.content or ""
        findings = detect_injection(text, _tool_names(run))
        if findings and m.tool_call_id:
            findings_of(run)[m.tool_call_id] = findings
        Policy.observe(tool, taint, text, findings)


def _user_text(run: Any) -> str:
    return "\n".join(m.content or "" for m in run.messages if m.role == "user")


def _tool_names(run: Any) -> list[str]:
    return list(getattr(run.agent, "tools", {}) or {})


@hookimpl(wrapper=True, tryfirst=True)
def call_tool(invocation: Any) -> Any:
    """Check the call against the policy, run it, then scan and record its result."""
    run = invocation.run
    if run is None:  # called directly from Python, not by a model
        return (yield)
    policy = policy_for(run)
    taint = _taint(run)
    policy.check(invocation.tool, invocation.arguments, taint, _user_text(run), run,
                 invocation.call.id)
    result = yield
    if policy.enabled:
        text = serialize_result(result)
        findings = detect_injection(text, _tool_names(run))
        if findings:
            findings_of(run)[invocation.call.id] = findings
            run.state.setdefault("policy.marked", []).append(invocation.tool.name)
        Policy.observe(invocation.tool, taint, text, findings)
    return result


@hookimpl(wrapper=True, tryfirst=True)
def call_model(request: Any) -> Any:
    """Show the model its tool results as quarantined data."""
    run = request.run
    policy = policy_for(run)
    if run is not None and policy.enabled:
        _taint(run)  # a resumed run marks what its turn read before the pause
    if run is not None and policy.enabled and policy.quarantine:
        tools = getattr(run.agent, "tools", {}) or {}

        def untrusted(name: str) -> bool:
            effects = getattr(tools.get(name), "effects", None)
            return effects is not None and READS_UNTRUSTED in effects

        request.messages = quarantine_messages(request.messages, findings_of(run), untrusted,
                                               drop=policy.on_injection == "drop")
    return (yield)


@hookimpl
def check_output(text: str, run: Any) -> str | None:
    """Redact secrets (and personal data, when the policy says so) from the answer."""
    policy = policy_for(run)
    cleaned = redact(text, pii=policy.redact_pii) if policy.enabled else text
    return cleaned if cleaned != text else None


def terminal_approver(ask: Callable[[str], str] = input) -> Callable[[ApprovalRequest], bool]:
    """An approval callback that asks the person at the terminal (``sapient chat``)."""

    def approve(request: ApprovalRequest) -> bool:
        answer = ask(f"Allow {redact_secrets(request.describe())}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    return approve
