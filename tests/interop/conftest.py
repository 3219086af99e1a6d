"""A clean environment for every interop test."""

from __future__ import annotations

from pathlib import Path

import pytest

_ENV = (
    "SAPIENT_LLM", "SAPIENT_PLUGINS", "SAPIENT_TRACE", "SAPIENT_TRACE_CONTENT",
    "SAPIENT_MCP_SERVERS", "SAPIENT_MCP_API_KEY", "SAPIENT_EMBEDDER", "SAPIENT_GRAPH",
    "OPENAI_API_KEY", "OPENAI_BASE_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting of the machine leaks into a test; data goes to a temp folder."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAPIENT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAPIENT_DISABLE_PLUGIN_AUTOLOAD", "1")
