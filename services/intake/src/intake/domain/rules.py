"""Checks a report must pass beyond its shape, and the facts intake derives from it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.schemas import Dash, IncidentReport, Person

EARLIEST_REPORT = datetime(1970, 1, 1, tzinfo=UTC)
"""No incident is reported before this instant: older records are not digital, and every
window triage counts back from `reported_at` stays far from the calendar's edge."""
EARLIEST_BIRTH = date(1900, 1, 1)
"""No date of birth before this day is plausible."""


def timing_errors(report: IncidentReport, now: datetime, skew: timedelta) -> list[dict[str, Any]]:
    """`reported_at` and dates of birth lie between the documented bounds and now."""
    errors: list[dict[str, Any]] = []
    if report.reported_at > now + skew:
        errors.append({"loc": ["body", "reported_at"], "msg": "must not be in the future"})
    elif report.reported_at < EARLIEST_REPORT:
        errors.append(
            {"loc": ["body", "reported_at"], "msg": "must not be before 1970-01-01T00:00:00Z"}
        )
    people: list[tuple[list[str | int], Person | None]] = [
        (["body", "victim"], report.victim),
        (["body", "suspect"], report.suspect),
    ]
    people += [(["body", "children", i], child) for i, child in enumerate(report.children)]
    for loc, person in people:
        if person and person.date_of_birth and person.date_of_birth > now.date():
            errors.append({"loc": [*loc, "date_of_birth"], "msg": "must not be in the future"})
        elif person and person.date_of_birth and person.date_of_birth < EARLIEST_BIRTH:
            errors.append({"loc": [*loc, "date_of_birth"], "msg": "must not be before 1900-01-01"})
    return errors


def fingerprint(body: IncidentReport | Dash) -> str:
    """A digest of the parsed body: the same report twice gives the same fingerprint."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
