"""Where an eligible decision goes: an open case of the victim, a meeting with room, or
the waiting list; and the order of a meeting's list (SafeLives' suggested agenda)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal
from uuid import UUID

from marac.domain.cases import (
    CaseSummary,
    IncidentFacts,
    Party,
    ReferralFacts,
    is_repeat,
    summarise,
)
from shared.identity import keyed_identities
from shared.schemas.v1 import MaracCaseListed, VictimKeys

CaseStatus = Literal["listed", "awaiting_meeting", "closed"]


@dataclass(frozen=True)
class Meeting:
    meeting_id: str
    area: str
    date: date
    capacity: int
    listed: int

    @property
    def has_room(self) -> bool:
        return self.listed < self.capacity


@dataclass(frozen=True)
class MaracCase:
    """One victim at one meeting (or waiting for one), with the incidents it gathers."""

    case_id: str
    victim_ref: str
    area: str
    status: CaseStatus
    meeting_id: str | None
    meeting_date: date | None
    earliest_date: date
    awaiting_since: datetime
    listed_at: datetime | None
    repeat: bool
    incidents: tuple[IncidentFacts, ...]
    referrals: tuple[ReferralFacts, ...] = ()
    deferred: bool = False
    """Deferred at a meeting: first in line for the next meeting with room."""
    research_returned: tuple[str, ...] = ()
    """The agencies that have returned their research on the case."""

    @property
    def summary(self) -> CaseSummary:
        return summarise(self.incidents, self.repeat, self.referrals)


def earliest_date(decided_on: date, research_days: int, today: date) -> date:
    """The first meeting date that leaves agencies the research period, and is not past."""
    return max(decided_on + timedelta(days=research_days), today)


def case_to_join(cases: Iterable[MaracCase], today: date) -> MaracCase | None:
    """The victim's open case a new incident joins: one listed on an upcoming meeting
    (today or later; the earliest), else one still awaiting a meeting."""
    upcoming = [
        c
        for c in cases
        if c.status == "listed" and c.meeting_date is not None and c.meeting_date >= today
    ]
    if upcoming:
        return min(upcoming, key=lambda c: (c.meeting_date or today, c.case_id))
    return next((c for c in cases if c.status == "awaiting_meeting"), None)


def meetings_to_try(meetings: Iterable[Meeting], area: str, earliest: date) -> list[Meeting]:
    """The area's meetings a new case may go on, earliest first: far enough out, with room."""
    found = [m for m in meetings if m.area == area and m.date >= earliest and m.has_room]
    return sorted(found, key=lambda m: (m.date, m.meeting_id))


@dataclass(frozen=True)
class Placement:
    """Where an eligible decision goes: into `join`, else onto the first of `meetings`
    that still has room when asked (the database has the last word), else it waits."""

    join: MaracCase | None
    meetings: list[Meeting]
    earliest: date
    repeat: bool


def place(
    victim_cases: Sequence[MaracCase],
    meetings: Iterable[Meeting],
    area: str,
    decided_on: date,
    today: date,
    research_days: int = 5,
    repeat_days: int = 365,
) -> Placement:
    """The listing rule of domain.md for one eligible decision (or referral) about a
    victim. Repeat is SafeLives': within the window of the victim's last MARAC listing
    or referral, whoever reports (`past_maracs`)."""
    earliest = earliest_date(decided_on, research_days, today)
    joined = case_to_join(victim_cases, today)
    history = past_maracs(victim_cases)
    return Placement(
        join=joined,
        meetings=[] if joined else meetings_to_try(meetings, area, earliest),
        earliest=earliest,
        repeat=is_repeat(history, decided_on, repeat_days),
    )


def past_maracs(victim_cases: Iterable[MaracCase]) -> list[date]:
    """The days the victim was at a MARAC: each listing's meeting date and each agency's
    referral to one (received), whatever became of the case since."""
    days = [c.meeting_date for c in victim_cases if c.status != "awaiting_meeting"]
    days += [r.received_at.date() for c in victim_cases for r in c.referrals]
    return [d for d in days if d is not None]


def listed_on(case: MaracCase, meeting: Meeting, now: datetime) -> MaracCase:
    """The case once it has a place on the meeting."""
    return replace(
        case,
        status="listed",
        meeting_id=meeting.meeting_id,
        meeting_date=meeting.date,
        listed_at=now,
    )


def agenda(cases: Iterable[MaracCase]) -> list[MaracCase]:
    """A meeting's list: cases with children first (children's services can then leave),
    then adult-only cases; within each, highest priority first, then the earliest listed."""
    return sorted(cases, key=agenda_key)


def agenda_key(case: MaracCase) -> tuple[bool, int, datetime, str]:
    """A case's place in its meeting's agenda (ascending; unique by the case id)."""
    summary = case.summary
    return (
        summary.children_count == 0,
        -summary.priority,
        case.listed_at or case.awaiting_since,
        case.case_id,
    )


def waiting_queue(cases: Sequence[MaracCase]) -> list[MaracCase]:
    """Cases awaiting a meeting in the order they get places: deferred ones first, then
    priority, then time waited."""
    waiting = [c for c in cases if c.status == "awaiting_meeting"]
    return sorted(waiting, key=waiting_key)


def waiting_key(case: MaracCase) -> tuple[bool, int, datetime, str]:
    """A waiting case's place in the queue (ascending; unique by the case id): a case
    deferred at its meeting is first in line for the next one with room."""
    return (not case.deferred, -case.summary.priority, case.awaiting_since, case.case_id)


def announcement(case: MaracCase, secret: str) -> MaracCaseListed:
    """The data of `mash.marac.case_listed` for a case just listed on a meeting: the
    victim as pseudonymous keys (made with the hub's `secret`), never a name."""
    assert case.meeting_id is not None
    assert case.meeting_date is not None
    assert case.listed_at is not None
    summary = case.summary
    return MaracCaseListed(
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
        victim_keys=_keys(secret, summary.victim, summary.victim_person_id),
        children_count=summary.children_count,
        listed_at=case.listed_at,
        marac_referral_ids=[UUID(r.marac_referral_id) for r in case.referrals],
    )


def _keys(secret: str, party: Party, person_id: str | None) -> VictimKeys:
    by_id, by_names = keyed_identities(
        secret, person_id, party.given_name, party.family_name, party.date_of_birth
    )
    return VictimKeys(person_id=by_id, names_dob=by_names)
