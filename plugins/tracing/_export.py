"""Where spans go: a local JSONL file, any OTLP collector, or the application's provider.

``SAPIENT_TRACE`` (or ``Settings(extra={"trace": ...})``) names the destination:

``jsonl:FILE``
    one JSON object per finished span, appended to FILE (read it with
    ``sapient trace show FILE``).
``otlp``
    OTLP over HTTP/protobuf to the collector named by the standard OpenTelemetry
    variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_HEADERS``); default ``http://localhost:4318``.
``otel``
    the application's own global tracer provider (for programs that already set up
    OpenTelemetry themselves).

Every exporter is wrapped in :class:`RedactingExporter`, so whatever reaches a file
or a collector has been through the secret scrubber once more.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sapient.core.errors import ConfigurationError

from ._redact import redact

__all__ = ["build_tracer", "flush", "span_to_dict", "JsonlSpanExporter", "RedactingExporter",
           "INSTALL_HINT"]

INSTALL_HINT = ("Tracing needs OpenTelemetry: pip install 'sapient[otel]' "
                "(opentelemetry-sdk and the OTLP exporter).")

_lock = threading.Lock()
_tracers: dict[str, Any] = {}
_providers: list[Any] = []


def build_tracer(spec: str) -> Any:
    """The tracer for a destination spec; one provider per spec per process."""
    spec = spec.strip()
    with _lock:
        if spec not in _tracers:
            _tracers[spec] = _make_tracer(spec)
        return _tracers[spec]


def flush(timeout_millis: int = 10_000) -> None:
    """Export every finished span now (spans to a collector are sent in batches)."""
    with _lock:
        providers = list(_providers)
    for provider in providers:
        provider.force_flush(timeout_millis)


def _make_tracer(spec: str) -> Any:
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.semconv.schemas import Schemas
    except ImportError as exc:
        raise ConfigurationError(f"{INSTALL_HINT} ({exc})") from exc
    from sapient import __version__

    schema_url = list(Schemas)[-1].value  # the newest schema the pinned semconv ships
    kind, _, rest = spec.partition(":")
    kind = kind.lower()
    if kind == "otel":
        return trace.get_tracer("sapient", __version__, schema_url=schema_url)
    resource = Resource.create({"service.name": "sapient"})
    provider = TracerProvider(resource=resource)
    if kind == "jsonl":
        if not rest:
            raise ConfigurationError(
                "SAPIENT_TRACE=jsonl needs a file: write it as jsonl:PATH, e.g. "
                "SAPIENT_TRACE=jsonl:trace.jsonl.")
        processor: Any = SimpleSpanProcessor(RedactingExporter(JsonlSpanExporter(rest)))
    elif kind == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise ConfigurationError(f"{INSTALL_HINT} ({exc})") from exc
        endpoint = rest or None
        processor = BatchSpanProcessor(RedactingExporter(OTLPSpanExporter(endpoint=endpoint)))
    else:
        raise ConfigurationError(
            f"Unknown trace destination {spec!r}. Use SAPIENT_TRACE=jsonl:FILE (a local "
            "file), otlp (an OpenTelemetry collector) or otel (your own tracer provider).")
    provider.add_span_processor(processor)
    _providers.append(provider)
    return provider.get_tracer("sapient", __version__, schema_url=schema_url)


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def span_to_dict(span: Any) -> dict[str, Any]:
    """One finished span as the JSON object a JSONL trace line holds."""
    ctx = span.get_span_context()
    parent = span.parent
    start, end = span.start_time or 0, span.end_time or 0
    return {
        "trace_id": _hex(ctx.trace_id, 32),
        "span_id": _hex(ctx.span_id, 16),
        "parent_id": _hex(parent.span_id, 16) if parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "start_ns": start,
        "end_ns": end,
        "duration_ms": round((end - start) / 1e6, 3),
        "status": span.status.status_code.name,
        "status_message": span.status.description,
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "time_ns": e.timestamp,
                    "attributes": dict(e.attributes or {})} for e in span.events],
    }


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, tuple)):
        return tuple(_clean(v) for v in value)
    return value


class RedactingExporter:
    """Passes copies of spans with every string attribute scrubbed to another exporter."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def export(self, spans: Sequence[Any]) -> Any:
        return self.inner.export([self._scrub(s) for s in spans])

    @staticmethod
    def _scrub(span: Any) -> Any:
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.trace import Status

        attrs = {k: _clean(v) for k, v in (span.attributes or {}).items()}
        events = [Event(e.name, {k: _clean(v) for k, v in (e.attributes or {}).items()},
                        e.timestamp) for e in span.events]
        status = span.status
        if status.description:
            status = Status(status.status_code, redact(status.description))
        return ReadableSpan(
            name=redact(span.name), context=span.get_span_context(), parent=span.parent,
            resource=span.resource, attributes=attrs, events=events, links=span.links,
            kind=span.kind, status=status, start_time=span.start_time,
            end_time=span.end_time, instrumentation_scope=span.instrumentation_scope)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        flush = getattr(self.inner, "force_flush", None)
        return bool(flush(timeout_millis)) if flush is not None else True


class JsonlSpanExporter:
    """Appends each finished span to a file as one JSON line (see :func:`span_to_dict`).

    Used behind :class:`RedactingExporter`, which has already scrubbed the spans.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        lines = [json.dumps(span_to_dict(s), ensure_ascii=False, default=str) for s in spans]
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write("".join(line + "\n" for line in lines))
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
