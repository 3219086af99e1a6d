"""Shared fixtures for the core tests: a clean environment and small tools."""

from __future__ import annotations

import pytest

_ENV = (
    "SAPIENT_LLM",
    "SAPIENT_PLUGINS",
    "SAPIENT_DISABLE_PLUGIN_AUTOLOAD",
    "SAPIENT_TRACE_PLUGINS",
    "SAPIENT_EMBEDDER",
    "SAPIENT_GRAPH",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No setting of the machine leaks into a test; data goes to a temp folder."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAPIENT_HOME", str(tmp_path / "home"))


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


@pytest.fixture
def add_tool():
    from sapient import tool

    return tool(add)
