"""Spans for a run, each model call and each tool call, named as the GenAI conventions say.

Names and attributes come from ``opentelemetry-semantic-conventions`` (the version
pinned in the ``otel`` extra), not from strings typed here, so a reader of the
trace can rely on the published meaning of ``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.tool.name`` ...:

* ``invoke_agent sapient`` (INTERNAL): one per run, from ``RunStarted`` to
  ``FinalAnswer``; total usage, the stop reason, the prompt and answer (cut).
* ``chat {model}`` (CLIENT): one per model call; request options, usage, finish
  reason, the model's text or the tool calls it asked for (cut).
* ``execute_tool {name}`` (INTERNAL): one per tool call; arguments and result (cut).

Errors set the span status to ERROR with ``error.type`` and an ``exception`` event
holding the type and the (scrubbed) message; no stack trace is recorded.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ._redact import cut, redact, redact_value

__all__ = ["tracer_for_run", "tracer_without_run", "RUN_KEY", "start_run", "end_run",
           "ModelSpan", "ToolSpan", "configure", "CONTENT_LIMIT"]

#: Where a run's span and tracer live in ``RunContext.state``.
RUN_KEY = "sapient.tracing"
#: Longest piece of content (prompt, answer, tool arguments or result) kept in a span.
CONTENT_LIMIT = 500

_configured: str | None = None


def configure(spec: str | None) -> None:
    """Trace every run of this process to ``spec`` (overrides ``SAPIENT_TRACE``)."""
    global _configured
    _configured = spec


def _spec(settings: Any = None) -> str | None:
    if _configured is not None:
        return _configured or None
    extra = getattr(settings, "extra", None) or {}
    return extra.get("trace") or os.environ.get("SAPIENT_TRACE") or None


def _content_on(settings: Any = None) -> bool:
    extra = getattr(settings, "extra", None) or {}
    value = extra.get("trace_content", os.environ.get("SAPIENT_TRACE_CONTENT", "1"))
    return str(value).lower() not in ("0", "false", "no", "off")


def tracer_without_run() -> Any:
    """The tracer for tool calls outside an agent run (``sapient mcp``), or None."""
    spec = _spec()
    if not spec:
        return None
    from ._export import build_tracer

    return build_tracer(spec)


def tracer_for_run(run: Any) -> tuple[Any, bool] | None:
    """(tracer, record content) for a run, or None when tracing is off."""
    if run is None:
        tracer = tracer_without_run()
        return (tracer, _content_on()) if tracer is not None else None
    state = run.state.get(RUN_KEY)
    return (state["tracer"], state["content"]) if state else None


def _attrs() -> Any:
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes

    return gen_ai_attributes


def _set(span: Any, key: str, value: Any) -> None:
    """Set one attribute, scrubbed; ``None`` is skipped (OTel rejects it)."""
    if value is None:
        return
    if isinstance(value, str):
        value = redact(value)
    elif isinstance(value, (list, tuple)):
        value = [redact(v) if isinstance(v, str) else v for v in value]
    span.set_attribute(key, value)


def record_error(span: Any, exc: BaseException) -> None:
    """ERROR status, ``error.type`` and a scrubbed ``exception`` event (no stack trace)."""
    from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
    from opentelemetry.trace import Status, StatusCode

    kind = type(exc).__qualname__
    message = cut(str(exc), CONTENT_LIMIT)
    span.set_attribute(ERROR_TYPE, kind)
    span.add_event("exception", {"exception.type": kind, "exception.message": message})
    span.set_status(Status(StatusCode.ERROR, message))


def _provider(llm: Any) -> str:
    """The provider name: the connector that talks to the model (openai, llamacpp, ...)."""
    module = type(llm).__module__
    parts = module.split(".")
    if "connectors" in parts and parts.index("connectors") + 1 < len(parts):
        return parts[parts.index("connectors") + 1]
    return parts[0]


def _model_name(llm: Any) -> str:
    for attr in ("model", "model_name", "name"):
        value = getattr(llm, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(llm).__name__


def _messages(role: str, text: str | None, limit: int, **extra: Any) -> str:
    """The GenAI conventions' message form: ``[{"role", "parts": [{"type", "content"}]}]``."""
    parts = [{"type": "text", "content": cut(text, limit)}] if text else []
    return json.dumps([{"role": role, "parts": parts, **extra}], ensure_ascii=False)


