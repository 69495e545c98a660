"""Version 1 of the event data: the incident as the control room reports it, and what
each service publishes about it. Bounded everywhere, so nothing unbounded reaches a
database or a topic."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

from shared.text import checked

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


def _representable_in_utc(value: datetime) -> datetime:
    # 0001-01-01T00:30+01:00 is year 0 in UTC, which Python cannot hold: every later
    # comparison or window would overflow, so such an instant is refused as it arrives
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a representable instant (years 1 to 9999 in UTC)") from None
    return value


Timestamp = Annotated[
    AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_representable_in_utc)
]
CalendarDate = Annotated[date, BeforeValidator(_iso_date_text)]
Slug = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=64)
]
Reference = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_/-]{1,64}$")]
Name = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=100),
    checked(visible=True),
]
ShortText = Annotated[str, StringConstraints(strict=True, max_length=200), checked()]
Notes = Annotated[str, StringConstraints(strict=True, max_length=4000), checked(multiline=True)]
Postcode = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{0,9}$")
]


class Strict(BaseModel):
    """Unknown fields are refused, so a typo is an error, not silently lost data."""

    model_config = ConfigDict(extra="forbid")


Phone = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9+() -]{3,32}$")]
Email = Annotated[
    str,
    StringConstraints(
        strict=True, pattern=r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,189}$"
    ),
    checked(),
]
PersonId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_/-]{1,32}$")]
SchoolUrn = Annotated[str, StringConstraints(strict=True, pattern=r"^\d{6}$")]
_ADDRESS = {"lines": ["1 Example Street", "Southampton"], "postcode": "SO14 7DU"}
_CONTACT = {"phone": "07700 900123", "email": "alex@example.org", "safe_to_contact": False}
_VICTIM = {
    "person_id": "N123456",
    "given_name": "Alex",
    "family_name": "Example",
    "date_of_birth": "1990-04-01",
    "address": _ADDRESS,
    "contact": _CONTACT,
}
_DASH_EXAMPLE = {
    "checklist": DASH_CHECKLIST,
    "answers": {"q1": True, "q2": False, "q9": True},
    "professional_judgement": "high",
    "completed_by": "PC 1234",
}


class Address(Strict):
    """A postal address."""

    lines: list[ShortText] = Field(
        default_factory=list,
        max_length=6,
        description="Up to 6 lines of up to 200 characters.",
        examples=[_ADDRESS["lines"]],
    )
    postcode: Postcode | None = Field(
        default=None, description="The postcode.", examples=["SO14 7DU"]
    )


class Contact(Strict):
    """How to reach a person, and whether it is safe to."""

    phone: Phone | None = Field(
        default=None,
        description="Digits, spaces, +, ( ) and -; 3 to 32.",
        examples=["07700 900123"],
    )
    email: Email | None = Field(
        default=None, description="An e-mail address.", examples=["alex@example.org"]
    )
    safe_to_contact: StrictBool = Field(
        default=False,
        description="Whether agencies may use these details without risk (the abuser may see "
        "the phone). Defaults to false.",
        examples=[False],
    )


class Person(Strict):
    """A victim or suspect."""

    person_id: PersonId | None = Field(
        default=None,
        description="The force's nominal id, when known (1-32 of [A-Za-z0-9_/-]).",
        examples=["N123456"],
    )
    given_name: Name = Field(description="Given name, 1-100 characters.", examples=["Alex"])
    family_name: Name = Field(description="Family name, 1-100 characters.", examples=["Example"])
    date_of_birth: CalendarDate | None = Field(
        default=None, description="YYYY-MM-DD, not in the future.", examples=["1990-04-01"]
    )
    address: Address | None = Field(default=None, description="Home address.", examples=[_ADDRESS])
    contact: Contact | None = Field(
        default=None, description="Phone and e-mail.", examples=[_CONTACT]
    )


class Equality(Strict):
    """Equality monitoring (SafeLives principle 8): all optional, counted only (marac's
    national dataset return); never shown to an agency, never an input to a decision."""

    sex: Literal["female", "male", "other", "not_known"] | None = Field(
        default=None, description="Sex, as the victim gives it.", examples=["female"]
    )
    ethnicity: Literal["asian", "black", "mixed", "white", "other", "not_known"] | None = Field(
        default=None, description="The ONS 2021 high-level ethnic group.", examples=["white"]
    )
    disability: StrictBool | None = Field(
        default=None,
        description="Whether the victim has a disability (null: not known).",
        examples=[False],
    )
    lgbt: StrictBool | None = Field(
        default=None,
        description="Whether the victim is LGBT+ (null: not known).",
        examples=[None],
    )


class Victim(Person):
    """The victim of an incident: a PERSON, with the optional equality-monitoring block."""

    equality: Equality | None = Field(
        default=None,
        description="Sex, ethnicity (ONS 2021 high-level groups), disability, LGBT+; all "
        "optional. Counted for the MARAC national dataset only: never shared with an "
        "agency, never used by triage or perpetrators.",
        examples=[{"sex": "female", "ethnicity": "white", "disability": False, "lgbt": None}],
    )


class EqualityGiven(Strict):
    """Data of `mash.incident.equality_given` on the internal topic `mash.intake.equality.v1`
    (intake writes it, marac alone reads it): the equality monitoring given on an incident's
    victim, with only what marac's return needs to place it (the incident's id, area and
    time); never a name or any other personal data."""

    incident_id: UUID
    area: Slug
    reported_at: AwareDatetime
    equality: Equality


class Child(Person):
    """A child of the household."""

    present_at_incident: StrictBool | None = Field(
        default=None,
        description="Whether the child was present at the incident.",
        examples=[True],
    )
    school_urn: SchoolUrn | None = Field(
        default=None,
        description="The school's unique reference number (6 digits): the school "
        "is told under Operation Encompass.",
        examples=["123456"],
    )


class Dash(Strict):
    """A SafeLives DASH risk identification checklist (24 yes/no questions)."""

    checklist: Literal["safelives-dash-ric-24"] = Field(
        description="The checklist used; only safelives-dash-ric-24 today.",
        examples=[DASH_CHECKLIST],
    )
    answers: dict[DashQuestion, StrictBool] = Field(
        description="Keys q1..q24: true = yes, false = no; a question left out = not known.",
        examples=[{"q1": True, "q2": False, "q9": True}],
    )
    professional_judgement: RiskLevel | None = Field(
        default=None,
        description="The officer's own view of the risk: it can raise the level, never lower it.",
        examples=["high"],
    )
    completed_by: Name = Field(description="The officer who completed it.", examples=["PC 1234"])


class IncidentFields(Strict):
    """An incident's fields, as the control room reports them and as `mash.incidents.v1`
    carries them; the two differ in the victim only (`IncidentReport`, `IncidentReported`)."""

    control_room_ref: Reference = Field(
        description="The control room's own reference, 1-64 of [A-Za-z0-9_/-]; with `force` it "
        "identifies the report (posting it again is safe).",
        examples=["HC-20261121-0042"],
    )
    force: Slug = Field(description="The police force (a lowercase slug).", examples=["hampshire"])
    area: Slug = Field(description="The MARAC area (a lowercase slug).", examples=["southampton"])
    reported_at: Timestamp = Field(
        description="When it was reported: RFC 3339 with an offset, not in the future.",
        examples=["2026-11-21T09:30:00Z"],
    )
    abuse_types: list[AbuseType] = Field(
        default_factory=list,
        max_length=11,
        description="Kinds of abuse reported.",
        examples=[["physical", "coercive_control"]],
    )
    relationship: Relationship = Field(
        description="The suspect's relationship to the victim.", examples=["ex_partner"]
    )
    victim: Person = Field(
        description="The victim, without equality monitoring (`mash.intake.equality.v1`).",
        examples=[_VICTIM],
    )
    suspect: Person | None = Field(
        default=None,
        description="The suspect, when known.",
        examples=[{"given_name": "Sam", "family_name": "Example", "date_of_birth": "1988-02-02"}],
    )
    children: list[Child] = Field(
        default_factory=list,
        max_length=20,
        description="Children of the household (up to 20).",
        examples=[
            [
                {
                    "given_name": "Jo",
                    "family_name": "Example",
                    "date_of_birth": "2016-05-10",
                    "present_at_incident": True,
                    "school_urn": "123456",
                }
            ]
        ],
    )
    dash: Dash | None = Field(
        default=None,
        description="The DASH checklist, if completed at the scene (it may come "
        "later through /risk-assessments).",
        examples=[_DASH_EXAMPLE],
    )
    notes: Notes | None = Field(
        default=None,
        description="The officer's notes (up to 4000 characters).",
        examples=["Neighbour called; victim had visible injuries."],
    )


class IncidentReport(IncidentFields):
    """One domestic abuse incident, as the control room reports it."""

    victim: Victim = Field(
        description="The victim.",
        examples=[_VICTIM],
    )


class IncidentReported(IncidentFields):
    """Data of `mash.incident.reported`: the accepted incident, its victim without the
    equality monitoring (a `Person`, which refuses unknown fields, so the block can never
    ride along to triage, notify or perpetrators: issue 21). Intake publishes that block
    apart, for marac alone (`EqualityGiven`)."""

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
    """Data of `mash.referral.created`: a referral record, minimised for its agency.

    A school's record has no `risk_level` (absent, not null): a school learns only what
    Operation Encompass needs."""

    referral_id: UUID
    agency: Agency
    incident_id: UUID
    reason: str
    risk_level: RiskLevel | None = None
    created_at: AwareDatetime
    data: dict[str, Any]
    delivery: dict[str, Any]
    acknowledged_at: AwareDatetime | None = None
    subject: str = Field(default="victim", description="'victim', or 'child:<n>' for schools")
    review_due_at: AwareDatetime | None = Field(
        default=None, description="Safeguarding team, high risk: when its review is due"
    )
    due_by: AwareDatetime | None = Field(
        default=None, description="When the agency must acknowledge it (domain.md, Clocks)"
    )
    overdue: bool = Field(default=False, description="Not acknowledged by `due_by`")


class VictimKeys(Strict):
    """A listed victim's pseudonymous keys: keyed hashes made with the hub's pseudonym
    secret as `shared.identity` makes them, so triage can tell a repeat MARAC victim
    without anyone's name, date of birth or person id crossing the bus."""

    person_id: str | None = Field(
        default=None, description="The keyed hash of the victim's person id, if known."
    )
    names_dob: str | None = Field(
        default=None,
        description="The keyed hash of the victim's names and date of birth, if both known.",
    )


