"""The ``sapient`` dispatcher and the built-in commands registered by the apps plugin."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest
import sapient
from sapient import Host, LLMResponse, Settings, ToolCall, hookimpl
from sapient.connectors.scripted import ScriptedLLM
from sapient.core import cli
from sapient.plugins.apps import _agent_commands, _host_commands

ROOT = Path(sapient.__file__).resolve().parent


def test_builtin_commands_come_from_the_apps_plugin():
    commands = Host().registry("commands")
    for name in ("plugins", "tools", "run", "chat"):
        assert commands[name].plugin == "sapient.plugins.apps"
    assert commands["demo"].plugin == "sapient.plugins.demo"
    # the dispatcher keeps no command of its own
    assert not [n for n in vars(cli) if n.startswith("cmd_")]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("app", ["apps", "demo"])
def test_apps_use_only_the_public_api(app):
    """Apps import ``sapient`` and public plugin packages, never the core or a private module."""
    for path in (ROOT / "plugins" / app).glob("*.py"):
        for module in _imports(path):
            if not module.startswith("sapient"):
                continue
            parts = module.split(".")
            assert module == "sapient" or (parts[1] == "plugins" and len(parts) == 3), \
                f"{path.name} imports {module}"


class _Replacer:
    """A plugin (not a default one) that registers its own ``scripted`` LLM scheme."""

    @hookimpl
    def register_llms(self, register):
        register("scripted", lambda rest, settings: ScriptedLLM(["mine"]), help="mine")


def test_plugins_shows_which_plugin_won_a_name(capsys):
    host = Host(plugins=[_Replacer()], load_entrypoints=False)
    assert _host_commands.run_plugins(argparse.Namespace(verbose=False), host) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "_Replacer won over the built-in from sapient.connectors.scripted" in out


def test_a_bad_spec_is_one_error_line_and_exit_2(capsys):
    assert cli.main(["run", "hello", "--llm", "nope:x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Unknown LLM provider 'nope'")


def test_usage_errors_use_the_same_style(capsys):
    assert cli.main(["run"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: the following arguments are required: prompt")
    assert "sapient run --help" in line


@pytest.mark.parametrize("flag", ["--llm", "--home", "--trace", "--mcp", "--allow-tool"])
def test_a_global_flag_without_its_value_is_one_usage_line(capsys, flag):
    """The settings read before the command's parser must not print their own usage."""
    assert cli.main(["run", "hello", flag]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: argument {flag}: expected one argument")
    assert "sapient run --help" in line


def test_run_answers_and_exits_0(capsys):
    assert cli.main(["run", "hello there", "--llm", "scripted:echo", "--no-tools"]) == 0
    assert capsys.readouterr().out.strip() == "hello there"


class _Looper:
    """An LLM scheme whose model calls a tool forever."""

    @hookimpl
    def register_llms(self, register):
        register("loop", lambda rest, settings: ScriptedLLM(
            function=lambda m, t, o: LLMResponse(tool_calls=[ToolCall("calculator",
                                                                      {"expression": "1+1"})])))


def test_a_run_without_an_answer_exits_1_with_the_reason(capsys):
    host = Host(Settings(llm="loop:x"), plugins=[_Looper()], load_entrypoints=False)
    args = argparse.Namespace(prompt="q", json=False, quiet=True, tool=["calculator"],
                              no_tools=False, tool_choice=None, system=None, max_steps=5)
    assert _agent_commands.run_once(args, host) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no answer (repeated_call)")


def test_tool_choice_is_checked_and_passed_on(capsys):
    host = Host(Settings(llm="scripted:echo"), load_entrypoints=False)
    args = argparse.Namespace(tool=["calculator"], no_tools=False, tool_choice="calculator",
                              system=None, max_steps=2)
    agent = _agent_commands.make_agent(args, host)
    assert agent.model_options == {"tool_choice": "calculator"}
    assert cli.main(["run", "q", "--llm", "scripted:echo", "--tool-choice", "nope"]) == 2
    assert "--tool-choice 'nope'" in capsys.readouterr().err


def test_index_and_graph_options_reach_the_one_host(monkeypatch, tmp_path):
    built: list[Host] = []
    original = Host.__init__

    def counting(self, *a, **kw):
        original(self, *a, **kw)
        built.append(self)

    monkeypatch.setattr(Host, "__init__", counting)
    assert cli.main(["run", "q", "--llm", "scripted:echo", "--no-tools", "--index", "notes",
                     "--graph", "people"]) == 0
    [host] = built
    assert host.settings.index == "notes"
    assert host.settings.graph == f"ladybug:{tmp_path / 'home' / 'graphs' / 'people'}"


def test_unknown_names_in_sapient_plugins_are_warned_about(monkeypatch, capsys):
    monkeypatch.delenv("SAPIENT_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("SAPIENT_PLUGINS", "no-such-plugin")
    assert cli.main(["tools", "--json"]) == 0
    err = capsys.readouterr().err
    assert "warning: SAPIENT_PLUGINS names no-such-plugin, which is not installed" in err


def test_chat_keeps_turns_with_piped_input(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("first question\nsecond question\n"))
    assert cli.main(["chat", "--llm", "scripted:echo", "--no-tools"]) == 0
    out = capsys.readouterr().out
    assert out.index("first question") < out.index("second question")
    assert out.count("sapient>") == 2


def test_chat_keeps_each_turn_under_its_memory_budget(monkeypatch, capsys):
    import io

    from sapient.connectors.scripted import ScriptedLLM

    sent: list[int] = []

    def count(messages, tools, options):
        sent.append(sum(len((m.content or "").split()) for m in messages))
        return "ok " * 30

    monkeypatch.setattr("sapient.connectors.scripted.from_spec",
                        lambda rest, settings=None: ScriptedLLM(function=count))
    lines = "".join(f"question number {i} with some words to fill the budget\n"
                    for i in range(60))
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert cli.main(["chat", "--llm", "scripted:x", "--no-tools", "--memory-tokens", "200"]) == 0
    assert len(sent) >= 60 and max(sent) < 200  # (summaries call the model too) words < tokens


def test_chat_refuses_a_memory_budget_too_small(capsys):
    assert cli.main(["chat", "--llm", "scripted:echo", "--memory-tokens", "10"]) == 2
    assert "memory budget" in capsys.readouterr().err
