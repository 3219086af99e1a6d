"""Letting a side-effecting tool run without asking, from the command line or the
environment (``--allow-tool NAME``, ``SAPIENT_ALLOW_TOOLS``): only the named tool, and
the other rules still apply."""

from __future__ import annotations

import pytest
from sapient import Agent, Host, Settings, ToolCall, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.cli import settings_from_argv


def _tools(log: list[str]):
    @tool(effects=["writes"])
    def archive_ticket(ticket: str) -> str:
        """Archive a ticket.

        Args:
            ticket: the ticket id.
        """
        log.append(f"archived {ticket}")
        return "archived"

    @tool(effects=["writes"])
    def delete_ticket(ticket: str) -> str:
        """Delete a ticket.

        Args:
            ticket: the ticket id.
        """
        log.append(f"deleted {ticket}")
        return "deleted"

    return [archive_ticket, delete_ticket]


def _run(settings: Settings, name: str) -> list[str]:
    log: list[str] = []
    llm = ScriptedLLM([ToolCall(name, {"ticket": "T-7"}), "done"])
    host = Host(settings, load_entrypoints=False)
    Agent(llm, tools=_tools(log), host=host).run("Please handle ticket T-7.")
    return log


def test_allowed_tool_runs_and_others_still_need_approval(tmp_path) -> None:
    settings = Settings(home=tmp_path, extra={"allow_tools": ["archive_ticket"]})
    assert _run(settings, "archive_ticket") == ["archived T-7"]
    assert _run(settings, "delete_ticket") == []  # refused: no one was asked
    assert _run(Settings(home=tmp_path), "archive_ticket") == []  # the default asks


def test_environment_names_allowed_tools(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAPIENT_ALLOW_TOOLS", " delete_ticket ,")
    assert _run(Settings(home=tmp_path), "delete_ticket") == ["deleted T-7"]


def test_flags_add_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAPIENT_ALLOW_TOOLS", "a")
    settings = settings_from_argv(["run", "hi", "--allow-tool", "b", "--allow-tool", "c"])
    assert settings.extra["allow_tools"] == ["a", "b", "c"]
    assert "allow_tools" not in settings_from_argv(["run", "hi"]).extra
