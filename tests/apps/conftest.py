"""Shared fixtures for the app tests: a clean environment, data in a temp folder."""

from __future__ import annotations

import pytest

_ENV = ("SAPIENT_LLM", "SAPIENT_PLUGINS", "SAPIENT_DISABLE_PLUGIN_AUTOLOAD",
        "SAPIENT_TRACE_PLUGINS", "SAPIENT_EMBEDDER", "SAPIENT_GRAPH", "SAPIENT_INDEX",
        "SAPIENT_DEBUG", "OPENAI_API_KEY", "OPENAI_BASE_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAPIENT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAPIENT_DISABLE_PLUGIN_AUTOLOAD", "1")
