"""One triage decision: the risk level, the flags, MARAC eligibility and the referrals."""

from __future__ import annotations

from dataclasses import dataclass

from shared.schemas import Dash, IncidentReported
from shared.schemas.v1 import Regrade, RiskBasis, RiskLevel
from triage.domain.flags import (
    child_present,
    children_in_household,
    in_order,
    pregnancy,
)
from triage.domain.history import (
    History,
    PastIncident,
    listed_at_marac,
    prior_incidents,
    victims_of_suspect,
)
from triage.domain.marac import MaracEligibility, eligibility
from triage.domain.policy import Policy
from triage.domain.referrals import Referral, grow, route
from triage.domain.risk import RiskAssessment, assess, in_dip_sample


@dataclass(frozen=True)
class Case:
    """What a decision is made on: the incident, its place in the history, its latest
    DASH and re-grade, and the referrals earlier decisions already made."""

    incident: IncidentReported
    record: PastIncident
    dash: Dash | None = None
    regrade: Regrade | None = None
    referrals: tuple[Referral, ...] = ()


@dataclass(frozen=True)
class Decision:
    policy_version: str
    risk_level: RiskLevel
    risk_basis: RiskBasis
    dash_score: int | None
    flags: list[str]
    prior_incidents_12m: int
    marac: MaracEligibility
    referrals: list[Referral]


def decide(case: Case, history: History, policy: Policy) -> Decision:
    """Decide on `case` under `policy`, given what the store knows about its people."""
    risk = assess(case.dash, case.regrade, policy)
    prior = prior_incidents(case.record, history, policy.repeat_window_days)
    flags = _flags(case, risk, prior, history, policy)
    marac = eligibility(
        risk,
        "potential_escalation" in flags,
        listed_at_marac(case.record, history, policy.marac_window_days),
        policy,
    )
    children = case.incident.children
    referrals = route(policy.routes, risk.level, flags, marac.eligible, children)
    return Decision(
        policy_version=policy.version,
        risk_level=risk.level,
        risk_basis=risk.basis,
        dash_score=risk.dash_score,
        flags=flags,
        prior_incidents_12m=prior,
        marac=marac,
        referrals=grow(case.referrals, referrals),
    )


def _flags(
    case: Case, risk: RiskAssessment, prior: int, history: History, policy: Policy
) -> list[str]:
    incident = case.incident
    day = incident.reported_at.date()  # the date as the control room gave it
    holds = {
        "children_in_household": children_in_household(incident.children, day, policy.child_age),
        "child_present": child_present(incident.children),
        "pregnancy": pregnancy(case.dash),
        "repeat_victim": prior >= 1,
        "potential_escalation": prior + 1 >= policy.escalation_incidents,
        "serial_perpetrator": victims_of_suspect(case.record, history, policy.serial_window_years)
        >= policy.serial_victims,
        "not_assessed": case.dash is None,
        "dip_sample": risk.level == "standard"
        and in_dip_sample(str(incident.incident_id), policy.dip_sample_share),
    }
    return in_order({flag for flag, held in holds.items() if held})
