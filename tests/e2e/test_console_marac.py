"""The meeting itself in the console (issue 21, "Browser"), in headless Chromium against
the real intake, triage and marac over loopback: a health visitor refers a victim the
police already reported, through the form (its mistakes shown beside their fields first);
the coordinator sees one case with both sources and each DASH answer beside its question,
and records an action; housing researches the case and completes its action; the
coordinator downloads the quarter's return. axe-core runs on every new page."""

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
from playwright.async_api import Browser, Page

import console.app
import console.config
import intake.app
import intake.config
import marac.app
import marac.config
import triage.app
import triage.config
from mash_tools.testing import bearer, eventually, free_port
from tests.builders import dash_body, incident_body, settings_for
from tests.e2e.console_kit import Screens, browser, check_page, new_page, served, sign_in
from tests.integration.console.kit import sign_in_link

pytestmark = [pytest.mark.kafka, pytest.mark.browser]
AREA = f"m{uuid.uuid4().hex[:10]}"
VICTIM = {
    "person_id": f"M{uuid.uuid4().hex[:10]}",
    "given_name": "Maracvictim",
    "family_name": "Synthetic",
    "date_of_birth": "1991-04-12",
}
COORDINATOR = ("marac:read", "marac:admin")


@dataclass
class Hub:
    urls: dict[str, str]
    meeting_id: str
    incident_id: str
    screens: Screens
    chromium: Browser

    async def person(self, subject: str, *scopes: str) -> Page:
        page = await new_page(self.chromium)
        await sign_in(page, sign_in_link(subject, *scopes, base=self.urls["console"]))
        return page


@pytest.fixture(scope="module")
async def hub(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    """Intake, triage, marac and the console on loopback; one high-risk incident of a new
    area listed on a meeting arranged for that area."""
    tmp = tmp_path_factory.mktemp("console-marac")
    group = f"maracpages-{uuid.uuid4().hex[:8]}"
    ports = {n: free_port() for n in ("intake", "triage", "marac", "console")}
    urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}

    def settings(module: Any, name: str, **extra: Any) -> Any:
        database = f"sqlite+aiosqlite:///{tmp / name}.db"
        return settings_for(module.Settings, kafka_bootstrap, database, group, **extra)

    console_settings = settings(
        console.config,
        "console",
        port=ports["console"],
        marac_url=urls["marac"],
        notify_url=f"http://127.0.0.1:{free_port()}",
        perpetrators_url=f"http://127.0.0.1:{free_port()}",
    )
    screens = Screens(tmp / "screenshots")
    screens.directory.mkdir()
    async with (
        served(console.app.create_app(console_settings), ports["console"]),
        served(marac.app.create_app(settings(marac.config, "marac", schedule=[])), ports["marac"]),
        served(triage.app.create_app(settings(triage.config, "triage")), ports["triage"]),
        served(intake.app.create_app(settings(intake.config, "intake")), ports["intake"]),
        httpx.AsyncClient(timeout=30) as http,
        browser() as chromium,
    ):
        day = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
        made = await http.post(
            f"{urls['marac']}/v1/meetings",
            json={"area": AREA, "date": day, "capacity": 5},
            headers=bearer("marac:admin"),
        )
        assert made.status_code == 201, made.text
        meeting_id = made.json()["meeting_id"]
        body = incident_body(
            f"HC-MARAC-{uuid.uuid4().hex[:10]}", area=AREA, victim=VICTIM, dash=dash_body(16)
        )
        answer = await http.post(
            f"{urls['intake']}/v1/incidents", json=body, headers=bearer("incidents:write")
        )
        assert answer.status_code == 202, answer.text

        async def listed() -> bool:
            cases = await http.get(
                f"{urls['marac']}/v1/meetings/{meeting_id}/cases", headers=bearer("marac:read")
            )
            return len(cases.json()) == 1

        await eventually(listed, timeout=60)
        yield Hub(urls, meeting_id, answer.json()["incident_id"], screens, chromium)
    print(f"\nMARAC pages' screenshots: {screens.directory}")