class MaracCaseListed(Strict):
    """Data of `mash.marac.case_listed`: the case as on the meeting list, with its date;
    ids, keys and facts only, never a name, date of birth, address, contact or free text
    (contract section 7)."""

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
    victim_keys: VictimKeys = Field(description="The victim's pseudonymous keys.")
    children_count: int
    listed_at: AwareDatetime
    marac_referral_ids: list[UUID] = Field(
        default_factory=list, description="Agencies' MARAC referrals the case gathers"
    )


AuditOperation = Literal["collected", "altered", "consulted", "disclosed", "combined", "erased"]
AuditVia = Literal["api", "topic", "webhook", "job"]
AuditResource = Literal[
    "incident",
    "risk_assessment",
    "decision",
    "referral",
    "subscription",
    "marac_case",
    "marac_referral",
    "action",
    "meeting",
    "perpetrator",
    "policy",
    "records",
]
AUDIT_MAX_IDS = 500
AUDIT_MAX_SUBJECTS = 1500


class AuditEntry(Strict):
    """Data of `mash.audit.<operation>` (contract section 12): one record of processing.

    Who did what to which records, when, how, and to whom they went; the people concerned
    only by their pseudonymous keys. Never a name, date of birth, address, contact, note
    or DASH answer, so the log can outlive the records it describes."""

    entry_id: UUID = Field(description="This entry's id: the records service keeps it once.")
    at: AwareDatetime = Field(description="When the processing happened.")
    service: str = Field(description="The service that processed.", examples=["notify"])
    operation: AuditOperation = Field(description="What was done (DPA 2018 s.62).")
    sub: str = Field(
        max_length=256,
        description="Who: the token's sub, a Kafka principal or consumer group, or job:<name>.",
        examples=["idva-caseworker-17"],
    )
    via: AuditVia = Field(description="How: an API, a topic, a webhook or a job.")
    route: str = Field(
        max_length=256,
        description="The route's template, the topic, the webhook's host or the job.",
        examples=["/v1/referrals"],
    )
    resource: AuditResource = Field(description="The kind of record processed.")
    ids: list[Annotated[str, StringConstraints(max_length=128)]] = Field(
        max_length=AUDIT_MAX_IDS,
        description="The ids of the records (never the records): at most 500 an entry.",
    )
    subjects: list[Annotated[str, StringConstraints(max_length=128)]] = Field(
        default_factory=list,
        max_length=AUDIT_MAX_SUBJECTS,
        description="Every pseudonymous key of each person concerned (shared.identity).",
    )
    recipient: str | None = Field(
        default=None, max_length=64, description="The agency a disclosure went to."
    )
    status: int | str = Field(description="The HTTP status answered, or `ok`.", examples=[200])


