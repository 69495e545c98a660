"""Builders for triage's domain tests: incidents, DASHes, identities and what is on record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from shared.identity import Identity
from shared.schemas import Dash, IncidentReported
from shared.schemas.v1 import Regrade
from triage.domain.decision import Case, Decision, decide
from triage.domain.policy import DEFAULT_POLICY, TriagePolicy
from triage.domain.windows import OnRecord, PastIncident

REPORTED_AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
VICTIM = Identity(person_id="v-pid", names_dob="v-ndob")
SUSPECT = Identity(person_id="s-pid", names_dob="s-ndob")


def dash(yes: int = 0, judgement: str | None = None, **answers: bool) -> Dash:
    """A DASH with the first `yes` questions answered yes (then `answers` on top)."""
    given: dict[str, bool] = {f"q{i}": i <= yes for i in range(1, 25)}
    given.update(answers)
    return Dash.model_validate(
        {
            "checklist": "safelives-dash-ric-24",
            "answers": given,
            "professional_judgement": judgement,
            "completed_by": "PC 1234",
        }
    )


def incident(
    children: list[dict[str, Any]] | None = None,
    reported_at: datetime = REPORTED_AT,
    incident_id: UUID | None = None,
) -> IncidentReported:
    return IncidentReported.model_validate(
        {
            "incident_id": str(incident_id or uuid4()),
            "received_at": reported_at,
            "control_room_ref": "HC-UNIT-1",
            "force": "hampshire",
            "area": "southampton",
            "reported_at": reported_at,
            "relationship": "partner",
            "victim": {"given_name": "Alex", "family_name": "Example"},
            "children": children or [],
        }
    )


def record(
    at: datetime = REPORTED_AT,
    seq: int = 1000,
    victim: Identity = VICTIM,
    suspect: Identity | None = SUSPECT,
    incident_id: str | None = None,
) -> PastIncident:
    return PastIncident(incident_id or str(uuid4()), victim, at, seq, suspect)


def case(
    dash_: Dash | None = None,
    regrade: Regrade | None = None,
    children: list[dict[str, Any]] | None = None,
    incident_id: UUID | None = None,
    **kwargs: Any,
) -> Case:
    """A case for one incident reported at REPORTED_AT by VICTIM against SUSPECT."""
    reported = incident(children, incident_id=incident_id)
    here = record(incident_id=str(reported.incident_id))
    return Case(reported, here, dash_, regrade, **kwargs)


def regrade(level: str) -> Regrade:
    return Regrade.model_validate(
        {"risk_level": level, "reason": "CRU review", "by": "DS 1", "at": REPORTED_AT}
    )


def incident_id_in_dip_sample(wanted: bool, share: float = 0.10) -> UUID:
    """An incident id that the stable hash puts in (or out of) the dip sample."""
    from triage.domain.risk import in_dip_sample

    while True:
        candidate = uuid4()
        if in_dip_sample(str(candidate), share) == wanted:
            return candidate


NOT_SAMPLED = incident_id_in_dip_sample(False)
SAMPLED = incident_id_in_dip_sample(True)
KID = {"given_name": "Kim", "family_name": "Example", "date_of_birth": "2016-03-03"}


def referrals(decision: Decision) -> set[tuple[str, str, str]]:
    return {(r.agency, r.reason, r.subject) for r in decision.referrals}


def decided(
    on_record: OnRecord = OnRecord(), policy: TriagePolicy = DEFAULT_POLICY, **kw: Any
) -> Decision:
    kw.setdefault("incident_id", NOT_SAMPLED)
    return decide(case(**kw), on_record, policy)


def past(days: int, seq: int, victim: Identity = VICTIM, **kw: Any) -> Any:
    return record(at=REPORTED_AT - timedelta(days=days), seq=seq, victim=victim, **kw)
