"""What the API answers: meetings and cases as contract section 6 shows them, and the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StrictBool, StringConstraints

from marac.domain.cases import Party
from marac.domain.listing import MaracCase, Meeting
from marac.domain.meeting import Action, Research
from shared.schemas import Dash, Person
from shared.schemas.marac import Consent, Equality, MaracAgency, MaracCriterion, ReferringAgency
from shared.schemas.v1 import (
    CalendarDate,
    Child,
    Email,
    Name,
    Notes,
    Phone,
    Reference,
    Slug,
    Strict,
)
from shared.text import checked


class MeetingRequest(Strict):
    area: Slug = Field(description="The MARAC area.", examples=["southampton"])
    date: CalendarDate = Field(examples=["2026-12-08"])
    capacity: Annotated[int, Field(strict=True, ge=1, le=200)] = Field(
        description="How many cases the meeting can discuss (SafeLives: about 16).",
        examples=[20],
    )


class MeetingView(BaseModel):
    meeting_id: UUID
    area: str
    date: date
    capacity: int
    listed: int

    @classmethod
    def of(cls, meeting: Meeting) -> MeetingView:
        return cls(
            meeting_id=UUID(meeting.meeting_id),
            area=meeting.area,
            date=meeting.date,
            capacity=meeting.capacity,
            listed=meeting.listed,
        )


class PersonView(BaseModel):
    given_name: str
    family_name: str
    date_of_birth: date | None

    @classmethod
    def of(cls, person: Party) -> PersonView:
        return cls(
            given_name=person.given_name,
            family_name=person.family_name,
            date_of_birth=person.date_of_birth,
        )


class CaseView(BaseModel):
    case_id: UUID
    meeting_id: UUID | None
    area: str
    status: Literal["listed", "awaiting_meeting", "closed"]
    incident_ids: list[UUID]
    criteria: list[str] = Field(examples=[["visible_high_risk"]])
    risk_level: Literal["standard", "medium", "high"]
    dash_score: int | None
    repeat: bool
    priority: int = Field(description="Higher is discussed earlier within its group.")
    victim: PersonView
    suspect: PersonView | None
    children_count: int
    listed_at: datetime | None
    research_returned: list[str] = Field(
        default_factory=list, description="The agencies that have returned their research."
    )

    @classmethod
    def of(cls, case: MaracCase) -> CaseView:
        summary = case.summary
        return cls(
            case_id=UUID(case.case_id),
            meeting_id=UUID(case.meeting_id) if case.meeting_id else None,
            area=case.area,
            status=case.status,
            incident_ids=[UUID(i) for i in summary.incident_ids],
            criteria=list(summary.criteria),
            risk_level=summary.risk_level,
            dash_score=summary.dash_score,
            repeat=summary.repeat,
            priority=summary.priority,
            victim=PersonView.of(summary.victim),
            suspect=PersonView.of(summary.suspect) if summary.suspect else None,
            children_count=summary.children_count,
            listed_at=case.listed_at,
            research_returned=list(case.research_returned),
        )


CSV_COLUMNS = (
    "position",
    "case_id",
    "meeting_id",
    "meeting_date",
    "area",
    "priority",
    "risk_level",
    "dash_score",
    "repeat",
    "criteria",
    "children_count",
    "victim_given_name",
    "victim_family_name",
    "victim_date_of_birth",
    "suspect_given_name",
    "suspect_family_name",
    "suspect_date_of_birth",
    "incident_ids",
    "listed_at",
)


def as_csv(meeting: Meeting, cases: list[CaseView]) -> str:
    """The list as CSV, one row per case in agenda order (lists joined with ';')."""
    return "".join(csv_lines(meeting, cases))


def csv_lines(meeting: Meeting, cases: Iterable[CaseView]) -> Iterator[str]:
    """The CSV a line at a time (a streamed answer): the header, then a row per case in
    agenda order (lists joined with ';')."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def line(cells: Sequence[object]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(cells)
        return out.getvalue()

    yield line(CSV_COLUMNS)
    for position, case in enumerate(cases, start=1):
        suspect = case.suspect
        yield line(
            [
                position,
                case.case_id,
                case.meeting_id,
                meeting.date.isoformat(),
                _cell(case.area),
                case.priority,
                case.risk_level,
                "" if case.dash_score is None else case.dash_score,
                str(case.repeat).lower(),
                ";".join(case.criteria),
                case.children_count,
                _cell(case.victim.given_name),
                _cell(case.victim.family_name),
                _date(case.victim.date_of_birth),
                _cell(suspect.given_name) if suspect else "",
                _cell(suspect.family_name) if suspect else "",
                _date(suspect.date_of_birth) if suspect else "",
                ";".join(str(i) for i in case.incident_ids),
                case.listed_at.isoformat() if case.listed_at else "",
            ]
        )


def _cell(text: str) -> str:
    # a name like "=cmd|..." must not become a formula when the list is opened in a spreadsheet
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _date(day: date | None) -> str:
    return day.isoformat() if day else ""


# an agency's referral to MARAC (the SafeLives referral form, contract section 6)

ReasonText = Annotated[
    str, StringConstraints(strict=True, max_length=2000), checked(multiline=True)
]


class Referrer(Strict):
    """Who refers: name and role required; phone and e-mail to reach them."""

    name: Name
    role: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200), checked()]
    phone: Phone | None = None
    email: Email | None = None