# -- the run span ---------------------------------------------------------------------


def start_run(event: Any, run: Any) -> None:
    """Open the run's span at ``RunStarted`` when tracing is on."""
    host = getattr(run.agent, "host", None)
    settings = getattr(host, "settings", None)
    spec = _spec(settings)
    if not spec:
        return
    from opentelemetry.trace import SpanKind

    from ._export import build_tracer

    tracer = build_tracer(spec)
    content = _content_on(settings)
    g = _attrs()
    span = tracer.start_span(f"{g.GenAiOperationNameValues.INVOKE_AGENT.value} sapient",
                             kind=SpanKind.INTERNAL)
    _set(span, g.GEN_AI_OPERATION_NAME, g.GenAiOperationNameValues.INVOKE_AGENT.value)
    _set(span, g.GEN_AI_AGENT_NAME, "sapient")
    llm = getattr(run.agent, "_llm", None)
    if llm is not None:
        _set(span, g.GEN_AI_PROVIDER_NAME, _provider(llm))
        _set(span, g.GEN_AI_REQUEST_MODEL, _model_name(llm))
    tools = sorted(getattr(run.agent, "tools", {}) or {})
    if tools:
        _set(span, "sapient.tools", tools)
    if content:
        _set(span, g.GEN_AI_INPUT_MESSAGES, _messages("user", event.prompt, CONTENT_LIMIT))
    run.state[RUN_KEY] = {"tracer": tracer, "span": span, "content": content}


def end_run(event: Any, run: Any) -> None:
    """Close the run's span at ``FinalAnswer`` (or a fatal ``RunError``)."""
    state = run.state.pop(RUN_KEY, None)
    if not state:
        return
    from opentelemetry.trace import Status, StatusCode

    span, g = state["span"], _attrs()
    _set(span, g.GEN_AI_USAGE_INPUT_TOKENS, run.usage.prompt_tokens)
    _set(span, g.GEN_AI_USAGE_OUTPUT_TOKENS, run.usage.completion_tokens)
    _set(span, "sapient.model_calls", run.usage.requests)
    if event.kind == "FinalAnswer":
        _set(span, "sapient.stop_reason", event.stop_reason)
        if state["content"] and event.text is not None:
            _set(span, g.GEN_AI_OUTPUT_MESSAGES,
                 _messages("assistant", event.text, CONTENT_LIMIT, finish_reason="stop"))
        if event.stop_reason != "answer":
            error = event.result.error if event.result is not None else event.stop_reason
            span.set_status(Status(StatusCode.ERROR, cut(error or "", CONTENT_LIMIT)))
            from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

            span.set_attribute(ERROR_TYPE, event.stop_reason)
    else:  # a fatal RunError: the run raised
        span.add_event("exception", {"exception.message": cut(event.message, CONTENT_LIMIT)})
        span.set_status(Status(StatusCode.ERROR, cut(event.message, CONTENT_LIMIT)))
    span.end()


def note_error(event: Any, run: Any) -> None:
    """A recoverable ``RunError`` (a failed tool call, a guard) as an event on the run span."""
    state = run.state.get(RUN_KEY)
    if state:
        state["span"].add_event("sapient.run_error",
                                {"message": cut(event.message, CONTENT_LIMIT)})


def _parent(run: Any) -> Any:
    """The context to open a child span in: the run's span, or the current context."""
    from opentelemetry import trace

    state = run.state.get(RUN_KEY) if run is not None else None
    return trace.set_span_in_context(state["span"]) if state else None


# -- model and tool spans --------------------------------------------------------------


class _ChildSpan:
    """A span that is current on this thread while the wrapped call runs."""

    def __init__(self, tracer: Any, name: str, kind: Any, run: Any, content: bool) -> None:
        from opentelemetry import trace

        self.content = content
        self.span = tracer.start_span(name, context=_parent(run), kind=kind)
        self._use = trace.use_span(self.span, end_on_exit=False,
                                   record_exception=False, set_status_on_exception=False)

    def __enter__(self) -> _ChildSpan:
        self._use.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            if exc is not None:
                record_error(self.span, exc)
        finally:
            self._use.__exit__(None, None, None)
            self.span.end()


