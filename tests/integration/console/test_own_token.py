"""The person's own access token (issue 20): the console may never pass on `records:read`
(nor `triage:policy`, nor `subscriptions:write:*`), so its records page forwards the
token the person's identity provider issued them, carried under `make run` by their
sign-in link. Against the real records service: a console-minted `records:read` token is
refused while the person's own one is answered; an expired own token asks the person to
sign in again and sends nothing; the token is never logged, shown or stored in clear."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

import console.app
import records.app
from console import store
from mash_tools.testing import TEST_CONSOLE_KEY, TEST_KEY, free_port, running
from shared.auth import CONSOLE_TTL, OWN_TOKEN_CLAIM, mint, mint_sign_in
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, redeem, signed_in
from tests.integration.console.records_stand_in import records_stand_in
from tests.integration.records.kit import records_settings

pytestmark = pytest.mark.kafka


def csrf(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def link_for(subject: str, *scopes: str, now: datetime, session: timedelta) -> tuple[str, str]:
    """A sign-in link and the own token it carries."""
    token = mint_sign_in(TEST_KEY, subject, scopes, uuid.uuid4().hex, now=now, session=session)
    own = jwt.decode(token, options={"verify_signature": False})[OWN_TOKEN_CLAIM]
    return f"/sign-in/link?token={token}", own


async def test_records_answers_the_persons_own_token_and_refuses_the_consoles(
    kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    records_app = records.app.create_app(
        records_settings(
            kafka_bootstrap, f"sqlite+aiosqlite:///{tmp_path}/records.db", uuid.uuid4().hex[:8]
        )
    )
    settings = console_settings(
        kafka_bootstrap,
        f"sqlite+aiosqlite:///{tmp_path}/console.db",
        uuid.uuid4().hex[:8],
        records_url=f"http://127.0.0.1:{port}",
    )
    app = console.app.create_app(settings)
    async with served(records_app, port) as base, running(app) as client:
        link, own = link_for("dpo", "records:read", now=datetime.now(UTC), session=CONSOLE_TTL * 60)
        answer = await redeem(client, link)
        assert answer.status_code == 303
        client.cookies.set("mash_console_session", answer.cookies["mash_console_session"])
        token = csrf((await client.get("/records")).text)
        found = await client.post("/records", data={"csrf_token": token, "person_id": "N77"})
        assert found.status_code == 200, found.text
        assert "No service has recorded processing this person" in found.text
        assert own not in found.text

        async with httpx.AsyncClient(base_url=base) as direct:
            body = {"person_id": "N77"}
            mine = await direct.post(
                "/v1/records/search", json=body, headers={"Authorization": f"Bearer {own}"}
            )
            assert mine.status_code == 200
            minted = mint(
                TEST_CONSOLE_KEY,
                "dpo",
                ["records:read"],
                CONSOLE_TTL,
                "mash-console",
                audience=["records"],
            )
            theirs = await direct.post(
                "/v1/records/search", json=body, headers={"Authorization": f"Bearer {minted}"}
            )
            assert theirs.status_code == 401

        async with app.state.platform.sessions() as session:
            sealed = (await session.execute(select(store.own_tokens.c.sealed))).scalars().all()
        assert len(sealed) == 1
        assert own not in sealed[0]
        assert own.split(".")[1] not in sealed[0]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert own.split(".")[2] not in logged


@pytest.fixture
async def stand_in(kafka_bootstrap: str, sqlite_url: str, group: str) -> Any:
    bodies: list[dict[str, Any]] = []
    bearers: list[dict[str, Any]] = []
    port = free_port()
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, records_url=f"http://127.0.0.1:{port}"
    )
    app = console.app.create_app(settings)
    async with served(records_stand_in(bodies, bearers), port), running(app) as client:
        yield client, bodies, bearers, app


async def test_the_records_page_forwards_the_persons_own_token(stand_in: Any) -> None:
    client, bodies, bearers, _ = stand_in
    await signed_in(client, "dpo", "records:read", "marac:read")
    token = csrf((await client.get("/records")).text)
    found = await client.post("/records", data={"csrf_token": token, "person_id": "N1"})
    assert found.status_code == 200
    assert bodies == [{"person_id": "N1"}]
    [claims] = bearers
    assert claims["iss"] == "mash"  # the people's issuer, not "mash-console"
    assert claims["sub"] == "dpo"
    assert claims["scope"] == "records:read"  # only what no console may pass on
    assert claims["aud"] == ["records"]


async def test_an_expired_own_token_asks_to_sign_in_again_and_sends_nothing(
    stand_in: Any,
) -> None:
    client, bodies, bearers, _ = stand_in
    # the link is still good (10 minutes), but the token it carries lived one minute
    link, _ = link_for(
        "dpo", "records:read", now=datetime.now(UTC) - timedelta(minutes=5), session=CONSOLE_TTL
    )
    answer = await redeem(client, link)
    assert answer.status_code == 303
    client.cookies.set("mash_console_session", answer.cookies["mash_console_session"])
    token = csrf((await client.get("/records")).text)
    refused = await client.post("/records", data={"csrf_token": token, "person_id": "N1"})
    assert refused.status_code == 403
    assert "Please sign in again" in refused.text
    assert re.search(r'href="/sign-in\?next=/records"', refused.text)
    assert bodies == bearers == []


async def test_a_signed_out_persons_own_token_is_forgotten(stand_in: Any) -> None:
    client, _, _, app = stand_in
    await signed_in(client, "dpo", "records:read")
    app_state = app.state
    async with app_state.platform.sessions() as session:
        assert len((await session.execute(select(store.own_tokens))).all()) == 1
    token = csrf((await client.get("/records")).text)
    out = await client.post("/sign-out", data={"csrf_token": token})
    assert out.status_code == 303
    async with app_state.platform.sessions() as session:
        assert (await session.execute(select(store.own_tokens))).all() == []
