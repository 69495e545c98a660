"""Marac's commands and event handlers: load, call the domain, save, emit."""

from __future__ import annotations

import logging
from datetime import date, datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marac import lists, repository
from marac.config import Settings
from marac.domain.cases import CasePerson, IncidentFacts
from marac.domain.listing import Meeting
from marac.domain.schedule import meeting_dates
from shared.envelope import CloudEvent
from shared.identity import identities, pseudonym, victim_key
from shared.schemas import Person, TriageDecided
from shared.service import Platform
from shared.topics import TRIAGE_DECIDED

log = logging.getLogger(__name__)
ATTEMPTS = 3


class DuplicateMeeting(Exception):
    """The area already meets that day."""


def settings_of(platform: Platform) -> Settings:
    settings = platform.settings
    assert isinstance(settings, Settings)
    return settings


def local_date(moment: datetime, settings: Settings) -> date:
    """The calendar date where the meetings are held."""
    return moment.astimezone(ZoneInfo(settings.timezone)).date()


async def on_decision(
    platform: Platform, session: AsyncSession, event: CloudEvent, now: datetime
) -> None:
    """A triage decision: a MARAC-eligible one lists its victim (or joins their case)."""
    if event.type != TRIAGE_DECIDED:
        return
    decision = TriageDecided.model_validate(event.data)
    if not decision.marac.eligible:
        return
    settings = settings_of(platform)
    secret = settings.platform.pseudonym_key
    victim = decision.incident.victim
    found = identities(
        victim.person_id, victim.given_name, victim.family_name, victim.date_of_birth
    )
    keys = [pseudonym(secret, identity) for identity in found]
    key = victim_key(secret, victim, decision.incident_id)
    eligible = lists.EligibleDecision(
        victim_ref=await repository.resolve_victim(session, keys, key, now),
        victim_key=key,
        area=decision.area,
        decided_on=local_date(decision.decided_at, settings),
        facts=facts_of(decision),
    )
    today = local_date(now, settings)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            # a concurrent writer may list the same victim first: try again, and join it
            async with session.begin_nested():
                case = await lists.list_incident(platform, session, settings, eligible, today, now)
            log.info("incident %s: case %s %s", decision.incident_id, case.case_id, case.status)
            return
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise


def facts_of(decision: TriageDecided) -> IncidentFacts:
    """What a case keeps of one decision."""
    incident = decision.incident
    return IncidentFacts(
        incident_id=str(decision.incident_id),
        reported_at=incident.reported_at,
        decided_at=decision.decided_at,
        criteria=tuple(decision.marac.criteria),
        risk_level=decision.risk_level,
        dash_score=decision.dash_score,
        children_count=len(incident.children),
        victim=_person(incident.victim),
        suspect=_person(incident.suspect) if incident.suspect else None,
        victim_person_id=incident.victim.person_id,
    )


def _person(person: Person) -> CasePerson:
    return CasePerson(person.given_name, person.family_name, person.date_of_birth)


async def create_meeting(
    platform: Platform, area: str, day: date, capacity: int, now: datetime
) -> Meeting:
    """A new meeting of the area; waiting cases are then listed on it."""
    meeting = Meeting(str(uuid4()), area, day, capacity, 0)
    async with platform.uow() as session:
        if not await repository.add_meeting(session, meeting, "api", now):
            raise DuplicateMeeting(area)
    await give_places(platform, [area], now)
    return meeting


async def keep_schedule(platform: Platform, now: datetime) -> int:
    """Create the standing meetings of the coming weeks, then list waiting cases."""
    settings = settings_of(platform)
    today = local_date(now, settings)
    created = 0
    async with platform.uow() as session:
        for entry in settings.schedule:
            dates = meeting_dates(
                entry.weekday, entry.every_weeks, entry.anchor, today, settings.schedule_weeks_ahead
            )
            for day in dates:
                meeting = Meeting(str(uuid4()), entry.area, day, entry.capacity, 0)
                created += await repository.add_meeting(session, meeting, "schedule", now)
        areas = await repository.waiting_areas(session)
    await give_places(platform, areas, now)
    return created


async def give_places(platform: Platform, areas: list[str], now: datetime) -> None:
    """List the waiting cases of each area that a meeting now has room for."""
    today = local_date(now, settings_of(platform))
    for area in areas:
        async with platform.uow() as session:
            placed = await lists.give_places(platform, session, area, today, now)
        if placed:
            log.info("listed %d waiting case(s)", placed)
