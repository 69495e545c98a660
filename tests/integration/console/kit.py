"""Builders for the console's tests: its settings, a signed-in client, and the events
the console reads, as their producers publish them (synthetic, counts only)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

import console.config
from mash_tools.testing import TEST_KEY, kafka_options
from shared.auth import mint_sign_in
from shared.envelope import CloudEvent
from shared.schemas import DecisionReferral, MaracEligibility, TriageSummarised
from shared.schemas.marac import MaracActionEvent, MaracCaseClosed, MaracReferralReceived
from shared.topics import (
    ESCALATIONS,
    MARAC,
    MARAC_ACTION_AGREED,
    MARAC_ACTION_COMPLETED,
    MARAC_CASE_CLOSED,
    MARAC_CASE_LISTED,
    MARAC_REFERRAL_RECEIVED,
    PERPETRATOR_PRIORITISED,
    PERPETRATORS,
    REFERRAL_ACKNOWLEDGED,
    REFERRAL_DEAD,
    REFERRAL_DELIVERED,
    REFERRAL_OUTCOMES,
    REFERRAL_OVERDUE,
    SUMMARIES,
    TRIAGE_SUMMARISED,
)
from tests.builders import settings_for


def console_settings(bootstrap: str, database_url: str, group: str, **extra: Any) -> Any:
    return settings_for(console.config.Settings, bootstrap, database_url, group, **extra)


def sign_in_link(subject: str, *scopes: str, base: str = "") -> str:
    """What `mash console-link` prints (signed with the suite's issuer key)."""
    token = mint_sign_in(TEST_KEY, subject, scopes, uuid.uuid4().hex)
    return f"{base}/sign-in/link?token={token}"


async def redeem(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """What a person does with a link: open it (a page that signs nobody in), then press
    its Sign in button (a POST with the page's form token and its cookie)."""
    page = await client.get(link)
    if page.status_code != 200:
        return page
    form_token = re.findall(r'name="csrf_token" value="([^"]+)"', page.text)
    token = re.findall(r'name="token" value="([^"]+)"', page.text)
    assert len(form_token) == len(token) == 1, page.text
    return await client.post("/sign-in/link", data={"token": token[0], "csrf_token": form_token[0]})


async def signed_in(client: httpx.AsyncClient, subject: str, *scopes: str) -> str:
    """Sign the client in with a fresh link; the session's CSRF token is on every page."""
    answer = await redeem(client, sign_in_link(subject, *scopes))
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    client.cookies.set("mash_console_session", answer.cookies["mash_console_session"])
    return answer.cookies["mash_console_session"]


def summary(
    area: str,
    *,
    reported_at: datetime,
    risk_level: str = "standard",
    risk_basis: str = "dash_score",
    dash_score: int | None = 3,
    flags: tuple[str, ...] = (),
    children: int = 0,
    referrals: tuple[str, ...] = ("victim-support",),
    incident_id: str | None = None,
    decided_at: datetime | None = None,
) -> dict[str, Any]:
    """A `mash.triage.summarised` event's data (a decision without personal data), valid
    against the shared schema."""
    decided = decided_at or reported_at + timedelta(minutes=1)
    data = TriageSummarised(
        decision_id=uuid.uuid4(),
        incident_id=uuid.UUID(incident_id) if incident_id else uuid.uuid4(),
        force="hampshire",
        area=area,
        reported_at=reported_at,
        decided_at=decided,
        risk_level=risk_level,
        risk_basis=risk_basis,
        dash_score=dash_score,
        flags=list(flags),
        prior_incidents_12m=0,
        children_count=children,
        children_present_count=0,
        marac=MaracEligibility(eligible=False, criteria=[]),
        referrals=[DecisionReferral(agency=a, reason="test") for a in referrals],
    )
    return data.model_dump(mode="json")


def case_listed(
    area: str, meeting_id: str, *, listed_at: datetime, repeat: bool = False
) -> dict[str, Any]:
    """A `mash.marac.case_listed` event's data."""
    return {
        "case_id": str(uuid.uuid4()),
        "meeting_id": meeting_id,
        "meeting_date": (listed_at + timedelta(days=7)).date().isoformat(),
        "area": area,
        "incident_ids": [str(uuid.uuid4())],
        "criteria": ["visible_high_risk"],
        "risk_level": "high",
        "dash_score": 15,
        "repeat": repeat,
        "priority": 45,
        "victim_keys": {"person_id": uuid.uuid4().hex, "names_dob": None},
        "children_count": 0,
        "listed_at": listed_at.isoformat(),
    }


def marac_referral(area: str, case_id: str, agency: str, received_at: datetime) -> dict[str, Any]:
    """A `mash.marac.referral_received` event's data: a partner agency's referral."""
    data = MaracReferralReceived(
        marac_referral_id=uuid.uuid4(),
        case_id=uuid.UUID(case_id),
        area=area,
        referring_agency=agency,
        criteria=["professional_judgement"],
        consent="given",
        received_at=received_at,
        repeat=False,
    )
    return data.model_dump(mode="json")


def case_closed(
    area: str, case_id: str, meeting_date: date, research: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A `mash.marac.case_closed` event's data: discussed, with the research before it."""
    data = MaracCaseClosed(
        case_id=uuid.UUID(case_id),
        meeting_id=uuid.uuid4(),
        meeting_date=meeting_date,
        area=area,
        outcome="discussed",
        closed_at=datetime.combine(meeting_date, datetime.min.time(), UTC) + timedelta(hours=14),
        research_before_meeting=list(research),
    )
    return data.model_dump(mode="json")


def marac_action(
    area: str, action_id: str, due_by: date, at: datetime, *, done: bool = False
) -> dict[str, Any]:
    """A `mash.marac.action_agreed` (or, done, `action_completed`) event's data."""
    data = MaracActionEvent(
        action_id=uuid.UUID(action_id),
        case_id=uuid.uuid4(),
        area=area,
        agency="housing",
        due_by=due_by,
        status="done" if done else "open",
        at=at,
    )
    return data.model_dump(mode="json")


def overdue(incident_id: str, agency: str, due_by: datetime) -> dict[str, Any]:
    return {
        "referral_id": str(uuid.uuid4()),
        "agency": agency,
        "incident_id": incident_id,
        "reason": "test",
        "due_by": due_by.isoformat(),
        "overdue_since": due_by.isoformat(),
    }


def referral_outcome(
    referral_id: str,
    incident_id: str,
    agency: str,
    *,
    at: datetime,
    due_by: datetime,
    attempts: int | None = None,
) -> dict[str, Any]:
    """An outcome's data (`mash.referral.acknowledged`, `.delivered`, `.dead`), as notify
    publishes it: ids and times only."""
    data: dict[str, Any] = {
        "referral_id": referral_id,
        "agency": agency,
        "incident_id": incident_id,
        "at": at.isoformat(),
        "due_by": due_by.isoformat(),
    }
    if attempts is not None:
        data["attempts"] = attempts
    return data


def prioritised(area: str, scored_at: datetime) -> dict[str, Any]:
    return {
        "perpetrator_id": f"p-{uuid.uuid4().hex[:12]}",
        "area": area,
        "score": 75,
        "priority": True,
        "components": {"recency": 5, "frequency": 3, "gravity": 9, "victims": 2},
        "policy_version": "test",
        "policy_owner": "Test partner agency",
        "person": {"given_name": "Synthetic", "family_name": "Suspect", "date_of_birth": None},
        "incidents_24m": 3,
        "victims_count": 2,
        "children_involved": True,
        "last_incident_at": scored_at.isoformat(),
        "scored_at": scored_at.isoformat(),
        "incident_ids": [],
        "history": [],
    }


TOPIC_OF = {
    TRIAGE_SUMMARISED: SUMMARIES,
    MARAC_CASE_LISTED: MARAC,
    MARAC_REFERRAL_RECEIVED: MARAC,
    MARAC_CASE_CLOSED: MARAC,
    MARAC_ACTION_AGREED: MARAC,
    MARAC_ACTION_COMPLETED: MARAC,
    REFERRAL_OVERDUE: ESCALATIONS,
    PERPETRATOR_PRIORITISED: PERPETRATORS,
    REFERRAL_ACKNOWLEDGED: REFERRAL_OUTCOMES,
    REFERRAL_DELIVERED: REFERRAL_OUTCOMES,
    REFERRAL_DEAD: REFERRAL_OUTCOMES,
}


PRODUCER_OF = {
    SUMMARIES: "triage",
    MARAC: "marac",
    ESCALATIONS: "notify",
    PERPETRATORS: "perpetrators",
    REFERRAL_OUTCOMES: "notify",
}


class Publisher:
    """Puts events on their topics as their producers would, each as its producer's principal."""

    def __init__(self, bootstrap: str) -> None:
        self._producers = {
            topic: AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_options(principal))
            for topic, principal in PRODUCER_OF.items()
        }

    async def __aenter__(self) -> Publisher:
        for producer in self._producers.values():
            await producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for producer in self._producers.values():
            await producer.stop()

    async def publish(self, kind: str, data: dict[str, Any], subject: str = "") -> CloudEvent:
        event = CloudEvent(
            id=str(uuid.uuid4()),
            source="/mash/test",
            type=kind,
            subject=subject
            or str(data.get("incident_id", data.get("case_id", data.get("action_id", "x")))),
            data=data,
            time=datetime.now(UTC),
        )
        topic = TOPIC_OF[kind]
        await self._producers[topic].send_and_wait(
            topic, value=event.value(), key=b"test-key", headers=event.headers()
        )
        return event


def page_figures(html: str) -> dict[str, dict[str, str]]:
    """The dashboard table's figures: indicator -> month (or `total`) -> as written."""
    found: dict[str, dict[str, str]] = {}
    for key, row in re.findall(r'data-indicator="([a-z0-9_]+)">(.*?)</tr>', html, re.S):
        cells = re.findall(r'data-month="([^"]+)">([^<]*)<', row)
        found[key] = {month: value.strip() for month, value in cells}
    return found
