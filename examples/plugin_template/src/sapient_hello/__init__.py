"""sapient-hello: a minimal Sapient plugin that adds one tool, ``greet``.

Sapient loads this module through the ``sapient`` entry point declared in
``pyproject.toml`` and calls its ``@hookimpl`` functions. Keep the import cheap:
import heavy libraries inside the functions that need them, so a missing
dependency never breaks the host.
"""

from __future__ import annotations

from typing import Any, Literal

from sapient import hookimpl

__all__ = ["greet", "register_tools"]

_GREETINGS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo"}


def greet(name: str, language: Literal["en", "fr", "de"] = "en") -> str:
    """Greet someone by name in their language.

    Args:
        name: the person to greet.
        language: ISO 639-1 code of the greeting's language.
    """
    return f"{_GREETINGS[language]}, {name}!"


@hookimpl
def register_tools(register: Any, settings: Any) -> None:
    """Give the agent the ``greet`` tool (schema built from its type hints)."""
    register(greet)
