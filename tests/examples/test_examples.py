"""Smoke tests of the example chatbots: each one's main() with a scripted model, real tools."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sapient.connectors.scripted import ScriptedLLM

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SAPIENT_LLM", "SAPIENT_TRACE", "SAPIENT_MCP_SERVERS", "SAPIENT_GRAPH",
                 "SAPIENT_INDEX", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAPIENT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAPIENT_DISABLE_PLUGIN_AUTOLOAD", "1")


def load(name: str):
    """Import examples/<name>/bot.py as a module (examples are scripts, not a package)."""
    path = EXAMPLES / name / "bot.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def last_tool_result(messages) -> str:
    return next(m.content for m in reversed(messages) if m.role == "tool")


@pytest.mark.slow
def test_docs_qa_answers_with_a_citation(tmp_path, capsys) -> None:
    pytest.importorskip("faiss")
    bot = load("docs_qa")

    def script(messages, tools, options):
        if not any(m.role == "tool" for m in messages):
            return {"tool": "search_documents", "args": {"query": "power cut logging hours"}}
        evidence = last_tool_result(messages)
        first_id = evidence.split("\n[", 1)[1].split("]", 1)[0]
        return f"It keeps logging during a power cut [{first_id}]."

    code = bot.main(["--home", str(tmp_path), "--question", "How long does it log in a power "
                     "cut?"], llm=ScriptedLLM(function=script))
    out = capsys.readouterr().out
    assert code == 0
    assert "Indexed 11 documents" in out
    assert "[search_documents] Found" in out
    cited = out.split("bot> ", 1)[1].split("[", 1)[1].split("]", 1)[0]
    assert f"source [{cited}]" in out  # the cited passage is listed as a source


@pytest.mark.slow
def test_graph_bot_answers_from_the_graph(tmp_path, capsys) -> None:
    pytest.importorskip("ladybug")
    bot = load("graph_bot")
    llm = ScriptedLLM([{"tool": "graph_retrieve", "args": {"question": "Who does Alice Smith "
                                                                       "know?"}},
                       "Alice Smith knows Bob Jones and Carol White."])
    code = bot.main(["--home", str(tmp_path), "--question", "Who does Alice Smith know?"],
                    llm=llm)
    out = capsys.readouterr().out
    assert code == 0, out
    tool_line = next(line for line in out.splitlines() if "[graph_retrieve]" in line)
    assert "Bob Jones" in tool_line or "Carol White" in tool_line


def test_ops_bot_checks_the_metric_and_saves_the_plot(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    bot = load("ops_bot")
    llm = ScriptedLLM([{"tool": "check_metric", "args": {"metric": "latency_ms"}},
                       {"tool": "check_metric", "args": {"metric": "cpu"}},
                       "Checkout latency spiked; see the chart."])
    code = bot.main(["--home", str(tmp_path), "--question", "Was checkout slow?"], llm=llm)
    out = capsys.readouterr().out
    assert code == 0, out
    plot = tmp_path / "ops_bot" / "plots" / "checkout_latency-latency_ms.png"
    assert plot.exists() and plot.read_bytes()[:4] == b"\x89PNG"
    assert str(plot) in out
    assert "'cpu' is not one of" in out  # the enum kept the model to real metrics


def test_ops_bot_runs_from_its_readme_command(tmp_path) -> None:
    """The README's command, as a user types it, with a model given by --llm."""
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(EXAMPLES / "ops_bot" / "bot.py"), "--llm",
                           "scripted:echo", "--home", str(tmp_path), "--question", "hello"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "bot> hello" in done.stdout


def test_mcp_agent_uses_the_servers_tools(tmp_path, capsys) -> None:
    pytest.importorskip("mcp")
    bot = load("mcp_agent")
    llm = ScriptedLLM([{"tool": "list_items", "args": {}},
                       {"tool": "stock_level", "args": {"item": "mist-valve"}},
                       "7 mist valves are left in Porto; time to reorder."])
    code = bot.main(["--home", str(tmp_path), "--question", "Should we reorder mist valves?"],
                    llm=llm)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "offers: list_items, stock_level" in out
    stock = next(line for line in out.splitlines() if "[stock_level]" in line)
    assert json.loads(stock.split("] ", 1)[1])["units"] == 7


def test_embedded_model_router_picks_the_first_tool() -> None:
    """Without --llm the tiny embedded model gets its first step routed (no model load here)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        from _common import FirstStep
    finally:
        sys.path.remove(str(EXAMPLES))
    from sapient import Agent, tool

    @tool
    def lookup(query: str) -> str:
        """Look something up.

        Args:
            query: what to look up.
        """
        return f"found: {query}"

    answers = ScriptedLLM(["From the evidence: found it."])
    router = FirstStep(lambda q: ("lookup", {"query": q}))
    result = Agent(answers, tools=[lookup], plugins=[router]).run("where is it?")
    assert result.tool_calls[0].result == "found: where is it?"
    assert result.answer == "From the evidence: found it."
    prompt = answers.calls[0].messages[0].content
    assert prompt.startswith("Evidence:\nfound: where is it?")
