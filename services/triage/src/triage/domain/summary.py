"""A decision as read models may see it: `mash.triage.summarised` (contract section 7).

The summary is built field by field from a whitelist, never by copying the decision or
its incident and dropping what is personal: a field added to either later stays out of
the summary until someone adds it here on purpose. Of the incident it takes the report's
time and two counts, nothing else.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from shared.schemas import DecisionReferral, MaracEligibility, TriageDecided, TriageSummarised


def summarise(decision: TriageDecided) -> TriageSummarised:
    """The decision without personal data: ids, force, area, dates, risk, flags, counts,
    MARAC criteria and referrals."""
    children = decision.incident.children
    return TriageSummarised(
        decision_id=decision.decision_id,
        incident_id=decision.incident_id,
        force=decision.force,
        area=decision.area,
        reported_at=decision.incident.reported_at,
        decided_at=decision.decided_at,
        risk_level=decision.risk_level,
        risk_basis=decision.risk_basis,
        dash_score=decision.dash_score,
        flags=list(decision.flags),
        prior_incidents_12m=decision.prior_incidents_12m,
        children_count=len(children),
        children_present_count=sum(1 for c in children if c.present_at_incident),
        marac=MaracEligibility(
            eligible=decision.marac.eligible, criteria=list(decision.marac.criteria)
        ),
        referrals=[
            DecisionReferral(agency=r.agency, reason=r.reason, subject=r.subject)
            for r in decision.referrals
        ],
    )


def summary_id(decision_id: UUID) -> UUID:
    """The summary event's id: stable for the decision, so a replay publishes the same one."""
    return uuid5(NAMESPACE_URL, f"mash:triage-summary:{decision_id}")
