"""Writing to meeting lists inside a caller's transaction: list or join a case, give
waiting cases the places that exist, and announce each listing through the outbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import uuid4

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marac import repository
from marac.config import Settings
from marac.domain.cases import CasePerson, IncidentFacts, merge
from marac.domain.listing import (
    MaracCase,
    Meeting,
    earliest_date,
    listed_on,
    meetings_to_try,
    place,
    waiting_queue,
)
from shared.envelope import CloudEvent
from shared.schemas.v1 import CasePerson as ListedPerson
from shared.schemas.v1 import MaracCaseListed
from shared.service import Platform
from shared.topics import MARAC, MARAC_CASE_LISTED

SOURCE = "/mash/marac"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EligibleDecision:
    """A MARAC-eligible decision, as the lists need it."""

    victim_ref: str
    victim_key: str
    """The Kafka key of the victim's events (intake's keyed hash of their identity)."""
    area: str
    decided_on: date
    facts: IncidentFacts


async def list_incident(
    platform: Platform,
    session: AsyncSession,
    settings: Settings,
    eligible: EligibleDecision,
    today: date,
    now: datetime,
) -> MaracCase:
    """Join the victim's open case, else list a new case on the earliest meeting with
    room, else leave it waiting."""
    victim_ref, victim_key, area = eligible.victim_ref, eligible.victim_key, eligible.area
    facts, decided_on = eligible.facts, eligible.decided_on
    cases = await repository.victim_cases(session, victim_ref)
    earliest = earliest_date(decided_on, settings.research_days, today)
    meetings = await repository.meetings_of(session, area, earliest)
    placement = place(
        cases, meetings, area, decided_on, today, settings.research_days, settings.repeat_days
    )
    if placement.join is not None:
        locked = await repository.lock_case(session, placement.join.case_id)
        incidents = tuple(merge(locked.incidents, facts))
        await repository.save_incidents(session, locked.case_id, incidents, victim_key)
        return replace(locked, incidents=incidents)
    case = MaracCase(
        case_id=str(uuid4()),
        victim_ref=victim_ref,
        area=area,
        status="awaiting_meeting",
        meeting_id=None,
        meeting_date=None,
        earliest_date=placement.earliest,
        awaiting_since=now,
        listed_at=None,
        repeat=placement.repeat,
        incidents=(facts,),
    )
    for meeting in placement.meetings:
        if await repository.take_place(session, meeting.meeting_id):
            case = listed_on(case, meeting, now)
            break
    await repository.insert_case(session, case, victim_key)
    if case.status == "listed":
        await announce(platform, session, case, victim_key, now)
    return case


async def give_places(
    platform: Platform, session: AsyncSession, area: str, today: date, now: datetime
) -> int:
    """List the area's waiting cases, highest priority first, on the meetings with room."""
    placed = 0
    for waiting in waiting_queue(await repository.find_cases(session, area, "awaiting_meeting")):
        earliest = max(waiting.earliest_date, today)
        meetings = meetings_to_try(
            await repository.meetings_of(session, area, earliest), area, earliest
        )
        if not meetings:
            continue
        try:
            async with session.begin_nested():
                placed += await _place_waiting(platform, session, waiting.case_id, meetings, now)
        except IntegrityError:
            # the victim is already on that meeting through another case: leave it waiting
            log.warning("waiting case %s could not be listed: conflict", waiting.case_id)
    return placed


async def _place_waiting(
    platform: Platform, session: AsyncSession, case_id: str, meetings: list[Meeting], now: datetime
) -> bool:
    case = await repository.lock_case(session, case_id)
    if case.status != "awaiting_meeting":
        return False  # listed meanwhile by another writer
    for meeting in meetings:
        if await repository.take_place(session, meeting.meeting_id):
            await repository.place_waiting_case(session, case_id, meeting.meeting_id, now)
            key = await repository.victim_key_of(session, case_id)
            await announce(platform, session, listed_on(case, meeting, now), key, now)
            return True
    return False


async def announce(
    platform: Platform, session: AsyncSession, case: MaracCase, key: str, now: datetime
) -> None:
    """Stage `mash.marac.case_listed` for the case, in the caller's transaction."""
    assert case.meeting_id is not None
    assert case.meeting_date is not None
    assert case.listed_at is not None
    summary = case.summary
    data = MaracCaseListed(
        case_id=case.case_id,
        meeting_id=case.meeting_id,
        meeting_date=case.meeting_date,
        area=case.area,
        incident_ids=list(summary.incident_ids),
        criteria=list(summary.criteria),
        risk_level=summary.risk_level,
        dash_score=summary.dash_score,
        repeat=summary.repeat,
        priority=summary.priority,
        victim=_person(summary.victim),
        suspect=_person(summary.suspect) if summary.suspect else None,
        children_count=summary.children_count,
        listed_at=case.listed_at,
        victim_person_id=summary.victim_person_id,
    )
    event = CloudEvent(
        id=str(uuid4()),
        source=SOURCE,
        type=MARAC_CASE_LISTED,
        subject=summary.incident_ids[-1],
        data=data.model_dump(mode="json"),
        time=now,
    )
    await platform.outbox.add(session, MARAC, key, event)


def _person(person: CasePerson) -> ListedPerson:
    return ListedPerson(
        given_name=person.given_name,
        family_name=person.family_name,
        date_of_birth=person.date_of_birth,
    )
