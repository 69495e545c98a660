"""Intake's validation rules, table-driven: each bad field is named, each good one passes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from intake.domain.rules import fingerprint, timing_errors
from shared.schemas import IncidentReport
from tests.builders import incident_body

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def body(**changes: Any) -> dict[str, Any]:
    b = incident_body(reported_at="2026-11-21T09:30:00Z")
    b["dash"] = {
        "checklist": "safelives-dash-ric-24",
        "answers": {"q1": True},
        "completed_by": "PC 1",
    }
    b["children"] = [{"given_name": "Jo", "family_name": "Kid", "school_urn": "123456"}]
    for path, value in changes.items():
        target: Any = b
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        last = keys[-1]
        if value is DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return b


DELETE = object()

INVALID = [
    ("control_room_ref", DELETE, ("control_room_ref",)),
    ("control_room_ref", "", ("control_room_ref",)),
    ("control_room_ref", "has space", ("control_room_ref",)),
    ("control_room_ref", "x" * 65, ("control_room_ref",)),
    ("control_room_ref", 42, ("control_room_ref",)),
    ("force", "Hampshire", ("force",)),
    ("force", "hamp shire", ("force",)),
    ("area", DELETE, ("area",)),
    ("area", "-south", ("area",)),
    ("reported_at", "2026-11-21 09:30:00", ("reported_at",)),
    ("reported_at", "2026-11-21T09:30:00", ("reported_at",)),
    ("reported_at", 1790000000, ("reported_at",)),
    ("reported_at", "yesterday", ("reported_at",)),
    ("abuse_types", ["physical", "shouting"], ("abuse_types", 1)),
    ("abuse_types", "physical", ("abuse_types",)),
    ("relationship", "neighbour", ("relationship",)),
    ("relationship", DELETE, ("relationship",)),
    ("victim", DELETE, ("victim",)),
    ("victim__given_name", DELETE, ("victim", "given_name")),
    ("victim__given_name", "", ("victim", "given_name")),
    ("victim__given_name", "A" * 101, ("victim", "given_name")),
    ("victim__given_name", "Al\x00ex", ("victim", "given_name")),
    ("victim__family_name", 7, ("victim", "family_name")),
    ("victim__date_of_birth", "01/04/1990", ("victim", "date_of_birth")),
    ("victim__date_of_birth", "1990-02-30", ("victim", "date_of_birth")),
    ("victim__person_id", "N 1", ("victim", "person_id")),
    ("victim__nickname", "Al", ("victim", "nickname")),
    ("victim__contact", {"phone": "call me"}, ("victim", "contact", "phone")),
    ("victim__contact", {"safe_to_contact": "yes"}, ("victim", "contact", "safe_to_contact")),
    ("victim__address", {"lines": ["x" * 201]}, ("victim", "address", "lines", 0)),
    (
        "children",
        [{"given_name": "Jo", "family_name": "K", "school_urn": "12345"}],
        ("children", 0, "school_urn"),
    ),
    (
        "children",
        [{"given_name": "Jo", "family_name": "K", "school_urn": "1234567"}],
        ("children", 0, "school_urn"),
    ),
    (
        "children",
        [{"given_name": "Jo", "family_name": "K", "present_at_incident": "yes"}],
        ("children", 0, "present_at_incident"),
    ),
    ("children", [{"given_name": "Jo", "family_name": "K"}] * 21, ("children",)),
    ("dash__checklist", "safelives-dash-ric-27", ("dash", "checklist")),
    ("dash__answers", {"q25": True}, ("dash", "answers", "q25", "[key]")),
    ("dash__answers", {"q0": True}, ("dash", "answers", "q0", "[key]")),
    ("dash__answers", {"q1": "yes"}, ("dash", "answers", "q1")),
    ("dash__answers", {"q1": 1}, ("dash", "answers", "q1")),
    ("dash__professional_judgement", "very high", ("dash", "professional_judgement")),
    ("dash__completed_by", DELETE, ("dash", "completed_by")),
    ("notes", "x" * 4001, ("notes",)),
    ("unexpected", "field", ("unexpected",)),
]


@pytest.mark.parametrize(("path", "value", "loc"), INVALID)
def test_an_invalid_field_is_refused_and_named(path: str, value: Any, loc: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        IncidentReport.model_validate(body(**{path: value}))
    locs = [tuple(e["loc"]) for e in caught.value.errors()]
    assert loc in locs, locs


VALID = [
    ("reported_at", "2026-11-21T10:30:00+01:00"),
    ("reported_at", "2026-11-21T09:30:00.123Z"),
    ("control_room_ref", "A/B_C-1"),
    ("victim__contact", {"phone": "+44 (0)7700 900123", "safe_to_contact": True}),
    ("dash__answers", {f"q{i}": True for i in range(1, 25)}),
    ("dash__answers", {}),
    ("suspect", DELETE),
    ("dash", DELETE),
    ("notes", "x" * 4000),
    ("children", []),
]


@pytest.mark.parametrize(("path", "value"), VALID)
def test_a_valid_variation_is_accepted(path: str, value: Any) -> None:
    IncidentReport.model_validate(body(**{path: value}))


@pytest.mark.parametrize(
    ("reported_at", "future"),
    [
        ("2026-11-21T12:00:00Z", False),
        ("2026-11-21T12:05:00Z", False),  # within the allowed clock skew
        ("2026-11-21T12:05:01Z", True),
        ("2026-11-22T00:00:00Z", True),
    ],
)
def test_reported_at_must_not_be_in_the_future(reported_at: str, future: bool) -> None:
    report = IncidentReport.model_validate(body(reported_at=reported_at))
    errors = timing_errors(report, NOW, SKEW)
    assert (["body", "reported_at"] in [e["loc"] for e in errors]) is future


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("victim__date_of_birth", ["body", "victim", "date_of_birth"]),
        ("suspect__date_of_birth", ["body", "suspect", "date_of_birth"]),
        ("children__0__date_of_birth", ["body", "children", 0, "date_of_birth"]),
    ],
)
def test_dates_of_birth_must_not_be_in_the_future(path: str, loc: list[Any]) -> None:
    report = IncidentReport.model_validate(body(**{path: "2026-11-22"}))
    assert [e["loc"] for e in timing_errors(report, NOW, SKEW)] == [loc]
    today = IncidentReport.model_validate(body(**{path: "2026-11-21"}))
    assert timing_errors(today, NOW, SKEW) == []


def test_the_same_report_reformatted_has_the_same_fingerprint() -> None:
    base = body()
    a = IncidentReport.model_validate(base)
    shuffled = dict(reversed(list(copy.deepcopy(base).items())))
    b = IncidentReport.model_validate(shuffled)
    assert fingerprint(a) == fingerprint(b)
    c = IncidentReport.model_validate({**base, "notes": "different"})
    assert fingerprint(a) != fingerprint(c)
