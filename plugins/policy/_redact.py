"""Redaction of secrets and common personal data in text the agent outputs or traces.

Secrets (API keys, bearer tokens, private keys, passwords in URLs) are always
redacted; personal data (e-mail addresses, phone numbers, card numbers that pass the
Luhn check, US social-security numbers, IBANs) only when asked, since an assistant
answering from the user's own address book must be able to print an address.
"""

from __future__ import annotations

import re

__all__ = ["redact", "redact_secrets", "redact_pii"]

_SECRETS = [
    re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}"),  # OpenAI / Anthropic style keys
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub tokens
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),  # Slack tokens
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API keys
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{12,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)\b(api[_-]?key|secret|password|passwd|token)\s*[:=]\s*['\"]?[^\s'\",;]{6,}"),
]
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.I)

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{7,}\d(?!\w)")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")


def redact_secrets(text: str) -> str:
    """Replace keys, tokens and URL credentials with ``[redacted secret]``."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>[redacted]@", text)
    for pattern in _SECRETS:
        text = pattern.sub("[redacted secret]", text)
    return text


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[redacted card]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group()


def redact_pii(text: str) -> str:
    """Replace e-mail addresses, card numbers, SSNs, IBANs and phone numbers."""
    text = _EMAIL.sub("[redacted email]", text)
    text = _CARD.sub(_card, text)
    text = _SSN.sub("[redacted ssn]", text)
    text = _IBAN.sub("[redacted iban]", text)
    return _PHONE.sub(lambda m: "[redacted phone]" if sum(c.isdigit() for c in m.group()) >= 9
                      else m.group(), text)


def redact(text: str, *, pii: bool = False) -> str:
    """Secrets always; personal data too when ``pii``."""
    text = redact_secrets(text)
    return redact_pii(text) if pii else text
