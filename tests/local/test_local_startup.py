"""Start-up of the local model: nothing at import, one load per process, a quiet log,
and the ``writes_answers`` capability flag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sapient import ConfigurationError, Host, Settings
from sapient.connectors.llamacpp import LlamaCppLLM, from_spec, parse_spec
from sapient.connectors.openai import OpenAIChat
from sapient.connectors.scripted import ScriptedLLM
from sapient.connectors.scripted import from_spec as scripted_spec


def _run(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAPIENT_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=600, check=False)


def test_importing_the_connectors_loads_nothing_heavy(tmp_path):
    out = _run("import sys, json\n"
               "import sapient.connectors.llamacpp, sapient.connectors.openai\n"
               "import sapient.connectors.embeddings, sapient.connectors.scripted\n"
               "heavy = ['llama_cpp', 'numpy', 'openai', 'jsonschema', 'torch']\n"
               "print(json.dumps([m for m in heavy if m in sys.modules]))", tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


@pytest.mark.slow
def test_llama_cpp_writes_nothing_to_stderr(gguf_path, local_home):
    """llama.cpp's own notices (the SWA cache line of Gemma 3) stay out of the output."""
    code = ("from sapient import Host, Settings, Message, Tool\n"
            "llm = Host(Settings.from_env(), load_entrypoints=False).llm(\n"
            "    'llamacpp:default?n_ctx=512&max_tokens=4')\n"
            "t = Tool.from_json_schema('f', 'A tool.', {'type': 'object', 'properties': "
            "{'n': {'type': 'integer'}}, 'required': ['n']}, lambda **kw: kw)\n"
            "llm.complete([Message.user('Hi')])\n"
            "llm.complete([Message.user('Call f with 3')], [t], tool_choice='f')\n"
            "print('load_seconds', llm.load_seconds)\n")
    out = _run(code, local_home)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert "load_seconds" in out.stdout and "None" not in out.stdout


def test_one_load_per_process(local_llm, local_home):
    host = Host(Settings(home=local_home), load_entrypoints=False)
    spec = "llamacpp:default?n_ctx=2048&max_tokens=64"
    assert host.llm(spec) is host.llm(spec)  # one instance per spec per host
    other = from_spec("default?n_ctx=2048&max_tokens=64", Settings(home=local_home))
    assert other is not local_llm and other.load().llama is local_llm.llama
    assert local_llm.load_seconds is not None and other.load_seconds is not None


def test_writes_answers_flag(gguf_path, local_home, tmp_path):
    settings = Settings(home=local_home)
    assert from_spec("default", settings).writes_answers is False  # a 270M base model
    assert from_spec("default?writes_answers=1", settings).writes_answers is True
    assert parse_spec("default?writes_answers=no")[1] == {"writes_answers": False}
    with pytest.raises(ConfigurationError, match="not a valid flag"):
        parse_spec("default?writes_answers=maybe")
    copy = tmp_path / "my-model.gguf"
    copy.symlink_to(gguf_path)
    assert LlamaCppLLM(copy).writes_answers is True  # any other model: assumed capable
    assert LlamaCppLLM(copy, writes_answers=False).writes_answers is False
    assert OpenAIChat("gpt-4o-mini").writes_answers is True
    assert ScriptedLLM(["hi"]).writes_answers is True
    assert scripted_spec("echo?writes_answers=0").writes_answers is False
