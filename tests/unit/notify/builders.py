"""Triage decisions as notify receives them (synthetic people), for notify's tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from notify.domain.projections import Source, minimise
from notify.domain.sharing import VIEWS
from shared.schemas import TriageDecided

# values that must never reach an agency that may not see them: searched for in payloads
VICTIM_PHONE = "07700 900111"
VICTIM_EMAIL = "victim.hidden@example.org"
VICTIM_STREET = "1 Hiddenway Street"
VICTIM_POSTCODE = "SO14 7DU"
VICTIM_DOB = "1990-04-01"
SUSPECT_GIVEN = "Suspectgiven"
SUSPECT_FAMILY = "Suspectfamily"
OLDER_CHILD = "Olderchild"
YOUNGER_CHILD = "Youngerchild"
NOTES = "Officer note: neighbour heard shouting through the wall"


def incident(incident_id: str, reported_at: datetime, **overrides: Any) -> dict[str, Any]:
    """An accepted incident with every kind of data an agency might or might not see."""
    body: dict[str, Any] = {
        "incident_id": incident_id,
        "received_at": reported_at.isoformat(),
        "control_room_ref": f"HC-NOTIFY-{incident_id[:8]}",
        "force": "hampshire",
        "area": "southampton",
        "reported_at": reported_at.isoformat().replace("+00:00", "Z"),
        "abuse_types": ["physical", "coercive_control"],
        "relationship": "ex_partner",
        "victim": {
            "person_id": "N100001",
            "given_name": "Victimgiven",
            "family_name": "Victimfamily",
            "date_of_birth": VICTIM_DOB,
            "address": {"lines": [VICTIM_STREET, "Southampton"], "postcode": VICTIM_POSTCODE},
            "contact": {"phone": VICTIM_PHONE, "email": VICTIM_EMAIL, "safe_to_contact": False},
        },
        "suspect": {
            "given_name": SUSPECT_GIVEN,
            "family_name": SUSPECT_FAMILY,
            "date_of_birth": "1985-02-02",
        },
        "children": [
            {
                "given_name": OLDER_CHILD,
                "family_name": "Victimfamily",
                "date_of_birth": "2014-12-01",
                "present_at_incident": False,
                "school_urn": "111111",
            },
            {
                "given_name": YOUNGER_CHILD,
                "family_name": "Victimfamily",
                "date_of_birth": "2019-03-15",
                "present_at_incident": True,
                "school_urn": "222222",
            },
        ],
        "dash": {
            "checklist": "safelives-dash-ric-24",
            "answers": {f"q{i}": i <= 15 for i in range(1, 25)},
            "completed_by": "PC 1234",
        },
        "notes": NOTES,
    }
    body.update(overrides)
    return body


ALL_REFERRALS = [
    {"agency": "childrens-social-care", "reason": "children_in_household", "subject": "victim"},
    {"agency": "school", "reason": "operation_encompass", "subject": "child:0"},
    {"agency": "school", "reason": "operation_encompass", "subject": "child:1"},
    {"agency": "idva", "reason": "high_risk", "subject": "victim"},
    {"agency": "safeguarding-team", "reason": "high_risk", "subject": "victim"},
    {"agency": "victim-support", "reason": "standard_risk", "subject": "victim"},
]


def decision_data(
    incident_id: str | None = None,
    *,
    referrals: list[dict[str, Any]] | None = None,
    risk_level: str = "high",
    decided_at: datetime | None = None,
    reported_at: datetime | None = None,
    safe_to_contact: bool = False,
    **incident_overrides: Any,
) -> dict[str, Any]:
    """The data of a `mash.triage.decided` event (every agency referred, by default)."""
    incident_id = incident_id or str(uuid.uuid4())
    reported = reported_at or datetime(2026, 11, 18, 21, 15, tzinfo=UTC)  # a Wednesday night
    accepted = incident(incident_id, reported, **incident_overrides)
    if accepted["victim"].get("contact"):
        accepted["victim"]["contact"]["safe_to_contact"] = safe_to_contact
    decided = decided_at or reported + timedelta(minutes=5)
    return {
        "decision_id": str(uuid.uuid4()),
        "incident_id": incident_id,
        "control_room_ref": accepted["control_room_ref"],
        "force": "hampshire",
        "area": "southampton",
        "decided_at": decided.isoformat(),
        "policy_version": "test-1",
        "risk_level": risk_level,
        "risk_basis": "dash_score",
        "dash_score": 15,
        "flags": ["children_in_household", "child_present"],
        "prior_incidents_12m": 0,
        "marac": {"eligible": True, "criteria": ["visible_high_risk"]},
        "referrals": ALL_REFERRALS if referrals is None else referrals,
        "incident": accepted,
    }


def decision(**kwargs: Any) -> TriageDecided:
    return TriageDecided.model_validate(decision_data(**kwargs))


LONDON = ZoneInfo("Europe/London")
AGENCIES = ["childrens-social-care", "school", "idva", "safeguarding-team", "victim-support"]


def data_for(agency: str, *, safe: bool = True, child: int | None = None) -> dict[str, Any]:
    """One agency's referral data for the builders' decision (a school's about child 0)."""
    decided = decision(safe_to_contact=safe)
    if agency == "school" and child is None:
        child = 0
    return minimise(VIEWS[agency], Source(decided, child, LONDON))


def present(data: dict[str, Any], path: str) -> bool:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
