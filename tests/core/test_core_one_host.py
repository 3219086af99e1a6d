"""One host, one way through: every agent runs on its host's plugins (installed ones
included, with or without ``host=``), and an agent's own ``plugins=`` reach no other agent."""

from __future__ import annotations

import pytest
from sapient import Agent, Host, ToolCall, hookimpl, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.plugins import default_host

POLICY = """
    from sapient import hookimpl

    @hookimpl(wrapper=True)
    def call_tool(invocation):
        if invocation.tool.name == "delete_records":
            raise PermissionError("delete_records is refused by the site policy")
        return (yield)
"""


@pytest.fixture
def records():
    """Two tools on a pretend table: one that deletes (and says so), one that counts."""
    deleted: list[str] = []

    def delete_records(table: str) -> str:
        """Delete every record of a table."""
        deleted.append(table)
        return f"deleted {table}"

    def count_records(table: str) -> int:
        """Count the records of a table."""
        return 3

    return deleted, [delete_records, count_records]


def delete_then_count() -> ScriptedLLM:
    return ScriptedLLM([ToolCall("delete_records", {"table": "users"}),
                        ToolCall("count_records", {"table": "users"}), "done"])


def test_an_installed_call_tool_wrapper_applies_to_an_agent_built_without_host(
        install_plugin, records):
    install_plugin("sapient-site-policy", {"site-policy": "sapient_test_policy"},
                   {"sapient_test_policy": POLICY})
    deleted, tools = records
    agent = Agent(delete_then_count(), tools=tools)  # no host=
    result = agent.run("Clean up the users table.")
    assert deleted == []
    refused, counted = result.tool_calls
    assert refused.error == "PermissionError: delete_records is refused by the site policy"
    assert counted.error is None and counted.result == "3"
    assert result.ok and result.answer == "done"
    assert "site-policy" in agent.host.plugin_names()


def test_without_the_installed_policy_the_same_call_runs(install_plugin, records, monkeypatch):
    # The control for the test above: the refusal came from the entry point.
    install_plugin("sapient-site-policy", {"site-policy": "sapient_test_policy"},
                   {"sapient_test_policy": POLICY})
    monkeypatch.setenv("SAPIENT_DISABLE_PLUGIN_AUTOLOAD", "1")
    deleted, tools = records
    result = Agent(delete_then_count(), tools=tools).run("Clean up the users table.")
    assert deleted == ["users"] and result.tool_calls[0].result == "deleted users"


def test_an_installed_policy_also_applies_to_an_agent_with_plugins_of_its_own(
        install_plugin, records):
    install_plugin("sapient-site-policy", {"site-policy": "sapient_test_policy"},
                   {"sapient_test_policy": POLICY})
    deleted, tools = records
    seen: list[str] = []

    class Observer:
        @hookimpl
        def on_event(self, event):
            seen.append(event.kind)

    result = Agent(delete_then_count(), tools=tools, plugins=[Observer()]).run("x")
    assert deleted == [] and "refused by the site policy" in result.tool_calls[0].error
    assert seen[0] == "RunStarted" and seen[-1] == "FinalAnswer"


@tool
def double(x: int) -> int:
    """Double x."""
    return 2 * x


class Recorder:
    """Records the tool calls it sees."""

    def __init__(self) -> None:
        self.tools: list[str] = []

    @hookimpl(wrapper=True)
    def call_tool(self, invocation):
        self.tools.append(f"{invocation.tool.name}({invocation.arguments['x']})")
        return (yield)


class RefuseDouble:
    @hookimpl(wrapper=True)
    def call_tool(self, invocation):
        raise PermissionError("no doubling for this agent")
        yield  # pragma: no cover - a wrapper is a generator


def one_call(x: int) -> ScriptedLLM:
    """Calls double(x) after each user message, then answers."""
    return ScriptedLLM(function=lambda messages, tools, options: (
        ToolCall("double", {"x": x}) if messages[-1].role == "user" else "ok"))


def test_an_agents_own_plugins_reach_no_other_agent_on_the_same_host():
    host_wide, own = Recorder(), Recorder()
    host = Host(plugins=[host_wide], load_entrypoints=False)
    first = Agent(one_call(1), tools=[double], host=host, plugins=[own])
    second = Agent(one_call(2), tools=[double], host=host)
    third = Agent(one_call(3), tools=[double], host=host, plugins=[RefuseDouble()])
    results = [a.run("x") for a in (first, second, third, second)]
    assert own.tools == ["double(1)"]  # only the first agent's call
    # The host's recorder sees every agent's calls, except the third one's: an agent's
    # own wrappers are registered last, so they run outermost and refused it first.
    assert host_wide.tools == ["double(1)", "double(2)", "double(2)"]
    assert [r.tool_calls[0].result for r in results[:2]] == ["2", "4"]
    assert "no doubling" in results[2].tool_calls[0].error
    assert results[3].tool_calls[0].result == "4"  # the refusal stayed with the third
    assert not host.pm.is_registered(own)
    assert first.pm is not host.pm and second.pm is host.pm


def test_agents_without_host_share_the_environments_host(monkeypatch):
    first, second = Agent("scripted:echo"), Agent("scripted:echo")
    assert first.run("hi").answer == "hi" and second.run("ho").answer == "ho"
    assert first.host is second.host is default_host()
    assert first.llm is second.llm  # one instance per spec per host: one model load
    monkeypatch.setenv("SAPIENT_LLM", "scripted:echo")
    third = Agent()
    assert third.run("again").answer == "again"
    assert third.host is not first.host and third.host.settings.llm == "scripted:echo"
