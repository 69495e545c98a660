"""Versioned schemas of every event's data (contract section 7). `v1` is current."""

from shared.schemas.referrals import ReferralOutcome, ReferralOverdue
from shared.schemas.v1 import (
    Dash,
    DecisionReferral,
    IncidentReport,
    IncidentReported,
    MaracCaseListed,
    MaracEligibility,
    Person,
    ReferralCreated,
    RiskAssessmentSubmitted,
    TriageDecided,
)

__all__ = [
    "Dash",
    "DecisionReferral",
    "IncidentReport",
    "IncidentReported",
    "MaracCaseListed",
    "MaracEligibility",
    "Person",
    "ReferralCreated",
    "ReferralOutcome",
    "ReferralOverdue",
    "RiskAssessmentSubmitted",
    "TriageDecided",
]
