"""Domain objects for the perpetrators' unit tests (synthetic identities)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from perpetrators.domain.policy import Policy
from perpetrators.domain.scoring import Incident
from shared.identity import Identity

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
POLICY = Policy(version="test-7", owner="Test Partner Agency")


def victim(n: int) -> Identity:
    """An identifiable victim (both hashes), different for each `n`."""
    return Identity(person_id=f"pid-{n}", names_dob=f"ndob-{n}")


UNIDENTIFIABLE = Identity()


def incident(n: int = 1, days_ago: float = 1, **overrides: Any) -> Incident:
    values: dict[str, Any] = {
        "incident_id": f"i{n}",
        "reported_at": NOW - timedelta(days=days_ago),
        "risk_level": "standard",
        "child_present": False,
        "abuse_types": ("physical",),
        "victim": victim(1),
    }
    values.update(overrides)
    return Incident(**values)
