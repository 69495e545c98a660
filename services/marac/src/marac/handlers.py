"""Marac's commands and event handlers: load, call the domain, save, emit.

Each runs in its caller's transaction or opens one (`platform.uow()`); every listing is
announced through the outbox with it, and an incident joining a case (a new one or the
victim's open one) is logged there as `combined` (contract section 12). The module ends
with `EVENTS`, the table the consumer dispatches on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from pydantic import BaseModel, TypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marac import batch, repository
from marac.config import Settings
from marac.domain.cases import IncidentFacts, Party, ReferralFacts, facts_of, merge
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
from marac.domain.meeting import (
    Action,
    OutcomeProblem,
    Research,
    outcome_problems,
    returned_before,
    to_escalate,
)
from marac.domain.referrals import referral_facts
from marac.domain.returns import DiscussedCase, rows
from marac.domain.schedule import meeting_dates
from shared import audit
from shared.audit import Entry, Item, person_keys
from shared.db import hold
from shared.envelope import CloudEvent
from shared.identity import identify, victim_key
from shared.kafka import EventTable, On
from shared.schemas import EqualityGiven, Person, TriageDecided
from shared.schemas.marac import (
    ActionOverdue,
    Consent,
    MaracActionEvent,
    MaracAgency,
    MaracCaseClosed,
    MaracCriterion,
    MaracReferralForIdva,
    MaracReferralReceived,
    ReferringAgency,
)
from shared.schemas.v1 import AuditOperation
from shared.service import Platform
from shared.topics import (
    DECISIONS,
    EQUALITY_GIVEN,
    ESCALATIONS,
    MARAC,
    MARAC_ACTION_AGREED,
    MARAC_ACTION_COMPLETED,
    MARAC_ACTION_OVERDUE,
    MARAC_CASE_CLOSED,
    MARAC_CASE_LISTED,
    MARAC_IDVA_REFERRALS,
    MARAC_REFERRAL_RECEIVED,
    TRIAGE_DECIDED,
)

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


async def resolve_victim(
    session: AsyncSession, secret: str, victim: Person, fallback: str, now: datetime
) -> str:
    """The victim's reference (`repository.resolve_victim`), their identity hashes held
    first: one victim reported with and without a person id travels under two Kafka keys,
    so two replicas may resolve them at once; the second waits and finds the first one's
    reference, rather than making a second one (two cases)."""
    hashes = identify(secret, victim).hashes
    await hold(session, hashes)  # in a consumer's batch, its step held them: no statement
    return await batch.resolve_victim(session, list(hashes), fallback, now)


async def on_triage_decided(
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
    secret = settings.hub.pseudonym_key
    victim = decision.incident.victim
    key = victim_key(secret, victim, decision.incident_id)
    eligible = EligibleDecision(
        victim_ref=await resolve_victim(session, secret, victim, key, now),
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
            batch.settle(session, case)  # in a batch, what its later decisions read
            log.info("incident %s: case %s %s", decision.incident_id, case.case_id, case.status)
            return
        except (IntegrityError, batch.Stale):
            batch.forget(session, eligible.victim_ref, eligible.area)
            if attempt == ATTEMPTS:
                raise


async def prepare(
    platform: Platform[Settings], session: AsyncSession, events: Sequence[CloudEvent]
) -> None:
    """A fetched batch's first step (`shared.kafka.BatchHandler`): hold the victims of its
    MARAC-eligible decisions and read once what their handlers would each read: the
    victims' identity keys and cases, and their areas' meetings to come (`batch.preload`).
    An event that cannot be read is left to its handler (poison or not, alone)."""
    settings = platform.settings
    secret = settings.hub.pseudonym_key
    victims: list[tuple[tuple[str, ...], str]] = []
    areas: dict[str, date] = {}
    for event in events:
        if event.type != TRIAGE_DECIDED:
            continue
        try:
            if not event.data["marac"]["eligible"]:
                continue
            victim = Person.model_validate(event.data["incident"]["victim"])
            incident_id = UUID(str(event.data["incident_id"]))
            area = str(event.data["area"])
            decided_at = _MOMENT.validate_python(event.data["decided_at"])
        except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
            continue
        victims.append((identify(secret, victim).hashes, victim_key(secret, victim, incident_id)))
        # no listing looks before its decision's day plus the research period
        bound = local_date(decided_at, settings) + timedelta(days=settings.research_days)
        areas[area] = min(bound, areas.get(area, bound))
    if not victims:
        return
    await hold(session, [k for keys, _ in victims for k in keys])
    await batch.preload(session, victims, areas)


_MOMENT = TypeAdapter(datetime)


async def on_equality_given(
    platform: Platform[Settings],
    session: AsyncSession,
    given: EqualityGiven,
    event: CloudEvent,
    now: datetime,
) -> None:
    """The equality monitoring given on an incident's victim (intake's own topic: triage's
    decision never carries it), kept for the return, which looks it up by incident id when
    it is made: before or after the incident's decision, the return counts the same."""
    equality = given.equality.model_dump(mode="json")
    incident_id = str(given.incident_id)
    await repository.record_equality(
        session, incident_id, given.area, given.reported_at, equality, now
    )


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
    cases = await batch.victim_cases(session, victim_ref)
    earliest = earliest_date(decided_on, settings.research_days, today)
    meetings = await batch.meetings_to_come(session, area, earliest)
    placement = place(
        cases, meetings, area, decided_on, today, settings.research_days, settings.repeat_days
    )
    if placement.join is None and not placement.meetings:  # it would wait
        meetings_now = await batch.meetings_now(session, area, earliest)
        if meetings_now is not None:  # a batch's meetings, read as they are now
            placement = place(
                cases,
                meetings_now,
                area,
                decided_on,
                today,
                settings.research_days,
                settings.repeat_days,
            )
    if placement.join is not None:
        locked = await batch.lock_case(session, placement.join)
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
        if await batch.take_place(session, meeting):
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
                    await repository.meetings_of(session, area, earliest, to_come=True),
                    area,
                    earliest,
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