class PerpetratorComponents(Strict):
    """The parts of a perpetrator's RFG score (domain.md, "Perpetrators")."""

    recency: int = Field(description="5 (latest incident within 30 days) down to 1; 0: none.")
    frequency: int = Field(description="Incidents in the 24 months, at most 5.")
    gravity: int = Field(description="Risk, children present and grave abuse types, at most 15.")
    victims: int = Field(description="Different identifiable victims, at most 3.")


class PerpetratorPerson(Strict):
    """Whom the neighbourhood team must know: the suspect's names and date of birth."""

    given_name: str
    family_name: str
    date_of_birth: date | None = None


class PerpetratorSummary(Strict):
    """One perpetrator in an area's list (contract section 10)."""

    perpetrator_id: str = Field(description="A pseudonym, stable for the same person.")
    area: str = Field(description="The area of the perpetrator's latest incident.")
    score: int = Field(description="recency x (frequency + gravity + 2 x (victims - 1))")
    priority: bool = Field(description="In the priority cohort.")
    components: PerpetratorComponents
    policy_version: str
    policy_owner: str = Field(description="The partner agency that owns the scoring policy.")
    person: PerpetratorPerson
    incidents_24m: int
    victims_count: int = Field(description="Different identifiable victims in the 24 months.")
    children_involved: bool = Field(
        description="A child was present at one of the incidents in the 24 months."
    )
    last_incident_at: AwareDatetime | None
    scored_at: AwareDatetime


class ScoreHistoryEntry(Strict):
    scored_at: AwareDatetime
    score: int


class PerpetratorRecord(PerpetratorSummary):
    """Data of `mash.perpetrator.prioritised` / `mash.perpetrator.released`, and
    `GET /v1/perpetrators/{id}`: the summary with its incidents and score history."""

    incident_ids: list[UUID] = Field(description="The incidents of the 24 months, oldest first.")
    history: list[ScoreHistoryEntry] = Field(description="Each change of score, oldest first.")
