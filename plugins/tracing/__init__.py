"""Tracing with OpenTelemetry: a span for each run, model call and tool call.

Off by default. Turn it on for a process with ``SAPIENT_TRACE``::

    SAPIENT_TRACE=jsonl:trace.jsonl sapient run "What is 2**10?"
    sapient trace show trace.jsonl

or ``SAPIENT_TRACE=otlp`` to send spans to any OpenTelemetry collector (the standard
``OTEL_EXPORTER_OTLP_*`` variables say where), or ``SAPIENT_TRACE=otel`` to use the
tracer provider your application already configured. In Python:
``sapient.plugins.tracing.configure("jsonl:trace.jsonl")`` or
``Settings(extra={"trace": "jsonl:trace.jsonl"})``.

This default plugin *wraps* ``call_model`` and ``call_tool`` and observes
``on_event``, like any third-party plugin could; when tracing is off each wrapper
returns at once. Span names and attributes follow the OpenTelemetry GenAI semantic
conventions (see ``_spans``); secrets are scrubbed before anything is recorded
(see ``_redact``). Needs ``pip install 'sapient[otel]'`` only when turned on.
"""

from __future__ import annotations

from typing import Any

from sapient.core.hookspecs import hookimpl

from ._redact import REDACTED, redact, redact_value
from ._spans import configure


def flush(timeout_millis: int = 10_000) -> None:
    """Send every finished span now (a short script may call it before it exits)."""
    from ._export import flush as _flush

    _flush(timeout_millis)

__all__ = ["configure", "flush", "redact", "redact_value", "REDACTED", "call_model", "call_tool",
           "on_event", "register_commands"]


@hookimpl(wrapper=True)
def call_model(request: Any) -> Any:
    """A ``chat`` span around each model call (a pass-through when tracing is off)."""
    from ._spans import ModelSpan, tracer_for_run

    found = tracer_for_run(request.run)
    if found is None:
        return (yield)
    with ModelSpan(found[0], found[1], request) as span:
        response = yield
        span.finish(response)
        return response


@hookimpl(wrapper=True)
def call_tool(invocation: Any) -> Any:
    """An ``execute_tool`` span around each tool call (a pass-through when off)."""
    from ._spans import ToolSpan, tracer_for_run

    found = tracer_for_run(invocation.run)
    if found is None:
        return (yield)
    with ToolSpan(found[0], found[1], invocation) as span:
        value = yield
        span.finish(value)
        return value


@hookimpl
def on_event(event: Any, run: Any) -> None:
    """Open the run span at ``RunStarted``; close it at ``FinalAnswer`` or a fatal error."""
    kind = event.kind
    if kind == "RunStarted":
        from ._spans import start_run

        start_run(event, run)
    elif kind == "FinalAnswer" or (kind == "RunError" and event.fatal):
        from ._spans import end_run

        end_run(event, run)
    elif kind == "RunError":
        from ._spans import note_error

        note_error(event, run)


@hookimpl
def register_commands(register: Any) -> None:
    from ._show import HELP, configure_trace, run_trace

    register("trace", run_trace, help=HELP, configure=configure_trace)
