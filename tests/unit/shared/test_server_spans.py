"""One server span per HTTP request (contract section 9): named by the route the app
matched, continuing the caller's trace, answered with `traceresponse`; none for probes,
docs or secret addresses, and never the path or its query."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from shared.server_spans import ServerSpans

TRACERESPONSE = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def traced() -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    app = FastAPI()

    @app.get("/v1/incidents/{incident_id}")
    async def one(incident_id: str) -> dict[str, str]:
        trace.get_current_span().set_attribute("mash.incident_id", incident_id)
        return {"incident_id": incident_id}

    @app.get("/v1/broken")
    async def broken() -> None:
        raise HTTPException(503, "down")

    @app.get("/v1/failing")
    async def failing() -> None:
        raise RuntimeError("the request quoted Jane Doe")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/sign-in/link/{token}")
    async def link(token: str) -> dict[str, str]:
        return {}

    app.add_middleware(ServerSpans, tracer=provider.get_tracer("t"), untraced=["sign-in/link"])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, spans


def only(spans: InMemorySpanExporter) -> ReadableSpan:
    [span] = spans.get_finished_spans()
    return span


def test_a_request_is_one_server_span_named_by_its_route(
    traced: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, spans = traced
    answer = client.get("/v1/incidents/abc-123?secret=query")
    assert answer.status_code == 200
    span = only(spans)
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET /v1/incidents/{incident_id}"
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "http.route": "/v1/incidents/{incident_id}",
        "http.response.status_code": 200,
        "mash.incident_id": "abc-123",  # what the handler added
    }
    match = TRACERESPONSE.fullmatch(answer.headers["traceresponse"])
    assert match is not None
    assert match.groups() == (f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}")


def test_the_callers_trace_goes_on(traced: tuple[TestClient, InMemorySpanExporter]) -> None:
    client, spans = traced
    answer = client.get("/v1/incidents/x", headers={"traceparent": CALLER})
    span = only(spans)
    assert f"{span.context.trace_id:032x}" == CALLER.split("-")[1]
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == CALLER.split("-")[2]
    assert answer.headers["traceresponse"].split("-")[1] == CALLER.split("-")[1]


def test_a_server_error_marks_the_span_and_a_refusal_is_still_answered_with_its_trace(
    traced: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, spans = traced
    assert client.get("/v1/broken").status_code == 503
    assert only(spans).status.status_code is StatusCode.ERROR
    spans.clear()
    unknown = client.get("/v1/nowhere")
    assert unknown.status_code == 404
    assert TRACERESPONSE.fullmatch(unknown.headers["traceresponse"])
    span = only(spans)
    assert span.name == "GET"  # no route matched: the method alone, never the path
    assert span.status.status_code is StatusCode.UNSET


def test_probes_and_secret_addresses_make_no_span(
    traced: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, spans = traced
    assert client.get("/healthz").status_code == 200
    assert client.get("/sign-in/link/one-time-secret").status_code == 200
    assert spans.get_finished_spans() == ()


def test_a_failure_is_named_by_its_type_never_its_message(
    traced: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, spans = traced
    assert client.get("/v1/failing").status_code == 500
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "RuntimeError"
    assert span.events == ()
    assert "Jane" not in repr(dict(span.attributes or {}))
