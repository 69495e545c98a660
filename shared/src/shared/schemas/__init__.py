"""Versioned schemas of every event's data (contract section 7). `v1` is current."""

from shared.schemas.referrals import ReferralOutcome, ReferralOverdue
from shared.schemas.summaries import TriageSummarised
from shared.schemas.v1 import (
    AuditEntry,
    Dash,
    DecisionReferral,
    EqualityGiven,
    IncidentReport,
    IncidentReported,
    MaracCaseListed,
    MaracEligibility,
    PerpetratorComponents,
    PerpetratorPerson,
    PerpetratorRecord,
    PerpetratorSummary,
    Person,
    ReferralCreated,
    RiskAssessmentSubmitted,
    TriageDecided,
)

__all__ = [
    "AuditEntry",
    "Dash",
    "DecisionReferral",
    "EqualityGiven",
    "IncidentReport",
    "IncidentReported",
    "MaracCaseListed",
    "MaracEligibility",
    "PerpetratorComponents",
    "PerpetratorPerson",
    "PerpetratorRecord",
    "PerpetratorSummary",
    "Person",
    "ReferralCreated",
    "ReferralOutcome",
    "ReferralOverdue",
    "RiskAssessmentSubmitted",
    "TriageDecided",
    "TriageSummarised",
]
