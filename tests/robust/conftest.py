"""Shared fixtures for the robustness tests: no machine setting leaks into a test."""

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
    """Data goes to a temp folder; no SAPIENT_* setting of the machine applies."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAPIENT_HOME", str(tmp_path / "home"))