async def _stage(
    platform: Platform[Settings],
    session: AsyncSession,
    topic: str,
    key: str,
    ce_type: str,
    subject: str,
    data: BaseModel,
    now: datetime,
) -> None:
    """Stage one of marac's events on `topic` in the caller's transaction (published on
    commit), keyed by the victim so that one victim's events keep their order."""
    event = CloudEvent(
        id=str(uuid4()),
        source=SOURCE,
        type=ce_type,
        subject=subject,
        data=data.model_dump(mode="json"),
        time=now,
    )
    await platform.outbox.add(session, topic, key, event)


async def _announce(
    platform: Platform[Settings], session: AsyncSession, case: MaracCase, key: str, now: datetime
) -> None:
    """Stage `mash.marac.case_listed` for the case, in the caller's transaction."""
    data = announcement(case, platform.settings.hub.pseudonym_key)
    await _stage(
        platform,
        session,
        MARAC,
        key,
        MARAC_CASE_LISTED,
        str((data.incident_ids or data.marac_referral_ids)[-1]),
        data,
        now,
    )


# agencies' referrals to MARAC (contract section 6, "The meeting itself")

REFERRALS_ROUTE = "/v1/marac-referrals"


class ReferenceReused(Exception):
    """The agency's reference already names another referral."""


