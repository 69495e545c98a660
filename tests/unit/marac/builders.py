"""Domain objects for marac's unit tests (synthetic people)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marac.domain.cases import IncidentFacts, Party, ReferralFacts
from marac.domain.listing import MaracCase, Meeting

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


def facts(incident: str = "i1", **overrides: Any) -> IncidentFacts:
    values: dict[str, Any] = {
        "incident_id": incident,
        "reported_at": NOW,
        "decided_at": NOW,
        "criteria": ("visible_high_risk",),
        "risk_level": "high",
        "dash_score": 15,
        "children_count": 0,
        "victim": Party("Alex", "Testperson", date(1990, 4, 1)),
        "suspect": Party("Sam", "Testsuspect", None),
    }
    values.update(overrides)
    return IncidentFacts(**values)


def meeting(meeting_id: str, day: date, capacity: int = 16, listed: int = 0) -> Meeting:
    return Meeting(meeting_id, "southampton", day, capacity, listed)


def case(case_id: str = "c1", **overrides: Any) -> MaracCase:
    values: dict[str, Any] = {
        "case_id": case_id,
        "victim_ref": "v1",
        "area": "southampton",
        "status": "listed",
        "meeting_id": "m1",
        "meeting_date": TODAY,
        "earliest_date": TODAY,
        "awaiting_since": NOW,
        "listed_at": NOW,
        "repeat": False,
        "incidents": (facts(),),
    }
    values.update(overrides)
    return MaracCase(**values)


def referral(referral_id: str = "r1", **overrides: Any) -> ReferralFacts:
    """An agency's referral as a case keeps it."""
    values: dict[str, Any] = {
        "marac_referral_id": referral_id,
        "referring_agency": "health",
        "referral_ref": f"RBH-{referral_id}",
        "received_at": NOW,
        "criteria": ("professional_judgement",),
        "dash_score": None,
        "children_count": 1,
        "victim": Party("Alex", "Testperson", date(1990, 4, 1)),
        "suspect": None,
    }
    values.update(overrides)
    return ReferralFacts(**values)
