"""Cutting recorded values to size, after the shared secret scrubbing.

The scrubbing itself lives in :mod:`sapient.core.redact`, shared with the error
messages and the safety policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sapient.core.redact import REDACTED, redact, redact_value, secret_key

__all__ = ["REDACTED", "redact", "redact_value", "cut", "secret_key"]


def cut(value: Any, limit: int) -> str:
    """Redacted one-string form of ``value``, at most ``limit`` characters (with a note)."""
    if isinstance(value, str):
        text = redact(value)
    elif isinstance(value, (Mapping, list, tuple)):
        text = json.dumps(redact_value(value), ensure_ascii=False, sort_keys=True, default=str)
    else:  # a tool's value: the text the model saw (ToolOutput content, models as JSON)
        from sapient.core.tools import serialize_result

        try:
            text = redact(serialize_result(value))
        except (TypeError, ValueError):
            text = redact(str(value))
    if len(text) > limit:
        text = text[:limit] + f"… [{len(text) - limit} more characters]"
    return text
