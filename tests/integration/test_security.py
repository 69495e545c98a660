"""Every /v1 route of every service: no token or a bad one 401, a token without scope 403.

A bad token is any the contract (section 2) refuses: not signed by a known asymmetric key
of a trusted issuer (the old HS256 secret, an unknown kid), without an audience naming
the service, living longer than its issuer may grant, without `exp`."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from mash_tools.testing import TEST_CONSOLE_KEY, TEST_KEY, hub_settings, token
from shared.auth import SERVICES as AUDIENCES
from shared.keys import SigningKey

SERVICES = [
    (intake.app, intake.config.Settings),
    (triage.app, triage.config.Settings),
    (notify.app, notify.config.Settings),
    (marac.app, marac.config.Settings),
    (perpetrators.app, perpetrators.config.Settings),
    (records.app, records.config.Settings),
]


def apps(tmp_path: Path) -> list[FastAPI]:
    return [
        module.create_app(
            settings(
                database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db",
                hub=hub_settings("127.0.0.1:1"),
            )
        )
        for module, settings in SERVICES
    ]


def v1_calls(app: FastAPI) -> list[tuple[str, str]]:
    """Every /v1 operation, from the app's own OpenAPI document."""
    calls = []
    for template, operations in app.openapi()["paths"].items():
        if template.startswith("/v1"):
            path = re.sub(r"\{agency\}", "idva", template)
            path = re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), path)
            calls += [(method.upper(), f"{path}?agency=idva") for method in sorted(operations)]
    return calls


OLD_SECRET = "test-secret-for-the-suite-only-0123456789"


def signed(
    service: str,
    key: SigningKey | str = TEST_KEY,
    *,
    hours: float = 1,
    age: float = 0,
    drop: tuple[str, ...] = (),
    **claims: object,
) -> str:
    """A token for `service` holding every scope ("*" and each route's), as the suite's
    issuer makes one, unless told otherwise: `hours` of life begun `age` hours ago,
    without the `drop`ped claims, with `claims` replacing others."""
    issued = datetime.now(UTC) - timedelta(hours=age)
    body: dict[str, object] = {
        "sub": "x",
        "scope": "* nothing:useful",
        "iss": "mash",
        "aud": [service],
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(hours=hours)).timestamp()),
        **claims,
    }
    for name in drop:
        del body[name]
    if isinstance(key, str):
        return jwt.encode(body, key, algorithm="HS256")
    return jwt.encode(body, key.private, algorithm="EdDSA", headers={"kid": key.kid})


BAD_TOKENS: dict[str, object] = {
    "none": None,
    "garbage": "not-a-jwt",
    "expired": lambda s: signed(s, age=2),
    "HS256 with the old secret": lambda s: signed(s, OLD_SECRET),
    "an unknown kid": lambda s: signed(s, SigningKey.generate()),
    "without aud": lambda s: signed(s, drop=("aud",)),
    "another service's aud": lambda s: signed(s, aud=[o for o in AUDIENCES if o != s]),
    "exp - iat over 24 hours": lambda s: signed(s, hours=24.5, age=1),
    "without exp": lambda s: signed(s, drop=("exp",)),
    "without iat": lambda s: signed(s, drop=("iat",)),
    "another issuer": lambda s: signed(s, iss="elsewhere"),
    "the console's issuer and key, over 2 minutes": lambda s: signed(
        s, TEST_CONSOLE_KEY, iss="mash-console", hours=0.1, scope="marac:read"
    ),
    "the console's issuer with people's key": lambda s: signed(
        s, iss="mash-console", hours=0.01, scope="marac:read"
    ),
    "people's issuer with the console's key": lambda s: signed(s, TEST_CONSOLE_KEY),
}


def header_of(kind: str, service: str) -> dict[str, str]:
    bad = BAD_TOKENS[kind]
    value = bad(service) if callable(bad) else bad
    return {"Authorization": f"Bearer {value}"} if value else {}


async def test_every_service_has_v1_routes(tmp_path: Path) -> None:
    assert all(v1_calls(app) for app in apps(tmp_path))


async def test_a_good_token_of_the_same_making_passes_every_service(tmp_path: Path) -> None:
    """What makes the refusals below mean something: `signed` as is is let in (403 for
    lack of the route's scope at worst, never 401)."""
    for app in apps(tmp_path):
        headers = {"Authorization": f"Bearer {signed(app.state.platform.name)}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://s"
        ) as client:
            for method, path in v1_calls(app):
                answer = await client.request(method, path, headers=headers, json={})
                assert answer.status_code == 403, (method, path, answer.text)


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_every_v1_route_refuses_a_missing_or_bad_token_with_401(
    tmp_path: Path, kind: str
) -> None:
    for app in apps(tmp_path):
        headers = header_of(kind, app.state.platform.name)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://s"
        ) as client:
            for method, path in v1_calls(app):
                answer = await client.request(method, path, headers=headers, json={})
                assert answer.status_code == 401, (method, path, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["status"] == 401


async def test_every_v1_route_refuses_a_token_without_its_scope_with_403(tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {token('nothing:useful')}"}
    for app in apps(tmp_path):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://s"
        ) as client:
            for method, path in v1_calls(app):
                answer = await client.request(method, path, headers=headers, json={})
                assert answer.status_code == 403, (method, path, answer.text)
                assert answer.json()["title"] == "Forbidden"
