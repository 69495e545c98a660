"""RFC 9457 problem details for every error, request limits, and no 500 from input.

`RequestLimits` guards every service before the application sees a request: headers over
64 KiB answer 431, bodies over 1 MiB answer 413, and a JSON body that does not parse
strictly (malformed, or an object with a duplicated key) is not handed on. Instead the
application sees an empty body and the parse error is kept aside, so that authentication
and scope are still checked first (401/403 whatever the body) and the validation handler
then answers 422 naming the parse error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from opentelemetry import trace
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
BODY_ERROR = "mash.body_error"
PARSED_BODY = "mash.parsed_body"
LOGGED = "mash.error_logged"
PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    431: "Request header fields too large",
    422: "Validation failed",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem-details response."""
    body = {
        "type": "about:blank" if not extra.get("errors") else "urn:mash:problem:validation",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class FieldErrors(Exception):
    """Rule failures found after parsing; answered as 422 like any validation error."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} field error(s)")
        self.errors = errors


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # never echo the input back: it may be personal data
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "invalid"))} for e in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        body_error = request.scope.get("state", {}).get(BODY_ERROR)
        if body_error is not None:
            # the body was withheld from the app because it did not parse: say why
            errors = [{"loc": ["body"], "msg": body_error}]
            return problem(422, "The body is not valid JSON.", errors=errors)
        errors = _field_errors(exc)
        return problem(422, f"{len(errors)} field(s) are not valid.", errors=errors)

    @app.exception_handler(FieldErrors)
    async def _rules(_: Request, exc: FieldErrors) -> JSONResponse:
        return problem(422, f"{len(exc.errors)} field(s) are not valid.", errors=exc.errors)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log_unhandled(request, exc)
        return problem(503, "The service could not complete the request; try again.")


def printable(value: object, limit: int = 200) -> str:
    """`value` as one safe log line: every control character (C0, DEL, C1, line and
    paragraph separators) and the backslash escaped, so that nothing from a request can
    forge a log line, colour a terminal or hide text; cut at `limit` characters."""
    text = str(value)
    cut = len(text) > limit
    out = []
    for ch in text[:limit]:
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out) + ("..." if cut else "")


def trace_id() -> str:
    """The current trace's id (what `traceresponse` gives the caller), or `-`."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else "-"


def log_unhandled(request: Request, exc: BaseException) -> None:
    """One line per unhandled error, with its trace id to find the request by; the
    traceback only at debug level (it may quote values from the request)."""
    request.scope.setdefault("state", {})[LOGGED] = True
    log.error(
        "unhandled %s on %s %s trace_id=%s",
        type(exc).__name__,
        printable(request.method, 20),
        printable(request.url.path),
        trace_id(),
    )
    log.debug("traceback of trace_id=%s", trace_id(), exc_info=exc)


class Contained:
    """The outermost layer: an exception Starlette re-raises after the 503 answer (its
    `ServerErrorMiddleware` always does) stops here, already logged as one line by
    `log_unhandled`; the server would otherwise log its ~80-line traceback at ERROR."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # answered (when it could be) and logged
            if not scope.get("state", {}).get(LOGGED):
                # raised after the answer had begun (a stream): no handler saw it
                log.error(
                    "unhandled %s on %s %s after the answer began",
                    type(exc).__name__,
                    printable(scope.get("method", ""), 20),
                    printable(scope.get("path", "")),
                )
                log.debug("traceback", exc_info=exc)


def contain_errors(app: FastAPI) -> None:
    """Put `Contained` around the app's finished middleware stack (call it last, after
    the tracing middleware has wrapped the stack)."""
    build = app.build_middleware_stack

    def contained() -> ASGIApp:
        return Contained(build())

    app.build_middleware_stack = contained  # type: ignore[method-assign]


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(f"duplicated key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(body: bytes) -> tuple[Any, str | None]:
    """`body` parsed strictly, and None; or None and why it is not strict JSON. What it
    gives for strict JSON is what `json.loads` gives (no key repeats, so none is lost)."""
    try:
        parsed = json.loads(
            body, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant
        )
    except _DuplicateKey as exc:
        return None, f"JSON objects must not repeat a key ({exc})"
    except RecursionError:
        return None, "JSON nested too deeply"
    except (ValueError, UnicodeDecodeError):
        return None, "malformed JSON"
    return parsed, None


class _ParsedRequest(Request):
    """A request whose JSON body `RequestLimits` already parsed: `json()` gives that."""

    async def json(self) -> Any:
        state = self.scope.get("state") or {}
        if PARSED_BODY in state:
            return state[PARSED_BODY]
        return await super().json()


class ParsedOnce(APIRoute):
    """A route that takes its JSON body as `RequestLimits` parsed it (strictly, and once),
    rather than parsing it again. A router opts in with `APIRouter(route_class=ParsedOnce)`
    (FastAPI's documented custom request and route classes); the body's validation and
    every answer are as before."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parsed_once(request: Request) -> Response:
            return await handler(_ParsedRequest(request.scope, request.receive))

        return parsed_once


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    media = content_type.split(b";", 1)[0].strip().lower()
    # FastAPI parses a body without a content type as JSON too
    return not media or media == b"application/json" or media.endswith(b"+json")


class RequestLimits:
    """Header and body limits and strict JSON, before any handler sees a request."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, header_limit: int = MAX_HEADER_BYTES
    ) -> None:
        self.app = app
        self.limit = limit
        self.header_limit = header_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        if sum(len(k) + len(v) for k, v in headers) > self.header_limit:
            detail = f"Request headers are limited to {self.header_limit} bytes in total."
            await _refuse(send, 431, detail)
            return
        declared = dict(headers).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(send, 413, f"Request bodies are limited to {self.limit} bytes.")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _refuse(send, 413, f"Request bodies are limited to {self.limit} bytes.")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and _is_json(scope):
            parsed, error = strict_json(body)
            if error is not None:
                scope.setdefault("state", {})[BODY_ERROR] = error
                body = b""
            else:  # kept for a `ParsedOnce` route, which would otherwise parse it again
                scope.setdefault("state", {})[PARSED_BODY] = parsed
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": TITLES[status], "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