@dataclass(frozen=True)
class ReferToMarac:
    """The command: an agency's referral form, already valid field by field."""

    form: dict[str, Any]
    """The whole form as JSON: kept in marac's store, never on the bus."""
    referring_agency: str
    referral_ref: str
    area: str
    victim: Person
    perpetrators: tuple[Person, ...]
    children_count: int
    criteria: tuple[str, ...]
    consent: str
    dash_answers: dict[str, bool] | None
    children_born: tuple[date | None, ...] = ()

    @property
    def digest(self) -> str:
        """The form's fingerprint: the same reference again is a replay only when equal."""
        text = json.dumps(self.form, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Referred:
    marac_referral_id: str
    created: bool


async def refer(
    platform: Platform[Settings], command: ReferToMarac, sub: str, now: datetime
) -> Referred:
    """Record an agency's referral, join the victim's open case or open one (listed by the
    same rules as an incident's), announce it, and log it; all in one transaction, so a
    refusal stores nothing. The same reference and form again is the same referral."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with platform.uow() as session:
                return await _refer(platform, session, command, sub, now)
        except IntegrityError:
            # a concurrent writer took the reference or listed the victim first: read again
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _refer(
    platform: Platform[Settings],
    session: AsyncSession,
    command: ReferToMarac,
    sub: str,
    now: datetime,
) -> Referred:
    known = await repository.referral_by_ref(
        session, command.referring_agency, command.referral_ref
    )
    if known is not None:
        if known.digest != command.digest:
            raise ReferenceReused(command.referral_ref)
        return Referred(known.marac_referral_id, created=False)
    settings = platform.settings
    secret = settings.hub.pseudonym_key
    victim = command.victim
    keys = list(person_keys(secret, victim))
    referral_id = str(uuid4())
    key = victim_key(secret, victim, referral_id)
    victim_ref = await resolve_victim(session, secret, victim, key, now)
    perpetrator = command.perpetrators[0] if command.perpetrators else None
    facts = referral_facts(
        referral_id,
        command.referring_agency,
        command.referral_ref,
        now,
        command.criteria,
        command.dash_answers,
        command.children_count,
        Party(victim.given_name, victim.family_name, victim.date_of_birth),
        Party(perpetrator.given_name, perpetrator.family_name, perpetrator.date_of_birth)
        if perpetrator
        else None,
        victim.person_id,
    )
    area = command.area
    case, joined = await _list_referral(platform, session, victim_ref, key, area, facts, now)
    await repository.insert_referral(
        session, facts, command.digest, command.form, case.case_id, victim_ref, command.area, sub
    )
    received = MaracReferralReceived(
        marac_referral_id=UUID(referral_id),
        case_id=UUID(case.case_id),
        area=command.area,
        referring_agency=cast(ReferringAgency, command.referring_agency),
        criteria=[cast(MaracCriterion, c) for c in command.criteria],
        consent=cast(Consent, command.consent),
        received_at=now,
        repeat=case.repeat,
    )
    await _stage(platform, session, MARAC, key, MARAC_REFERRAL_RECEIVED, referral_id, received, now)
    if command.referring_agency != "idva":
        for_idva = for_idva_of(command, received)
        await _stage(
            platform,
            session,
            MARAC_IDVA_REFERRALS,
            key,
            MARAC_REFERRAL_RECEIVED,
            referral_id,
            for_idva,
            now,
        )
    entry = Entry("marac", "collected", sub, "api", REFERRALS_ROUTE, "marac_referral")
    subjects = tuple(keys)
    await audit.log(platform.outbox, session, entry, [Item(referral_id, subjects)], now)
    if joined:
        combined = replace(entry, operation="combined", resource="marac_case")
        items = [Item(case.case_id, subjects), Item(referral_id, subjects)]
        await audit.log(platform.outbox, session, combined, items, now)
    log.info("marac referral %s: case %s %s", referral_id, case.case_id, case.status)
    return Referred(referral_id, created=True)


def for_idva_of(command: ReferToMarac, received: MaracReferralReceived) -> MaracReferralForIdva:
    """What notify makes the IDVA service's referral of (domain.md: every MARAC referral not
    made by IDVA is one to IDVA too): the victim without equality monitoring, the first
    perpetrator's names and date of birth, the children's dates of birth, the DASH answers
    and the criteria. Never the referrer, the consent reason or the form's free text."""
    victim = Person.model_validate(command.victim.model_dump(include=_PERSON_FIELDS))
    perpetrator = command.perpetrators[0] if command.perpetrators else None
    suspect = (
        Person.model_validate(perpetrator.model_dump(include=_IDENTITY)) if perpetrator else None
    )
    return MaracReferralForIdva(
        marac_referral_id=received.marac_referral_id,
        case_id=received.case_id,
        area=received.area,
        referring_agency=received.referring_agency,
        criteria=received.criteria,
        received_at=received.received_at,
        victim=victim,
        suspect=suspect,
        children_born=list(command.children_born),
        dash_answers=cast(Any, command.dash_answers),
    )


