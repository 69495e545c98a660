"""The records page in headless Chromium (contract sections 11 and 12), with axe-core on
each state: the form, its mistakes, a page of entries and the next. The records service
is being built on another branch, so the console is served against a loopback stand-in
answering as the contract says (tests/integration/console/records_stand_in.py)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import console.app
import console.config
from mash_tools.testing import free_port
from tests.builders import settings_for
from tests.e2e.console_kit import Screens, browser, check_page, new_page, served
from tests.integration.console.kit import sign_in_link
from tests.integration.console.records_stand_in import records_stand_in

pytestmark = [pytest.mark.kafka, pytest.mark.browser]


async def test_searching_a_persons_records(kafka_bootstrap: str, tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []
    records_port, console_port = free_port(), free_port()
    settings = settings_for(
        console.config.Settings,
        kafka_bootstrap,
        f"sqlite+aiosqlite:///{tmp_path / 'console'}.db",
        f"records-{uuid.uuid4().hex[:8]}",
        port=console_port,
        records_url=f"http://127.0.0.1:{records_port}",
        page_size=3,
    )
    screens = Screens(tmp_path / "screenshots")
    screens.directory.mkdir()
    async with (
        served(records_stand_in(bodies), records_port),
        served(console.app.create_app(settings), console_port) as url,
        browser() as chromium,
    ):
        page = await new_page(chromium)
        link = sign_in_link("dpo", "records:read", base=url)
        await page.goto(link)
        await check_page(page, screens, "sign-in-link")
        async with page.expect_navigation():
            await page.click("#sign-in")
        await page.click("text=Records")
        assert page.url == f"{url}/records"
        await check_page(page, screens, "records-form")

        await page.fill("#given_name", "Alex")
        async with page.expect_navigation():
            await page.click("#search")
        assert "There is a problem" in await page.inner_text(".govuk-error-summary")
        await check_page(page, screens, "records-mistakes")
        assert bodies == []

        await page.fill("#family_name", "Example")
        await page.fill("#date_of_birth-day", "27")
        await page.fill("#date_of_birth-month", "3")
        await page.fill("#date_of_birth-year", "1990")
        async with page.expect_navigation():
            await page.click("#search")
        assert page.url == f"{url}/records"  # a POST: the names are in no address
        rows = await page.locator("table.console-records tbody tr").count()
        assert rows == 3
        await check_page(page, screens, "records-entries")
        async with page.expect_navigation():
            await page.click("#next-page")
        assert await page.locator("table.console-records tbody tr").count() == 2
        await check_page(page, screens, "records-next-page")
    person = {"given_name": "Alex", "family_name": "Example", "date_of_birth": "1990-03-27"}
    assert bodies == [person, person]
    print(f"\nrecords screenshots: {screens.directory}")
