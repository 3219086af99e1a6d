"""MCP both ways: the official ``mcp`` client against ``sapient mcp`` (stdio and HTTP, real
subprocesses), and Sapient agents using the tools of an MCP server written with the SDK."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

pytest.importorskip("mcp")

from interop_helpers import EXAMPLE_SERVER, child_env, free_port, stop, wait_for_port  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402
from sapient import Agent, ConfigurationError, Host, Settings  # noqa: E402
from sapient.connectors.mcp import mcp_tools, parse_servers  # noqa: E402
from sapient.connectors.scripted import ScriptedLLM  # noqa: E402

SERVER_CMD = f"{sys.executable} {EXAMPLE_SERVER}"


def _stdio_params() -> StdioServerParameters:
    keep = ("PYTHONPATH", "SAPIENT_HOME", "SAPIENT_DISABLE_PLUGIN_AUTOLOAD")
    return StdioServerParameters(command=sys.executable, args=["-m", "sapient", "mcp"],
                                 env={k: os.environ[k] for k in keep if k in os.environ})


async def _exercise(client: Client) -> dict:
    listed = (await client.list_tools()).tools
    ok = await client.call_tool("calculator", {"expression": "2**10"})
    bad_args = await client.call_tool("calculator", {"expr": "1"})
    unknown = await client.call_tool("no_such_tool", {})
    failing = await client.call_tool("detect_anomalies", {"csv_path": "/nonexistent/x.csv",
                                                          "column": "v"})
    return {"listed": listed, "ok": ok, "bad_args": bad_args, "unknown": unknown,
            "failing": failing}


def _check(found: dict) -> None:
    registered = Host(Settings.from_env()).tools()
    listed = {t.name: t for t in found["listed"]}
    assert set(listed) == set(registered)
    for name, tool in registered.items():  # schemas and descriptions exactly as registered
        assert listed[name].input_schema == tool.parameters, name
        assert listed[name].description == tool.description, name
    assert found["ok"].is_error is False and found["ok"].content[0].text == "1024"
    assert found["bad_args"].is_error is True
    assert "'expression' is required" in found["bad_args"].content[0].text
    assert found["unknown"].is_error is True
    assert "no tool named 'no_such_tool'" in found["unknown"].content[0].text
    assert found["failing"].is_error is True
    assert "Traceback" not in found["failing"].content[0].text


def test_official_client_lists_and_calls_sapient_tools_over_stdio() -> None:
    async def main() -> dict:
        async with Client(_stdio_params(), read_timeout_seconds=60) as client:
            return await _exercise(client)

    _check(asyncio.run(main()))


def test_official_client_lists_and_calls_sapient_tools_over_http() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sapient", "mcp", "--http", "--port",
                             str(port)], env=child_env(), stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc)

        async def main() -> dict:
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=60) as client:
                return await _exercise(client)

        _check(asyncio.run(main()))
    finally:
        stop(proc)


def test_http_with_api_key_refuses_requests_without_it_and_sapient_client_sends_it() -> None:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sapient", "mcp", "--http", "--port",
                             str(port), "--tool", "calculator"],
                            env=child_env(SAPIENT_MCP_API_KEY="test-key-123"),
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc)
        refused = httpx.post(f"http://127.0.0.1:{port}/mcp", json={}, timeout=10)
        assert refused.status_code == 401
        entry = {"url": f"http://127.0.0.1:{port}/mcp",
                 "headers": {"Authorization": "Bearer test-key-123"}}
        with mcp_tools(entry, prefix="remote_") as remote:
            assert [t.name for t in remote.tools] == ["remote_calculator"]
            llm = ScriptedLLM([{"tool": "remote_calculator", "args": {"expression": "6*7"}},
                               "It is 42."])
            result = Agent(llm, tools=remote).run("What is 6*7?")
        assert result.tool_calls[0].result == "42"
    finally:
        stop(proc)


def test_binding_beyond_loopback_without_a_key_is_refused_plainly(capsys) -> None:
    from sapient.core.cli import main

    code = main(["mcp", "--http", "--host", "0.0.0.0", "--port", str(free_port()),
                 "--tool", "calculator"])
    err = capsys.readouterr().err
    assert code != 0
    assert "API key" in err and "Traceback" not in err


def test_agent_calls_the_tools_of_an_mcp_server_it_started() -> None:
    with mcp_tools(SERVER_CMD) as remote:
        tools = {t.name: t for t in remote.tools}
        assert set(tools) == {"list_items", "stock_level"}
        assert tools["stock_level"].parameters["required"] == ["item"]
        assert tools["stock_level"].source == "mcp:server.py"
        llm = ScriptedLLM([
            {"tool": "stock_level", "args": {"item": "mist-valve"}},
            {"tool": "stock_level", "args": {"item": "warp-drive"}},
            {"tool": "stock_level", "args": {"units": 3}},
            "Only 7 mist valves are left in Porto; reorder.",
        ])
        result = Agent(llm, tools=remote).run("How many mist valves are left?")
    first, second, third = result.tool_calls
    assert '"units": 7' in first.result and '"reorder": true' in first.result
    assert second.error is not None and "unknown item 'warp-drive'" in second.error
    assert third.error is not None and "'item' is a required property" in third.error  # checked locally
    assert result.answer.startswith("Only 7")
    # every call reached the model as a tool message
    assert [m.role for m in result.messages].count("tool") == 3


def test_configured_servers_register_their_tools_on_the_host() -> None:
    from sapient.plugins.mcp import configured_servers

    settings = Settings.from_env(extra={"mcp_servers": [SERVER_CMD]})
    assert [s.command for s in configured_servers(settings)] == [sys.executable]
    host = Host(settings)
    tools = host.tools()
    assert "stock_level" in tools
    assert tools["stock_level"].metadata["mcp_server"] == SERVER_CMD
    assert tools["stock_level"].invoke({"item": "aurora-x2"}).count("Lyon") == 1
    from sapient.connectors.mcp._client import _close_all

    _close_all()


def test_a_server_that_does_not_start_gives_one_plain_sentence() -> None:
    with pytest.raises(ConfigurationError) as info:
        mcp_tools(f"{sys.executable} -c \"import sys; sys.stderr.write('boom'); sys.exit(3)\"",
                  timeout=30)
    text = str(info.value)
    assert text.startswith("Could not start the MCP server") and "boom" in text
    with pytest.raises(ConfigurationError, match="Could not start"):
        mcp_tools("/no/such/program --flag", timeout=30)


def test_server_lists_parse_from_env_forms() -> None:
    specs = parse_servers("python a.py; http://127.0.0.1:9/mcp")
    assert [s.transport for s in specs] == ["stdio", "http"]
    assert specs[0].args == ["a.py"]
    desktop = parse_servers('{"mcpServers": {"files": {"command": "npx", "args": ["-y", "fs"],'
                            ' "env": {"A": "1"}}, "web": {"url": "https://u:p@x.org/mcp"}}}')
    assert [s.name for s in desktop] == ["files", "web"]
    assert desktop[0].env == {"A": "1"}
    assert desktop[1].describe() == "https://x.org/mcp"  # no credentials in messages
    with pytest.raises(ConfigurationError, match="neither 'command' nor 'url'"):
        parse_servers('[{"name": "x"}]')
