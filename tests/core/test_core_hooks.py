"""Runtime hooks: call_tool/call_model wrappers, on_event observers, guards, tracing,
and the meta-tests (every hook documented and exercised)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sapient import (
    Agent,
    GuardViolation,
    Host,
    LLMResponse,
    ToolCall,
    hookimpl,
    tool,
)
from sapient.connectors.scripted import ScriptedLLM
from sapient.core import hookspecs
from sapient.core.messages import FinalAnswer, RunError
from sapient.core.runtime import ModelRequest, ToolInvocation

DOCS = Path(__file__).resolve().parents[2] / "docs"


def hook_names() -> list[str]:
    marker = f"{hookspecs.PROJECT}_spec"
    return sorted(n for n, f in vars(hookspecs).items() if hasattr(f, marker))


@tool
def double(x: int) -> int:
    """Double x."""
    return 2 * x


def one_call_then(answer: str = "done", x: int = 4) -> ScriptedLLM:
    return ScriptedLLM([ToolCall("double", {"x": x}), answer])


# --- call_tool ---------------------------------------------------------------------------------


def test_call_tool_wrapper_sees_and_changes_the_result():
    log = []

    class Tracing:
        @hookimpl(wrapper=True)
        def call_tool(self, invocation: ToolInvocation):
            log.append(("before", invocation.tool.name, dict(invocation.arguments),
                        invocation.call.id, invocation.run.step))
            result = yield
            log.append(("after", result))
            return result + 1

    result = Agent(one_call_then(), tools=[double], plugins=[Tracing()]).run("x")
    assert log[0][:3] == ("before", "double", {"x": 4}) and log[0][4] == 1
    assert log[1] == ("after", 8)
    assert result.tool_calls[0].result == "9"


def test_call_tool_wrapper_can_refuse():
    ran = []

    @tool
    def delete_everything() -> str:
        """Dangerous."""
        ran.append(1)
        return "deleted"

    class Approval:
        @hookimpl(wrapper=True)
        def call_tool(self, invocation):
            if invocation.tool.name.startswith("delete"):
                raise PermissionError("not approved by the user")
            return (yield)

    llm = ScriptedLLM([ToolCall("delete_everything", {}), "ok, I will not"])
    result = Agent(llm, tools=[delete_everything], plugins=[Approval()]).run("x")
    assert ran == []
    assert "PermissionError: not approved by the user" in result.tool_calls[0].error
    assert result.answer == "ok, I will not"


def test_call_tool_wrapper_sees_exceptions():
    seen = []

    @tool
    def boom() -> str:
        """Boom."""
        raise KeyError("k")

    class Watch:
        @hookimpl(wrapper=True)
        def call_tool(self, invocation):
            try:
                return (yield)
            except KeyError as exc:
                seen.append(exc)
                return "recovered"

    result = Agent(ScriptedLLM([ToolCall("boom", {}), "ok"]), tools=[boom],
                   plugins=[Watch()]).run("x")
    assert len(seen) == 1 and result.tool_calls[0].result == "recovered"


def test_a_plain_call_tool_impl_replaces_the_builtin():
    ran = []

    @tool
    def expensive(q: str) -> str:
        """Costly."""
        ran.append(q)
        return "fresh"

    class Cache:
        @hookimpl
        def call_tool(self, invocation):
            return "cached" if invocation.arguments["q"] == "known" else None

    llm = ScriptedLLM([ToolCall("expensive", {"q": "known"}),
                       ToolCall("expensive", {"q": "new"}), "ok"])
    result = Agent(llm, tools=[expensive], plugins=[Cache()]).run("x")
    assert [r.result for r in result.tool_calls] == ["cached", "fresh"]
    assert ran == ["new"]


# --- call_model --------------------------------------------------------------------------------


def test_call_model_wrapper_edits_request_and_response():
    class Tweak:
        @hookimpl(wrapper=True)
        def call_model(self, request: ModelRequest):
            request.options["temperature"] = 0.0
            response = yield
            return LLMResponse(text=(response.text or "").upper(), usage=response.usage)

    llm = ScriptedLLM(["quiet answer"])
    result = Agent(llm, plugins=[Tweak()], model_options={"seed": 1}).run("x")
    assert result.answer == "QUIET ANSWER"
    assert llm.calls[0].options == {"seed": 1, "temperature": 0.0}


def test_call_model_wrapper_knows_when_streaming():
    flags = []

    class Watch:
        @hookimpl(wrapper=True)
        def call_model(self, request):
            flags.append(request.streaming)
            return (yield)

    agent = Agent(ScriptedLLM(function=lambda m, t, o: "hi"), plugins=[Watch()])
    agent.run("x")
    list(agent.stream("x"))
    assert flags == [False, True]


# --- on_event ------------------------------------------------------------------------------------


def test_on_event_sees_every_event_in_order():
    seen = []

    class Observer:
        @hookimpl
        def on_event(self, event, run):
            seen.append((event.kind, run.step))

    result = Agent(one_call_then(), tools=[double], plugins=[Observer()]).run("x")
    assert [k for k, _ in seen] == [e.kind for e in result.events]
    assert seen[-1] == ("FinalAnswer", 2)


def test_on_event_errors_abort_the_run():
    class Buggy:
        @hookimpl
        def on_event(self, event):
            if isinstance(event, FinalAnswer):
                raise RuntimeError("observer bug")

    with pytest.raises(RuntimeError, match="observer bug"):
        Agent(ScriptedLLM(["x"]), plugins=[Buggy()]).run("x")


# --- guards --------------------------------------------------------------------------------------


class Redact:
    @hookimpl
    def check_input(self, text):
        return text.replace("secret", "[redacted]")


class Shout:
    @hookimpl
    def check_output(self, text, run):
        return text.upper() + f" ({run.step} steps)"


class RefuseInput:
    @hookimpl
    def check_input(self, text):
        if "forbidden" in text:
            raise GuardViolation("The prompt asks for forbidden things.", stage="input",
                                 guard="refuse")


class RefuseOutput:
    @hookimpl
    def check_output(self, text):
        if "password" in text:
            raise GuardViolation("The answer would leak a password.", stage="output")


def test_check_input_replaces_the_prompt():
    llm = ScriptedLLM(function=lambda m, t, o: m[-1].content)
    result = Agent(llm, plugins=[Redact()]).run("my secret plan")
    assert result.answer == "my [redacted] plan"
    assert llm.calls[0].messages[-1].content == "my [redacted] plan"


def test_check_output_replaces_the_answer():
    result = Agent(one_call_then("fine"), tools=[double], plugins=[Shout()]).run("x")
    assert result.answer == "FINE (2 steps)"


def test_guards_chain():
    llm = ScriptedLLM(function=lambda m, t, o: m[-1].content)
    result = Agent(llm, plugins=[Redact(), Shout()]).run("secret")
    assert result.answer == "[REDACTED] (1 steps)"


def test_check_input_refuses_before_the_model_is_called():
    llm = ScriptedLLM(["never"])
    result = Agent(llm, plugins=[RefuseInput()]).run("do forbidden things")
    assert result.stop_reason == "guard" and result.answer is None
    assert "forbidden things" in result.error
    assert llm.calls == []
    assert any(isinstance(e, RunError) for e in result.events)


def test_check_output_refuses_the_answer():
    result = Agent(ScriptedLLM(["the password is 1234"]), plugins=[RefuseOutput()]).run("x")
    assert result.stop_reason == "guard" and result.answer is None
    assert "leak a password" in result.error


def test_host_plugins_apply_to_agents_of_that_host():
    host = Host(plugins=[Redact()], load_entrypoints=False)
    llm = ScriptedLLM(function=lambda m, t, o: m[-1].content)
    assert Agent(llm, host=host).run("secret").answer == "[redacted]"


# --- tracing -------------------------------------------------------------------------------------


def test_trace_plugins_prints_hook_calls(monkeypatch, capsys):
    monkeypatch.setenv("SAPIENT_TRACE_PLUGINS", "1")
    host = Host(plugins=[Redact(), Shout()], load_entrypoints=False)
    Agent(one_call_then(), tools=[double], host=host).run("x")
    host.registry("llms")
    err = capsys.readouterr().err
    for hook in ("call_model", "call_tool", "on_event", "check_input", "check_output",
                 "register_llms"):
        assert hook in err, hook
    assert "plugin: sapient.connectors.scripted" in err


def test_no_trace_output_by_default(capsys):
    Agent(one_call_then(), tools=[double], host=Host(load_entrypoints=False)).run("x")
    assert capsys.readouterr().err == ""


# --- meta-tests ----------------------------------------------------------------------------------


class Everything:
    """Implements every hook and records each call."""

    def __init__(self) -> None:
        self.called: set[str] = set()

    @hookimpl
    def register_tools(self, register, settings):
        self.called.add("register_tools")
        register(double)

    @hookimpl
    def register_llms(self, register):
        self.called.add("register_llms")

    @hookimpl
    def register_embedders(self, register):
        self.called.add("register_embedders")

    @hookimpl
    def register_graph_stores(self, register):
        self.called.add("register_graph_stores")

    @hookimpl
    def register_document_stores(self, register, host):
        self.called.add("register_document_stores")
        register("everything", lambda rest, settings, host: (rest, host))

    @hookimpl
    def register_commands(self, register):
        self.called.add("register_commands")
        register("everything", lambda args, host: 0, help="test command")

    @hookimpl(wrapper=True)
    def call_tool(self, invocation):
        self.called.add("call_tool")
        return (yield)

    @hookimpl(wrapper=True)
    def call_model(self, request):
        self.called.add("call_model")
        return (yield)

    @hookimpl
    def on_event(self, event, run):
        self.called.add("on_event")

    @hookimpl
    def check_input(self, text, run):
        self.called.add("check_input")

    @hookimpl
    def check_output(self, text, run):
        self.called.add("check_output")


def test_every_hook_is_exercised():
    tracer = Everything()
    host = Host(plugins=[tracer], load_entrypoints=False)
    host.check_pending()
    assert set(hook_names()) <= {n for n in dir(tracer) if not n.startswith("_")}
    for kind in ("llms", "embedders", "graph_stores", "document_stores", "commands"):
        host.registry(kind)
    assert host.registry("commands")["everything"].plugin == "Everything"
    assert host.document_store("everything:x") == ("x", host)
    result = Agent(one_call_then(), tools=["double"], host=host).run("x")
    assert result.ok and result.tool_calls[0].result == "8"
    assert tracer.called == set(hook_names())
    assert not [e for e in host.load_errors if e.plugin == "Everything"]


def test_every_hook_has_a_docs_entry():
    text = (DOCS / "hooks.md").read_text(encoding="utf-8")
    headings = {m.group(1) for m in re.finditer(r"^#{2,4}\s+`?([a-z_]+)`?", text, re.M)}
    missing = [n for n in hook_names() if n not in headings]
    assert not missing, f"docs/hooks.md lacks a heading for: {missing}"
    assert len(hook_names()) == 11


def test_every_hookspec_has_a_docstring():
    for name in hook_names():
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "Returns" in doc, name
