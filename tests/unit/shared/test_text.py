"""Free text: control characters, bidi controls and invisible names are refused everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.schemas import IncidentReport
from shared.text import text_problem
from tests.builders import incident_body

HOSTILE = {
    "NUL": "Al\x00ex",
    "escape": "Al\x1b[31mex",
    "DEL": "Al\x7fex",
    "C1 control": "Al\x85ex",
    "right-to-left override": "Al\u202eex",
    "isolate": "\u2066Alex\u2069",
    "lone surrogate": "Al\ud800ex",
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_characters_are_refused(kind: str) -> None:
    assert text_problem(HOSTILE[kind]) is not None


def test_line_breaks_only_in_multiline_text() -> None:
    assert text_problem("line one\nline two") is not None
    assert text_problem("line one\nline two\ttabbed\r\n", multiline=True) is None


@pytest.mark.parametrize("name", ["\u200b\u200b", "\u200b", "\u2060\ufeff", "--", " . "])
def test_a_visible_text_needs_a_letter_or_digit(name: str) -> None:
    assert text_problem(name, visible=True) is not None


@pytest.mark.parametrize("name", ["Alex", "Zoë", "Ó Súilleabháin", "李", "Jean-Luc", "O'Brien"])
def test_real_names_pass(name: str) -> None:
    assert text_problem(name, visible=True) is None


def _report(path: str, value: Any) -> dict[str, Any]:
    body = incident_body(reported_at="2026-11-21T09:30:00Z")
    body["victim"]["address"] = {"lines": ["1 Example Street"], "postcode": "SO14 7DU"}
    body["victim"]["contact"] = {"email": "alex@example.org", "safe_to_contact": True}
    body["dash"] = {"checklist": "safelives-dash-ric-24", "answers": {}, "completed_by": "PC 1"}
    target: Any = body
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return body


FIELDS = [
    ("victim.given_name", "\u200b\u200b"),
    ("victim.family_name", "Ex\u202eelpma"),
    ("victim.address.postcode", "SO14\x007DU"),
    ("victim.address.postcode", "SO14\u202e7DU"),
    ("victim.contact.email", "alex\x7f@example.org"),
    ("victim.contact.email", "alex@exa\u202emple.org"),
    ("notes", "see\x00attached"),
    ("dash.completed_by", "\u200b"),
]


@pytest.mark.parametrize(("path", "value"), FIELDS)
def test_every_free_text_field_of_an_incident_refuses_hostile_text(path: str, value: str) -> None:
    body = _report(path, value)
    with pytest.raises(ValidationError) as caught:
        IncidentReport.model_validate(body)
    assert tuple(caught.value.errors()[0]["loc"])[: len(path.split("."))] == tuple(path.split("."))


def test_the_same_report_without_the_hostile_text_is_valid() -> None:
    IncidentReport.model_validate(_report("notes", "see attached\nsecond line"))
