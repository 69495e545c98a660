"""Version 1 of the event data: the incident as the control room reports it, and what
each service publishes about it. Bounded everywhere, so nothing unbounded reaches a
database or a topic."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

RiskLevel = Literal["standard", "medium", "high"]
RiskBasis = Literal["dash_score", "professional_judgement", "regrade", "not_assessed"]
Relationship = Literal["partner", "ex_partner", "family_member", "other"]
AbuseType = Literal[
    "physical",
    "sexual",
    "psychological",
    "emotional",
    "financial",
    "coercive_control",
    "stalking",
    "harassment",
    "honour_based",
    "forced_marriage",
    "fgm",
]
Agency = Literal["childrens-social-care", "idva", "victim-support", "safeguarding-team", "school"]
DASH_CHECKLIST = "safelives-dash-ric-24"
DashQuestion = Literal[
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "q6",
    "q7",
    "q8",
    "q9",
    "q10",
    "q11",
    "q12",
    "q13",
    "q14",
    "q15",
    "q16",
    "q17",
    "q18",
    "q19",
    "q20",
    "q21",
    "q22",
    "q23",
    "q24",
]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _rfc3339_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-11-21T09:30:00Z")
    return value


def _iso_date_text(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
CalendarDate = Annotated[date, BeforeValidator(_iso_date_text)]
Slug = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=64)
]
Reference = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_/-]{1,64}$")]
Name = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=100)
]
ShortText = Annotated[str, StringConstraints(strict=True, max_length=200)]


class Strict(BaseModel):
    """Unknown fields are refused, so a typo is an error, not silently lost data."""

    model_config = ConfigDict(extra="forbid")


class Address(Strict):
    lines: list[ShortText] = Field(
        default_factory=list, max_length=6, examples=[["1 Example Street", "Southampton"]]
    )
    postcode: Annotated[str, StringConstraints(strict=True, max_length=10)] | None = Field(
        default=None, examples=["SO14 7DU"]
    )


class Contact(Strict):
    phone: Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9+() -]{3,32}$")] | None = (
        Field(default=None, examples=["07700 900123"])
    )
    email: (
        Annotated[str, StringConstraints(strict=True, pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}$")]
        | None
    ) = Field(default=None, examples=["person@example.org"])
    safe_to_contact: StrictBool = Field(
        default=False, description="Whether agencies may use these details without risk."
    )


class Person(Strict):
    person_id: (
        Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_/-]{1,32}$")] | None
    ) = Field(default=None, description="The force's nominal id, when known.", examples=["N123456"])
    given_name: Name = Field(examples=["Alex"])
    family_name: Name = Field(examples=["Example"])
    date_of_birth: CalendarDate | None = Field(default=None, examples=["1990-04-01"])
    address: Address | None = None
    contact: Contact | None = None


class Child(Person):
    present_at_incident: StrictBool | None = Field(default=None, examples=[True])
    school_urn: Annotated[str, StringConstraints(strict=True, pattern=r"^\d{6}$")] | None = Field(
        default=None, description="The school's unique reference number.", examples=["123456"]
    )


class Dash(Strict):
    """A SafeLives DASH risk identification checklist (24 yes/no questions)."""

    checklist: Literal["safelives-dash-ric-24"] = Field(examples=[DASH_CHECKLIST])
    answers: dict[DashQuestion, StrictBool] = Field(
        description="q1..q24: true = yes, false = no; absent = not known.",
        examples=[{"q1": True, "q2": False, "q9": True}],
    )
    professional_judgement: RiskLevel | None = Field(default=None, examples=["high"])
    completed_by: Name = Field(examples=["PC 1234"])

    @property
    def score(self) -> int:
        """The DASH score: the number of yes answers."""
        return sum(1 for answer in self.answers.values() if answer)


class IncidentReport(Strict):
    """One domestic abuse incident, as the control room reports it."""

    control_room_ref: Reference = Field(examples=["HC-20261121-0042"])
    force: Slug = Field(examples=["hampshire"])
    area: Slug = Field(description="The MARAC area.", examples=["southampton"])
    reported_at: Timestamp = Field(examples=["2026-11-21T09:30:00Z"])
    abuse_types: list[AbuseType] = Field(
        default_factory=list, max_length=11, examples=[["physical", "coercive_control"]]
    )
    relationship: Relationship = Field(examples=["ex_partner"])
    victim: Person
    suspect: Person | None = None
    children: list[Child] = Field(default_factory=list, max_length=20)
    dash: Dash | None = None
    notes: Annotated[str, StringConstraints(strict=True, max_length=4000)] | None = Field(
        default=None, examples=["Neighbour called; victim had visible injuries."]
    )


class IncidentReported(IncidentReport):
    """Data of `mash.incident.reported`: the accepted incident."""

    incident_id: UUID
    received_at: AwareDatetime


class RiskAssessmentSubmitted(Dash):
    """Data of `mash.risk_assessment.submitted`: a DASH completed after the first report."""

    incident_id: UUID
    submitted_at: AwareDatetime


class MaracEligibility(Strict):
    eligible: bool
    criteria: list[str]


class DecisionReferral(Strict):
    agency: Agency
    reason: str
    subject: str = Field(default="victim", description="'victim', or 'child:<n>' for schools")


class Regrade(Strict):
    risk_level: RiskLevel
    reason: str
    by: str
    at: AwareDatetime


class TriageDecided(Strict):
    """Data of `mash.triage.decided`: triage's decision, with the incident."""

    decision_id: UUID
    incident_id: UUID
    control_room_ref: str
    force: str
    area: str
    decided_at: AwareDatetime
    policy_version: str
    risk_level: RiskLevel
    risk_basis: RiskBasis
    dash_score: int | None
    flags: list[str]
    prior_incidents_12m: int
    marac: MaracEligibility
    referrals: list[DecisionReferral]
    regrade: Regrade | None = None
    incident: IncidentReported


class ReferralCreated(Strict):
    """Data of `mash.referral.created`: a referral record, minimised for its agency."""

    referral_id: UUID
    agency: Agency
    incident_id: UUID
    reason: str
    risk_level: RiskLevel
    created_at: AwareDatetime
    data: dict[str, Any]
    delivery: dict[str, Any]
    acknowledged_at: AwareDatetime | None = None


class CasePerson(Strict):
    given_name: str
    family_name: str
    date_of_birth: date | None = None


class MaracCaseListed(Strict):
    """Data of `mash.marac.case_listed`: the case as on the meeting list, with its date."""

    case_id: UUID
    meeting_id: UUID
    meeting_date: date
    area: str
    incident_ids: list[UUID]
    criteria: list[str]
    risk_level: RiskLevel
    dash_score: int | None
    repeat: bool
    priority: int
    victim: CasePerson
    suspect: CasePerson | None
    children_count: int
    listed_at: AwareDatetime
    victim_person_id: str | None = None