async def _cases(hub: Hub) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        listed = await http.get(
            f"{hub.urls['marac']}/v1/meetings/{hub.meeting_id}/cases", headers=bearer("marac:read")
        )
        return [
            (
                await http.get(
                    f"{hub.urls['marac']}/v1/cases/{c['case_id']}", headers=bearer("marac:read")
                )
            ).json()
            for c in listed.json()
        ]


def case_actions(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for c in cases for a in c["actions"]]


async def _fill_referral(page: Page, yes: int) -> None:
    await page.fill("#referral_ref", "RBH-2026-0091")
    await page.fill("#area", AREA)
    await page.fill("#referrer-name", "Health Visitor Synthetic")
    await page.fill("#referrer-role", "Health visitor")
    await page.fill("#victim-given_name", VICTIM["given_name"])
    await page.fill("#victim-family_name", VICTIM["family_name"])
    await page.fill("#victim-date_of_birth-day", "12")
    await page.fill("#victim-date_of_birth-month", "4")
    await page.fill("#victim-date_of_birth-year", "1991")
    await page.fill("#victim-person_id", VICTIM["person_id"])
    await page.fill("#children-0-given_name", "Maracchild")
    await page.fill("#children-0-family_name", "Synthetic")
    await page.check("#criteria")  # visible high risk
    await page.check("#criteria-professional_judgement")
    for n in range(1, 25):
        await page.check(f"#dash-q{n}" if n <= yes else f"#dash-q{n}-no")
    await page.fill("#dash-completed_by", "HV Synthetic")
    await page.check("#consent-not_given")


async def _send(page: Page) -> None:
    await _follow(page, "#send")


