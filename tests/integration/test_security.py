"""Every /v1 route of every service: no token or a bad one 401, a token without scope 403."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
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
from mash_tools.testing import TEST_SECRET, platform_settings, token
from shared.auth import mint

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
                platform=platform_settings("127.0.0.1:1"),
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


BAD_TOKENS = {
    "none": None,
    "garbage": "not-a-jwt",
    "expired": mint(
        TEST_SECRET, "x", ["*"], timedelta(hours=1), now=datetime.now(UTC) - timedelta(hours=2)
    ),
    "foreign secret": mint(
        "another-secret-another-secret-0123456789", "x", ["incidents:write"], timedelta(hours=1)
    ),
}


async def test_every_service_has_v1_routes(tmp_path: Path) -> None:
    assert all(v1_calls(app) for app in apps(tmp_path))


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_every_v1_route_refuses_a_missing_or_bad_token_with_401(
    tmp_path: Path, kind: str
) -> None:
    bad = BAD_TOKENS[kind]
    headers = {"Authorization": f"Bearer {bad}"} if bad else {}
    for app in apps(tmp_path):
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
