"""Third-party plugins for real: the ``examples/plugin_template`` distribution is
pip-installed into a temporary folder, and a broken distribution (its entry point
raises on import) is put next to it. Everything runs in subprocesses, so nothing
leaks into this test process or into the virtual environment."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "examples" / "plugin_template"
HAS_CLI = importlib.util.find_spec("sapient.core.cli") is not None


def run_py(code: str, site: Path, *args: str, env: dict[str, str] | None = None,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SAPIENT_")}
    full_env["SAPIENT_HOME"] = str(site.parent / "home")
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    full_env["COLUMNS"] = "200"  # rich tables: no wrapping of names
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, env=full_env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def hello_site(tmp_path_factory) -> Path:
    """sapient-hello pip-installed (with its entry point) into a fresh folder."""
    tmp = tmp_path_factory.mktemp("hello")
    src = tmp / "src"
    shutil.copytree(TEMPLATE, src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp / "site"
    base = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--disable-pip-version-check", "--target", str(site)]
    proc = subprocess.run([*base, "--no-build-isolation", str(src)], capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:  # no setuptools in this environment: build in isolation
        proc = subprocess.run([*base, str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (site / "sapient_hello" / "__init__.py").exists()
    return site


BROKEN_SOURCE = 'raise ImportError("sapient-broken needs the frobnicate SDK")\n'


@pytest.fixture
def broken_site(hello_site, tmp_path) -> Path:
    """hello's folder plus a distribution whose entry point raises on import."""
    site = tmp_path / "site"
    shutil.copytree(hello_site, site)
    (site / "sapient_broken_plugin.py").write_text(BROKEN_SOURCE)
    info = site / "sapient_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sapient-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sapient]\nbroken = sapient_broken_plugin\n")
    return site


AGENT_CODE = """
    import json
    from sapient import Agent, Host, ToolCall
    from sapient.connectors.scripted import ScriptedLLM

    host = Host()
    llm = ScriptedLLM([ToolCall("greet", {"name": "Ada", "language": "fr"}), "Said hi."])
    result = Agent(llm, tools=["greet", "calculator"], host=host).run("greet Ada")
    print(json.dumps({
        "plugins": host.plugin_names(),
        "greet_source": host.tools()["greet"].source,
        "tool_result": result.tool_calls[0].result,
        "answer": result.answer,
        "errors": [[e.plugin, e.stage, e.error, e.traceback] for e in host.load_errors
                   if e.plugin in ("hello", "broken")],
    }))
"""


def test_installed_template_is_found_through_its_entry_point(hello_site):
    out = json.loads(run_py(AGENT_CODE, hello_site).stdout.splitlines()[-1])
    assert "hello" in out["plugins"]
    assert out["greet_source"] == "hello"
    assert out["tool_result"] == "Bonjour, Ada!" and out["answer"] == "Said hi."
    assert out["errors"] == []


def test_template_selection_switches(hello_site):
    code = "from sapient import Host; print('hello' in Host().plugin_names())"
    assert run_py(code, hello_site, env={"SAPIENT_PLUGINS": "hello"}).stdout.strip() == "True"
    assert run_py(code, hello_site, env={"SAPIENT_PLUGINS": "other"}).stdout.strip() == "False"
    off = {"SAPIENT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    assert run_py(code, hello_site, env=off).stdout.strip() == "False"


def test_template_own_tests_pass(hello_site, tmp_path):
    tests = tmp_path / "tests"
    shutil.copytree(TEMPLATE / "tests", tests)
    code = "import sys, pytest; sys.exit(pytest.main(sys.argv[1:]))"
    proc = run_py(code, hello_site, "-q", "-p", "no:cacheprovider", "--rootdir",
                  str(tmp_path), str(tests), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout


def test_broken_plugin_is_skipped_and_reported(broken_site):
    out = json.loads(run_py(AGENT_CODE, broken_site).stdout.splitlines()[-1])
    assert "hello" in out["plugins"] and "broken" not in out["plugins"]
    assert out["tool_result"] == "Bonjour, Ada!" and out["answer"] == "Said hi."
    [[plugin, stage, error, tb]] = out["errors"]
    assert (plugin, stage) == ("broken", "import")
    assert error == "ImportError: sapient-broken needs the frobnicate SDK"
    assert "sapient_broken_plugin.py" in tb


CLI = "import sys; from sapient.core.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.skipif(not HAS_CLI, reason="the command line (sapient.core.cli) is not installed")
def test_cli_lists_plugins_and_the_broken_one(broken_site):
    out = run_py(CLI, broken_site, "plugins").stdout
    assert "hello" in out and "greet" in out
    assert "broken" in out and "needs the frobnicate SDK" in out
    verbose = run_py(CLI, broken_site, "plugins", "--verbose").stdout
    assert "Traceback" in verbose and "sapient_broken_plugin.py" in verbose
    tools = run_py(CLI, broken_site, "tools").stdout
    assert "greet" in tools and "calculator" in tools
    answer = run_py(CLI, broken_site, "run", "--llm", "scripted:echo", "still working").stdout
    assert "still working" in answer
