"""The topics of contract section 7: the single list every service and script uses."""

from __future__ import annotations

INCIDENTS = "mash.incidents.v1"
DECISIONS = "mash.triage.decisions.v1"
MARAC = "mash.marac.v1"
DEADLETTER = "mash.deadletter.v1"
ESCALATIONS = "mash.escalations.v1"
PERPETRATORS = "mash.perpetrators.v1"

AGENCIES = ("childrens-social-care", "idva", "victim-support", "safeguarding-team", "school")


def referrals_topic(agency: str) -> str:
    """The topic one partner agency subscribes to."""
    return f"mash.referrals.{agency}.v1"


ALL_TOPICS = (
    INCIDENTS,
    DECISIONS,
    MARAC,
    DEADLETTER,
    ESCALATIONS,
    PERPETRATORS,
    *(referrals_topic(a) for a in AGENCIES),
)

# event types (`ce_type`)
INCIDENT_REPORTED = "mash.incident.reported"
RISK_ASSESSMENT_SUBMITTED = "mash.risk_assessment.submitted"
TRIAGE_DECIDED = "mash.triage.decided"
REFERRAL_CREATED = "mash.referral.created"
MARAC_CASE_LISTED = "mash.marac.case_listed"
REFERRAL_OVERDUE = "mash.referral.overdue"
PERPETRATOR_PRIORITISED = "mash.perpetrator.prioritised"
PERPETRATOR_RELEASED = "mash.perpetrator.released"
