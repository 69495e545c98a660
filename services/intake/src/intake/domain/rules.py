"""Checks a report must pass beyond its shape, and the facts intake derives from it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from shared.schemas import Dash, IncidentReport, Person


def timing_errors(report: IncidentReport, now: datetime, skew: timedelta) -> list[dict[str, Any]]:
    """`reported_at` and dates of birth must not lie in the future."""
    errors: list[dict[str, Any]] = []
    if report.reported_at > now + skew:
        errors.append({"loc": ["body", "reported_at"], "msg": "must not be in the future"})
    people: list[tuple[list[str | int], Person | None]] = [
        (["body", "victim"], report.victim),
        (["body", "suspect"], report.suspect),
    ]
    people += [(["body", "children", i], child) for i, child in enumerate(report.children)]
    for loc, person in people:
        if person and person.date_of_birth and person.date_of_birth > now.date():
            errors.append({"loc": [*loc, "date_of_birth"], "msg": "must not be in the future"})
    return errors


def fingerprint(body: IncidentReport | Dash) -> str:
    """A digest of the parsed body: the same report twice gives the same fingerprint."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
