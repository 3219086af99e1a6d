"""``--mcp SERVER`` and ``--trace FILE`` on ``sapient run``, ``chat`` and ``serve``, through
the CLI's in-process entry function: the agent gets the MCP server's tools (a real server
over stdio, written with the official SDK) and the run is traced to a JSONL file."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from sapient import ToolCall
from sapient.connectors import scripted
from sapient.core.cli import main, settings_from_argv, trace_spec

pytest.importorskip("mcp")
pytest.importorskip("opentelemetry.sdk")

REPO = Path(__file__).resolve().parents[2]
SERVER_CMD = f"{sys.executable} {REPO / 'examples' / 'mcp_agent' / 'server.py'}"


def stock_reply(messages, tools, options):
    """Ask the MCP server's stock tool, then answer with what it said."""
    results = [m for m in messages if m.role == "tool"]
    if not results:
        return ToolCall("stock_level", {"item": "mist-valve"})
    return f"Stock says: {results[-1].content}"


@pytest.fixture(autouse=True)
def stock_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(scripted._NAMED, "stock", stock_reply)  # --llm scripted:stock
    monkeypatch.delenv("SAPIENT_MCP_SERVERS", raising=False)
    monkeypatch.delenv("SAPIENT_TRACE", raising=False)
    yield
    from sapient.connectors.mcp._client import _close_all

    _close_all()


def spans(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def span_names(path: Path) -> str:
    return " ".join(str(s.get("name")) for s in spans(path))


def test_run_uses_mcp_tools_and_writes_a_trace(tmp_path: Path, capsys) -> None:
    trace = tmp_path / "trace.jsonl"
    code = main(["run", "How many mist valves are left?", "--llm", "scripted:stock",
                 "--mcp", SERVER_CMD, "--trace", str(trace), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    [call] = out["tool_calls"]
    assert call["name"] == "stock_level" and '"units": 7' in call["result"]
    assert out["answer"].startswith("Stock says:")
    names = [s["name"] for s in spans(trace)]
    assert "invoke_agent sapient" in names and "execute_tool stock_level" in names, names
    assert main(["trace", "show", str(trace)]) == 0
    assert "stock_level" in capsys.readouterr().out


def test_chat_takes_the_same_flags(tmp_path: Path, capsys, monkeypatch) -> None:
    trace = tmp_path / "chat.jsonl"
    monkeypatch.setattr(sys, "stdin", io.StringIO("How many mist valves?\n"))
    code = main(["chat", "--llm", "scripted:stock", "--mcp", SERVER_CMD,
                 "--trace", str(trace)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Stock says:" in out and "mist-valve" in out
    assert "stock_level" in span_names(trace)


def test_without_the_flags_there_are_no_mcp_tools(capsys) -> None:
    code = main(["run", "hi", "--llm", "scripted:stock", "--tool", "stock_level"])
    assert code == 2
    assert "No plugin registered a tool named 'stock_level'" in capsys.readouterr().err


def test_serve_takes_the_flags(tmp_path: Path, monkeypatch) -> None:
    """``sapient serve --mcp ... --trace ...``: the served agent has the MCP tools and
    its requests are traced (uvicorn.run replaced by one in-process request)."""
    import uvicorn
    from starlette.testclient import TestClient

    trace = tmp_path / "serve.jsonl"
    answers = []

    def one_request(app, **kwargs) -> None:
        with TestClient(app) as http:
            r = http.post("/v1/chat/completions", json={
                "model": "sapient", "messages": [{"role": "user", "content": "valves?"}]})
            answers.append(r.json())

    monkeypatch.setattr(uvicorn, "run", one_request)
    code = main(["serve", "--llm", "scripted:stock", "--port", "0", "--no-page",
                 "--mcp", SERVER_CMD, "--trace", str(trace)])
    assert code == 0
    [done] = answers
    assert done["choices"][0]["message"]["content"].startswith("Stock says:")
    assert [s["name"] for s in done["sapient"]["steps"]] == ["stock_level"]
    assert "stock_level" in span_names(trace)


def test_flags_become_host_settings(monkeypatch) -> None:
    monkeypatch.setenv("SAPIENT_MCP_SERVERS", "python env.py")
    settings = settings_from_argv(["run", "q", "--mcp", "python a.py", "--mcp",
                                   "http://127.0.0.1:9/mcp", "--trace", "t.jsonl"])
    assert settings.extra["mcp_servers"] == ["python env.py", "python a.py",
                                             "http://127.0.0.1:9/mcp"]
    assert settings.extra["trace"] == "jsonl:t.jsonl"
    assert [trace_spec(v) for v in ("otlp", "otlp:http://c:4318/v1/traces", "jsonl:x",
                                    "otlp.jsonl")] == [
        "otlp", "otlp:http://c:4318/v1/traces", "jsonl:x", "jsonl:otlp.jsonl"]
    assert "mcp_servers" not in settings_from_argv(["run", "q"]).extra
