"""The plugin host: default plugins, entry points and their switches, broken plugins,
registry clashes, LLM resolution and a light ``import sapient``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sapient import Agent, ConfigurationError, Host, PluginError, Settings, ToolCall, hookimpl
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.plugins import DEFAULT_PLUGINS


def errors_of(host: Host, *plugins: str) -> list:
    """Load errors of the named plugins (other installed plugins are not under test)."""
    return [e for e in host.load_errors if e.plugin in plugins]


@pytest.fixture
def fake_plugins(install_plugin):
    """Two good entry-point plugins (alpha, beta) and a broken one, on sys.path."""
    install_plugin("sapient-alpha", {"alpha": "sapient_test_alpha"}, {
        "sapient_test_alpha": """
            from sapient import hookimpl

            def alpha_tool(x: int) -> int:
                '''Double x.'''
                return 2 * x

            @hookimpl
            def register_tools(register):
                register(alpha_tool)
        """})
    install_plugin("sapient-beta", {"beta": "sapient_test_beta"}, {
        "sapient_test_beta": """
            from sapient import hookimpl

            @hookimpl
            def register_tools(register):
                register(lambda: "b", name="beta_tool")
        """})
    return install_plugin("sapient-broken", {"broken": "sapient_test_broken"}, {
        "sapient_test_broken": """
            raise RuntimeError("broken on purpose: missing API key")
        """})


# --- default plugins ------------------------------------------------------------------------


def test_default_plugins_load_cleanly_and_pass_check_pending():
    host = Host(load_entrypoints=False)
    host.check_pending()
    host.pm.check_pending()
    assert host.load_errors == []
    assert host.plugin_names()[: len(DEFAULT_PLUGINS)] == list(DEFAULT_PLUGINS)


def test_default_registries_and_provenance():
    host = Host(load_entrypoints=False)
    tools = host.tools()
    assert tools["calculator"].source == "sapient.plugins.functions"
    assert tools["calculator"].invoke({"expression": "2 * (3 + 4)"}) == "14"
    llms = host.registry("llms")
    assert llms["scripted"].plugin == "sapient.connectors.scripted"
    assert llms["openai"].plugin == "sapient.connectors.openai"
    assert "sentence-transformers" in host.registry("embedders")


def test_building_a_host_loads_nothing_until_used():
    host = Host()
    assert host.pm.list_name_plugin() == []
    host.tools()
    assert host.pm.list_name_plugin() != []


# --- entry points ---------------------------------------------------------------------------


def test_entry_point_plugins_are_loaded_and_a_broken_one_is_recorded(fake_plugins):
    host = Host(Settings(llm=None))
    names = host.plugin_names()
    assert {"alpha", "beta"} <= set(names)
    assert "broken" not in names
    assert host.tools()["alpha_tool"].source == "alpha"
    [err] = errors_of(host, "broken")
    assert err.stage == "import"
    assert err.error == "RuntimeError: broken on purpose: missing API key"
    assert "Traceback" in err.traceback and "sapient_test_broken.py" in err.traceback
    # the host and an agent keep working
    llm = ScriptedLLM([ToolCall("alpha_tool", {"x": 21}), "42"])
    result = Agent(llm, tools=["alpha_tool", "calculator"], host=host).run("double 21")
    assert result.tool_calls[0].result == "42" and result.answer == "42"


def test_disable_autoload(fake_plugins, monkeypatch):
    monkeypatch.setenv("SAPIENT_DISABLE_PLUGIN_AUTOLOAD", "1")
    host = Host()
    assert not {"alpha", "beta", "broken"} & set(host.plugin_names())
    assert errors_of(host, "alpha", "beta", "broken") == []
    assert "calculator" in host.tools()  # default plugins still load


def test_sapient_plugins_selects_by_name(fake_plugins, monkeypatch):
    monkeypatch.setenv("SAPIENT_PLUGINS", "beta, nothing-else")
    host = Host()
    names = set(host.plugin_names())
    assert "beta" in names and "alpha" not in names
    assert errors_of(host, "broken") == []  # the broken one was not asked for
    assert "beta_tool" in host.tools() and "alpha_tool" not in host.tools()


def test_explicit_load_entrypoints_overrides_the_environment(fake_plugins, monkeypatch):
    monkeypatch.setenv("SAPIENT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "alpha" in Host(load_entrypoints=True).plugin_names()


# --- failures while registering ---------------------------------------------------------------


class FailingTools:
    @hookimpl
    def register_tools(self, register):
        register(lambda: 1, name="good_one")
        raise ValueError("index file is corrupt")


class ClashingTool:
    @hookimpl
    def register_tools(self, register):
        def calculator(expression: str) -> str:
            return "shadow"

        register(calculator)


class ClashingLLM:
    @hookimpl
    def register_llms(self, register):
        register("scripted", lambda rest, settings: None)


class BadSignature:
    @hookimpl
    def register_tools(self, register, not_an_argument):
        pass


class UnknownHook:
    @hookimpl
    def register_widgets(self, register):
        pass


def test_a_plugin_failing_in_a_registry_hook_is_recorded():
    host = Host(plugins=[FailingTools()], load_entrypoints=False)
    tools = host.tools()
    assert "calculator" in tools and "good_one" in tools
    [err] = errors_of(host, "FailingTools")
    assert (err.plugin, err.stage) == ("FailingTools", "register_tools")
    assert "index file is corrupt" in err.error


def test_tool_clash_keeps_the_first_and_reports_the_second():
    host = Host(plugins=[ClashingTool()], load_entrypoints=False)
    assert host.tools()["calculator"].source == "sapient.plugins.functions"
    [err] = errors_of(host, "ClashingTool")
    assert err.plugin == "ClashingTool" and err.stage == "register_tools"
    assert "clashes with the tool of that name from plugin 'sapient.plugins.functions'" in err.error
    assert "register(fn, name='...')" in err.error


def test_a_plugin_registration_replaces_the_builtin_of_that_name():
    host = Host(plugins=[ClashingLLM()], load_entrypoints=False)
    entry = host.registry("llms")["scripted"]
    assert (entry.plugin, entry.replaced) == ("ClashingLLM", "sapient.connectors.scripted")
    assert host.registry("llms")["openai"].replaced is None
    assert errors_of(host, "ClashingLLM") == []


class ClashingLLMToo:
    @hookimpl
    def register_llms(self, register):
        register("scripted", lambda rest, settings: None)


def test_between_two_plugins_the_first_registration_wins_and_the_clash_is_reported():
    host = Host(plugins=[ClashingLLM(), ClashingLLMToo()], load_entrypoints=False)
    assert host.registry("llms")["scripted"].plugin == "ClashingLLM"
    [err] = errors_of(host, "ClashingLLMToo")
    assert err.plugin == "ClashingLLMToo" and err.stage == "register_llms"
    assert "clashes with the one from plugin 'ClashingLLM'" in err.error


def test_a_hookimpl_with_unknown_arguments_is_skipped():
    host = Host(plugins=[BadSignature()], load_entrypoints=False)
    assert "BadSignature" not in host.plugin_names()
    [err] = errors_of(host, "BadSignature")
    assert err.stage == "register" and "not_an_argument" in err.error
    assert "calculator" in host.tools()


def test_check_pending_reports_unknown_hooks():
    host = Host(plugins=[UnknownHook()], load_entrypoints=False)
    with pytest.raises(PluginError, match="register_widgets"):
        host.check_pending()


# --- LLM resolution ---------------------------------------------------------------------------


def test_no_llm_configured_names_the_ways_to_configure_one():
    with pytest.raises(ConfigurationError) as info:
        Host(load_entrypoints=False).llm()
    msg = str(info.value)
    for way in ("No LLM is configured", "--llm", "SAPIENT_LLM", "Agent(llm=",
                "openai:gpt-4o-mini", "llamacpp:", "scripted:echo"):
        assert way in msg
    with pytest.raises(ConfigurationError, match="No LLM is configured"):
        Agent(host=Host(load_entrypoints=False)).run("hi")


def test_llm_from_settings_and_from_spec(monkeypatch):
    monkeypatch.setenv("SAPIENT_LLM", "scripted:echo")
    assert Agent(host=Host(load_entrypoints=False)).run("echo me").answer == "echo me"
    assert Agent("scripted:echo", host=Host(load_entrypoints=False)).run("hi").answer == "hi"


def test_unknown_llm_scheme_lists_the_known_ones():
    with pytest.raises(ConfigurationError) as info:
        Host(load_entrypoints=False).llm("nosuch:model")
    assert "Unknown LLM provider 'nosuch'" in str(info.value)
    assert "openai" in str(info.value) and "scripted" in str(info.value)


def test_unknown_tool_name_lists_the_registered_ones():
    with pytest.raises(ConfigurationError, match="No plugin registered a tool named 'nope'"):
        Agent(ScriptedLLM(["x"]), tools=["nope"], host=Host(load_entrypoints=False))


def test_missing_openai_model_id_is_explained():
    with pytest.raises(ConfigurationError, match="No model id"):
        Host(load_entrypoints=False).llm("openai:http://127.0.0.1:9/v1")


# --- import stays light ------------------------------------------------------------------------


def test_import_sapient_is_light():
    code = (
        "import sys, json, sapient\n"
        "from sapient import Agent, Host, tool\n"
        "heavy = ['torch', 'faiss', 'llama_cpp', 'openai', 'numpy', 'sentence_transformers',"
        " 'ladybug', 'neo4j', 'langchain', 'langchain_core', 'pandas', 'httpx', 'rich']\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_loading_default_plugins_stays_light():
    # The built-in plugins must import without their optional SDKs.
    code = (
        "import sys, json\n"
        "from sapient import Host\n"
        "h = Host(load_entrypoints=False); h.tools(); h.registry('llms');"
        " h.registry('embedders'); h.registry('graph_stores'); h.registry('commands')\n"
        "heavy = ['torch', 'faiss', 'llama_cpp', 'sentence_transformers', 'ladybug']\n"
        "print(json.dumps([sorted(m for m in heavy if m in sys.modules),"
        " [e.plugin for e in h.load_errors]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], []]


def test_settings_from_env_and_overrides(tmp_path):
    env = {"SAPIENT_LLM": "scripted:echo", "SAPIENT_HOME": str(tmp_path),
           "SAPIENT_EMBEDDER": "openai:text-embedding-3-small", "SAPIENT_INDEX": "docs"}
    s = Settings.from_env(env)
    assert (s.llm, s.home, s.embedder, s.index) == (
        "scripted:echo", tmp_path, "openai:text-embedding-3-small", "docs")
    assert s.index_dir() == tmp_path / "indexes" / "docs"
    assert s.graph_spec == f"ladybug:{tmp_path / 'graphs' / 'default'}"
    assert Settings.from_env(env, llm="openai:gpt-4o-mini", home=None).llm == "openai:gpt-4o-mini"
    assert Settings.from_env({}).llm is None
