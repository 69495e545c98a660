"""Each agency sees only what domain.md's information-sharing table (`domain/sharing.py`)
allows: every cell.

The expected table is written out here from domain.md, independently of notify's own
VIEWS, so a wrong view fails these tests. Fields not allowed must be absent, not null.
"""

from __future__ import annotations

import json

import pytest

from tests.unit.notify import builders
from tests.unit.notify.builders import AGENCIES, data_for, present

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


@pytest.mark.parametrize(("row", "agency", "allowed"), CELLS)
def test_each_cell_of_the_table(row: str, agency: str, allowed: bool) -> None:
    data = data_for(agency, safe=True)
    for path in ROWS[row]:
        assert present(data, path) is allowed, f"{agency}: {path}"


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
