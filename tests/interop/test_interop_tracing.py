"""Tracing: GenAI spans for runs, model and tool calls; JSONL + ``sapient trace show``; OTLP
to a collector on loopback; secrets never recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")

from interop_helpers import child_env  # noqa: E402
from sapient import Agent, Host, LLMError, ToolCall, tool  # noqa: E402
from sapient.connectors.scripted import ScriptedLLM  # noqa: E402
from sapient.core.cli import main  # noqa: E402
from sapient.plugins.demo import SAMPLE_QUESTIONS  # noqa: E402
from sapient.plugins.tracing import flush, redact  # noqa: E402

FAKE_KEY = "sk-fake-0123456789abcdefghijklmnop"
KEYLIKE = "sk-proj-ZYXWVUTSRQPONMLKJIHG9876"


@tool
def read_settings(section: str) -> str:
    """Read a section of the service settings.

    Args:
        section: which section, e.g. "database".
    """
    return (f"[{section}] url=postgres://admin:hunter2secret@db.internal/app "
            f"openai_key={KEYLIKE} Authorization: Bearer abcdefghij0123456789 region=eu-west")


@tool
def explode(reason: str) -> str:
    """Always fails.

    Args:
        reason: why.
    """
    raise RuntimeError(f"failed because {reason}; token={KEYLIKE}")


def _spans(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _demo_run(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Agent, object]:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("SAPIENT_TRACE", f"jsonl:{path}")
    question = SAMPLE_QUESTIONS[0]
    llm = ScriptedLLM([
        [ToolCall("calculator", {"expression": "2 * 21"}),
         ToolCall("read_settings", {"section": "database"})],
        ToolCall("explode", {"reason": "testing"}),
        f"It keeps logging for 42 hours. (key {KEYLIKE})",
    ])
    host = Host()
    agent = Agent(llm, tools=["calculator", read_settings, explode], host=host)
    return agent, agent.run(question)


def test_trace_of_a_demo_question_as_jsonl_and_shown_has_no_secret(tmp_path, monkeypatch,
                                                                   capsys) -> None:
    path = tmp_path / "trace.jsonl"
    agent, result = _demo_run(path, monkeypatch)
    assert result.ok
    spans = _spans(path)
    names = [s["name"] for s in spans]
    assert names.count("chat scripted") == 3
    assert {"execute_tool calculator", "execute_tool read_settings", "execute_tool explode",
            "invoke_agent sapient"} <= set(names)
    run = next(s for s in spans if s["name"] == "invoke_agent sapient")
    assert run["parent_id"] is None
    assert all(s["parent_id"] == run["span_id"] for s in spans if s is not run)
    assert len({s["trace_id"] for s in spans}) == 1
    a = run["attributes"]
    assert a["gen_ai.operation.name"] == "invoke_agent"
    assert a["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens > 0
    assert a["gen_ai.usage.output_tokens"] == result.usage.completion_tokens > 0
    chat = next(s for s in spans if s["name"] == "chat scripted")["attributes"]
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.request.model"] == "scripted"
    assert chat["gen_ai.provider.name"] == "scripted"
    calc = next(s for s in spans if s["name"] == "execute_tool calculator")["attributes"]
    assert calc["gen_ai.tool.name"] == "calculator"
    assert calc["gen_ai.tool.call.result"] == "42"
    boom = next(s for s in spans if s["name"] == "execute_tool explode")
    assert boom["status"] == "ERROR" and boom["attributes"]["error.type"] == "RuntimeError"
    assert boom["events"][0]["name"] == "exception"

    monkeypatch.setenv("COLUMNS", "300")  # one line per span
    assert main(["trace", "show", str(path)]) == 0
    shown = capsys.readouterr().out
    for expected in ("invoke_agent sapient", "chat scripted", "execute_tool read_settings",
                     "tokens", "→ calls calculator, read_settings", "✗ failed because testing"):
        assert expected in shown, expected
    raw = path.read_text()
    for secret in (FAKE_KEY, KEYLIKE, "hunter2secret", "abcdefghij0123456789"):
        assert secret not in raw and secret not in shown, secret
    assert "[REDACTED]" in raw


def test_fatal_model_error_closes_the_run_span_with_error(tmp_path, monkeypatch) -> None:
    path = tmp_path / "t.jsonl"
    monkeypatch.setenv("SAPIENT_TRACE", f"jsonl:{path}")

    def fail(messages, tools, options):
        raise LLMError(f"the provider refused key {FAKE_KEY}")

    with pytest.raises(LLMError):
        Agent(ScriptedLLM(function=fail), host=Host()).run("hi")
    spans = {s["name"]: s for s in _spans(path)}
    assert spans["chat scripted"]["status"] == "ERROR"
    assert spans["chat scripted"]["attributes"]["error.type"] == "LLMError"
    assert spans["invoke_agent sapient"]["status"] == "ERROR"
    assert FAKE_KEY not in path.read_text()


class _Collector(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).received.append(body)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_otlp_exporter_sends_genai_spans_to_a_collector(monkeypatch) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        monkeypatch.setenv("SAPIENT_TRACE", f"otlp:{endpoint}")
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
        llm = ScriptedLLM([ToolCall("read_settings", {"section": "db"}), "done"])
        Agent(llm, tools=[read_settings], host=Host()).run("settings?")
        flush()
    finally:
        server.shutdown()
        server.server_close()
    assert _Collector.received, "the collector received nothing"
    names, attrs = [], {}
    for body in _Collector.received:
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                assert ss.scope.name == "sapient"
                for span in ss.spans:
                    names.append(span.name)
                    for kv in span.attributes:
                        attrs[kv.key] = kv.value
    assert {"invoke_agent sapient", "chat scripted", "execute_tool read_settings"} <= set(names)
    assert attrs["gen_ai.tool.name"].string_value == "read_settings"
    assert "gen_ai.usage.input_tokens" in attrs
    blob = b"".join(_Collector.received)
    assert KEYLIKE.encode() not in blob and b"hunter2secret" not in blob


def test_tracing_is_off_by_default_and_imports_nothing(tmp_path) -> None:
    code = (
        "import sys, json\n"
        "from sapient import Agent, Host\n"
        "from sapient.connectors.scripted import ScriptedLLM\n"
        "Agent(ScriptedLLM(['hi']), host=Host()).run('x')\n"
        "print(json.dumps([m for m in ('opentelemetry', 'mcp', 'langchain_core')"
        " if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert not list(tmp_path.iterdir())


def test_trace_show_explains_bad_input(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["trace", "show", str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "There is no trace file" in err and "Traceback" not in err
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n{\"a\": 1}\n")
    assert main(["trace", "show", str(junk)]) == 2
    assert "holds no spans" in capsys.readouterr().err


@pytest.mark.parametrize("text", [
    "key sk-abcdefghijklmnopqrstuv here",
    "Authorization: Bearer abc.def-ghi_jkl012345",
    "headers={'authorization': 'Basic dXNlcjpwYXNzd29yZA=='}",
    "https://user:p4ssw0rd@example.com/path",
    "ghp_abcdefghijklmnopqrstuvwxyz0123",
    "AKIAABCDEFGHIJKLMNOP",
    '{"password": "correct-horse-battery"}',
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
])
def test_redaction_catches_credential_shapes(text: str) -> None:
    out = redact(text)
    assert "[REDACTED]" in out
    for secret in ("abcdefghijklmnopqrstuv", "abc.def-ghi_jkl012345", "dXNlcjpwYXNzd29yZA",
                   "p4ssw0rd", "ghp_abc", "AKIAABCD", "correct-horse", "dozjgNry"):
        assert secret not in out


def test_redaction_removes_values_of_secret_environment_variables(monkeypatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "plainlookingvalue42")
    assert redact("got plainlookingvalue42 back") == "got [REDACTED] back"
    assert redact("tokens: 12, max_tokens=5") == "tokens: 12, max_tokens=5"
