"""Tool approvals over the OpenAI API: a held-back call goes to the client as ``tool_calls``.

When the policy wants a person's yes for a side-effecting call, the served agent's
approval callback (:func:`approver`) cannot ask anyone: it raises
:class:`~sapient.core.errors.ApprovalPending`, the run pauses, and the server answers
with the call as an assistant ``tool_calls`` entry and ``finish_reason: "tool_calls"``,
exactly what an OpenAI client expects when a model wants a function run. The client
answers with one ``tool`` message per call (``tool_call_id`` = the call's id, content
``approve`` or ``deny``, see :func:`parse_decision`), and the server resumes the run:
an approved call runs and the agent goes on; a denied one goes back to the model as a
refusal.

Where the paused run lives:

* with ``X-Sapient-Session``, in the session (``SessionState.pending``): the answer
  is checked against it and claimed with the store's compare-and-set, so two requests
  answering the same call cannot both run it;
* without a session, in the conversation the client sends back (the standard OpenAI
  loop: append the assistant message, then the tool messages). The call ids are
  signed by the server (HMAC over the call's name and arguments), so a client cannot
  make the server run a call its model did not ask for or change its arguments, and
  each id is claimed once in the session store, so a resent answer does not run the
  call twice.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import os
import secrets
import time
from typing import Any

from sapient import Message
from sapient.core.errors import ApprovalPending

from ._protocol import APIError

__all__ = ["DECISIONS", "approver", "parse_decision", "CallSigner", "APPROVE", "DENY",
           "refusal", "ACCEPTED"]

#: The decisions of the request being answered: call id -> approved.
DECISIONS: contextvars.ContextVar[dict[str, bool] | None] = contextvars.ContextVar(
    "sapient_serve_decisions", default=None)

APPROVE = frozenset({"approve", "approved", "allow", "allowed", "yes", "y", "ok", "true"})
DENY = frozenset({"deny", "denied", "decline", "declined", "reject", "rejected", "no", "n",
                  "false"})
ACCEPTED = ("'approve' or 'deny' (also yes/no, allow/reject, true/false), or JSON "
            '{"approved": true} / {"approved": false, "reason": "..."}')


def approver(request: Any) -> bool:
    """The served agent's approval callback: the client's answer, or pause for one."""
    decisions = DECISIONS.get()
    if decisions is not None and request.call_id in decisions:
        return decisions[request.call_id]
    raise ApprovalPending(f"'{request.tool}' waits for the client's approval.",
                          tool=request.tool, reasons=list(request.reasons))


def parse_decision(content: str | None, index: int) -> tuple[bool, str | None]:
    """``(approved, reason)`` from a ``tool`` message's content, or a 400 naming the values."""
    text = (content or "").strip()
    reason = None
    value: Any = text
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("approved"), bool):
            reason = data.get("reason")
            return data["approved"], reason if isinstance(reason, str) and reason else None
        value = None
    word = value.strip(" .!\"'").lower() if isinstance(value, str) else ""
    if word in APPROVE:
        return True, None
    if word in DENY:
        return False, None
    raise APIError(400, f"Message {index} answers a pending tool call, but its content is not "
                   f"a decision. Send {ACCEPTED}.", param=f"messages[{index}].content",
                   code="invalid_approval")


def refusal(name: str, call_id: str, reason: str | None) -> Message:
    """The tool message a denied call becomes: the model hears a plain no."""
    why = f" Their reason: {reason.strip()}" if reason else ""
    text = f"Refused: The user declined '{name}'.{why} Do not retry it; answer without it."
    return Message.tool(text, tool_call_id=call_id, name=name,
                        metadata={"error": True, "refused": True, "source": "client"})


def _canonical(arguments: Any) -> str:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return str(arguments)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


class CallSigner:
    """Signed call ids: ``call_<time>_<nonce>_<mac>``, the mac over time, nonce, name, args.

    Args:
        secret: the signing key; ``None`` reads ``SAPIENT_APPROVAL_SECRET`` or makes a
            random one (then only this process can check its ids: set the variable when
            several replicas serve clients without sessions).
        max_age_s: ids older than this are refused (the claim records expire too).
    """

    def __init__(self, secret: str | bytes | None = None, max_age_s: float = 86_400.0) -> None:
        if secret is None:
            secret = os.environ.get("SAPIENT_APPROVAL_SECRET") or secrets.token_bytes(32)
        self._key = secret.encode() if isinstance(secret, str) else secret
        self.max_age_s = max_age_s

    def _mac(self, stamp: str, nonce: str, name: str, arguments: Any) -> str:
        message = "\x1f".join((stamp, nonce, name, _canonical(arguments))).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def issue(self, name: str, arguments: Any) -> str:
        stamp, nonce = f"{int(time.time()):x}", secrets.token_hex(6)
        return f"call_{stamp}_{nonce}_{self._mac(stamp, nonce, name, arguments)}"

    def verify(self, call_id: str, name: str, arguments: Any) -> str | None:
        """``None`` when this server issued ``call_id`` for exactly this call, recently;
        else what is wrong with it, in words."""
        parts = call_id.split("_")
        if len(parts) != 4 or parts[0] != "call":
            return "was not issued by this server"
        _, stamp, nonce, mac = parts
        if not hmac.compare_digest(mac, self._mac(stamp, nonce, name, arguments)):
            return "does not match the call (its name or arguments were changed)"
        try:
            age = time.time() - int(stamp, 16)
        except ValueError:
            return "was not issued by this server"
        if age > self.max_age_s:
            return "has expired; ask again"
        return None