_IDENTITY = {"given_name", "family_name", "date_of_birth"}
_PERSON_FIELDS = set(Person.model_fields)
"""A PERSON's own fields: a referred victim's `equality` is not one of them."""


async def _list_referral(
    platform: Platform[Settings],
    session: AsyncSession,
    victim_ref: str,
    key: str,
    area: str,
    facts: ReferralFacts,
    now: datetime,
) -> tuple[MaracCase, bool]:
    """The referral joins the victim's open case (True), or opens one on the earliest
    meeting with room, else waiting (False): the rule `_list_incident` follows."""
    settings = platform.settings
    today = local_date(now, settings)
    cases = await repository.victim_cases(session, victim_ref)
    earliest = earliest_date(today, settings.research_days, today)
    meetings = await repository.meetings_of(session, area, earliest, to_come=True)
    placement = place(
        cases, meetings, area, today, today, settings.research_days, settings.repeat_days
    )
    if placement.join is not None:
        locked = await repository.lock_case(session, placement.join.case_id)
        referrals = (*locked.referrals, facts)
        await repository.save_referrals(session, locked.case_id, referrals)
        return replace(locked, referrals=referrals), True
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
        incidents=(),
        referrals=(facts,),
    )
    for meeting in placement.meetings:
        if await repository.take_place(session, meeting.meeting_id):
            case = listed_on(case, meeting, now)
            break
    await repository.insert_case(session, case, key)
    if case.status == "listed":
        await _announce(platform, session, case, key, now)
    return case, False


# research, before the meeting


