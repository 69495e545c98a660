"""Sign-in (contract section 11): a one-time link signs its holder in once; sessions are
HttpOnly, SameSite=Strict cookies that expire; sign-out needs the form's CSRF token."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import update

import console.app
from console import store
from mash_tools.testing import TEST_KEY, running
from tests.integration.console.kit import console_settings, redeem, sign_in_link, signed_in

pytestmark = pytest.mark.kafka


@pytest.fixture
async def client(kafka_bootstrap: str, sqlite_url: str, group: str):
    app = console.app.create_app(console_settings(kafka_bootstrap, sqlite_url, group))
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def test_without_a_session_every_page_leads_to_sign_in(client) -> None:
    for path in ("/", "/referrals?agency=idva", "/marac", "/dashboard", "/perpetrators"):
        answer = await client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/sign-in?next=")
    page = await client.get("/sign-in")
    assert page.status_code == 200
    assert "govuk-template" in page.text


async def test_a_link_signs_in_once(client) -> None:
    link = sign_in_link("coordinator", "marac:read")
    first = await redeem(client, link)
    assert first.status_code == 303
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "max-age=" in cookie
    home = await client.get(
        "/", cookies={"mash_console_session": first.cookies["mash_console_session"]}
    )
    assert home.status_code == 200
    assert "coordinator" in home.text
    client.cookies.clear()
    second = await client.get(link)
    assert second.status_code == 403
    assert "set-cookie" not in second.headers
    assert "This sign-in link does not work" in second.text


async def test_links_that_are_forged_expired_or_for_tokens_are_refused(client) -> None:
    now = datetime.now(UTC)
    forged = jwt.encode(
        {
            "sub": "x",
            "scope": "dashboard:read",
            "iss": "mash",
            "aud": "mash-console-sign-in",
            "jti": "j1",
            "exp": int((now + timedelta(minutes=5)).timestamp()),
        },
        "not-the-secret-of-this-hub-at-all-0123456789",
        algorithm="HS256",
    )
    expired = jwt.encode(
        {
            "sub": "x",
            "scope": "dashboard:read",
            "iss": "mash",
            "aud": "mash-console-sign-in",
            "jti": "j2",
            "iat": int((now - timedelta(minutes=10)).timestamp()),
            "exp": int((now - timedelta(minutes=1)).timestamp()),
        },
        TEST_KEY.private,
        algorithm="EdDSA",
        headers={"kid": TEST_KEY.kid},
    )
    # an API bearer token is not a sign-in link
    bearer = jwt.encode(
        {
            "sub": "x",
            "scope": "dashboard:read",
            "iss": "mash",
            "aud": ["console"],
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
        },
        TEST_KEY.private,
        algorithm="EdDSA",
        headers={"kid": TEST_KEY.kid},
    )
    for token in (forged, expired, bearer, "", "nonsense"):
        answer = await client.get(f"/sign-in/link?token={token}")
        assert answer.status_code == 403, token


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(client) -> None:
    await signed_in(client, "manager", "dashboard:read")
    home = await client.get("/")
    assert home.status_code == 200
    csrf = home.text.split('name="csrf_token" value="')[1].split('"')[0]
    refused = await client.post("/sign-out", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    assert (await client.get("/")).status_code == 200
    out = await client.post("/sign-out", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert (await client.get("/")).status_code == 303


async def test_a_session_ends_when_it_expires(client) -> None:
    cookie = await signed_in(client, "manager", "dashboard:read")
    assert (await client.get("/")).status_code == 200
    platform = client.app.state.platform
    async with platform.uow() as session:
        await session.execute(
            update(store.sessions).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert cookie
    assert (await client.get("/")).status_code == 303


async def test_pages_without_the_scope_are_refused(client) -> None:
    await signed_in(client, "caseworker", "referrals:read:idva")
    for path in (
        "/marac",
        "/dashboard",
        "/dashboard.csv",
        "/perpetrators?area=x",
        "/referrals?agency=school",
    ):
        answer = await client.get(path)
        assert answer.status_code == 403, path
        assert "You cannot see this page" in answer.text


async def test_bad_query_values_are_a_400_page_not_an_error(client) -> None:
    await signed_in(client, "manager", "dashboard:read", "marac:read")
    for path in (
        "/dashboard?from=yesterday",
        "/dashboard?from=2026-10-02&to=2026-10-01",
        "/dashboard?area=Not%20A%20Slug",
        f"/referrals/{uuid.uuid4()}",
    ):
        answer = await client.get(path)
        assert answer.status_code == 400, path
        assert answer.headers["content-type"].startswith("text/html")
    too_long = await client.get("/referrals?agency=" + "a" * 65)
    assert too_long.status_code == 400
    assert "There is a problem with the address" in too_long.text
    missing = await client.get("/no-such-page")
    assert missing.status_code == 404
    assert "Page not found" in missing.text


async def test_a_sign_in_links_token_never_reaches_the_traces(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    spans = InMemorySpanExporter()
    app = console.app.create_app(console_settings(kafka_bootstrap, sqlite_url, group), [spans])
    async with running(app) as client:
        link = sign_in_link("jane.example", "dashboard:read")
        token = link.split("token=")[1]
        assert (await redeem(client, link)).status_code == 303
        assert (await client.get("/dashboard")).status_code == 200
    app.state.platform.provider.force_flush()
    recorded = [json.dumps([s.name, dict(s.attributes or {})]) for s in spans.get_finished_spans()]
    assert any("/dashboard" in r for r in recorded)
    assert not [r for r in recorded if token[:40] in r or "jane.example" in r]
