"""Pausing a served run for approval and resuming it from the client's answers.

The protocol is in :mod:`._approvals`; this module checks a request's ``tool``
messages against what waits (the session's ``pending`` list, or the signed calls of
the conversation the client sent back) and prepares the history the run resumes
from: denied calls answered with a refusal, approved ones left for the run to make.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sapient import Message, Result

from ._approvals import CallSigner, parse_decision, refusal
from ._protocol import APIError

__all__ = ["trailing_answers", "session_answers", "stateless_answers", "publish_pending",
           "claim_key", "waiting_message", "explain_answers"]

APPROVED_NOTE = ("Approved by the user; the call ran, and the answer that follows reports its "
                 "result.")

_PARAM = "X-Sapient-Session"


def trailing_answers(messages: list[Message]) -> int:
    """How many ``tool`` messages end the request (its answers to pending calls)."""
    k = 0
    while k < len(messages) and messages[-1 - k].role == "tool":
        k += 1
    return k


def waiting_message(pending: list[dict[str, Any]]) -> str:
    calls = ", ".join(f"'{p['name']}' (tool_call_id {p['id']})" for p in pending)
    return (f"This session waits for approval of {calls}. Answer each with a 'tool' message "
            "whose content is 'approve' or 'deny' before sending a new user message.")


def _decide(answers: list[Message], first: int, known: dict[str, str],
            what: str) -> dict[str, tuple[bool, str | None]]:
    """Each answer's decision, by call id; 400 for an unknown, repeated or missing id."""
    decisions: dict[str, tuple[bool, str | None]] = {}
    for j, m in enumerate(answers):
        index, cid = first + j, m.tool_call_id or ""
        if cid not in known:
            waiting = ", ".join(known) or "none"
            raise APIError(400, f"tool_call_id '{cid}' in message {index} matches no call "
                           f"{what} (waiting: {waiting}); it was answered already, or never "
                           "asked.", param=f"messages[{index}].tool_call_id",
                           code="unknown_tool_call")
        if cid in decisions:
            raise APIError(400, f"tool_call_id '{cid}' is answered twice; answer it once.",
                           param=f"messages[{index}].tool_call_id", code="invalid_value")
        decisions[cid] = parse_decision(m.content, index)
    missing = [cid for cid in known if cid not in decisions]
    if missing:
        raise APIError(400, f"Answer every pending call; no 'tool' message answers "
                       f"{', '.join(missing)}.", param="messages",
                       code="missing_required_parameter")
    return decisions


def _history(before: list[Message], decisions: dict[str, tuple[bool, str | None]],
             names: dict[str, str]) -> tuple[list[Message], dict[str, bool]]:
    """The resumed run's history (denials answered) and the approvals for the approver."""
    history = list(before)
    for cid, (approved, reason) in decisions.items():
        if not approved:
            history.append(refusal(names[cid], cid, reason))
    return history, {cid: True for cid, (approved, _) in decisions.items() if approved}


def session_answers(pending: list[dict[str, Any]], stored: list[Message], new: list[Message],
                    k: int) -> tuple[list[Message], dict[str, bool]]:
    """Resume from a session: the request's last ``k`` messages answer ``pending``.

    Messages before the answers (an echoed assistant message) are ignored: the session
    holds the conversation.
    """
    if not k:
        raise APIError(409, waiting_message(pending), param=_PARAM, code="approval_pending")
    names = {p["id"]: p["name"] for p in pending}
    decisions = _decide(new[-k:], len(new) - k, names, "waiting in this session")
    return _history(stored, decisions, names)


def stateless_answers(new: list[Message], k: int,
                      signer: CallSigner) -> tuple[list[Message], dict[str, bool]]:
    """Resume without a session: the answers follow the assistant message that asked."""
    first = len(new) - k
    before = new[:first]
    if not before or before[-1].role != "assistant" or not before[-1].tool_calls:
        raise APIError(400, f"Message {first} has role 'tool', but no assistant message with "
                       "'tool_calls' comes right before it. Send the assistant message this "
                       "server returned, then one 'tool' message per call.",
                       param=f"messages[{first}]", code="invalid_value")
    calls = {c.id: c for c in before[-1].tool_calls}
    for j, m in enumerate(new[first:]):
        call = calls.get(m.tool_call_id or "")
        problem = call and signer.verify(call.id, call.name, call.arguments)
        if problem:
            raise APIError(400, f"tool_call_id '{call.id}' in message {first + j} {problem}.",
                           param=f"messages[{first + j}].tool_call_id", code="unknown_tool_call")
    names = {cid: c.name for cid, c in calls.items()}
    decisions = _decide(new[first:], first, names, "of the assistant message before it")
    return _history(before, decisions, names)


def explain_answers(messages: list[Message], signer: CallSigner) -> list[Message]:
    """Earlier approvals in a stateless conversation, as what they were for the model.

    A client replays ``tool`` messages whose content is "approve"; the model should not
    read that as the call's result. Only answers to calls this server signed change.
    """
    out: list[Message] = []
    calls: dict[str, Any] = {}
    for m in messages:
        if m.role == "assistant":
            calls = {c.id: c for c in m.tool_calls}
        call = calls.get(m.tool_call_id or "") if m.role == "tool" else None
        if call is not None and signer.verify(call.id, call.name, call.arguments) is None:
            try:
                approved, reason = parse_decision(m.content, 0)
            except APIError:
                approved, reason = None, None
            if approved is True:
                m = Message.tool(APPROVED_NOTE, tool_call_id=call.id, name=call.name,
                                 metadata={"source": "client"})
            elif approved is False:
                m = refusal(call.name, call.id, reason)
        out.append(m)
    return out


def claim_key(new: list[Message], k: int) -> str:
    """The session-store key that marks one set of calls as answered (stateless)."""
    ids = sorted(m.tool_call_id or "" for m in new[-k:])
    return "approval:" + hashlib.sha256("\x1f".join(ids).encode()).hexdigest()[:48]


def publish_pending(result: Result, signer: CallSigner) -> list[dict[str, Any]]:
    """Give each waiting call a signed id (in the run's messages too); their descriptions."""
    out = []
    for p in result.pending:
        old, new_id = p.call.id, signer.issue(p.call.name, p.call.arguments)
        for m in reversed(result.messages):
            hit = [c for c in m.tool_calls if c.id == old] if m.role == "assistant" else []
            if hit:
                for c in hit:
                    c.id = new_id
                break
        p.call.id = new_id
        out.append({"id": new_id, "name": p.call.name, "arguments": p.call.arguments_json(),
                    "reasons": list(p.reasons)})
    return out


def tool_calls_field(pending: list[dict[str, Any]], *, indexed: bool = False) -> list[dict]:
    """The pending calls in the OpenAI ``tool_calls`` form (``index`` for stream deltas)."""
    calls = []
    for i, p in enumerate(pending):
        call = {"id": p["id"], "type": "function",
                "function": {"name": p["name"], "arguments": p["arguments"]}}
        calls.append({"index": i, **call} if indexed else call)
    return calls


def last_text(result: Result) -> str | None:
    """What the model said in the turn that asked for the calls (often nothing)."""
    for m in reversed(result.messages):
        if m.role == "assistant":
            return m.content or None
    return None
