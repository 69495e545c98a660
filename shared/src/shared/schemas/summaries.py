"""Triage's decision without personal data: the data of `mash.triage.summarised` on
`mash.triage.summaries.v1` (contract section 7), for the console and other read models.

Ids, force, area, dates, the risk level and its basis, the DASH score, flags, counts,
MARAC criteria and referrals; never a name, date of birth, address, contact, the
officer's notes, a DASH answer or a re-grade's reason. Refusing unknown fields keeps it
so: a field added to the decision never reaches a summary unless it is added here.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field, NonNegativeInt

from shared.schemas.v1 import DecisionReferral, MaracEligibility, RiskBasis, RiskLevel, Strict


class TriageSummarised(Strict):
    """Data of `mash.triage.summarised`: one decision, for counting, never a person."""

    decision_id: UUID = Field(description="The decision summarised (as on the decisions topic).")
    incident_id: UUID = Field(description="The incident decided on.")
    force: str = Field(description="The police force (a lowercase slug).", examples=["hampshire"])
    area: str = Field(description="The MARAC area (a lowercase slug).", examples=["southampton"])
    reported_at: AwareDatetime = Field(description="When the incident was reported.")
    decided_at: AwareDatetime = Field(description="When triage decided.")
    risk_level: RiskLevel = Field(description="The risk level decided.")
    risk_basis: RiskBasis = Field(description="What the level rests on.")
    dash_score: NonNegativeInt | None = Field(
        description="The DASH score (yes answers); null when not assessed."
    )
    flags: list[str] = Field(description="The decision's flags.", examples=[["repeat_victim"]])
    prior_incidents_12m: NonNegativeInt = Field(
        description="The victim's incidents in the 12 months before this one."
    )
    children_count: NonNegativeInt = Field(description="Children in the household.")
    children_present_count: NonNegativeInt = Field(
        description="Children recorded as present at the incident."
    )
    marac: MaracEligibility = Field(description="MARAC eligibility and the criteria met.")
    referrals: list[DecisionReferral] = Field(
        description="The referrals the decision calls for: agency, reason code, subject."
    )
