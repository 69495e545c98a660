"""The flags of domain.md about the incident itself: children and pregnancy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from shared.identity import age_on
from shared.schemas import Dash
from shared.schemas.v1 import Child

FLAG_ORDER = (
    "children_in_household",
    "child_present",
    "pregnancy",
    "repeat_victim",
    "potential_escalation",
    "serial_perpetrator",
    "not_assessed",
    "dip_sample",
)


def is_child(child: Child, day: date, age_limit: int) -> bool:
    """Under the age limit on `day`; a child without a date of birth counts."""
    return child.date_of_birth is None or age_on(child.date_of_birth, day) < age_limit


def children_in_household(children: Sequence[Child], day: date, age_limit: int) -> bool:
    """At least one listed child under the age limit on the day of the incident."""
    return any(is_child(child, day, age_limit) for child in children)


def child_present(children: Sequence[Child]) -> bool:
    """A listed child was present at the incident."""
    return any(child.present_at_incident is True for child in children)


def pregnancy(dash: Dash | None) -> bool:
    """DASH q9 (pregnant, or a baby under 18 months) answered yes."""
    return dash is not None and dash.answers.get("q9") is True


def in_order(flags: set[str]) -> list[str]:
    """Flags in the contract's order, so equal decisions read the same."""
    return [flag for flag in FLAG_ORDER if flag in flags]
