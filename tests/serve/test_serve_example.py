"""examples/web_chat runs with the command in its README (scripted LLM in place of a model)."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import openai
import pytest
from serve_helpers import REPO, free_port, sapient_env, stop, wait_http

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def test_the_web_chat_example_serves_the_page_and_the_api(tmp_path):
    pytest.importorskip("sentence_transformers", reason="the example indexes the demo documents")
    port = free_port()
    log = tmp_path / "web_chat.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "examples" / "web_chat" / "web_chat.py"),
             "--llm", "scripted:echo", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=sapient_env(tmp_path / "home"))
        try:
            try:
                wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=300)
            except RuntimeError as exc:
                raise AssertionError(f"{exc}; log:\n{log.read_text()}") from None
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                assert b"<title>Sapient chat</title>" in r.read()
            c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
            out_ = c.chat.completions.create(model="sapient", messages=[
                {"role": "user", "content": "Hello from the smoke test"}])
            assert out_.choices[0].message.content == "Hello from the smoke test"
        finally:
            stop(proc)
    text = log.read_text()
    assert "search_documents, graph_retrieve, detect_anomalies" in text
    assert (tmp_path / "home" / "web_chat" / "indexes" / "demo").is_dir()
    assert "Traceback" not in text
