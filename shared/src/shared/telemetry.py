"""OpenTelemetry: one tracer provider per service, W3C trace context in Kafka headers.

Spans leave the process when the environment says where to:
- `MASH_ZIPKIN_ENDPOINT` (what `make run` sets): Zipkin's `/api/v2/spans`, the trace UI;
- `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`): an OpenTelemetry collector;
- `MASH_TRACES_FILE`: a JSON-lines file per service (`{service}` in the path), owner-only,
  rotated at `MASH_TRACES_FILE_MAX_BYTES` (one previous file kept).

Span attributes never carry personal data: we set only ids, topics, partitions and
offsets ourselves, and every exporter sees URLs without user info, query or fragment
(webhook URLs may carry an API key in their query string).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from sqlalchemy import Engine

INCIDENT_ID = "mash.incident_id"
"""The attribute naming the incident a span works on: Zipkin finds the trace by it."""

DEFAULT_TRACES_FILE_MAX_BYTES = 5 * 1024 * 1024
_log = logging.getLogger(__name__)
# attributes that hold a whole query string: dropped, whatever their value
_QUERY_KEYS = frozenset({"url.query", "http.query"})


def redact_url(value: str) -> str:
    """A URL (or a request target) without user info, query string and fragment."""
    if "://" not in value:
        if value.startswith("/"):
            return value.split("?", 1)[0].split("#", 1)[0]
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return "<url>"
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Span attributes fit to leave the process: URLs cut to scheme, host and path."""
    clean: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in _QUERY_KEYS:
            continue
        if isinstance(value, str) and ("://" in value or "?" in value or "@" in value):
            value = redact_url(value)
        clean[key] = value
    return clean


class RedactingExporter(SpanExporter):
    """Hands `inner` copies of the spans whose attributes went through `redact_attributes`."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([_redacted(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _redacted(span: ReadableSpan) -> ReadableSpan:
    return ReadableSpan(
        name=span.name,
        context=span.get_span_context(),
        parent=span.parent,
        resource=span.resource,
        attributes=redact_attributes(span.attributes or {}),
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class QuietExporter(SpanExporter):
    """Hands spans to `inner` and turns its failures into one warning line, at most one
    every `interval` seconds: a trace UI that is slow or gone (Zipkin's ReadTimeout under
    load) must not flood a service's output with tracebacks. Spans it could not send are
    dropped, as the exporter would drop them anyway."""

    def __init__(self, inner: SpanExporter, name: str, interval: float = 60.0) -> None:
        self.inner = inner
        self._name = name
        self._interval = interval
        self._warned_at: float | None = None
        self._failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self.inner.export(spans)
        except Exception as exc:  # noqa: BLE001 - any failure of the exporter is the same to us
            self._failed += len(spans)
            now = time.monotonic()
            if self._warned_at is None or now - self._warned_at >= self._interval:
                self._warned_at = now
                _log.warning(
                    "%s: spans not exported (%d so far): %s",
                    self._name,
                    self._failed,
                    type(exc).__name__,
                )
            return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class JsonLinesExporter(SpanExporter):
    """Appends each finished span as one JSON line: a trace you can grep.

    The file is readable by its owner only and never grows past `max_bytes`: when full it
    becomes `<name>.1` (replacing the previous one) and a new file starts.
    """

    def __init__(self, path: Path, max_bytes: int = DEFAULT_TRACES_FILE_MAX_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._max = max_bytes
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [_json_line(span) for span in spans if span.get_span_context() is not None]
        data = "".join(line + "\n" for line in lines).encode()
        with self._lock:
            self._rotate_if_full(len(data))
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, data)
            finally:
                os.close(fd)
        return SpanExportResult.SUCCESS

    def _rotate_if_full(self, incoming: int) -> None:
        try:
            size = self._path.stat().st_size
        except FileNotFoundError:
            return
        if size and size + incoming > self._max:
            self._path.replace(self._path.with_name(self._path.name + ".1"))


def _json_line(span: ReadableSpan) -> str:
    ctx = span.get_span_context()
    assert ctx is not None
    parent = span.parent
    return json.dumps(
        {
            "trace_id": f"{ctx.trace_id:032x}",
            "span_id": f"{ctx.span_id:016x}",
            "parent_id": f"{parent.span_id:016x}" if parent else None,
            "name": span.name,
            "kind": span.kind.name,
            "service": span.resource.attributes.get("service.name"),
            "start": span.start_time,
            "end": span.end_time,
            "attributes": dict(span.attributes or {}),
        },
        default=str,
    )


def tracer_provider(service: str, exporters: Sequence[SpanExporter] = ()) -> TracerProvider:
    """A provider for one service, exporting where the environment says (and to `exporters`)."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"mash-{service}"}))

    def batch(exporter: SpanExporter) -> None:
        provider.add_span_processor(BatchSpanProcessor(RedactingExporter(exporter)))

    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        batch(OTLPSpanExporter())
    if zipkin := os.environ.get("MASH_ZIPKIN_ENDPOINT"):
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        batch(QuietExporter(ZipkinExporter(endpoint=zipkin, timeout=5), "zipkin"))
    if traces_file := os.environ.get("MASH_TRACES_FILE"):
        path = Path(traces_file.replace("{service}", service))
        limit = int(os.environ.get("MASH_TRACES_FILE_MAX_BYTES", DEFAULT_TRACES_FILE_MAX_BYTES))
        batch(JsonLinesExporter(path, limit))
    for exporter in exporters:
        provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(exporter)))
    return provider


def trace_statements(engine: Engine, provider: TracerProvider) -> None:
    """A span per SQL statement run on `engine`, in `provider`'s traces (`MASH_TRACE_SQL`).

    Off unless asked for: in the burst's flame graphs these spans cost 10 to 34% of a
    consumer's event-loop time, while the request, publish and consume spans, which carry
    `mash.incident_id`, are what finds an incident's trace. The engine alone is traced,
    not `SQLAlchemyInstrumentor().instrument()`: that one is a process-wide singleton
    (a second platform in the process, as in the tests, would get no spans) and also
    patches `create_engine` and `Engine.connect` for every engine of the process."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    scope = "opentelemetry.instrumentation.sqlalchemy"
    usage = get_meter(scope).create_up_down_counter("db.client.connections.usage")
    EngineTracer(provider.get_tracer(scope), engine, usage)  # type: ignore[no-untyped-call]


def mark_incident(incident_id: object) -> None:
    """Name the incident the current span works on (`mash.incident_id`), so Zipkin finds it."""
    if incident_id:
        trace.get_current_span().set_attribute(INCIDENT_ID, str(incident_id))


def current_trace_id() -> str | None:
    """The current trace's 32-hex W3C id, or None outside any trace."""
    ctx = trace.get_current_span().get_span_context()
    return f"{ctx.trace_id:032x}" if ctx.is_valid else None


def inject_headers() -> dict[str, str]:
    """The current trace context as `traceparent`/`tracestate` header values."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str]) -> Context:
    """The trace context carried by a message's headers (an empty one if none)."""
    return propagate.extract(dict(headers))
