"""SafeLives' repeat, end to end (domain.md): within 12 months of the victim's last MARAC
referral or listing, whoever reports. The earlier MARAC is made with a moved clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import marac.app
from marac import handlers, repository
from marac.domain.listing import Meeting
from marac.schemas import MaracReferralRequest
from mash_tools.testing import bearer, eventually, running
from tests.integration.marac.kit import (
    READ,
    DecisionPublisher,
    decision,
    marac_settings,
    new_area,
    refer_scope,
    referral_body,
    victim,
)

pytestmark = pytest.mark.kafka


def command(body: dict[str, Any]) -> handlers.ReferToMarac:
    """The command the API builds from a valid form."""
    form = MaracReferralRequest.model_validate(body)
    answers = {str(q): yes for q, yes in form.dash.answers.items()} if form.dash else None
    return handlers.ReferToMarac(
        form=form.model_dump(mode="json"),
        referring_agency=form.referring_agency,
        referral_ref=form.referral_ref,
        area=form.area,
        victim=form.victim,
        perpetrators=tuple(form.perpetrators),
        children_count=len(form.children),
        criteria=tuple(form.criteria),
        consent=form.consent,
        dash_answers=answers,
    )


async def earlier_marac(app: Any, area: str, person: dict[str, Any], days_ago: int) -> None:
    """A referral from housing `days_ago + 6` days ago, listed on a meeting held
    `days_ago` days ago (the research period is 5 days)."""
    platform = app.state.platform
    now = datetime.now(UTC)
    held = (now - timedelta(days=days_ago)).date()
    async with platform.uow() as session:
        past = Meeting(str(uuid.uuid4()), area, held, 16, 0)
        assert await repository.add_meeting(session, past, "api", now)
    body = referral_body(area, person, referring_agency="housing")
    referred_at = now - timedelta(days=days_ago + 6)
    done = await handlers.refer(platform, command(body), "test", referred_at)
    assert done.created


async def waiting(client: httpx.AsyncClient, area: str) -> list[dict[str, Any]]:
    answer = await client.get(
        "/v1/cases", params={"area": area, "status": "awaiting_meeting"}, headers=bearer(*READ)
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json())


@pytest.mark.parametrize(("days_ago", "repeat"), [(335, True), (395, False)])
async def test_a_referral_months_after_a_listing_is_a_repeat_within_twelve(
    kafka_bootstrap: str, database_url: str, group: str, days_ago: int, repeat: bool
) -> None:
    area = new_area()
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client:
        person = victim(61)
        await earlier_marac(app, area, person, days_ago)
        [earlier] = (
            await client.get("/v1/cases", params={"area": area}, headers=bearer(*READ))
        ).json()
        assert earlier["status"] == "listed"  # on the meeting held then
        answer = await client.post(
            "/v1/marac-referrals",
            json=referral_body(area, {**person, "person_id": None}),
            headers=bearer(*refer_scope("health")),
        )
        assert answer.status_code == 202, answer.text
        [case] = await waiting(client, area)
        assert case["case_id"] != earlier["case_id"]
        assert case["repeat"] is repeat


@pytest.mark.parametrize(("days_ago", "repeat"), [(335, True), (395, False)])
async def test_a_police_incident_months_after_a_partners_referral_is_a_repeat_within_twelve(
    kafka_bootstrap: str, database_url: str, group: str, days_ago: int, repeat: bool
) -> None:
    area = new_area()
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client, DecisionPublisher(kafka_bootstrap) as triage:
        person = victim(62)
        # housing referred the victim to MARAC; now the police report: still a repeat
        await earlier_marac(app, area, person, days_ago)
        await triage.publish(decision(area, person, criteria=("potential_escalation",)))
        [case] = await eventually(lambda: waiting(client, area))
        assert case["repeat"] is repeat
        assert case["priority"] == 15 + 15 * repeat + 15
