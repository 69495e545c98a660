"""Builders for triage's integration tests: a storage-only triage, the running stack of
intake and triage (`Stack`, started by conftest's `stack`), events and people."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from mash_tools.testing import (
    TEST_PSEUDONYM_KEY,
    bearer,
    data_of,
    headers_of,
    hub_settings,
)
from shared.envelope import CloudEvent
from shared.identity import keyed_identities
from shared.service import Platform
from shared.topics import INCIDENT_REPORTED, MARAC_CASE_LISTED, RISK_ASSESSMENT_SUBMITTED
from tests.builders import dash_body, incident_body
from triage import handlers, store
from triage.app import MIGRATIONS
from triage.config import Settings
from triage.consumer import consumers
from triage.handlers import Triage

NOW = datetime.now(UTC)
"""When the stack's incidents are reported from (`Stack.report`'s `days_ago`)."""


@dataclass
class Stack:
    bootstrap: str
    intake: httpx.AsyncClient
    triage: httpx.AsyncClient
    triage_app: FastAPI

    async def report(self, victim: dict[str, Any], days_ago: float, **extra: Any) -> str:
        """Post an incident to intake; its id."""
        at = (NOW - timedelta(days=days_ago)).isoformat()
        body = incident_body(f"HC-{uuid.uuid4().hex[:16]}", reported_at=at, victim=victim, **extra)
        answer = await self.intake.post(
            "/v1/incidents", json=body, headers=bearer("incidents:write")
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["incident_id"])

    async def received(self, event_id: str) -> bool:
        """Whether triage has processed this event."""
        async with self.triage_app.state.platform.sessions() as session:
            stmt = select(store.messages.inbox).where(store.messages.inbox.c.event_id == event_id)
            return (await session.execute(stmt)).first() is not None


@asynccontextmanager
async def storage_only(database_url: str) -> AsyncIterator[Triage]:
    """Triage's handlers on a migrated database, without Kafka (events are handed in)."""
    settings = Settings(database_url=database_url, hub=hub_settings("127.0.0.1:9"))
    platform = Platform("triage", settings, store.messages, MIGRATIONS)
    await platform.start_storage()
    try:
        yield Triage.on(platform)
    finally:
        await platform.engine.dispose()


def unique_victim(**overrides: Any) -> dict[str, Any]:
    """A synthetic victim nobody else's test uses."""
    token = uuid.uuid4().hex[:12]
    return {
        "person_id": f"T{token}",
        "given_name": f"Vic{token}",
        "family_name": "Testperson",
        "date_of_birth": "1990-04-01",
        **overrides,
    }


def reported_event(reported_at: datetime, victim: dict[str, Any], **overrides: Any) -> CloudEvent:
    """A `mash.incident.reported` event as intake would publish it."""
    incident_id = uuid.uuid4()
    body = incident_body(
        f"HC-{incident_id.hex[:12]}",
        reported_at=reported_at.isoformat(),
        victim=victim,
        **overrides,
    )
    data = {**body, "incident_id": str(incident_id), "received_at": reported_at.isoformat()}
    return CloudEvent(str(uuid.uuid4()), "/mash/intake", INCIDENT_REPORTED, str(incident_id), data)


def dash_event(incident_id: str, yes: int, judgement: str | None = None) -> CloudEvent:
    """A `mash.risk_assessment.submitted` event for a known incident."""
    data = {
        **dash_body(yes, judgement),
        "incident_id": incident_id,
        "submitted_at": datetime.now(UTC).isoformat(),
    }
    return CloudEvent(
        str(uuid.uuid4()), "/mash/intake", RISK_ASSESSMENT_SUBMITTED, incident_id, data
    )


def listed_keys(victim: dict[str, Any]) -> dict[str, str | None]:
    """The victim's keys as marac publishes them (the shared rule, with the test key)."""
    born = victim.get("date_of_birth")
    by_id, by_names = keyed_identities(
        TEST_PSEUDONYM_KEY,
        victim.get("person_id"),
        victim["given_name"],
        victim["family_name"],
        date.fromisoformat(born) if born else None,
    )
    return {"person_id": by_id, "names_dob": by_names}


def listing_event(
    victim: dict[str, Any], listed_at: datetime, incident_ids: list[str] | None = None
) -> CloudEvent:
    """A `mash.marac.case_listed` event as marac would publish it."""
    case_id = uuid.uuid4()
    listed = incident_ids or [str(uuid.uuid4())]
    data: dict[str, Any] = {
        "case_id": str(case_id),
        "meeting_id": str(uuid.uuid4()),
        "meeting_date": listed_at.date().isoformat(),
        "area": "southampton",
        "incident_ids": listed,
        "criteria": ["visible_high_risk"],
        "risk_level": "high",
        "dash_score": 15,
        "repeat": False,
        "priority": 50,
        "victim_keys": listed_keys(victim),
        "children_count": 0,
        "listed_at": listed_at.isoformat(),
    }
    return CloudEvent(str(uuid.uuid4()), "/mash/marac", MARAC_CASE_LISTED, listed[0], data)


def decision_for(incident_id: str, **expected: Any) -> Any:
    """A match for the decision record on an incident whose data has the `expected` values."""

    def match(record: Any) -> bool:
        if headers_of(record).get("ce_subject") != incident_id:
            return False
        data = data_of(record)
        return all(data.get(k) == v for k, v in expected.items())

    return match


