"""The topics of contract section 7: the single list every service and script uses."""

from __future__ import annotations

INCIDENTS = "mash.incidents.v1"
DECISIONS = "mash.triage.decisions.v1"
SUMMARIES = "mash.triage.summaries.v1"
"""Triage's decisions without personal data: what read models such as the console count."""
MARAC = "mash.marac.v1"
DEADLETTER = "mash.deadletter.v1"
ESCALATIONS = "mash.escalations.v1"
PERPETRATORS = "mash.perpetrators.v1"
TOPIC_PREFIX = "mash."
REFERRAL_OUTCOMES = "mash.referral-outcomes.v1"
"""Notify's acknowledgements and delivery outcomes, without personal data (contract 7): the
console's facts."""
MARAC_IDVA_REFERRALS = "mash.marac.idva-referrals.v1"
"""Internal (not in the contract's table): marac's referrals to MARAC that notify must also
refer to the IDVA service, with the personal data IDVA's record needs (event-carried state,
docs/decisions.md). Only marac writes it and only notify (and ops) read it: never the
console, an agency or records."""
INTAKE_EQUALITY = "mash.intake.equality.v1"
"""Internal (not in the contract's table): the equality monitoring given on an incident's
victim, with the incident's id, area and time only. `mash.incidents.v1` carries the
incident without it, so that triage, notify and perpetrators never receive it (issue 21):
only intake writes this topic and only marac (and ops) read it, for the national dataset
return."""

AGENCIES = ("childrens-social-care", "idva", "victim-support", "safeguarding-team", "school")

AUDITED_SERVICES = ("intake", "triage", "notify", "marac", "perpetrators", "console", "records")
"""Every service that processes personal data logs it on a topic of its own (section 12)."""

AUDIT_PREFIX = "mash.audit."


def audit_topic(service: str) -> str:
    """The log topic one service writes its records of processing to; no other may."""
    return f"{AUDIT_PREFIX}{service}.v1"


AUDIT_TOPICS = tuple(audit_topic(s) for s in AUDITED_SERVICES)
AUDIT_RETENTION_MS = 30 * 24 * 60 * 60 * 1000
"""A log topic keeps its entries 30 days (the broker's default is 7): the records service
may be down or behind for weeks before anything is lost."""


def topic_config(topic: str) -> dict[str, str]:
    """The topic-level settings a topic is created with, beyond the broker's defaults."""
    if topic.startswith(AUDIT_PREFIX):
        return {"retention.ms": str(AUDIT_RETENTION_MS)}
    return {}


def referrals_topic(agency: str) -> str:
    """The topic one partner agency subscribes to."""
    return f"mash.referrals.{agency}.v1"


ALL_TOPICS = (
    INCIDENTS,
    DECISIONS,
    SUMMARIES,
    MARAC,
    DEADLETTER,
    ESCALATIONS,
    PERPETRATORS,
    REFERRAL_OUTCOMES,
    MARAC_IDVA_REFERRALS,
    INTAKE_EQUALITY,
    *AUDIT_TOPICS,
    *(referrals_topic(a) for a in AGENCIES),
)

# event types (`ce_type`)
INCIDENT_REPORTED = "mash.incident.reported"
RISK_ASSESSMENT_SUBMITTED = "mash.risk_assessment.submitted"
EQUALITY_GIVEN = "mash.incident.equality_given"
TRIAGE_DECIDED = "mash.triage.decided"
TRIAGE_SUMMARISED = "mash.triage.summarised"
REFERRAL_CREATED = "mash.referral.created"
MARAC_CASE_LISTED = "mash.marac.case_listed"
MARAC_REFERRAL_RECEIVED = "mash.marac.referral_received"
MARAC_ACTION_AGREED = "mash.marac.action_agreed"
MARAC_ACTION_COMPLETED = "mash.marac.action_completed"
MARAC_CASE_CLOSED = "mash.marac.case_closed"
MARAC_ACTION_OVERDUE = "mash.marac.action_overdue"
REFERRAL_OVERDUE = "mash.referral.overdue"
PERPETRATOR_PRIORITISED = "mash.perpetrator.prioritised"
PERPETRATOR_RELEASED = "mash.perpetrator.released"
AUDIT_OPERATIONS = ("collected", "altered", "consulted", "disclosed", "combined", "erased")


def audit_type(operation: str) -> str:
    """The `ce_type` of a log entry: `mash.audit.<operation>`."""
    return f"mash.audit.{operation}"


REFERRAL_ACKNOWLEDGED = "mash.referral.acknowledged"
REFERRAL_DELIVERED = "mash.referral.delivered"
REFERRAL_DEAD = "mash.referral.dead"
