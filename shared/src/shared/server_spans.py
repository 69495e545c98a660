"""One server span per HTTP request (contract section 9), the hub's own ASGI middleware.

OpenTelemetry's FastAPI instrumentation did this at a cost the burst's profile showed to be
about a fifth of intake's event loop, as much as the route itself (issue 23): to name the
span before the app routes the request, it matched the request against every route of the
app; it collected a dozen request attributes and wrapped every send and receive. This one
names the span from the route the app itself matched (`scope["route"]`, set by routing:
`POST /v1/incidents/{incident_id}/risk-assessments`, never the path, which holds ids),
records the method, the route and the status (never the address, its query, a header, or
an exception's message: a failure is named by its type alone),
continues the caller's W3C trace context, and answers every traced request with its
`traceresponse` (contract section 3). A handler adds `mash.incident_id` to the span it runs
in (`trace.get_current_span()`), as before.

A request whose path contains one of `untraced` (the probes, the metrics, the API docs,
and routes whose address itself is a secret, such as a one-time sign-in link) makes no
span: "a service with nothing to do makes no spans", and a secret never reaches one.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS_UNTRACED = ("healthz", "readyz", "metrics", "docs", "redoc", "openapi.json", "asyncapi.json")
"""Paths that answer probes, scrapes and API docs: no span, whatever the service."""

_CONTEXT_HEADERS = (b"traceparent", b"tracestate")


class ServerSpans:
    """The ASGI middleware: one `SpanKind.SERVER` span per traced HTTP request."""

    def __init__(self, app: ASGIApp, tracer: Tracer, untraced: Sequence[str] = ()) -> None:
        self.app = app
        self.tracer = tracer
        self.untraced = (*ALWAYS_UNTRACED, *untraced)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(part in scope["path"] for part in self.untraced):
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _CONTEXT_HEADERS
        }
        method = scope["method"]
        with self.tracer.start_as_current_span(
            method,
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
            record_exception=False,  # its message may quote what the request carried
            set_status_on_exception=False,
        ) as span:
            context = span.get_span_context()
            flags = int(context.trace_flags)
            answer = f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}".encode()

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                    headers = [
                        *message.get("headers", ()),
                        (b"traceresponse", answer),
                        (b"access-control-expose-headers", b"traceresponse"),
                    ]
                    message = {**message, "headers": headers}
                await send(message)

            try:
                await self.app(scope, receive, send_traced)
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                route = getattr(scope.get("route"), "path", None)
                if isinstance(route, str) and route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