def without_dip(flags: list[str]) -> list[str]:
    return [f for f in flags if f != "dip_sample"]


# A seeded stream for policy trials: three years of incidents through the consumer and the
# re-grade command, with what each incident was given (for the tests' own models).


@dataclass
class Inputs:
    """What the test gave one incident: when, its DASH scores (None: no DASH), re-grade."""

    reported_at: datetime
    area: str
    first: int | None
    last: int | None
    regraded: bool = False


STREAM_START = datetime(2023, 12, 1, 8, 0, tzinfo=UTC)


async def consume(triage: Triage, event: CloudEvent) -> None:
    """What the consumer loop does with one event: the handler in one transaction."""
    async with triage.platform.uow() as session:
        await consumers(triage)[0].handler(session, event)


def _person(rng: random.Random, n: int, kind: str) -> dict[str, Any]:
    person: dict[str, Any] = {
        "given_name": f"{kind}{chr(65 + n % 26)}{'x' * (n // 26)}",
        "family_name": "Streamperson",
        "date_of_birth": f"19{70 + n % 25}-0{1 + n % 9}-1{n % 10}",
    }
    if n % 4:  # one in four known only by names and date of birth
        person["person_id"] = f"{kind[0]}{n:05d}"
    return person


def _children(rng: random.Random) -> list[dict[str, Any]]:
    if rng.random() > 0.3:
        return []
    return [
        {
            "given_name": "Kid",
            "family_name": "Streamperson",
            "date_of_birth": f"20{10 + rng.randrange(12)}-05-05",
            "present_at_incident": rng.random() < 0.5,
            **({"school_urn": "123456"} if rng.random() < 0.5 else {}),
        }
        for _ in range(rng.randint(1, 2))
    ]


def _score(rng: random.Random) -> int:
    return rng.choice([0, 3, 6, 9, 10, 11, 12, 12, 13, 13, 14, 16, 20])


async def seed_stream(triage: Triage, size: int, rng_seed: int = 22) -> dict[str, Inputs]:
    """A three-year stream of `size` incidents through the consumer and the re-grade
    command; what each incident was given."""
    rng = random.Random(rng_seed)
    victims = [_person(rng, n, "Vic") for n in range(size // 5)]
    suspects = [_person(rng, n, "Sus") for n in range(size // 10)]
    events: list[tuple[CloudEvent, Inputs]] = []
    for _ in range(size):
        at = STREAM_START + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
        victim = victims[min(rng.randrange(len(victims)), rng.randrange(len(victims)))]
        first = None if rng.random() < 0.25 else _score(rng)
        extra: dict[str, Any] = {
            "children": _children(rng),
            "area": rng.choice(["southampton", "portsmouth"]),
            "suspect": rng.choice(suspects) if rng.random() < 0.9 else None,
        }
        if first is not None:
            judgement = "medium" if rng.random() < 0.1 else None
            extra["dash"] = dash_body(first, judgement)
        event = reported_event(at, victim, **extra)
        events.append((event, Inputs(at, extra["area"], first, first)))
    events.sort(key=lambda e: e[1].reported_at)
    late = [e for e in events if rng.random() < 0.1]  # arrive after everything else
    order = [e for e in events if e not in late] + late
    given: dict[str, Inputs] = {}
    for event, inputs in order:
        await consume(triage, event)
        given[event.subject or ""] = inputs
    await _regrade_some(triage, rng, events, 0.05)  # some before their later DASH
    # and one whose order matters: not assessed, re-graded standard, then a DASH of 16
    # (re-deciding the DASH before the re-grade would refer it to the safeguarding team)
    cru_first = reported_event(STREAM_START + timedelta(days=500), victims[-1])
    await consume(triage, cru_first)
    cru = handlers.RegradeOrder("standard", "CRU review", "DS 1", "cru")
    await handlers.regrade(triage, uuid.UUID(cru_first.subject), cru, datetime.now(UTC))
    await consume(triage, dash_event(cru_first.subject or "", 16))
    given[cru_first.subject or ""] = Inputs(
        STREAM_START + timedelta(days=500), "southampton", None, 16, regraded=True
    )
    for event, inputs in events:
        if (inputs.first is None and rng.random() < 0.5) or rng.random() < 0.08:
            inputs.last = _score(rng)
            await consume(triage, dash_event(event.subject or "", inputs.last))
    for event, inputs in events[: size // 3 : 4]:  # a few victims listed at a MARAC
        victim = event.data["victim"]
        listed_at = inputs.reported_at + timedelta(days=9)
        await consume(triage, listing_event(victim, listed_at, [event.subject or ""]))
    await _regrade_some(triage, rng, events, 0.08)
    return given


async def _regrade_some(
    triage: Triage, rng: random.Random, events: list[tuple[CloudEvent, Inputs]], share: float
) -> None:
    """The CRU re-grades a share of the incidents, through the re-grade command."""
    for event, inputs in events:
        if rng.random() < share:
            inputs.regraded = True
            level = rng.choice(["standard", "medium", "high"])
            order = handlers.RegradeOrder(level, "CRU review", "DS 1", "cru")  # type: ignore[arg-type]
            await handlers.regrade(triage, uuid.UUID(event.subject), order, datetime.now(UTC))