async def _follow(page: Page, selector: str) -> None:
    """Click a link or button and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.click(selector)


async def test_an_agency_refers_and_the_meeting_tracks_research_and_actions(hub: Hub) -> None:
    console = hub.urls["console"]
    health = await hub.person("health-visitor", "marac:refer:health")
    await _follow(health, "text=Refer to MARAC")
    assert health.url == f"{console}/marac/refer"
    await check_page(health, hub.screens, "marac-refer-form")

    # 13 yes answers, professional judgement and no consent without their reasons: marac's
    # three refusals, each beside its field; nothing is stored
    await _fill_referral(health, yes=13)
    await _send(health)
    summary = await health.inner_text(".govuk-error-summary")
    assert "Visible high risk needs at least 14 'yes' answers on the DASH" in summary
    assert "Enter the reason for referring on professional judgement" in summary
    assert "Enter why the victim's consent was not given or not sought" in summary
    assert await health.locator("#consent_reason-error").count() == 1
    assert await health.locator("#professional_judgement_reason-error").count() == 1
    assert await health.input_value("#victim-given_name") == VICTIM["given_name"]
    await check_page(health, hub.screens, "marac-refer-errors")
    assert [len(c["sources"]) for c in await _cases(hub)] == [1]

    await health.check("#dash-q14")
    await health.fill("#professional_judgement_reason", "Escalating threats since separation.")
    await health.fill("#consent_reason", "The perpetrator reads her messages; high risk.")
    await _send(health)
    assert "Referral sent" in await health.inner_text("h1")
    await check_page(health, hub.screens, "marac-referred")

    async def joined() -> list[dict[str, Any]] | None:
        cases = await _cases(hub)
        return cases if len(cases[0]["sources"]) == 2 else None

    (case,) = await eventually(joined, timeout=30)  # one case, two sources
    assert [s["kind"] for s in case["sources"]] == ["incident", "marac_referral"]

    # the coordinator: the meeting's cases with their sources, the case, the referral
    coordinator = await hub.person("coordinator", *COORDINATOR)
    await coordinator.goto(f"{console}/marac/meetings/{hub.meeting_id}")
    await _follow(coordinator, "text=The cases with their sources")
    section = coordinator.locator(f"section[data-case-id='{case['case_id']}']")
    sources = await section.locator(".console-sources").inner_text()
    assert hub.incident_id in sources
    assert "MARAC referral from health, their reference RBH-2026-0091" in sources
    await check_page(coordinator, hub.screens, "marac-meeting-cases")
    await section.locator("text=Open the case").click()
    await coordinator.wait_for_url(f"**/marac/cases/{case['case_id']}")
    await coordinator.click("text=The DASH with the referral from health")
    row = coordinator.locator("tr[data-question='q14']")
    assert "14. Has (the abuser) ever threatened to kill you" in await row.inner_text()
    assert await row.locator("td").inner_text() == "Yes"
    row = coordinator.locator("tr[data-question='q15']")
    assert "15. Has (the abuser) ever attempted to strangle, choke" in await row.inner_text()
    assert await row.locator("td").inner_text() == "No"
    await check_page(coordinator, hub.screens, "marac-case")
    await _follow(coordinator, "text=RBH-2026-0091")
    assert "Has the current incident resulted in injury?" in await coordinator.inner_text("main")
    await check_page(coordinator, hub.screens, "marac-referral")
    await coordinator.go_back()

    # an action: first without what to do, then as agreed
    due = datetime.now(UTC).date() + timedelta(days=7)
    await coordinator.select_option("#agency", "housing")
    await coordinator.fill("#due_by-day", str(due.day))
    await coordinator.fill("#due_by-month", str(due.month))
    await coordinator.fill("#due_by-year", str(due.year))
    async with coordinator.expect_navigation():
        await coordinator.click("#add-action-button")
    assert "Enter what the agency will do" in await coordinator.inner_text(".govuk-error-summary")
    await check_page(coordinator, hub.screens, "marac-case-action-error")
    await coordinator.fill("#description", "Check the tenancy and fit a door alarm.")
    async with coordinator.expect_navigation():
        await coordinator.click("#add-action-button")
    assert "The action is recorded" in await coordinator.inner_text("main")
    assert "Check the tenancy" in await coordinator.inner_text("table.console-actions")
    await check_page(coordinator, hub.screens, "marac-case-action-added")

    # another from the meeting's page, for children's social care
    await coordinator.goto(f"{console}/marac/meetings/{hub.meeting_id}/cases")
    await coordinator.click("text=Add an action for Maracvictim Synthetic")
    await coordinator.select_option("#c1-agency", "childrens-social-care")
    await coordinator.fill("#c1-description", "Assess the child's safety at home.")
    for part, value in (("day", due.day), ("month", due.month), ("year", due.year)):
        await coordinator.fill(f"#c1-due_by-{part}", str(value))
    await _follow(coordinator, "#c1-add-action-button")
    assert "The action is recorded" in await coordinator.inner_text("main")
    assert "2 agreed, 0 done" in await coordinator.inner_text(
        f"section[data-case-id='{case['case_id']}']"
    )
    await check_page(coordinator, hub.screens, "marac-meeting-action-added")

    # housing: its research, then its open action completed with the outcome
    housing = await hub.person("housing-officer", "marac:act:housing")
    await housing.goto(f"{console}/marac/cases/{case['case_id']}/research/housing")
    await check_page(housing, hub.screens, "marac-research-form")
    await housing.fill("#completed_by", "Housing Officer Synthetic")
    await _follow(housing, "#save-research")
    assert "Select whether your agency knows the victim or household" in (
        await housing.inner_text(".govuk-error-summary")
    )
    await check_page(housing, hub.screens, "marac-research-error")
    await housing.check("#known")
    await housing.fill("#summary", "Tenant since 2022; two reports of damage to the door.")
    await housing.fill("#completed_by", "Housing Officer Synthetic")
    async with housing.expect_navigation():
        await housing.click("#save-research")
    assert "Your research is recorded" in await housing.inner_text("main")
    assert "two reports of damage" in await housing.inner_text("table.console-research-history")
    await check_page(housing, hub.screens, "marac-research-saved")

    await _follow(housing, "text=MARAC actions")
    assert "Check the tenancy" in await housing.inner_text("table.console-actions")
    await check_page(housing, hub.screens, "marac-actions-open")
    await _follow(housing, "text=Check the tenancy and fit a door alarm.")
    await check_page(housing, hub.screens, "marac-action")
    async with housing.expect_navigation():
        await housing.click("#complete")
    assert "Enter the outcome" in await housing.inner_text(".govuk-error-summary")
    await check_page(housing, hub.screens, "marac-action-error")
    await housing.fill("#outcome", "Alarm fitted on 3 December; tenancy secure.")
    async with housing.expect_navigation():
        await housing.click("#complete")
    assert "The action is completed" in await housing.inner_text("main")
    await check_page(housing, hub.screens, "marac-action-done")
    await housing.goto(f"{console}/marac/actions?agency=housing&status=done")
    assert "Alarm fitted" in await housing.inner_text("table.console-actions")
    await check_page(housing, hub.screens, "marac-actions-done")

    # housing cannot reach children's services' actions, nor complete one, whatever it says
    refused = await housing.goto(f"{console}/marac/actions?agency=childrens-social-care")
    assert refused is not None
    assert refused.status == 403
    others = [a for a in case_actions(await _cases(hub)) if a["agency"] != "housing"]
    assert [a["status"] for a in others] == ["open"]
    await housing.goto(f"{console}/marac/actions")
    token = await housing.get_attribute("input[name=csrf_token]", "value")
    complete = f"{console}/marac/actions/{others[0]['action_id']}/complete"
    forms: list[dict[str, str | float | bool]] = [
        {"agency": "childrens-social-care", "outcome": "x", "csrf_token": token or ""},
        {"agency": "housing", "outcome": "x", "csrf_token": token or ""},  # marac refuses
        {"agency": "housing", "outcome": "x"},  # no form token
    ]
    for form in forms:
        answer = await housing.request.post(complete, form=form)
        assert answer.status == 403, form
    assert [a["status"] for a in case_actions(await _cases(hub)) if a["agency"] != "housing"] == [
        "open"
    ]
    await coordinator.goto(f"{console}/marac/meetings/{hub.meeting_id}/cases")
    section = coordinator.locator(f"section[data-case-id='{case['case_id']}']")
    assert "Housing" in await section.locator(".console-tags").inner_text()
    assert "2 agreed, 1 done" in await section.inner_text()


async def test_the_coordinator_downloads_the_safelives_return(hub: Hub) -> None:
    coordinator = await hub.person("coordinator", *COORDINATOR)
    await coordinator.goto(f"{hub.urls['console']}/marac/returns")
    await check_page(coordinator, hub.screens, "marac-return")
    await coordinator.fill("#area", AREA)
    await coordinator.fill("#quarter", "2026 third")
    async with coordinator.expect_navigation():
        await coordinator.click("#download")
    assert "for example 2026-Q3" in await coordinator.inner_text(".govuk-error-summary")
    await check_page(coordinator, hub.screens, "marac-return-error")
    quarter = f"{datetime.now(UTC).year}-Q{(datetime.now(UTC).month - 1) // 3 + 1}"
    answer = await coordinator.request.get(
        f"{hub.urls['console']}/marac/returns/safelives.csv?area={AREA}&quarter={quarter}"
    )
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(await answer.text())))
    assert header[:2] == ["area", "meeting_date"]
    async with httpx.AsyncClient() as http:  # marac's file, byte for byte
        direct = await http.get(
            f"{hub.urls['marac']}/v1/returns/safelives.csv",
            params={"area": AREA, "quarter": quarter},
            headers=bearer("marac:admin"),
        )
    assert await answer.body() == direct.content
    assert "attachment" in answer.headers["content-disposition"]

    agency_only = await hub.person("health-visitor", "marac:refer:health")
    refused = await agency_only.goto(f"{hub.urls['console']}/marac/returns")
    assert refused is not None
    assert refused.status == 403
