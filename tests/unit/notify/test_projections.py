"""How each granted row is rendered (`domain/projections.py`): safe to contact, the
school's incident id, date and time and one child, the IDVA's count and ages, the
victim's names only."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest

from notify.domain.projections import Source, minimise
from notify.domain.sharing import VIEWS
from tests.unit.notify import builders
from tests.unit.notify.builders import AGENCIES, LONDON, data_for

Y, N = True, False


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


def test_school_gets_the_incident_id_date_and_time_and_nothing_else_of_it() -> None:
    """domain.md (Operation Encompass): the police reference, the date and time; never
    the area or the risk level."""
    data = data_for("school")
    assert uuid.UUID(data["incident_id"])
    assert data["reported_at"] == "2026-11-18T21:15:00+00:00"
    assert data["incident_date"] == "2026-11-18"
    for absent in ("area", "risk_level", "dash_score", "flags"):
        assert absent not in data


def test_school_date_is_the_local_date() -> None:
    late = builders.decision(reported_at=datetime.fromisoformat("2026-07-01T23:30:00+00:00"))
    data = minimise(VIEWS["school"], Source(late, 0, LONDON))
    assert data["incident_date"] == "2026-07-02"  # 00:30 BST


@pytest.mark.parametrize(
    ("child", "other"), [(0, builders.YOUNGER_CHILD), (1, builders.OLDER_CHILD)]
)
def test_school_sees_that_one_child_only(child: int, other: str) -> None:
    data = data_for("school", child=child)
    assert set(data) == {
        "incident_id",
        "reported_at",
        "incident_date",
        "children",
        "safe_to_contact",
    }
    (seen,) = data["children"]
    expected = builders.decision().incident.children[child]
    # the child's name and date of birth, and whether it was present: nothing more
    assert seen == {
        "given_name": expected.given_name,
        "family_name": expected.family_name,
        "date_of_birth": expected.date_of_birth.isoformat() if expected.date_of_birth else None,
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


def test_a_victim_without_contact_details_is_not_safe_to_contact() -> None:
    decision = builders.decision(
        victim={"given_name": "Nocontact", "family_name": "Victim", "date_of_birth": "1990-01-01"}
    )
    data = minimise(VIEWS["safeguarding-team"], Source(decision, None, LONDON))
    assert data["safe_to_contact"] is False
    # fields the victim did not give are absent, not null
    assert data["victim"]["contact"] == {}
    assert "address" not in data["victim"]
    assert "null" not in json.dumps(data["victim"])


def test_an_email_not_given_is_absent_not_null() -> None:
    decision = builders.decision(
        victim={
            "given_name": "Phoneonly",
            "family_name": "Victim",
            "date_of_birth": "1990-01-01",
            "contact": {"phone": "07700 900123"},
        },
        safe_to_contact=True,
    )
    for agency in ("childrens-social-care", "idva", "safeguarding-team", "victim-support"):
        data = minimise(VIEWS[agency], Source(decision, None, LONDON))
        assert data["victim"]["contact"] == {"phone": "07700 900123"}, agency
