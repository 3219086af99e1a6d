"""Streamed text through the output guards, so a stream shows what the answer would.

The output guards (``check_output`` hooks: secret and personal-data redaction, ...)
read whole texts, but a stream sends text as it comes: an API key split over three
deltas would leave before any guard saw it whole. :class:`StreamGuard` sits between
the model's deltas and the run's events. It keeps the raw text of the model turn,
and releases only a prefix that is settled:

* the prefix ends at a whitespace at least ``window`` characters before the end of
  what has arrived, so a secret still arriving (keys, e-mail addresses and tokens
  hold no whitespace; phone, card and ``Authorization: Bearer`` forms are shorter
  than the window) is never cut in two;
* the guarded prefix must be the start of the guarded whole text so far, so a match
  that crosses the cut holds the release back until it is whole;
* what is released always extends what was released before: no text is ever sent
  twice or taken back.

At the end of the turn the rest is released from the guarded final text, so the
joined deltas equal the answer the run returns. The cost: the stream runs about one
window behind the model. Each release has the guards read the new text with one window
of context before it, and releases wait for a ``SPREAD``-th of the text so far (a short
answer goes word by word; the number of releases grows only with the logarithm of the
length), so the work grows with the answer's length, not with its square.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import GuardViolation

__all__ = ["StreamGuard", "WINDOW"]

#: Characters held back behind the newest text: longer than any whitespace-holding
#: secret form the default redaction knows (an IBAN with spaces is at most 42).
WINDOW = 64
#: A release waits for ``len(text) // SPREAD`` settled characters (at least one word).
SPREAD = 64


def _boundary(text: str, limit: int) -> int:
    """The start of the word at or before ``limit`` (just after a space or line break)."""
    if limit <= 0:
        return 0
    return max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit)) + 1


class StreamGuard:
    """Guarded release of one model turn's streamed text (see the module docstring).

    Args:
        guard: the output guards, text in, text out (raises ``GuardViolation`` to block).
        window: characters held back behind the newest text.
    """

    def __init__(self, guard: Callable[[str], str], window: int = WINDOW) -> None:
        self.guard = guard
        self.window = window
        self.raw = ""  # the turn's text as the model sent it
        self.sent = ""  # the guarded text released so far
        self._cut = 0  # raw characters covered by ``sent``
        self.blocked = False  # a guard refused the text: release nothing more

    def feed(self, text: str) -> str:
        """Take a delta; return the text that may be shown now (often empty)."""
        self.raw += text
        if self.blocked:
            return ""
        limit = len(self.raw) - self.window
        if limit - self._cut < max(1, len(self.raw) // SPREAD):
            return ""
        cut = _boundary(self.raw, limit)
        if cut <= self._cut:
            return ""
        # The guards read the new text with one window of released text before it (all
        # a match can reach back), not the whole turn: each release costs the same.
        start = _boundary(self.raw, self._cut - self.window)
        try:
            base = self.guard(self.raw[start:self._cut])
            head = self.guard(self.raw[start:cut])
            whole = self.guard(self.raw[start:])
        except GuardViolation:
            self.blocked = True
            return ""
        if not (self.sent.endswith(base) and head.startswith(base) and whole.startswith(head)):
            return ""  # a guard's match crosses the cut: wait until it is whole
        out = head[len(base):]
        self.sent, self._cut = self.sent + out, cut
        return out

    def flush(self, final: str | None = None) -> str:
        """The rest of the turn: ``final`` (the guarded answer) or the guarded raw text.

        Returns ``""`` when a guard blocked the text, or in the (unexpected) case that
        the guarded text no longer starts with what was sent.
        """
        if self.blocked:
            return ""
        if final is None:
            try:
                final = self.guard(self.raw)
            except GuardViolation:
                self.blocked = True
                return ""
        out = final[len(self.sent):] if final.startswith(self.sent) else ""
        self.sent += out
        return out

    def reset(self) -> None:
        """Start a new model turn."""
        self.raw, self.sent, self._cut, self.blocked = "", "", 0, False
