"""Triage's summary of a decision (contract section 7): exactly the listed fields, built
from a whitelist, so no person's data can travel with it."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from shared.schemas import IncidentReported, TriageDecided, TriageSummarised
from tests.personal import personal_data_in, rich_incident_body
from tests.unit.triage.builders import record
from triage.domain.decision import Case, decide, published
from triage.domain.policy import DEFAULT_POLICY
from triage.domain.summary import summarise, summary_id
from triage.domain.windows import OnRecord

NOW = datetime(2026, 11, 21, 10, tzinfo=UTC)

SECTION_7 = {
    # ids, force, area, dates
    "decision_id",
    "incident_id",
    "force",
    "area",
    "reported_at",
    "decided_at",
    # risk level and basis, DASH score, flags
    "risk_level",
    "risk_basis",
    "dash_score",
    "flags",
    # counts: prior incidents, children, children present
    "prior_incidents_12m",
    "children_count",
    "children_present_count",
    # MARAC criteria, referrals
    "marac",
    "referrals",
}


def rich_decision() -> tuple[IncidentReported, TriageDecided]:
    body = rich_incident_body()
    incident = IncidentReported.model_validate(
        {**body, "incident_id": str(uuid4()), "received_at": body["reported_at"]}
    )
    here = record(incident_id=str(incident.incident_id))
    case = Case(incident, here, incident.dash)
    return incident, published(case, decide(case, OnRecord(), DEFAULT_POLICY), uuid4(), NOW)


def test_the_summary_has_exactly_the_fields_section_7_lists() -> None:
    assert set(TriageSummarised.model_fields) == SECTION_7
    _, decision = rich_decision()
    data = summarise(decision).model_dump(mode="json")
    assert set(data) == SECTION_7
    assert set(data["marac"]) == {"eligible", "criteria"}
    assert all(set(r) == {"agency", "reason", "subject"} for r in data["referrals"])


def test_a_summary_of_an_incident_full_of_personal_data_holds_none_of_it() -> None:
    incident, decision = rich_decision()
    summary = summarise(decision)
    text = summary.model_dump_json()
    assert personal_data_in(text) == []
    # the decision it came from holds all of it: the check can find it
    assert "Zephyrine" in personal_data_in(decision.model_dump_json())
    assert str(incident.control_room_ref) not in text


def test_the_summary_carries_the_decisions_figures() -> None:
    incident, decision = rich_decision()
    summary = summarise(decision)
    assert summary.decision_id == decision.decision_id
    assert summary.incident_id == incident.incident_id
    assert (summary.force, summary.area) == ("hampshire", "southampton")
    assert summary.reported_at == incident.reported_at
    assert summary.decided_at == NOW
    assert (summary.risk_level, summary.risk_basis, summary.dash_score) == (
        "high",
        "dash_score",
        15,
    )
    assert "children_in_household" in summary.flags
    assert "child_present" in summary.flags
    assert (summary.children_count, summary.children_present_count) == (2, 1)
    assert summary.prior_incidents_12m == 0
    assert summary.marac.eligible
    assert "visible_high_risk" in summary.marac.criteria
    agencies = {r.agency for r in summary.referrals}
    assert {"idva", "childrens-social-care", "school"} <= agencies


def test_a_summarys_id_is_stable_for_its_decision_and_not_the_decisions() -> None:
    decision_id = UUID("5d1b3c5e-7c8e-4d0e-9a40-2f2f0c0f3a11")
    assert summary_id(decision_id) == summary_id(decision_id)
    assert summary_id(decision_id) != decision_id
    assert summary_id(decision_id) != summary_id(uuid4())
