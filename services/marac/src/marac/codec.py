"""Incident facts as stored in a case's JSON column, and back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from marac.domain.cases import CasePerson, IncidentFacts


def _person_json(person: CasePerson | None) -> dict[str, Any] | None:
    if person is None:
        return None
    born = person.date_of_birth.isoformat() if person.date_of_birth else None
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "date_of_birth": born,
    }


def _person(data: dict[str, Any] | None) -> CasePerson | None:
    if data is None:
        return None
    born = data.get("date_of_birth")
    return CasePerson(
        data["given_name"], data["family_name"], date.fromisoformat(born) if born else None
    )


def facts_to_json(facts: IncidentFacts) -> dict[str, Any]:
    """One incident's facts as JSON."""
    return {
        "incident_id": facts.incident_id,
        "reported_at": facts.reported_at.isoformat(),
        "decided_at": facts.decided_at.isoformat(),
        "criteria": list(facts.criteria),
        "risk_level": facts.risk_level,
        "dash_score": facts.dash_score,
        "children_count": facts.children_count,
        "victim": _person_json(facts.victim),
        "suspect": _person_json(facts.suspect),
        "victim_person_id": facts.victim_person_id,
    }


def facts_from_json(data: dict[str, Any]) -> IncidentFacts:
    """One incident's facts from JSON."""
    victim = _person(data["victim"])
    assert victim is not None
    return IncidentFacts(
        incident_id=data["incident_id"],
        reported_at=datetime.fromisoformat(data["reported_at"]),
        decided_at=datetime.fromisoformat(data["decided_at"]),
        criteria=tuple(data["criteria"]),
        risk_level=data["risk_level"],
        dash_score=data["dash_score"],
        children_count=data["children_count"],
        victim=victim,
        suspect=_person(data["suspect"]),
        victim_person_id=data.get("victim_person_id"),
    )