async def record_research(
    platform: Platform[Settings], research: Research, sub: str, route: str
) -> Research | None:
    """The agency's research becomes its current version (the earlier one kept); None when
    the case is unknown. Logged: collected the first time, altered after."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with platform.uow() as session:
                case = await repository.find_case(session, research.case_id)
                if case is None:
                    return None
                saved = await repository.record_research(session, research, sub)
                keys = await repository.victim_keys(session, case.victim_ref)
                operation: AuditOperation = "collected" if saved.version == 1 else "altered"
                entry = Entry("marac", operation, sub, "api", route, "marac_case")
                await audit.log(
                    platform.outbox,
                    session,
                    entry,
                    [Item(case.case_id, keys)],
                    research.recorded_at,
                )
                return saved
        except IntegrityError:
            # another version of the same agency's research went in first: go after it
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


# actions agreed at the meeting, tracked until done


class ActionDone(Exception):
    """The action was already completed (with another outcome)."""


async def agree_action(
    platform: Platform[Settings], action: Action, sub: str, route: str
) -> Action | None:
    """Record an action the meeting agreed on a case (None: no such case); announce it
    and log it in the same transaction."""
    async with platform.uow() as session:
        case = await repository.find_case(session, action.case_id)
        if case is None:
            return None
        action = replace(action, area=case.area)
        await repository.insert_action(session, action)
        await _action_event(platform, session, action, MARAC_ACTION_AGREED, action.agreed_at)
        await _log_action(platform, session, action, case.victim_ref, sub, route)
    return action


async def complete_action(
    platform: Platform[Settings], action: Action, outcome: str, sub: str, route: str, now: datetime
) -> Action:
    """The owning agency completes the action with its outcome: done. Completing it again
    with the same outcome is the same completion; with another, `ActionDone`."""
    async with platform.uow() as session:
        if not await repository.complete_action(session, action.action_id, outcome, now):
            done = await repository.find_action(session, action.action_id)
            if done is None or done.outcome != outcome:
                raise ActionDone(action.action_id)
            return done
        done = replace(action, done=True, outcome=outcome, completed_at=now)
        await _action_event(platform, session, done, MARAC_ACTION_COMPLETED, now)
        case = await repository.find_case(session, action.case_id)
        victim_ref = case.victim_ref if case else ""
        await _log_action(platform, session, done, victim_ref, sub, route)
    return done


async def escalate_overdue(platform: Platform[Settings], now: datetime, batch: int = 100) -> int:
    """Escalate each open action past its due date once (`mash.marac.action_overdue` on
    `mash.escalations.v1`); the mark is in the database, so a restart never repeats one."""
    settings = platform.settings
    today = local_date(now, settings)
    escalated = 0
    async with platform.uow() as session:
        for action in to_escalate(
            await repository.overdue_unescalated(session, today, batch), today
        ):
            if not await repository.mark_escalated(session, action.action_id, now):
                continue  # another round got there first
            since = datetime.combine(
                action.due_by + timedelta(days=1), time(), ZoneInfo(settings.timezone)
            )
            data = ActionOverdue(
                action_id=UUID(action.action_id),
                case_id=UUID(action.case_id),
                agency=cast(MaracAgency, action.agency),
                due_by=action.due_by,
                overdue_since=since,
            )
            key = await repository.victim_key_of(session, action.case_id)
            await _stage(
                platform,
                session,
                ESCALATIONS,
                key,
                MARAC_ACTION_OVERDUE,
                action.action_id,
                data,
                now,
            )
            escalated += 1
    return escalated


async def _action_event(
    platform: Platform[Settings], session: AsyncSession, action: Action, kind: str, now: datetime
) -> None:
    """Stage `action_agreed` or `action_completed`: ids, agency, date, status; no text."""
    data = MaracActionEvent(
        action_id=UUID(action.action_id),
        case_id=UUID(action.case_id),
        area=action.area,
        agency=cast(MaracAgency, action.agency),
        due_by=action.due_by,
        status=action.status(local_date(now, platform.settings)),
        at=now,
    )
    key = await repository.victim_key_of(session, action.case_id)
    await _stage(platform, session, MARAC, key, kind, action.action_id, data, now)


async def _log_action(
    platform: Platform[Settings],
    session: AsyncSession,
    action: Action,
    victim_ref: str,
    sub: str,
    route: str,
) -> None:
    keys = await repository.victim_keys(session, victim_ref) if victim_ref else ()
    entry = Entry("marac", "altered", sub, "api", route, "action")
    items = [Item(action.action_id, keys), Item(action.case_id, keys)]
    await audit.log(platform.outbox, session, entry, items, action.completed_at or action.agreed_at)


# the meeting's outcome


class NotHeld(Exception):
    """The meeting's date has not come yet."""


class OutcomeKnown(Exception):
    """The meeting's outcome was already recorded."""


