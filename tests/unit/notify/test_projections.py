"""Each agency sees only what domain.md's information-sharing table allows: every cell.

The expected table is written out here from domain.md, independently of notify's own
VIEWS, so a wrong view fails these tests. Fields not allowed must be absent, not null.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from notify.domain.projections import Source, minimise
from notify.domain.sharing import VIEWS
from tests.unit.notify import builders

LONDON = ZoneInfo("Europe/London")
Y, N = True, False

# domain.md, "What each agency may see": the fields each row stands for
ROWS: dict[str, list[str]] = {
    "incident id, reported_at, area, risk level": [
        "incident_id",
        "reported_at",
        "area",
        "risk_level",
    ],
    "victim names, date of birth": [
        "victim.given_name",
        "victim.family_name",
        "victim.date_of_birth",
    ],
    "victim address": ["victim.address"],
    "victim phone/e-mail": ["victim.contact"],
    "suspect names, date of birth": ["suspect"],
    "relationship, abuse types": ["relationship", "abuse_types"],
    "children (names, dates of birth, school, present)": ["children"],
    "DASH score": ["dash_score"],
    "DASH answers": ["dash_answers"],
    "flags, MARAC criteria": ["flags", "marac_criteria"],
    "officer's notes": ["notes"],
}
AGENCIES = ["childrens-social-care", "school", "idva", "safeguarding-team", "victim-support"]
# the table's plain yes/no cells (the qualified ones have their own tests below)
PLAIN: dict[str, list[bool | None]] = {
    "incident id, reported_at, area, risk level": [Y, None, Y, Y, Y],
    "victim names, date of birth": [Y, N, Y, Y, None],
    "victim address": [Y, N, Y, Y, N],
    "victim phone/e-mail": [None, N, None, Y, None],
    "suspect names, date of birth": [Y, N, Y, Y, N],
    "relationship, abuse types": [Y, N, Y, Y, N],
    "children (names, dates of birth, school, present)": [Y, None, None, Y, N],
    "DASH score": [Y, N, Y, Y, N],
    "DASH answers": [N, N, Y, Y, N],
    "flags, MARAC criteria": [Y, N, Y, Y, N],
    "officer's notes": [N, N, N, Y, N],
}
CELLS = [
    (row, agency, allowed)
    for row, cells in PLAIN.items()
    for agency, allowed in zip(AGENCIES, cells, strict=True)
    if allowed is not None
]


def data_for(agency: str, *, safe: bool = True, child: int | None = None) -> dict[str, Any]:
    decision = builders.decision(safe_to_contact=safe)
    if agency == "school" and child is None:
        child = 0
    return minimise(VIEWS[agency], Source(decision, child, LONDON))


def present(data: dict[str, Any], path: str) -> bool:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize(("row", "agency", "allowed"), CELLS)
def test_each_cell_of_the_table(row: str, agency: str, allowed: bool) -> None:
    data = data_for(agency, safe=True)
    for path in ROWS[row]:
        assert present(data, path) is allowed, f"{agency}: {path}"


@pytest.mark.parametrize("agency", AGENCIES)
def test_every_referral_carries_safe_to_contact(agency: str) -> None:
    assert data_for(agency, safe=False)["safe_to_contact"] is False
    assert data_for(agency, safe=True)["safe_to_contact"] is True


@pytest.mark.parametrize(
    ("agency", "safe", "sees_contact"),
    [
        ("childrens-social-care", True, True),
        ("childrens-social-care", False, False),
        ("idva", True, True),
        ("idva", False, False),
        ("victim-support", True, True),
        ("victim-support", False, False),
        ("safeguarding-team", True, True),
        ("safeguarding-team", False, True),
        ("school", True, False),
        ("school", False, False),
    ],
)
def test_phone_and_email_only_where_safe_to_contact(
    agency: str, safe: bool, sees_contact: bool
) -> None:
    data = data_for(agency, safe=safe)
    text = json.dumps(data)
    assert (builders.VICTIM_PHONE in text) is sees_contact
    assert (builders.VICTIM_EMAIL in text) is sees_contact
    if sees_contact:
        assert data["victim"]["contact"] == {
            "phone": builders.VICTIM_PHONE,
            "email": builders.VICTIM_EMAIL,
        }
    else:
        assert "contact" not in data.get("victim", {})


def test_school_gets_the_incident_date_only() -> None:
    data = data_for("school")
    assert data["incident_date"] == "2026-11-18"
    for absent in ("incident_id", "reported_at", "area", "risk_level"):
        assert absent not in data
    assert "21:15" not in json.dumps(data)


def test_school_date_is_the_local_date() -> None:
    late = builders.decision(reported_at=datetime.fromisoformat("2026-07-01T23:30:00+00:00"))
    data = minimise(VIEWS["school"], Source(late, 0, LONDON))
    assert data["incident_date"] == "2026-07-02"  # 00:30 BST


@pytest.mark.parametrize(
    ("child", "other"), [(0, builders.YOUNGER_CHILD), (1, builders.OLDER_CHILD)]
)
def test_school_sees_that_one_child_only(child: int, other: str) -> None:
    data = data_for("school", child=child)
    assert set(data) == {"incident_date", "children", "safe_to_contact"}
    (seen,) = data["children"]
    expected = builders.decision().incident.children[child]
    assert seen == {
        "given_name": expected.given_name,
        "family_name": expected.family_name,
        "date_of_birth": expected.date_of_birth.isoformat() if expected.date_of_birth else None,
        "school_urn": expected.school_urn,
        "present_at_incident": expected.present_at_incident,
    }
    assert other not in json.dumps(data)


def test_idva_sees_children_as_count_and_ages_only() -> None:
    data = data_for("idva")
    assert "children" not in data
    assert data["children_count"] == 2
    assert data["children_ages"] == [11, 7]  # on 2026-11-18
    text = json.dumps(data)
    assert builders.OLDER_CHILD not in text
    assert builders.YOUNGER_CHILD not in text
    assert "111111" not in text  # no school


def test_victim_support_sees_the_victims_names_only() -> None:
    data = data_for("victim-support", safe=False)
    assert data["victim"] == {"given_name": "Victimgiven", "family_name": "Victimfamily"}
    assert set(data) == {
        "incident_id",
        "reported_at",
        "area",
        "risk_level",
        "victim",
        "safe_to_contact",
    }


@pytest.mark.parametrize("agency", ["childrens-social-care", "school", "idva", "victim-support"])
def test_officers_notes_reach_no_one_but_the_safeguarding_team(agency: str) -> None:
    assert builders.NOTES not in json.dumps(data_for(agency))
    assert builders.NOTES in json.dumps(data_for("safeguarding-team"))


@pytest.mark.parametrize(
    ("agency", "forbidden"),
    [
        ("school", ["Victimgiven", builders.VICTIM_STREET, builders.SUSPECT_FAMILY, "ex_partner"]),
        ("victim-support", [builders.VICTIM_DOB, builders.VICTIM_POSTCODE, builders.SUSPECT_GIVEN]),
        ("victim-support", [builders.OLDER_CHILD, "coercive_control", "visible_high_risk"]),
        ("idva", [builders.NOTES, builders.OLDER_CHILD]),
        ("childrens-social-care", [builders.NOTES, '"q1"']),
    ],
)
def test_what_an_agency_must_not_receive_appears_nowhere(agency: str, forbidden: list[str]) -> None:
    text = json.dumps(data_for(agency, safe=True))
    for value in forbidden:
        assert value not in text


@pytest.mark.parametrize("agency", AGENCIES)
def test_fields_not_allowed_are_absent_not_null(agency: str) -> None:
    data = data_for(agency)
    allowed_top = {path.split(".")[0] for row in PLAIN for path in ROWS[row]}
    extras = {"incident_date", "children_count", "children_ages", "safe_to_contact"}
    assert set(data) <= allowed_top | extras
    for row, cells in PLAIN.items():
        if cells[AGENCIES.index(agency)] is N:
            for path in ROWS[row]:
                assert not present(data, path)


def test_a_victim_without_contact_details_is_not_safe_to_contact() -> None:
    decision = builders.decision(
        victim={"given_name": "Nocontact", "family_name": "Victim", "date_of_birth": "1990-01-01"}
    )
    data = minimise(VIEWS["safeguarding-team"], Source(decision, None, LONDON))
    assert data["safe_to_contact"] is False
    assert data["victim"]["contact"] == {"phone": None, "email": None}
    assert data["victim"]["address"] is None
