"""Marac's commands and event handlers: load, call the domain, save, emit.

Each runs in its caller's transaction or opens one (`platform.uow()`); every listing is
announced through the outbox with it, and an incident joining a case (a new one or the
victim's open one) is logged there as `combined` (contract section 12). The module ends
with `EVENTS`, the table the consumer dispatches on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marac import repository
from marac.config import Settings
from marac.domain.cases import IncidentFacts, facts_of, merge
from marac.domain.listing import (
    MaracCase,
    Meeting,
    announcement,
    earliest_date,
    listed_on,
    meetings_to_try,
    place,
    waiting_queue,
)
from marac.domain.schedule import meeting_dates
from shared import audit
from shared.audit import Entry
from shared.envelope import CloudEvent
from shared.identity import identities, pseudonym, victim_key
from shared.kafka import EventTable, On
from shared.schemas import TriageDecided
from shared.service import Platform
from shared.topics import DECISIONS, MARAC, MARAC_CASE_LISTED, TRIAGE_DECIDED

SOURCE = "/mash/marac"
ATTEMPTS = 3
log = logging.getLogger(__name__)
NAME = "marac"
COMBINED = Entry(NAME, "combined", NAME, "topic", DECISIONS, "marac_case")


class DuplicateMeeting(Exception):
    """The area already meets that day."""


@dataclass(frozen=True)
class EligibleDecision:
    """A MARAC-eligible decision, as the lists need it."""

    victim_ref: str
    victim_key: str
    """The Kafka key of the victim's events (the keyed hash of their identity)."""
    area: str
    decided_on: date
    facts: IncidentFacts
    subjects: tuple[str, ...] = ()
    """The pseudonymous keys of the incident's victim and suspect (the log names them)."""


def local_date(moment: datetime, settings: Settings) -> date:
    """The calendar date where the meetings are held."""
    return moment.astimezone(ZoneInfo(settings.timezone)).date()


async def decision_made(
    platform: Platform[Settings],
    session: AsyncSession,
    decision: TriageDecided,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A triage decision: a MARAC-eligible one lists its victim (or joins their case)."""
    if not decision.marac.eligible:
        return
    settings = platform.settings
    secret = settings.platform.pseudonym_key
    victim = decision.incident.victim
    found = identities(
        victim.person_id, victim.given_name, victim.family_name, victim.date_of_birth
    )
    keys = [pseudonym(secret, identity) for identity in found]
    key = victim_key(secret, victim, decision.incident_id)
    eligible = EligibleDecision(
        victim_ref=await repository.resolve_victim(session, keys, key, now),
        victim_key=key,
        area=decision.area,
        decided_on=local_date(decision.decided_at, settings),
        facts=facts_of(decision),
        subjects=audit.keys_of(secret, [victim, decision.incident.suspect]),
    )
    today = local_date(now, settings)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            # a concurrent writer may list the same victim first: try again, and join it
            async with session.begin_nested():
                case = await _list_incident(platform, session, eligible, today, now)
            log.info("incident %s: case %s %s", decision.incident_id, case.case_id, case.status)
            return
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise


async def _list_incident(
    platform: Platform[Settings],
    session: AsyncSession,
    eligible: EligibleDecision,
    today: date,
    now: datetime,
) -> MaracCase:
    """Join the victim's open case, else list a new case on the earliest meeting with
    room, else leave it waiting."""
    settings = platform.settings
    victim_ref, key, area = eligible.victim_ref, eligible.victim_key, eligible.area
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
        await repository.save_incidents(session, locked.case_id, incidents, key)
        if all(f.incident_id != facts.incident_id for f in locked.incidents):
            await _log_combined(platform, session, locked.case_id, incidents, eligible, now)
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
    await repository.insert_case(session, case, key)
    await _log_combined(platform, session, case.case_id, case.incidents, eligible, now)
    if case.status == "listed":
        await _announce(platform, session, case, key, now)
    return case


async def _log_combined(
    platform: Platform[Settings],
    session: AsyncSession,
    case_id: str,
    incidents: tuple[IncidentFacts, ...],
    eligible: EligibleDecision,
    now: datetime,
) -> None:
    """An incident joined a case: the case's id and all its incidents', and the keys of
    the people of the joining incident."""
    ids = audit.items([case_id, *(f.incident_id for f in incidents)], eligible.subjects)
    await audit.log(platform.outbox, session, COMBINED, ids, now)


async def create_meeting(
    platform: Platform[Settings], area: str, day: date, capacity: int, now: datetime
) -> Meeting:
    """A new meeting of the area; waiting cases are then listed on it."""
    meeting = Meeting(str(uuid4()), area, day, capacity, 0)
    async with platform.uow() as session:
        if not await repository.add_meeting(session, meeting, "api", now):
            raise DuplicateMeeting(area)
    await give_places(platform, [area], now)
    return meeting


async def keep_schedule(platform: Platform[Settings], now: datetime) -> int:
    """Create the standing meetings of the coming weeks, then list waiting cases."""
    settings = platform.settings
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


async def give_places(platform: Platform[Settings], areas: list[str], now: datetime) -> None:
    """List the waiting cases of each area that a meeting now has room for, highest
    priority first, each area in a transaction of its own."""
    today = local_date(now, platform.settings)
    for area in areas:
        placed = 0
        async with platform.uow() as session:
            waiting = await repository.find_cases(session, area, "awaiting_meeting")
            for case in waiting_queue(waiting):
                earliest = max(case.earliest_date, today)
                meetings = meetings_to_try(
                    await repository.meetings_of(session, area, earliest), area, earliest
                )
                if not meetings:
                    continue
                try:
                    async with session.begin_nested():
                        placed += await _place_waiting(
                            platform, session, case.case_id, meetings, now
                        )
                except IntegrityError:
                    # the victim is already on that meeting through another case: leave it
                    log.warning("waiting case %s could not be listed: conflict", case.case_id)
        if placed:
            log.info("listed %d waiting case(s)", placed)


async def _place_waiting(
    platform: Platform[Settings],
    session: AsyncSession,
    case_id: str,
    meetings: list[Meeting],
    now: datetime,
) -> bool:
    case = await repository.lock_case(session, case_id)
    if case.status != "awaiting_meeting":
        return False  # listed meanwhile by another writer
    for meeting in meetings:
        if await repository.take_place(session, meeting.meeting_id):
            await repository.place_waiting_case(session, case_id, meeting.meeting_id, now)
            key = await repository.victim_key_of(session, case_id)
            await _announce(platform, session, listed_on(case, meeting, now), key, now)
            return True
    return False


async def _announce(
    platform: Platform[Settings], session: AsyncSession, case: MaracCase, key: str, now: datetime
) -> None:
    """Stage `mash.marac.case_listed` for the case, in the caller's transaction."""
    data = announcement(case, platform.settings.platform.pseudonym_key)
    event = CloudEvent(
        id=str(uuid4()),
        source=SOURCE,
        type=MARAC_CASE_LISTED,
        subject=str(data.incident_ids[-1]),
        data=data.model_dump(mode="json"),
        time=now,
    )
    await platform.outbox.add(session, MARAC, key, event)


EVENTS: EventTable[Platform[Settings]] = {
    TRIAGE_DECIDED: On(TriageDecided, decision_made),
}