class ModelSpan(_ChildSpan):
    """``chat {model}``: request options in, usage and finish reason out."""

    def __init__(self, tracer: Any, content: bool, request: Any) -> None:
        from opentelemetry.trace import SpanKind

        g = _attrs()
        model = _model_name(request.llm)
        op = g.GenAiOperationNameValues.CHAT.value
        super().__init__(tracer, f"{op} {model}", SpanKind.CLIENT, request.run, content)
        s = self.span
        _set(s, g.GEN_AI_OPERATION_NAME, op)
        _set(s, g.GEN_AI_PROVIDER_NAME, _provider(request.llm))
        _set(s, g.GEN_AI_REQUEST_MODEL, model)
        _set(s, g.GEN_AI_REQUEST_STREAM, bool(request.streaming))
        opts = request.options or {}
        for key, attr in (("temperature", g.GEN_AI_REQUEST_TEMPERATURE),
                          ("max_tokens", g.GEN_AI_REQUEST_MAX_TOKENS),
                          ("top_p", g.GEN_AI_REQUEST_TOP_P), ("seed", g.GEN_AI_REQUEST_SEED)):
            if isinstance(opts.get(key), (int, float)):
                _set(s, attr, opts[key])
        stop = opts.get("stop")
        if stop:
            _set(s, g.GEN_AI_REQUEST_STOP_SEQUENCES, [stop] if isinstance(stop, str) else
                 [str(x) for x in stop])
        if request.run is not None:
            _set(s, "sapient.step", request.run.step)
        if request.tools:
            _set(s, "sapient.tools_offered", len(request.tools))

    def finish(self, response: Any) -> None:
        g, s = _attrs(), self.span
        usage = getattr(response, "usage", None)
        if usage is not None:
            _set(s, g.GEN_AI_USAGE_INPUT_TOKENS, usage.prompt_tokens)
            _set(s, g.GEN_AI_USAGE_OUTPUT_TOKENS, usage.completion_tokens)
        _set(s, g.GEN_AI_RESPONSE_MODEL, getattr(response, "model", None))
        reason = getattr(response, "finish_reason", None)
        if reason:
            _set(s, g.GEN_AI_RESPONSE_FINISH_REASONS, [reason])
        calls = getattr(response, "tool_calls", None) or []
        if calls:
            _set(s, "sapient.tool_calls", [c.name for c in calls])
        if self.content:
            text = getattr(response, "text", None)
            parts: list[dict[str, Any]] = []
            if text:
                parts.append({"type": "text", "content": cut(text, CONTENT_LIMIT)})
            for c in calls:
                parts.append({"type": "tool_call", "id": c.id, "name": c.name,
                              "arguments": redact_value(_args(c.arguments))})
            message = {"role": "assistant", "parts": parts, "finish_reason": reason or ""}
            _set(s, g.GEN_AI_OUTPUT_MESSAGES,
                 cut(json.dumps([message], ensure_ascii=False, default=str), 4 * CONTENT_LIMIT))


def _args(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return arguments


class ToolSpan(_ChildSpan):
    """``execute_tool {name}``: the call's id and arguments, then its result."""

    def __init__(self, tracer: Any, content: bool, invocation: Any) -> None:
        from opentelemetry.trace import SpanKind

        g = _attrs()
        tool = invocation.tool
        op = g.GenAiOperationNameValues.EXECUTE_TOOL.value
        super().__init__(tracer, f"{op} {tool.name}", SpanKind.INTERNAL, invocation.run,
                         content)
        s = self.span
        _set(s, g.GEN_AI_OPERATION_NAME, op)
        _set(s, g.GEN_AI_TOOL_NAME, tool.name)
        _set(s, g.GEN_AI_TOOL_TYPE, "function")
        _set(s, g.GEN_AI_TOOL_DESCRIPTION, cut(tool.description or "", 200))
        call = getattr(invocation, "call", None)
        _set(s, g.GEN_AI_TOOL_CALL_ID, getattr(call, "id", None) or None)
        if tool.source:
            _set(s, "sapient.tool.source", tool.source)
        if content:
            _set(s, g.GEN_AI_TOOL_CALL_ARGUMENTS, cut(invocation.arguments, CONTENT_LIMIT))

    def finish(self, value: Any) -> None:
        if self.content:
            _set(self.span, _attrs().GEN_AI_TOOL_CALL_RESULT, cut(value, CONTENT_LIMIT))
