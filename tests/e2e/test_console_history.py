"""The policy and review pages (issue 22, contract sections 4, 11 and 12) in headless
Chromium, against real intake, triage, notify, records and console services on loopback
and the session's broker, with axe-core on every page: a trial of an edited copy of the
policy runs to its summary and is applied only once confirmed; a seeded victim's
chronology and what an agency had received by a moment; 403 pages without the scopes.

`triage:policy` is one of the scopes the console never delegates (shared.auth.CONSOLE_NEVER):
the console forwards the person's own access token instead, which a sign-in link carries
(issue 20), so these pages work here exactly as for a person signed in by a link.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import console.app
import console.config
import intake.app
import intake.config
import notify.app
import notify.config
import records.app
import records.config
import triage.app
import triage.config
from mash_tools.testing import bearer, eventually, free_port
from shared.registry import NAMES
from tests.builders import dash_body, incident_body, settings_for
from tests.e2e.console_kit import Screens, browser, check_page, new_page, served, sign_in
from tests.integration.console.kit import sign_in_link

pytestmark = [pytest.mark.kafka, pytest.mark.browser]
AREA = f"h{uuid.uuid4().hex[:10]}"
POLICY_MAKER = ("triage:policy",)
PANEL = ("reviews:read",)


@dataclass
class Hub:
    urls: dict[str, str]
    victim: dict[str, Any]
    incident: str
    screens: Screens

    def link(self, subject: str, scopes: tuple[str, ...]) -> str:
        return sign_in_link(subject, *scopes, base=self.urls["console"])


def victim(tag: str) -> dict[str, Any]:
    return {
        "person_id": f"H{uuid.uuid4().hex[:10]}",
        "given_name": f"Historyvictim{tag}",
        "family_name": "Synthetic",
        "date_of_birth": "1984-06-12",
    }


@pytest.fixture(scope="module")
async def hub(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    """Five services on loopback; three incidents of a new area, each of its own victim:
    DASH 12 and 13 (medium risk under the policy in force, high under a threshold of 12)
    and 16 (high under both), the last one's victim the person the review asks about."""
    tmp = tmp_path_factory.mktemp("console-history")
    group = f"history-{uuid.uuid4().hex[:8]}"
    names = tuple(n for n in NAMES if n not in ("marac", "perpetrators"))
    ports = {n: free_port() for n in names}
    urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}

    def db(name: str) -> str:
        return f"sqlite+aiosqlite:///{tmp / name}.db"

    def app_of(module: Any, config: Any, name: str, **extra: Any) -> Any:
        return module.create_app(
            settings_for(config.Settings, kafka_bootstrap, db(name), group, **extra)
        )

    the_console = app_of(
        console.app,
        console.config,
        "console",
        port=ports["console"],
        notify_url=urls["notify"],
        records_url=urls["records"],
        triage_url=urls["triage"],
        page_size=3,
    )
    screens = Screens(tmp / "screenshots")
    screens.directory.mkdir()
    person = victim("review")
    async with (
        served(the_console, ports["console"]),
        served(app_of(records.app, records.config, "records"), ports["records"]),
        served(app_of(notify.app, notify.config, "notify"), ports["notify"]),
        served(app_of(triage.app, triage.config, "triage"), ports["triage"]),
        served(app_of(intake.app, intake.config, "intake"), ports["intake"]),
        httpx.AsyncClient(timeout=30) as http,
    ):
        incidents = []
        for score, who in ((12, victim("a")), (13, victim("b")), (16, person)):
            body = incident_body(
                f"HC-HISTORY-{uuid.uuid4().hex[:10]}", area=AREA, victim=who, dash=dash_body(score)
            )
            answer = await http.post(
                f"{urls['intake']}/v1/incidents", json=body, headers=bearer("incidents:write")
            )
            assert answer.status_code == 202, answer.text
            incidents.append(answer.json()["incident_id"])

        async def disclosed() -> bool:
            found = await http.post(
                f"{urls['records']}/v1/chronology/search",
                params={"agency": "idva"},
                json={"person_id": person["person_id"]},
                headers=bearer("reviews:read"),
            )
            return found.status_code == 200 and len(found.json()) == 1

        async def decided() -> bool:
            for incident_id in incidents:
                found = await http.get(
                    f"{urls['triage']}/v1/decisions/{incident_id}", headers=bearer("triage:read")
                )
                if found.status_code != 200:
                    return False
            return True

        await eventually(decided, timeout=60)
        await eventually(disclosed, timeout=90)
        yield Hub(urls, person, incidents[2], screens)
    print(f"\nhistory screenshots: {screens.directory}")


