"""OpenID Connect sign-in to the console against a real provider (panva's oidc-provider,
run with node): a person signs in with the hub's scopes from a claim; a login refused at
the provider signs nobody in; a person whose claim holds no scope is refused the page;
an answer replayed or not started by this browser is refused; the provider's access token
is kept with the session and forwarded to the real records service, which trusts the
provider's JWKS URL as production trusts the force's (records:read is a scope no console
may pass on)."""

from __future__ import annotations

import logging
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page

import console.app
import console.config
import records.app
import records.config
from mash_tools.testing import free_port, hub_settings
from shared.config import ROOT
from tests.builders import settings_for
from tests.e2e.console_kit import Screens, browser, check_page, new_page, served

pytestmark = [pytest.mark.kafka, pytest.mark.browser]
PROVIDER = ROOT / "tests" / "e2e" / "oidc"
CLIENT_ID = "mash-console"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"


@dataclass
class Setup:
    console: str
    issuer: str
    screens: Screens
    records: str


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    """The provider with node, its package installed by npm when missing."""
    if not (PROVIDER / "node_modules" / "oidc-provider").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PROVIDER,
            check=True,
        )
    port, console_port = free_port(), free_port()
    tmp = tmp_path_factory.mktemp("oidc")
    log = (tmp / "provider.out").open("w")
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": f"http://127.0.0.1:{console_port}/sign-in/oidc/callback",
    }
    process = subprocess.Popen(
        ["node", str(PROVIDER / "provider.mjs")], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp / "provider.out").read_text()
            assert time.monotonic() < deadline, (tmp / "provider.out").read_text()
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield issuer, console_port, tmp
    finally:
        process.terminate()
        process.wait(30)
        log.close()


@pytest.fixture(scope="module")
async def setup(provider: tuple[str, int, Path], kafka_bootstrap: str) -> AsyncIterator[Setup]:
    issuer, port, tmp = provider
    jwks_uri = httpx.get(f"{issuer}/.well-known/openid-configuration").json()["jwks_uri"]
    trusting = hub_settings(kafka_bootstrap).model_copy(
        update={"jwt_issuer": issuer, "jwks_url": jwks_uri, "jwks_file": None}
    )
    records_settings = records.config.Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'records.db'}",
        consumer_group=f"mash-records-oidc-{uuid.uuid4().hex[:8]}",
        consumer_offset_reset="latest",
        hub=trusting,
    )
    records_port = free_port()
    settings = settings_for(
        console.config.Settings,
        kafka_bootstrap,
        f"sqlite+aiosqlite:///{tmp / 'console.db'}",
        f"oidc-{uuid.uuid4().hex[:8]}",
        port=port,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        records_url=f"http://127.0.0.1:{records_port}",
    )
    screens = Screens(tmp / "screenshots")
    screens.directory.mkdir()
    async with (
        served(records.app.create_app(records_settings), records_port) as records_url,
        served(console.app.create_app(settings), port) as url,
    ):
        yield Setup(url, issuer, screens, records_url)
    print(f"\nconsole OIDC screenshots: {screens.directory}")


async def login(page: Page, setup: Setup, name: str, target: str = "/dashboard") -> None:
    """From a page that needs sign-in, through the provider's login and consent."""
    await page.goto(f"{setup.console}{target}")
    await page.click("a.govuk-button--start")
    await page.wait_for_url(f"{setup.issuer}/**")
    await page.fill("input[name=login]", name)
    await page.fill("input[name=password]", "any")
    await page.click("button[type=submit]")
    await page.wait_for_selector("text=Continue")
    await page.click("button[type=submit]")


async def test_a_person_signs_in_with_the_scopes_of_their_claim(setup: Setup) -> None:
    async with browser() as chromium:
        page = await new_page(chromium)
        await page.goto(f"{setup.console}/dashboard")
        assert "/sign-in" in page.url
        await check_page(page, setup.screens, "oidc-sign-in")
        await login(page, setup, "coordinator")
        await page.wait_for_url(f"{setup.console}/dashboard*")
        assert "Signed in as" in await page.inner_text("body")
        assert "coordinator" in await page.inner_text(".console-account")
        await check_page(page, setup.screens, "oidc-dashboard")
        # the claim gave marac:read and dashboard:read, and nothing else
        refused = await page.goto(f"{setup.console}/referrals?agency=idva")
        assert refused is not None
        assert refused.status == 403


async def test_a_login_refused_at_the_provider_signs_nobody_in(setup: Setup) -> None:
    async with browser() as chromium:
        page = await new_page(chromium)
        await page.goto(f"{setup.console}/sign-in")
        await page.click("a.govuk-button--start")
        await page.wait_for_url(f"{setup.issuer}/**")
        await page.click("text=[ Cancel ]")
        await page.wait_for_url(f"{setup.console}/sign-in/oidc/callback*")
        assert "You have not been signed in" in await page.inner_text("h1")
        await check_page(page, setup.screens, "oidc-refused")
        answer = await page.goto(f"{setup.console}/")
        assert answer is not None
        assert "/sign-in" in page.url


async def test_a_claim_without_the_needed_scope_is_refused_the_page(setup: Setup) -> None:
    async with browser() as chromium:
        page = await new_page(chromium)
        await login(page, setup, "nobody")
        await page.wait_for_url(f"{setup.console}/dashboard*")
        assert "You cannot see this page" in await page.inner_text("h1")
        await check_page(page, setup.screens, "oidc-no-scope")


async def test_an_answer_this_browser_did_not_ask_for_is_refused(setup: Setup) -> None:
    async with httpx.AsyncClient() as http:
        forged = await http.get(
            f"{setup.console}/sign-in/oidc/callback", params={"state": "x", "code": "y"}
        )
        assert forged.status_code == 403
        started = await http.get(f"{setup.console}/sign-in/oidc")
        assert started.status_code == 303
        state = started.cookies["mash_console_oidc_state"]
        # the state is right but the code is not the provider's: refused, and used up
        wrong = await http.get(
            f"{setup.console}/sign-in/oidc/callback",
            params={"state": state, "code": "not-a-code"},
            cookies={"mash_console_oidc_state": state},
        )
        assert wrong.status_code == 403
        assert (
            "set-cookie" not in wrong.headers
            or "mash_console_session" not in wrong.headers["set-cookie"]
        )


async def test_the_providers_access_token_is_kept_and_forwarded_to_records(
    setup: Setup, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    async with browser() as chromium:
        page = await new_page(chromium)
        await login(page, setup, "dpo", "/records")
        await page.wait_for_url(f"{setup.console}/records*")
        await page.fill("#person_id", "N4242")
        async with page.expect_navigation():
            await page.click("#search")
        # records answered: it verified the provider's own token by the provider's JWKS
        # (a console-minted token for records:read it refuses, test_own_token.py; with
        # no token kept the page would ask to sign in again)
        assert "No service has recorded processing this person" in await page.inner_text("body")
        await check_page(page, setup.screens, "oidc-records")
    async with httpx.AsyncClient(base_url=setup.records) as direct:
        answer = await direct.get("/v1/records", params={"sub": "dpo", "limit": 1})
        assert answer.status_code == 401  # records itself takes nobody without a token
    printed = capfd.readouterr()
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "/v1/records/search" in logged  # the forwarded call was logged, and looked at
    # no token (a JWT's first bytes) and no Authorization header in any log
    assert "eyJ" not in printed.out + printed.err + logged
    assert "Bearer " not in printed.out + printed.err + logged
