"""``sapient serve`` configuration: the TOML file, flags over it, the API-key rule, plain
one-sentence errors, and a light ``import``."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import openai
import pytest
from sapient import ConfigurationError
from sapient.core.cli import main
from sapient.plugins.serve import ServeConfig, create_app, is_loopback, load_config
from sapient.plugins.serve._cli import _config_from, configure
from serve_helpers import ServerThread

CONFIG = """
[server]
host = "127.0.0.1"
port = 8123
model_name = "docs-bot"
sessions = "memory"
session_ttl_s = 3600
api_key_env = "DOCS_BOT_KEY"

[agent]
llm = "scripted:recall"
tools = []
system_prompt = "Answer briefly."
max_steps = 4
model_options = { temperature = 0 }
"""


def write(tmp_path: Path, text: str, name: str = "serve.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_config_file_gives_every_setting(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONFIG))
    assert (config.host, config.port, config.model_name, config.session_ttl_s) == (
        "127.0.0.1", 8123, "docs-bot", 3600)
    assert (config.llm, config.tools, config.system_prompt, config.max_steps) == (
        "scripted:recall", [], "Answer briefly.", 4)
    assert config.model_options == {"temperature": 0} and config.api_key_env == "DOCS_BOT_KEY"


def test_flags_override_the_file_and_the_key_comes_from_the_environment(tmp_path, monkeypatch):
    parser = argparse.ArgumentParser()
    parser.add_argument("--llm")
    configure(parser)
    path = write(tmp_path, CONFIG)
    monkeypatch.setenv("DOCS_BOT_KEY", "k-123")
    args = parser.parse_args(["--config", str(path), "--port", "9000", "--tool", "calculator",
                              "--llm", "scripted:echo", "--model-name", "m2", "--no-page"])
    config = _config_from(args)
    assert (config.port, config.tools, config.llm, config.model_name, config.page) == (
        9000, ["calculator"], "scripted:echo", "m2", False)
    assert config.system_prompt == "Answer briefly." and config.api_key == "k-123"
    assert "k-123" not in repr(config)


@pytest.mark.parametrize(("text", "pattern"), [
    ("[agent]\nllm = 'x'\ntemperature = 1\n", r"Unknown setting 'temperature' in \[agent\]"),
    ("[servr]\nport = 1\n", r"Unknown section\(s\) \['servr'\]"),
    ("[server]\nport = '8000'\n", r"'port' in .* must be a whole number, not '8000'"),
    ("[agent]\ntools = 'calculator'\n", r"'tools' in .* must be a list"),
    ("[server\nport = 1\n", r"is not valid TOML"),
])
def test_bad_config_files_are_one_sentence(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        load_config(write(tmp_path, text))
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_an_api_key_is_required_off_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.8.0.1") and not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")
    assert not is_loopback("example.org")
    with pytest.raises(ConfigurationError, match="Refusing to listen on 0.0.0.0 without an API key"):
        ServeConfig(host="0.0.0.0").check()
    ServeConfig(host="0.0.0.0", api_key="a-long-key").check()
    with pytest.raises(ConfigurationError, match="is empty"):
        ServeConfig(api_key=" ").check()


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(["serve", *argv])
    err = capsys.readouterr().err
    return code, " ".join(err.split())


def test_the_command_refuses_to_start_unsafely_or_wrongly(capsys, tmp_path) -> None:
    code, err = run_cli(capsys, "--llm", "scripted:echo", "--host", "0.0.0.0")
    assert code == 2 and "Refusing to listen on 0.0.0.0 without an API key" in err
    assert "SAPIENT_API_KEY" in err and "Traceback" not in err
    code, err = run_cli(capsys, "--llm", "scripted:echo", "--tool", "no_such_tool")
    assert code == 2 and "No plugin registered a tool named 'no_such_tool'" in err
    code, err = run_cli(capsys, "--llm", "nosuch:model")
    assert code == 2 and "Unknown LLM provider 'nosuch'" in err
    code, err = run_cli(capsys, "--llm", "scripted:echo", "--sessions", "mongo://x")
    assert code == 2 and "Unknown session store" in err
    code, err = run_cli(capsys, "--config", str(tmp_path / "nope.toml"))
    assert code == 2 and "does not exist" in err
    code, err = run_cli(capsys, "--llm", "scripted:echo", "--plugin", "no.such.module")
    assert code == 2 and "Cannot import the plugin module 'no.such.module'" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, err = run_cli(capsys, "--llm", "scripted:echo", "--port", str(port))
    assert code == 2 and f"Cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_a_config_file_serves_its_agent_with_its_plugins(tmp_path, monkeypatch, host) -> None:
    (tmp_path / "shout_plugin.py").write_text(textwrap.dedent('''
        from sapient import hookimpl

        @hookimpl
        def check_output(text, run):
            return text.upper()
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, CONFIG.replace("tools = []", "tools = []\nplugins = ['shout_plugin']"))
    config = load_config(path).with_env_key({"DOCS_BOT_KEY": "file-key"})
    with ServerThread(create_app(config, host=host)) as server:
        c = openai.OpenAI(base_url=f"{server.url}/v1", api_key="file-key", max_retries=0)
        assert [m.id for m in c.models.list()] == ["docs-bot"]
        out = c.chat.completions.create(model="docs-bot", messages=[
            {"role": "user", "content": "quiet words"}])
        assert out.choices[0].message.content == "QUIET WORDS"


def test_default_tools_are_every_registered_tool(host) -> None:
    app = create_app(ServeConfig(llm="scripted:echo"), host=host)
    assert set(app.state.service.agent.tools) == set(host.tools())
    assert app.state.service.agent.system_prompt.startswith("You are a helpful assistant")


def test_the_serve_plugin_loads_without_the_web_stack() -> None:
    code = (
        "import sys, json\n"
        "from sapient import Host\n"
        "h = Host(load_entrypoints=False); assert 'serve' in h.registry('commands')\n"
        "import sapient.plugins.serve\n"
        "heavy = ['fastapi', 'starlette', 'uvicorn', 'redis', 'pydantic_settings']\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