class ReferredVictim(Person):
    """The victim, as intake's PERSON, with the optional equality-monitoring block."""

    equality: Equality | None = Field(
        default=None, description="Counted for the national dataset only; never shared."
    )


class MaracReferralRequest(Strict):
    """The SafeLives MARAC referral form."""

    referral_ref: Reference = Field(
        description="The agency's own reference (1-64 of [A-Za-z0-9_/-]); the idempotency key.",
        examples=["RBH-2026-0091"],
    )
    referring_agency: ReferringAgency = Field(examples=["health"])
    referrer: Referrer
    area: Slug = Field(description="The MARAC area.", examples=["southampton"])
    victim: ReferredVictim
    perpetrators: list[Person] = Field(default_factory=list, max_length=3)
    children: list[Child] = Field(default_factory=list, max_length=20)
    criteria: list[MaracCriterion] = Field(min_length=1, max_length=4)
    dash: Dash | None = Field(
        default=None, description="Required with visible_high_risk, with 14 or more yes answers."
    )
    professional_judgement_reason: Notes | None = None
    consent: Consent
    consent_reason: ReasonText | None = Field(
        default=None, description="Required unless consent is given; up to 2000 characters."
    )
    victim_fears: Notes | None = None
    safe_contact: Notes | None = None
    summary: Notes | None = None


class MaracReferralAccepted(BaseModel):
    marac_referral_id: UUID
    status: Literal["accepted"] = "accepted"


# the case itself: its sources, each agency's research, its actions

LongText = Annotated[str, StringConstraints(strict=True, max_length=8000), checked(multiline=True)]


class ResearchRequest(Strict):
    """What an agency knows of the case, before the meeting."""

    known: StrictBool = Field(description="Whether the agency knows the victim or household.")
    summary: LongText | None = Field(default=None, description="Up to 8000 characters.")
    risks: LongText | None = Field(default=None, description="The risks the agency sees.")
    completed_by: Name


class ResearchView(BaseModel):
    agency: str
    version: int
    known: bool
    summary: str | None
    risks: str | None
    completed_by: str
    recorded_at: datetime

    @classmethod
    def of(cls, research: Research) -> ResearchView:
        return cls(
            agency=research.agency,
            version=research.version,
            known=research.known,
            summary=research.summary,
            risks=research.risks,
            completed_by=research.completed_by,
            recorded_at=research.recorded_at,
        )


class ActionView(BaseModel):
    action_id: UUID
    case_id: UUID
    agency: str
    description: str
    due_by: date
    status: Literal["open", "overdue", "done"]
    agreed_at: datetime
    outcome: str | None = None
    completed_at: datetime | None = None

    @classmethod
    def of(cls, action: Action, today: date) -> ActionView:
        return cls(
            action_id=UUID(action.action_id),
            case_id=UUID(action.case_id),
            agency=action.agency,
            description=action.description,
            due_by=action.due_by,
            status=action.status(today),
            agreed_at=action.agreed_at,
            outcome=action.outcome,
            completed_at=action.completed_at,
        )


class SourceView(BaseModel):
    """Where the case came from: a police incident or an agency's MARAC referral."""

    kind: Literal["incident", "marac_referral"]
    incident_id: UUID | None = None
    marac_referral_id: UUID | None = None
    agency: str
    reference: str | None = None
    criteria: list[str]
    received_at: datetime

    @classmethod
    def all_of(cls, case: MaracCase) -> list[SourceView]:
        found = [
            cls(
                kind="incident",
                incident_id=UUID(i.incident_id),
                agency="police",
                criteria=list(i.criteria),
                received_at=i.reported_at,
            )
            for i in case.incidents
        ]
        found += [
            cls(
                kind="marac_referral",
                marac_referral_id=UUID(r.marac_referral_id),
                agency=r.referring_agency,
                reference=r.referral_ref,
                criteria=list(r.criteria),
                received_at=r.received_at,
            )
            for r in case.referrals
        ]
        return sorted(found, key=lambda s: s.received_at)


class CaseDetail(CaseView):
    """A case with its sources, each agency's current research, and its actions."""

    sources: list[SourceView]
    research: list[ResearchView]
    actions: list[ActionView]


class ActionRequest(Strict):
    """An action the meeting agrees: owned by one agency, due by a date."""

    agency: MaracAgency = Field(examples=["housing"])
    description: Annotated[
        str, StringConstraints(strict=True, min_length=1, max_length=4000), checked(multiline=True)
    ] = Field(description="What the agency will do (up to 4000 characters).")
    due_by: CalendarDate = Field(examples=["2026-12-15"])


class ActionOutcome(Strict):
    outcome: Annotated[
        str, StringConstraints(strict=True, min_length=1, max_length=4000), checked(multiline=True)
    ] = Field(description="What was done (up to 4000 characters).")


class OutcomeRequest(Strict):
    """A meeting's outcome: every case on its list, once, discussed or deferred."""

    discussed: list[UUID] = Field(default_factory=list, max_length=200)
    deferred: list[UUID] = Field(default_factory=list, max_length=200)


class OutcomeView(BaseModel):
    meeting_id: UUID
    discussed: list[UUID]
    deferred: list[UUID]


def csv_rows(lines: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Rows as CSV lines, one at a time (a streamed answer)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in lines:
        out.seek(0)
        out.truncate()
        writer.writerow(line)
        yield out.getvalue()


class MaracReferralView(MaracReferralRequest):
    """A referral as received: the form, with its id, case and time."""

    marac_referral_id: UUID
    case_id: UUID
    received_at: datetime
