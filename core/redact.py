"""Keep keys and URL credentials out of messages, errors and traces.

A server's error body may echo the request's ``Authorization`` header, and a base URL
may carry ``user:password@``; Sapient prints neither verbatim. :func:`redact` masks
what looks like a credential (bearer and basic tokens, ``sk-...`` style keys,
``api_key=...``/``"password": ...`` assignments, URL user info) plus any exact
``secrets`` the caller knows (the key it configured), and :func:`redact_url` masks
the credentials of one URL. Both are plain functions with no state, for connectors,
guards and tracers alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "redact", "redact_url"]

MASK = "***"

_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@?#]+@")
_TOKEN = re.compile(r"(?i)\b(?P<kind>bearer|basic|token)(?P<gap>\s+)[A-Za-z0-9._~+/=-]{6,}")
_KEY = re.compile(r"\b(?:sk|pk|rk|ak)-[A-Za-z0-9_-]{12,}")
_ASSIGNMENT = re.compile(
    r"(?i)(?P<name>[\"']?\b(?:api[_-]?key|apikey|x-api-key|access[_-]?token|auth[_-]?token|"
    r"secret|password|passwd|authorization)[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\"'\s,;&}]+)")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials masked (see the module docstring)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _TOKEN.sub(lambda m: f"{m['kind']}{m['gap']}{MASK}", text)
    text = _KEY.sub(MASK, text)
    return _ASSIGNMENT.sub(lambda m: f"{m['name']}{MASK}" if m["value"] != MASK else m[0], text)


def redact_url(url: str) -> str:
    """``url`` with its ``user:password@`` and key-like query values masked."""
    return redact(url)
