"""The event data the console reads, as far as it reads it. Triage's and marac's are the
shared schemas; the escalation and perpetrator events are read leniently (only the
fields the counts need), so that their producers may add to them."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.schemas import MaracCaseListed, TriageDecided


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ReferralOverdue(Lenient):
    """Data of `mash.referral.overdue` (contract section 7)."""

    referral_id: str
    agency: str
    incident_id: str
    due_by: AwareDatetime
    overdue_since: AwareDatetime


class PerpetratorChanged(Lenient):
    """Data of `mash.perpetrator.prioritised` / `.released`: the ids and dates only."""

    perpetrator_id: str
    area: str
    priority: bool
    scored_at: AwareDatetime


__all__ = ["MaracCaseListed", "PerpetratorChanged", "ReferralOverdue", "TriageDecided"]
