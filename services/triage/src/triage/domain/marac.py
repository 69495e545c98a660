"""MARAC eligibility: SafeLives' four criteria; eligible when any holds."""

from __future__ import annotations

from dataclasses import dataclass

from triage.domain.policy import TriagePolicy
from triage.domain.risk import RiskAssessment


@dataclass(frozen=True)
class MaracEligibility:
    criteria: tuple[str, ...]

    @property
    def eligible(self) -> bool:
        return bool(self.criteria)


def eligibility(
    risk: RiskAssessment, escalating: bool, repeat_marac: bool, policy: TriagePolicy
) -> MaracEligibility:
    """The criteria that hold, in SafeLives' order."""
    criteria = []
    if risk.dash_score is not None and risk.dash_score >= policy.high_score:
        criteria.append("visible_high_risk")
    if risk.level == "high" and risk.basis in ("professional_judgement", "regrade"):
        criteria.append("professional_judgement")
    if escalating:
        criteria.append("potential_escalation")
    if repeat_marac:
        criteria.append("repeat_marac")
    return MaracEligibility(tuple(criteria))
