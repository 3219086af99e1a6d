"""Secret scrubbing for everything that leaves the process: traces, errors, answers.

A trace or an error message leaves the process (a JSONL file someone attaches to a bug
report, an OTLP collector run by another team, a terminal), so nothing secret may
enter it. Three nets, each cheap, all applied to every string:

1. *Known values*: the current values of environment variables whose names say they
   hold a secret (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*``, ...) are
   replaced wherever they appear, whatever their shape.
2. *Shapes*: text that looks like a credential (``sk-...`` keys, ``Bearer ...``,
   ``Authorization:`` headers, ``user:pass@`` in URLs, GitHub/Slack/AWS tokens,
   JWTs) is replaced.
3. *Keys*: in dicts (tool arguments, options), values under keys named like a secret
   (``api_key``, ``authorization``, ``password``, ``token`` ...) are replaced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "redact", "redact_value", "secret_key"]

REDACTED = "[REDACTED]"

_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
_SECRET_KEY = re.compile(
    r"^(api[-_]?key|apikey|x[-_]api[-_]key|authorization|proxy[-_]authorization|password|passwd|"
    r"secret|client[-_]secret|token|access[-_]token|refresh[-_]token|id[-_]token|bearer|cookie|"
    r"set[-_]cookie|private[-_]key|credentials?)$|(_key|_token|_secret|_password)$",
    re.IGNORECASE,
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Bearer abc", "authorization=Basic abc" (header or query form).
    (re.compile(r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
                r"(?:(?:bearer|basic|token|digest)\s+)?[^\s\"',;}]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # API keys that say what they are: sk-..., sk-proj-..., sk-ant-..., rk-...
    (re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{16,}"), REDACTED),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
    # user:password@ in URLs (any scheme).
    (re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1" + REDACTED + "@"),
    # key=value / "key": "value" pairs whose key names a secret.
    (re.compile(r"(?i)([\"']?\b(?:api[-_]?key|access[-_]token|client[-_]secret|password|passwd|"
                r"secret|token)[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED)[^\s\"',;&}]{4,}"),
     r"\1" + REDACTED),
)
_MIN_SECRET_LEN = 8


def secret_key(name: str) -> bool:
    """Whether a dict key or header name says its value is a secret."""
    return bool(_SECRET_KEY.search(name))


_names_cache: tuple[int, tuple[str, ...]] = (-1, ())


def _env_secrets() -> list[str]:
    """Values of environment variables named like secrets, longest first.

    The *names* are rescanned when the number of variables changes (scanning
    ``os.environ`` on every string would dominate tracing time); the *values* are read
    on every call, so a key set or changed at run time is still caught.
    """
    global _names_cache
    size, names = _names_cache
    if size != len(os.environ):
        names = tuple(k for k in os.environ if _SECRET_ENV.search(k))
        _names_cache = (len(os.environ), names)
    values = {v for v in (os.environ.get(k) for k in names)
              if v is not None and len(v) >= _MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every secret it contains replaced by ``[REDACTED]``."""
    if len(text) < _MIN_SECRET_LEN:  # too short to hold any credential we look for
        return text
    for value in _env_secrets():
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact_value(value: Any) -> Any:
    """A copy of a JSON-like value with secret-named keys and secret-shaped text redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): (REDACTED if secret_key(str(k)) and v not in (None, "")
                         else redact_value(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value