async def test_a_trial_of_a_lower_threshold_is_summarised_and_applied_once_confirmed(
    hub: Hub,
) -> None:
    base = hub.urls["console"]
    async with browser() as chromium, httpx.AsyncClient() as http:
        page = await new_page(chromium)
        await sign_in(page, hub.link("policy-maker", POLICY_MAKER))
        await page.click("text=Policy")
        assert page.url == f"{base}/policy"
        assert "mash-default-1" in await page.inner_text("h1")
        assert await page.inner_text("[data-field=high_score] dd") == "14"
        await check_page(page, hub.screens, "policy")

        # mistakes the console finds, then one only triage knows (medium above high)
        await page.fill("#policy-version", "")
        await page.fill("#policy-high_score", "twelve")
        async with page.expect_navigation():
            await page.click("#start-trial")
        errors = await page.inner_text(".govuk-error-summary")
        assert "Enter the version" in errors
        assert "High risk DASH score must be a whole number" in errors
        await check_page(page, hub.screens, "policy-mistakes")
        await page.fill("#policy-version", f"history-{uuid.uuid4().hex[:6]}")
        await page.fill("#policy-high_score", "8")
        async with page.expect_navigation():
            await page.click("#start-trial")
        assert page.url == f"{base}/policy/trials"
        assert "medium_score must not exceed high_score" in await page.inner_text(
            ".govuk-error-summary"
        )
        await check_page(page, hub.screens, "policy-triage-refuses")

        version = f"history-{uuid.uuid4().hex[:6]}"
        await page.fill("#policy-version", version)
        await page.fill("#policy-high_score", "12")
        await page.fill("#area", AREA)
        async with page.expect_navigation():
            await page.click("#start-trial")
        trial_url = page.url
        assert trial_url.startswith(f"{base}/policy/trials/")

        async def finished() -> bool:
            await page.goto(trial_url)
            return await page.inner_text("#trial-status") == "Finished"

        await eventually(finished, timeout=90, interval=1)
        # worked out from the three incidents: DASH 12 and 13 become high risk, and so
        # eligible for MARAC (visible high risk) and referred to the IDVA service
        assert await page.inner_text("[data-figure=incidents]") == "3"
        assert await page.inner_text("[data-figure=changed]") == "2"
        assert await page.inner_text("[data-figure=marac-added]") == "2"
        move = page.locator('tr[data-move="medium->high"] td').last
        assert await move.inner_text() == "2"
        idva = page.locator('tr[data-agency="idva"]')
        assert await idva.locator("[data-figure=added]").inner_text() == "2"
        assert await idva.locator("[data-figure=removed]").inner_text() == "0"
        assert await page.locator("#chart-referrals").is_visible()
        await check_page(page, hub.screens, "policy-trial-done")
        changes = await page.request.get(f"{trial_url}/changes.csv")
        assert changes.status == 200
        rows = list(csv.DictReader(io.StringIO(await changes.text())))
        assert len(rows) == 2
        assert hub.incident not in {r["incident_id"] for r in rows}

        async def in_force() -> str:
            answer = await http.get(
                f"{hub.urls['triage']}/v1/policy", headers=bearer(*POLICY_MAKER)
            )
            return str(answer.json()["current"]["version"])

        await page.fill("#redecide_since", "1 November")
        async with page.expect_navigation():
            await page.click("#apply")
        assert "Enter the date" in await page.inner_text(".govuk-error-summary")
        today = datetime.now(UTC).date().isoformat()
        await page.fill("#redecide_since", today)
        async with page.expect_navigation():
            await page.click("#apply")
        assert f"Are you sure you want to apply {version}?" in await page.inner_text("h1")
        await check_page(page, hub.screens, "policy-apply-confirm")
        assert await in_force() == "mash-default-1"  # asked, not yet done

        async with page.expect_navigation():
            await page.click("#confirm-apply")
        assert page.url.startswith(f"{base}/policy?applied=")
        assert f"The policy {version} is now in force" in await page.inner_text("main")
        assert version in await page.inner_text("#history")
        await check_page(page, hub.screens, "policy-applied")
        assert await in_force() == version


