"""Tokens across every service (contract section 2): a key rotated while the services run,
the console's own tokens limited to what a console may pass on, a JWKS URL.

Each request is refused before any work: a token the service does not accept answers 401,
one it accepts 403 (it holds no scope of the route), so no app needs its broker here."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

import intake.app
import intake.config
import marac.app
import marac.config
import notify.app
import notify.config
import perpetrators.app
import perpetrators.config
import records.app
import records.config
import triage.app
import triage.config
from console.config import Settings as ConsoleSettings
from console.domain.people import new_person
from console.upstream import Upstream
from mash_tools import keys
from mash_tools.testing import TEST_CONSOLE_KEY, TEST_KEY, hub_settings
from shared.auth import CONSOLE_TTL, mint
from shared.keys import SigningKey, jwks_of

# each service with a route of its own
ROUTES = [
    (intake.app, intake.config.Settings, "GET", "/v1/incidents/{id}"),
    (triage.app, triage.config.Settings, "GET", "/v1/decisions/{id}"),
    (notify.app, notify.config.Settings, "GET", "/v1/referrals?agency=idva"),
    (marac.app, marac.config.Settings, "GET", "/v1/meetings"),
    (perpetrators.app, perpetrators.config.Settings, "GET", "/v1/perpetrators/{id}"),
    (records.app, records.config.Settings, "GET", "/v1/records/verify"),
]
ZERO = "00000000-0000-4000-8000-000000000000"


def _apps(tmp_path: Path, **platform: Any) -> list[tuple[FastAPI, str, str]]:
    built = []
    for module, settings, method, path in ROUTES:
        app = module.create_app(
            settings(
                database_url=f"sqlite+aiosqlite:///{tmp_path}/{module.__name__}.db",
                hub=hub_settings("127.0.0.1:1").model_copy(update=platform),
            )
        )
        built.append((app, method, path.replace("{id}", ZERO)))
    return built


async def _status(app: FastAPI, method: str, path: str, token: str) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        answer = await client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        return answer.status_code


def _console(scopes: list[str], service: str, ttl: timedelta = CONSOLE_TTL) -> str:
    return mint(TEST_CONSOLE_KEY, "someone", scopes, ttl, "mash-console", audience=[service])


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tokens")


async def test_both_kids_are_accepted_during_a_rotation_without_a_restart(tmp: Path) -> None:
    pair = keys.people(tmp / "keys")
    old = pair.ensure()
    for app, method, path in _apps(tmp / "rotation", jwks_file=pair.jwks):
        name = app.state.platform.name
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            ask = _Asker(client, method, path, name)
            assert await ask(old) == 403, name
            new = pair.rotate()  # while the app runs
            assert new.kid != old.kid
            assert await ask(new) == 403, name
            assert await ask(old) == 403, name  # the overlap
            pair.rotate()  # the next rotation retires the oldest
            assert await ask(old) == 401, name
            assert await ask(new) == 403, name
            old = SigningKey.load(pair.private)


@dataclass(frozen=True)
class _Asker:
    """One route of a running app, asked with a token signed by a given key."""

    client: httpx.AsyncClient
    method: str
    path: str
    service: str

    async def __call__(self, key: SigningKey) -> int:
        token = mint(key, "x", ["nothing:useful"], timedelta(hours=1), audience=[self.service])
        headers = {"Authorization": f"Bearer {token}"}
        return (await self.client.request(self.method, self.path, headers=headers)).status_code


@pytest.mark.parametrize("forbidden", ["subscriptions:write:idva", "triage:policy", "records:read"])
async def test_a_console_token_for_a_scope_no_console_may_pass_on_is_refused(
    tmp: Path, forbidden: str
) -> None:
    for app, method, path in _apps(tmp / "console"):
        name = app.state.platform.name
        # the same token without the forbidden scope is let in: the refusal is the scope's
        allowed = ["dashboard:read"]  # a scope a console may pass on, opening none of these
        assert await _status(app, method, path, _console(allowed, name)) == 403, name
        refused = await _status(app, method, path, _console([*allowed, forbidden], name))
        assert refused == 401, name
    app = _apps(tmp / "console-notify")[2][0]
    put = _console(["subscriptions:write:idva"], "notify")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        answer = await client.put(
            "/v1/subscriptions/idva",
            json={"webhook_url": "http://127.0.0.1:9/x", "secret": "s" * 16},
            headers={"Authorization": f"Bearer {put}"},
        )
    assert answer.status_code == 401


async def test_a_console_token_lives_two_minutes_at_most(tmp: Path) -> None:
    app, method, path = _apps(tmp / "console-life")[3]
    assert await _status(app, method, path, _console(["dashboard:read"], "marac")) == 403
    longer = _console(["dashboard:read"], "marac", ttl=CONSOLE_TTL + timedelta(seconds=1))
    assert await _status(app, method, path, longer) == 401


async def test_the_console_passes_on_only_what_a_console_may(tmp: Path) -> None:
    """The console's upstream token for a person holding a scope no console may pass on
    carries the rest, signed with the console's key for the one service called."""
    settings = ConsoleSettings(
        database_url=f"sqlite+aiosqlite:///{tmp}/c.db", hub=hub_settings("127.0.0.1:1")
    )
    upstream = Upstream(settings)
    await upstream.start(None)  # type: ignore[arg-type]
    try:
        scopes = frozenset({"marac:read", "triage:policy", "subscriptions:write:idva"})
        person = new_person("someone", scopes, "link", "c", datetime.now(UTC), timedelta(hours=1))
        bearer = upstream._headers(person, "intake")["Authorization"].removeprefix("Bearer ")  # noqa: SLF001
    finally:
        await upstream.stop(None)  # type: ignore[arg-type]
    app, method, path = _apps(tmp / "console-upstream")[0]
    assert await _status(app, method, path, bearer) == 403  # accepted; no scope of intake
    claims = jwt.decode(bearer, options={"verify_signature": False})
    assert claims["scope"] == "marac:read"
    assert claims["iss"] == "mash-console"
    assert claims["aud"] == ["intake"]
    assert claims["exp"] - claims["iat"] == CONSOLE_TTL.total_seconds()


@pytest.fixture
def jwks_url() -> Iterator[str]:
    """The suite's public keys served on loopback, as an identity provider serves its own."""
    body = jwks_of(TEST_KEY)

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()


async def test_a_jwks_url_serves_as_well_as_a_file(tmp: Path, jwks_url: str) -> None:
    app, method, path = _apps(tmp / "url", jwks_url=jwks_url, jwks_file=None)[0]
    good = mint(TEST_KEY, "x", ["nothing:useful"], timedelta(hours=1), audience=["intake"])
    assert await _status(app, method, path, good) == 403
    unknown = mint(SigningKey.generate(), "x", ["incidents:read"], timedelta(hours=1))
    assert await _status(app, method, path, unknown) == 401
    assert json.loads(jwks_of(TEST_KEY))["keys"][0]["kid"] == TEST_KEY.kid
