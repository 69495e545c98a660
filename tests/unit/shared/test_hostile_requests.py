"""What every service does with a hostile request, whatever its routes (issue 25): a
trailing slash is not redirected to a host the request named, and an unhandled error
is one escaped log line with its trace id, its traceback only at debug level."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from shared import registry
from shared.errors import contain_errors, install_problem_handlers, printable

SERVICES = registry.NAMES


@pytest.mark.parametrize("service", SERVICES)
async def test_a_trailing_slash_never_redirects_to_the_host_header(service: str) -> None:
    app = importlib.import_module(f"{service}.app").create_app()  # no lifespan needed
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        for path in ("/marac/", "/v1/perpetrators/", "/v1/referrals/", "/v1/meetings/", "/x/"):
            answer = await client.get(path, headers={"Host": "evil.example"})
            location = answer.headers.get("location", "")
            assert "evil.example" not in location, (service, path, location)
            assert not 300 <= answer.status_code < 400 or location.startswith("/"), path


def test_printable_escapes_every_control_character() -> None:
    assert printable("/a\x00b\r\n\x1b[31m\x08\x7f\x85\u2028\\") == (
        "/a\\x00b\\x0d\\x0a\\x1b[31m\\x08\\x7f\\x85\\u2028\\\\"
    )
    assert printable("é日本 ok") == "é日本 ok"
    assert printable("x" * 1000) == "x" * 200 + "..."


def broken() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.middleware("http")
    async def fails(request: Request, call_next: Any) -> Any:
        raise RuntimeError(f"secret value {request.url.path}")

    contain_errors(app)
    return app


async def test_an_unhandled_error_is_one_escaped_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="shared.errors")
    # the server (uvicorn) is not in the way here: an exception reaching it would raise
    transport = httpx.ASGITransport(app=broken(), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        answer = await client.get("/a%00b%1B[31mforged%7F")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    errors = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert line.startswith("unhandled RuntimeError on GET /a\\x00b\\x1b[31mforged\\x7f ")
    assert "trace_id=" in line
    assert errors[0].exc_info is None
    assert "secret value" not in line
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 1
    assert debug[0].exc_info is not None
