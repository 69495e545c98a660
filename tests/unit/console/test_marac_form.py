"""The MARAC referral form (issue 21): the page's fields to marac's body, and marac's
own refusals (its schema's and its rules') back beside the fields they name."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from console.domain.people import Person
from console.marac_errors import field_id, simple_errors, with_errors
from console.marac_form import CHILDREN, CRITERIA, PERPETRATORS, ReferralForm, body, read
from console.marac_refer import referring_agencies
from console.web import TEMPLATES
from marac.domain.referrals import refusals
from marac.schemas import MaracReferralRequest
from shared.dash_questions import QUESTIONS, WORDING

FILLED = {
    "referral_ref": "RBH-2026-0091",
    "referring_agency": "health",
    "referrer-name": "Health Visitor",
    "referrer-role": "Health visitor",
    "area": "southampton",
    "victim-given_name": "Alex",
    "victim-family_name": "Example",
    "victim-date_of_birth-day": "27",
    "victim-date_of_birth-month": "3",
    "victim-date_of_birth-year": "1990",
    "consent": "given",
}


def form(**changes: str) -> ReferralForm:
    fields = {**FILLED, **changes}
    return read([*fields.items(), ("criteria", "potential_escalation"), ("csrf_token", "x")])


def marac_errors(sent: dict[str, Any]) -> list[dict[str, Any]]:
    """What marac answers to a body: its schema's errors, else its rules' (as its API)."""
    try:
        parsed = MaracReferralRequest.model_validate(sent)
    except ValidationError as exc:
        return [{"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()]
    answers = {str(k): v for k, v in parsed.dash.answers.items()} if parsed.dash else None
    found = refusals(
        parsed.criteria,
        answers,
        parsed.professional_judgement_reason,
        parsed.consent,
        parsed.consent_reason,
    )
    return [{"loc": list(r.loc), "msg": r.msg} for r in found]


def page_ids(filled: ReferralForm) -> set[str]:
    now = datetime.now(UTC)
    person = Person("hv", frozenset({"marac:refer:health"}), "t" * 43, "link", now, now)
    assert referring_agencies(person) == ["health"]  # the pages' globals are registered
    html = TEMPLATES.get_template("marac_refer.html").render(
        person=person,
        path="/marac/refer",
        form=filled,
        agencies=["health"],
        criteria=CRITERIA,
        perpetrators=range(PERPETRATORS),
        children=range(CHILDREN),
    )
    return set(re.findall(r'\sid="([^"]+)"', html))


def test_a_filled_form_is_a_body_marac_accepts() -> None:
    sent = body(form())
    assert sent is not None
    assert marac_errors(sent) == []
    assert sent["victim"] == {
        "given_name": "Alex",
        "family_name": "Example",
        "date_of_birth": "1990-03-27",
    }
    # boxes left blank are not sent: no empty perpetrator, child, DASH or text
    assert sent["perpetrators"] == []
    assert sent["children"] == []
    assert "dash" not in sent
    assert "summary" not in sent


def test_a_dash_perpetrator_and_child_are_sent_as_filled_in() -> None:
    answers = {f"dash-q{n}": "yes" if n <= 14 else "no" for n in range(1, 24)}
    sent = body(
        form(
            **answers,
            **{"dash-completed_by": "HV 1", "perpetrators-1-given_name": "Sam"},
            **{"perpetrators-1-family_name": "Example", "children-0-given_name": "Kim"},
            **{"children-0-family_name": "Example", "children-0-present_at_incident": "yes"},
            **{"victim-equality-sex": "female", "victim-equality-lgbt": "no"},
        )
    )
    assert sent is not None
    assert sent["dash"]["answers"]["q14"] is True
    assert sent["dash"]["answers"]["q15"] is False
    assert "q24" not in sent["dash"]["answers"]  # "not known" is left out
    assert sent["perpetrators"] == [{"given_name": "Sam", "family_name": "Example"}]
    assert sent["children"][0]["present_at_incident"] is True
    assert sent["victim"]["equality"] == {"sex": "female", "lgbt": False}
    assert marac_errors(sent) == []


def test_a_date_that_is_no_date_stays_on_the_page() -> None:
    filled = form(**{"victim-date_of_birth-month": "13"})
    assert body(filled) is None
    assert filled.errors == {
        "victim-date_of_birth-day": "Enter a real date of birth, for example 27 3 1990"
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # the three rules of issue 21, each beside its own field
        (
            {"dash-completed_by": "HV 1", **{f"dash-q{n}": "yes" for n in range(1, 14)}},
            {"dash-q1": "Visible high risk needs at least 14 'yes' answers on the DASH"},
        ),
        ({}, {"dash-q1": "Answer the DASH questions: visible high risk needs the DASH"}),
    ],
)
def test_visible_high_risk_refusals_are_shown_at_the_dash(
    changes: dict[str, str], expected: dict[str, str]
) -> None:
    fields = {**FILLED, **changes}
    filled = read([*fields.items(), ("criteria", "visible_high_risk")])
    sent = body(filled)
    assert sent is not None
    assert with_errors(filled, marac_errors(sent)).errors == expected


def test_reasons_for_judgement_and_consent_are_asked_for() -> None:
    filled = read(
        [*{**FILLED, "consent": "not_sought"}.items(), ("criteria", "professional_judgement")]
    )
    sent = body(filled)
    assert sent is not None
    assert with_errors(filled, marac_errors(sent)).errors == {
        "professional_judgement_reason": "Enter the reason for referring on professional judgement",
        "consent_reason": "Enter why the victim's consent was not given or not sought",
    }


def test_every_schema_error_lands_on_a_field_of_the_page() -> None:
    filled = read(
        [
            ("referral_ref", "not a reference!"),
            ("referring_agency", "health"),
            ("referrer-email", "no-at-sign"),
            ("victim-contact-phone", "call me"),
            ("victim-address-postcode", "?"),
            ("perpetrators-2-given_name", "Sam"),
            ("children-1-school_urn", "12"),
            ("children-1-given_name", "Kim"),
            ("children-1-family_name", "Example"),
            ("dash-q3", "yes"),
            ("summary", "x" * 4001),
        ]
    )
    sent = body(filled)
    assert sent is not None
    errors = with_errors(filled, marac_errors(sent)).errors
    assert set(errors) == {
        "referral_ref",
        "referrer-name",
        "referrer-role",
        "referrer-email",
        "area",
        "victim-given_name",
        "victim-family_name",
        "victim-address-postcode",
        "victim-contact-phone",
        "perpetrators-2-family_name",
        "children-1-school_urn",
        "criteria",
        "dash-completed_by",
        "consent",
        "summary",
    }
    assert set(errors) <= page_ids(filled)  # each summary link goes to a field
    assert errors["victim-given_name"] == "Enter the victim's given name"
    assert errors["children-1-school_urn"] == "Child 2's school URN is not in the right format"
    assert errors["perpetrators-2-family_name"] == "Enter perpetrator 3's family name"
    assert errors["criteria"] == "Select the referral criteria"
    assert errors["consent"] == "Select the victim's consent"
    assert errors["summary"].startswith("The summary is too long")


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (["body", "victim", "date_of_birth"], "victim-date_of_birth-day"),
        (["body", "children", 0, "date_of_birth"], "children-0-date_of_birth-day"),
        (["body", "victim", "address", "lines", 2], "victim-address-lines"),
        (["body", "dash", "answers"], "dash-q1"),
        (["body", "dash", "answers", "q7"], "dash-q7"),
        (["body", "criteria", 1], "criteria"),
        (["body", "perpetrators"], "perpetrators-0-given_name"),
        (["body"], ""),
    ],
)
def test_an_errors_place_is_the_field_it_names(loc: list[Any], expected: str) -> None:
    assert field_id(loc) == expected


def test_an_unknown_place_goes_to_the_summary_only() -> None:
    errors = simple_errors(
        [
            {"loc": ["body", "due_by"], "msg": "must not be in the past"},
            {"loc": ["query"], "msg": "x"},
        ],
        {"due_by": "The due date"},
        dates=("due_by",),
    )
    assert errors == {"due_by-day": "The due date: must not be in the past", "": "This form: x"}
    chosen = simple_errors(
        [{"loc": ["body", "known"], "msg": "Field required"}], {"known": "Whether it is known"}
    )
    assert chosen == {"known": "Select whether it is known"}


def test_the_dash_wording_is_the_checklists_24_questions_in_order() -> None:
    assert [q.key for q in QUESTIONS] == [f"q{n}" for n in range(1, 25)]
    assert WORDING["q9"].startswith("Are you pregnant")  # triage's pregnancy flag (q9)
    assert (
        WORDING["q15"]
        == "Has (the abuser) ever attempted to strangle, choke, suffocate or drown you?"
    )
