"""How each (row, grant) of the information-sharing table is rendered from a decision.

`minimise` builds one agency's referral data: the fragments of the rows its view
grants, merged, plus `safe_to_contact`. Nothing else reaches the referral.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from notify.domain.sharing import Grant, Row, View
from shared.identity import age_on
from shared.schemas import Person, TriageDecided
from shared.schemas.v1 import Child

Fragment = dict[str, Any]


@dataclass(frozen=True)
class Source:
    """What a referral is made from: the decision, and the child it is about (schools)."""

    decision: TriageDecided
    child: int | None
    timezone: ZoneInfo

    @property
    def safe_to_contact(self) -> bool:
        contact = self.decision.incident.victim.contact
        return bool(contact and contact.safe_to_contact)

    @property
    def local_date(self) -> date:
        return self.decision.incident.reported_at.astimezone(self.timezone).date()


def _identity(person: Person | None) -> Fragment | None:
    if person is None:
        return None
    return person.model_dump(mode="json", include={"given_name", "family_name", "date_of_birth"})


def _child(child: Child, fields: frozenset[str]) -> Fragment:
    return child.model_dump(mode="json", include=set(fields))


CHILD = frozenset(
    {"given_name", "family_name", "date_of_birth", "school_urn", "present_at_incident"}
)
SCHOOL_CHILD = CHILD - {"school_urn"}
"""Operation Encompass: the child's name and date of birth, and whether it was present."""


def _incident(s: Source) -> Fragment:
    incident = s.decision.incident
    return {
        "incident_id": str(s.decision.incident_id),
        "reported_at": incident.reported_at.isoformat(),
        "area": s.decision.area,
        "risk_level": s.decision.risk_level,
    }


def _victim_names(s: Source) -> Fragment:
    victim = s.decision.incident.victim
    return {"victim": {"given_name": victim.given_name, "family_name": victim.family_name}}


def _victim_address(s: Source) -> Fragment:
    address = s.decision.incident.victim.address
    if address is None:
        return {}  # absent, not null
    return {"victim": {"address": address.model_dump(mode="json", exclude_none=True)}}


def _victim_contact(s: Source) -> Fragment:
    """The phone and e-mail the victim gave; one not given is absent, not null."""
    contact = s.decision.incident.victim.contact
    given = {"phone": contact.phone, "email": contact.email} if contact else {}
    return {"victim": {"contact": {k: v for k, v in given.items() if v is not None}}}


def _school_incident(s: Source) -> Fragment:
    return {
        "incident_id": str(s.decision.incident_id),
        "reported_at": s.decision.incident.reported_at.isoformat(),
        "incident_date": s.local_date.isoformat(),
    }


def _children_ages(s: Source) -> Fragment:
    day = s.local_date
    children = s.decision.incident.children
    ages = [age_on(c.date_of_birth, day) if c.date_of_birth else None for c in children]
    return {"children_count": len(children), "children_ages": ages}


def _this_child(s: Source) -> Fragment:
    assert s.child is not None, "a school referral is about one child"
    return {"children": [_child(s.decision.incident.children[s.child], SCHOOL_CHILD)]}


def _dash_answers(s: Source) -> Fragment:
    dash = s.decision.incident.dash
    return {"dash_answers": dict(sorted(dash.answers.items())) if dash else None}


PROJECTIONS: Mapping[tuple[Row, Grant], Callable[[Source], Fragment]] = {
    ("incident", "yes"): _incident,
    ("incident", "id_and_time"): _school_incident,
    ("victim_identity", "yes"): lambda s: {"victim": _identity(s.decision.incident.victim)},
    ("victim_identity", "names_only"): _victim_names,
    ("victim_address", "yes"): _victim_address,
    ("victim_contact", "yes"): _victim_contact,
    ("victim_contact", "if_safe_to_contact"): (
        lambda s: _victim_contact(s) if s.safe_to_contact else {}
    ),
    ("suspect", "yes"): lambda s: {"suspect": _identity(s.decision.incident.suspect)},
    ("circumstances", "yes"): lambda s: {
        "relationship": s.decision.incident.relationship,
        "abuse_types": list(s.decision.incident.abuse_types),
    },
    ("children", "yes"): lambda s: {
        "children": [_child(c, CHILD) for c in s.decision.incident.children]
    },
    ("children", "this_child"): _this_child,
    ("children", "count_and_ages"): _children_ages,
    ("dash_score", "yes"): lambda s: {"dash_score": s.decision.dash_score},
    ("dash_answers", "yes"): _dash_answers,
    ("flags", "yes"): lambda s: {
        "flags": list(s.decision.flags),
        "marac_criteria": list(s.decision.marac.criteria),
    },
    ("notes", "yes"): lambda s: {"notes": s.decision.incident.notes},
}


def merge(into: Fragment, fragment: Mapping[str, Any]) -> None:
    """Merge a row's fragment into the referral data (nested objects merged, not replaced)."""
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def minimise(view: View, source: Source) -> Fragment:
    """The referral data one view allows: granted rows only, plus `safe_to_contact`."""
    data: Fragment = {}
    for row, grant in view.items():
        merge(data, PROJECTIONS[(row, grant)](source))
    data["safe_to_contact"] = source.safe_to_contact
    return data
