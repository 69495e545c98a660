"""Notify's events besides the referral itself: escalations and delivery outcomes.

`ReferralOverdue` is the data of `mash.referral.overdue` on `mash.escalations.v1`
(contract section 7). `ReferralOutcome` is the data of `mash.referral.acknowledged`,
`mash.referral.delivered` and `mash.referral.dead` on the internal topic
`mash.referral-outcomes.v1` (not in the contract's table: the console's facts, since no
service reads notify's database). Ids, agencies and times only: no personal data.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.schemas.v1 import Agency, Strict


class ReferralOverdue(Strict):
    referral_id: UUID
    agency: Agency
    incident_id: UUID
    reason: str
    due_by: AwareDatetime
    overdue_since: AwareDatetime


class ReferralOutcome(Strict):
    referral_id: UUID
    agency: Agency
    incident_id: UUID
    at: AwareDatetime = Field(description="When it was acknowledged, delivered or given up")
    due_by: AwareDatetime | None = None
    attempts: int | None = Field(default=None, description="Webhook attempts (delivered, dead)")