async def test_a_persons_chronology_and_what_an_agency_had_received(hub: Hub) -> None:
    base = hub.urls["console"]
    someone = hub.victim
    async with browser() as chromium:
        page = await new_page(chromium)
        await sign_in(page, hub.link("review-panel", PANEL))
        await page.click("text=Reviews")
        assert page.url == f"{base}/reviews"
        await check_page(page, hub.screens, "review-form")

        await page.fill("#given_name", someone["given_name"])
        await page.fill("#family_name", someone["family_name"])
        await page.fill("#date_of_birth-day", "12")
        await page.fill("#date_of_birth-month", "6")
        await page.fill("#date_of_birth-year", "1984")
        async with page.expect_navigation():
            await page.click("#show")
        assert page.url == f"{base}/reviews"  # a POST: the names are in no address
        events = await page.eval_on_selector_all(
            "table.console-chronology tbody tr", "rows => rows.map(r => r.dataset.event)"
        )
        # three to a page, oldest first: the police's report, then what the hub sent on
        assert events[0] == "incident reported", events
        await check_page(page, hub.screens, "review-chronology")
        await page.emulate_media(media="print")
        await hub.screens.take(page, "review-chronology-print")
        await page.emulate_media(media="screen")
        seen = list(events)
        while await page.locator("#next-page").count():
            async with page.expect_navigation():
                await page.click("#next-page")
            seen += await page.eval_on_selector_all(
                "table.console-chronology tbody tr", "rows => rows.map(r => r.dataset.event)"
            )
        assert seen.count("referral disclosed") >= 2, seen  # the IDVA service and the police's team
        await check_page(page, hub.screens, "review-chronology-last-page")
        async with page.expect_navigation():
            await page.click("#printable")
        whole = await page.eval_on_selector_all(
            "table.console-chronology tbody tr", "rows => rows.map(r => r.dataset.event)"
        )
        # oldest first: anything logged since (the applied policy's decisions) comes after
        assert whole[: len(seen)] == seen
        await page.emulate_media(media="print")
        await hub.screens.take(page, "review-chronology-whole-print")
        await page.emulate_media(media="screen")

        # what the IDVA service had received: now, the referral; a day before, nothing
        await page.select_option("#agency", "idva")
        async with page.expect_navigation():
            await page.click("#show")
        received = page.locator(".console-received")
        assert await received.count() == 1
        assert hub.incident in await received.inner_text()
        assert someone["given_name"] in await received.inner_text()  # as the IDVA had it
        await check_page(page, hub.screens, "review-as-of-now")
        csv_answer = await _download(page)
        assert hub.incident in csv_answer

        yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        await page.fill("#as_of", yesterday)
        await page.fill("#as_of-time", "09:30")
        async with page.expect_navigation():
            await page.click("#show")
        assert await page.locator(".console-received").count() == 0
        assert "had received no referral" in await page.inner_text("main")
        await check_page(page, hub.screens, "review-as-of-yesterday")

        await page.fill("#as_of-time", "9.30am")
        async with page.expect_navigation():
            await page.click("#show")
        assert "Enter the time like 09:30" in await page.inner_text(".govuk-error-summary")
        await check_page(page, hub.screens, "review-mistake")


async def _download(page: Any) -> str:
    async with page.expect_download() as waiting:
        await page.click("#download-csv")
    download = await waiting.value
    path = await download.path()
    with open(path, encoding="utf-8") as file:
        return file.read()


async def test_each_page_is_refused_without_its_scope(hub: Hub) -> None:
    base = hub.urls["console"]
    async with browser() as chromium:
        page = await new_page(chromium)
        await sign_in(page, hub.link("someone-else", ("dashboard:read",)))
        for path in ("/policy", "/reviews", f"/policy/trials/{uuid.uuid4()}"):
            answer = await page.goto(f"{base}{path}")
            assert answer is not None
            assert answer.status == 403, path
            assert "You cannot see this page" in await page.inner_text("h1")
        await check_page(page, hub.screens, "refused")
        navigation = await page.inner_text("nav[aria-label=Menu]")
        assert "Policy" not in navigation
        assert "Reviews" not in navigation


def test_screenshots_were_taken(hub: Hub) -> None:
    assert len(hub.screens.taken) >= 10
