"""Marac's events besides the listing, and the equality-monitoring block.

`MaracReferralReceived` is the data of `mash.marac.referral_received` on `mash.marac.v1`
(contract section 7): ids, the referring agency, criteria, consent and the time only;
never a name, date of birth, contact or free text: the form itself stays in marac's
store. `ActionOverdue` is the data of `mash.marac.action_overdue` on
`mash.escalations.v1`. `Equality` is the optional block of section 6, counted for the
national dataset and never an input to any decision.

`MaracReferralForIdva` is the one event here with personal data: on the internal topic
`mash.marac.idva-referrals.v1`, which only notify reads, it carries what the IDVA service's
referral is made from (docs/decisions.md); never the equality block, the referrer or the
form's free text.
"""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StrictBool

from shared.schemas.v1 import DashQuestion, Person, Slug, Strict
from shared.schemas.v1 import Equality as Equality  # with the victim it belongs to (v1)

MaracCriterion = Literal[
    "visible_high_risk", "professional_judgement", "potential_escalation", "repeat_marac"
]
Consent = Literal["given", "not_given", "not_sought"]
ReferringAgency = Literal[
    "childrens-social-care",
    "idva",
    "victim-support",
    "safeguarding-team",
    "school",
    "health",
    "housing",
    "probation",
    "adult-social-care",
    "mental-health",
    "substance-misuse",
    "other",
]
MaracAgency = Literal[
    "police",
    "childrens-social-care",
    "idva",
    "victim-support",
    "safeguarding-team",
    "school",
    "health",
    "housing",
    "probation",
    "adult-social-care",
    "mental-health",
    "substance-misuse",
    "other",
]
"""An agency at the meeting: the police and every agency that may refer."""
ActionStatus = Literal["open", "overdue", "done"]


class MaracReferralReceived(Strict):
    """Data of `mash.marac.referral_received`: a referral to MARAC from an agency."""

    marac_referral_id: UUID
    case_id: UUID
    area: Slug
    referring_agency: ReferringAgency
    criteria: list[MaracCriterion]
    consent: Consent
    received_at: AwareDatetime
    repeat: bool = Field(description="Within 12 months of the victim's last referral or listing")


class MaracActionEvent(Strict):
    """Data of `mash.marac.action_agreed` and `mash.marac.action_completed`."""

    action_id: UUID
    case_id: UUID
    area: Slug
    agency: MaracAgency
    due_by: date
    status: ActionStatus
    at: AwareDatetime


class MaracCaseClosed(Strict):
    """Data of `mash.marac.case_closed`: a case discussed at its meeting."""

    case_id: UUID
    meeting_id: UUID
    meeting_date: date
    area: Slug
    outcome: Literal["discussed"]
    closed_at: AwareDatetime
    research_before_meeting: list[MaracAgency] = Field(
        default_factory=list,
        description="The agencies that returned their research before the meeting's date "
        "(agencies only: never what they found)",
    )


class ActionOverdue(Strict):
    """Data of `mash.marac.action_overdue` on `mash.escalations.v1`."""

    action_id: UUID
    case_id: UUID
    agency: MaracAgency
    due_by: date
    overdue_since: AwareDatetime


class MaracReferralForIdva(Strict):
    """Data of `mash.marac.referral_received` on `mash.marac.idva-referrals.v1`: a MARAC
    referral not made by the IDVA service, with only what IDVA's record may be made of
    (domain.md, "What each agency may see"). `Person` refuses unknown fields, so an
    equality block can never ride along."""

    marac_referral_id: UUID
    case_id: UUID
    area: Slug
    referring_agency: ReferringAgency
    criteria: list[MaracCriterion] = Field(max_length=4)
    received_at: AwareDatetime
    victim: Person = Field(description="The victim as referred, without equality monitoring.")
    suspect: Person | None = Field(
        default=None, description="The first perpetrator: names and date of birth only."
    )
    children_born: list[date | None] = Field(
        default_factory=list, max_length=20, description="Each child's date of birth, if given."
    )
    dash_answers: dict[DashQuestion, StrictBool] | None = Field(
        default=None, description="The DASH answers, when the referral has a DASH."
    )
