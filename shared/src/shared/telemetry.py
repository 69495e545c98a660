"""OpenTelemetry: one tracer provider per service, W3C trace context in Kafka headers.

Spans leave the process only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (OTLP over
HTTP) or `MASH_TRACES_FILE` names a JSON-lines file (what `make run` does, so a
newcomer can read a trace without a collector). Span attributes never carry personal
data: we set only ids, topics, partitions and offsets ourselves.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)


class JsonLinesExporter(SpanExporter):
    """Appends each finished span as one JSON line: a trace you can grep."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            if ctx is None:
                continue
            parent = span.parent
            lines.append(
                json.dumps(
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
            )
        with self._lock, self._path.open("a", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
        return SpanExportResult.SUCCESS


def tracer_provider(service: str, exporters: Sequence[SpanExporter] = ()) -> TracerProvider:
    """A provider for one service, exporting where the environment says (and to `exporters`)."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"mash-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if traces_file := os.environ.get("MASH_TRACES_FILE"):
        path = Path(traces_file.replace("{service}", service))
        provider.add_span_processor(BatchSpanProcessor(JsonLinesExporter(path)))
    for exporter in exporters:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def inject_headers() -> dict[str, str]:
    """The current trace context as `traceparent`/`tracestate` header values."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str]) -> Context:
    """The trace context carried by a message's headers (an empty one if none)."""
    return propagate.extract(dict(headers))