class OutcomeInvalid(Exception):
    """The outcome does not name every case on the list once."""

    def __init__(self, problems: list[OutcomeProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


async def record_outcome(
    platform: Platform[Settings],
    meeting_id: str,
    discussed: list[str],
    deferred: list[str],
    sub: str,
    route: str,
    now: datetime,
) -> Meeting | None:
    """Discussed cases are closed (`mash.marac.case_closed`); deferred ones wait again,
    first in line for the next meeting with room (listed at once if one has room).
    None when there is no such meeting."""
    settings = platform.settings
    async with platform.uow() as session:
        meeting = await repository.find_meeting(session, meeting_id)
        if meeting is None:
            return None
        if meeting.date > local_date(now, settings):
            raise NotHeld(meeting_id)
        if await repository.outcome_at(session, meeting_id) is not None:
            raise OutcomeKnown(meeting_id)
        cases = {c.case_id: c for c in await repository.cases_on(session, meeting_id)}
        problems = outcome_problems(list(cases), discussed, deferred)
        if problems:
            raise OutcomeInvalid(problems)
        if not await repository.mark_outcome(session, meeting_id, now):
            raise OutcomeKnown(meeting_id)
        items = []
        zone = ZoneInfo(settings.timezone)
        for case_id in discussed:
            await repository.close_case(session, case_id, now)
            firsts = await repository.research_first_returned(session, case_id)
            closed = MaracCaseClosed(
                case_id=UUID(case_id),
                meeting_id=UUID(meeting_id),
                meeting_date=meeting.date,
                area=meeting.area,
                outcome="discussed",
                closed_at=now,
                research_before_meeting=[
                    cast(MaracAgency, a) for a in returned_before(firsts, meeting.date, zone)
                ],
            )
            key = await repository.victim_key_of(session, case_id)
            await _stage(platform, session, MARAC, key, MARAC_CASE_CLOSED, case_id, closed, now)
        for case_id in deferred:
            await repository.defer_case(session, case_id, meeting.date + timedelta(days=1))
        for case in cases.values():
            items.append(Item(case.case_id, await repository.victim_keys(session, case.victim_ref)))
        entry = Entry("marac", "altered", sub, "api", route, "marac_case")
        await audit.log(platform.outbox, session, entry, items, now)
    if deferred:
        await give_places(platform, [meeting.area], now)
    return meeting


# the SafeLives national dataset return


async def national_return(
    platform: Platform[Settings], area: str, first: date, last: date, today: date
) -> list[list[Any]]:
    """One row per meeting of the area held from `first` to `last` (and by `today`),
    counted from the cases discussed at it."""
    async with platform.sessions() as session:
        held = await repository.discussed_at(session, area, first, min(last, today))
        ids = [c.case_id for _, cases in held for c in cases]
        forms = await repository.referral_forms(session, ids)
        incident_ids = [i.incident_id for _, cases in held for c in cases for i in c.incidents]
        equality = await repository.equality_of(session, incident_ids)
    return rows(
        (meeting.area, meeting.date, [discussed(c, forms[c.case_id], equality) for c in cases])
        for meeting, cases in held
    )


def discussed(
    case: MaracCase, forms: list[tuple[datetime, Any]], equality_given: dict[str, Any]
) -> DiscussedCase:
    """What the return counts of a case: who referred it first, the people's dates of
    birth, and the victim's equality monitoring as last given, on an incident (intake's
    victim, `equality_given` by incident id) or an agency's referral form, whichever was
    reported or received later."""
    summary = case.summary
    sources = [(i.reported_at, "police") for i in case.incidents]
    sources += [(r.received_at, r.referring_agency) for r in case.referrals]
    given = [
        (i.reported_at, equality_given[i.incident_id])
        for i in case.incidents
        if equality_given.get(i.incident_id)
    ]
    given += [(at, f["victim"]["equality"]) for at, f in forms if f["victim"].get("equality")]
    equality = [e for _, e in sorted(given, key=lambda g: g[0])]
    born = [i.suspect.date_of_birth for i in case.incidents if i.suspect]
    for _, form in forms:
        born += [_born(p.get("date_of_birth")) for p in form.get("perpetrators", [])]
    return DiscussedCase(
        referred_by=min(sources)[1],
        repeat=summary.repeat or "repeat_marac" in summary.criteria,
        children=summary.children_count,
        victim_born=summary.victim.date_of_birth,
        perpetrators_born=tuple(born),
        equality=equality[-1] if equality else None,
    )


def _born(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


EVENTS: EventTable[Platform[Settings]] = {
    TRIAGE_DECIDED: On(TriageDecided, on_triage_decided),
    EQUALITY_GIVEN: On(EqualityGiven, on_equality_given),
}
