"""One triage decision: the risk level, the flags, MARAC eligibility and the referrals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from shared.schemas import Dash, DecisionReferral, IncidentReported, TriageDecided
from shared.schemas import MaracEligibility as PublishedEligibility
from shared.schemas.v1 import Regrade, RiskBasis, RiskLevel
from triage.domain.flags import (
    child_present,
    children_in_household,
    in_order,
    pregnancy,
)
from triage.domain.marac import MaracEligibility, eligibility
from triage.domain.policy import TriagePolicy
from triage.domain.referrals import Referral, grow, route
from triage.domain.risk import RiskAssessment, assess, in_dip_sample
from triage.domain.windows import (
    OnRecord,
    PastIncident,
    listed_at_marac,
    prior_incidents,
    victims_of_suspect,
)


@dataclass(frozen=True)
class Case:
    """What a decision is made on: the incident, its place on record, its latest
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


def decide(case: Case, on_record: OnRecord, policy: TriagePolicy) -> Decision:
    """Decide on `case` under `policy`, given what is on record about its people."""
    risk = assess(case.dash, case.regrade, policy)
    prior = prior_incidents(case.record, on_record, policy.repeat_window_days)
    flags = _flags(case, risk, prior, on_record, policy)
    marac = eligibility(
        risk,
        "potential_escalation" in flags,
        listed_at_marac(case.record, on_record, policy.marac_window_days),
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
    case: Case, risk: RiskAssessment, prior: int, on_record: OnRecord, policy: TriagePolicy
) -> list[str]:
    incident = case.incident
    day = incident.reported_at.date()  # the date as the control room gave it
    holds = {
        "children_in_household": children_in_household(incident.children, day, policy.child_age),
        "child_present": child_present(incident.children),
        "pregnancy": pregnancy(case.dash),
        "repeat_victim": prior >= 1,
        "potential_escalation": prior + 1 >= policy.escalation_incidents,
        "serial_perpetrator": victims_of_suspect(case.record, on_record, policy.serial_window_years)
        >= policy.serial_victims,
        "not_assessed": case.dash is None,
        "dip_sample": risk.level == "standard"
        and in_dip_sample(str(incident.incident_id), policy.dip_sample_share),
    }
    return in_order({flag for flag, held in holds.items() if held})


DECISION_IDS = uuid5(NAMESPACE_URL, "urn:mash:triage:decision")


def decision_id(cause: str) -> UUID:
    """The decision a cause (an event id, a re-grade id) produces: a replay gives the same."""
    return uuid5(DECISION_IDS, cause)


def knock_on_cause(event_id: str, incident_id: str) -> str:
    """The cause of a re-decision that `event_id` set off for another incident: stable, so a
    replay of the event gives the same decision id."""
    return str(uuid5(DECISION_IDS, f"{event_id}:{incident_id}"))


def published(case: Case, decision: Decision, identifier: UUID, now: datetime) -> TriageDecided:
    """The decision as contract section 7 shapes it, with the incident as accepted."""
    incident = case.incident
    return TriageDecided(
        decision_id=identifier,
        incident_id=incident.incident_id,
        control_room_ref=incident.control_room_ref,
        force=incident.force,
        area=incident.area,
        decided_at=now,
        policy_version=decision.policy_version,
        risk_level=decision.risk_level,
        risk_basis=decision.risk_basis,
        dash_score=decision.dash_score,
        flags=decision.flags,
        prior_incidents_12m=decision.prior_incidents_12m,
        marac=PublishedEligibility(
            eligible=decision.marac.eligible, criteria=list(decision.marac.criteria)
        ),
        referrals=[
            DecisionReferral(agency=r.agency, reason=r.reason, subject=r.subject)
            for r in decision.referrals
        ],
        regrade=case.regrade,
        incident=incident,
    )


# what makes two decisions the same, for a re-decision that may change nothing
SUBSTANCE = (
    "policy_version",
    "risk_level",
    "risk_basis",
    "dash_score",
    "flags",
    "prior_incidents_12m",
    "marac",
    "referrals",
)


def same_substance(stored: dict[str, Any], fresh: TriageDecided) -> bool:
    """Whether a fresh decision says what a stored one (as published) said."""
    data = fresh.model_dump(mode="json", include=set(SUBSTANCE))
    return all(stored.get(field) == data[field] for field in SUBSTANCE)
