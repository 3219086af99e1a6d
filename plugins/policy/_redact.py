"""Redaction of secrets and common personal data in text the agent outputs or traces.

Secrets (API keys, bearer tokens, passwords in URLs, values of secret environment
variables: :mod:`sapient.core.redact`) are always redacted; personal data (e-mail
addresses, phone numbers, card numbers that pass the Luhn check, US social-security
numbers, IBANs) only when asked, since an assistant
answering from the user's own address book must be able to print an address.
"""

from __future__ import annotations

import re

from sapient.core.redact import redact as redact_secrets

__all__ = ["redact", "redact_secrets", "redact_pii"]

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{7,}\d(?!\w)")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")


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
