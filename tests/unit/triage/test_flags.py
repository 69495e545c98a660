"""Flags about the incident itself: children (ages 17/18), a child present, pregnancy."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from shared.schemas.v1 import Child
from tests.unit.triage.builders import dash
from triage.domain.flags import (
    child_present,
    children_in_household,
    in_order,
    pregnancy,
)

DAY = date(2026, 11, 21)


def child(**fields: Any) -> Child:
    return Child.model_validate({"given_name": "Kim", "family_name": "Example", **fields})


@pytest.mark.parametrize(
    ("born", "counts"),
    [
        ("2008-11-22", True),  # 17, eighteen tomorrow
        ("2008-11-21", False),  # 18 today
        ("2008-11-20", False),  # 18 yesterday
        ("2026-01-01", True),  # a baby
        (None, True),  # no date of birth: counts
    ],
)
def test_a_child_under_18_on_the_day_is_in_the_household(born: str | None, counts: bool) -> None:
    assert children_in_household([child(date_of_birth=born)], DAY, 18) is counts


def test_no_children_listed_means_no_children_in_household() -> None:
    assert children_in_household([], DAY, 18) is False


def test_one_child_under_18_among_adults_is_enough() -> None:
    listed = [child(date_of_birth="2000-01-01"), child(date_of_birth="2015-05-05")]
    assert children_in_household(listed, DAY, 18) is True


@pytest.mark.parametrize(
    ("present", "flagged"),
    [([True], True), ([False], False), ([None], False), ([False, True], True), ([], False)],
)
def test_child_present_when_any_listed_child_was_there(
    present: list[bool | None], flagged: bool
) -> None:
    assert child_present([child(present_at_incident=p) for p in present]) is flagged


@pytest.mark.parametrize(
    ("answers", "flagged"),
    [({"q9": True}, True), ({"q9": False}, False), ({}, False)],
)
def test_pregnancy_is_dash_question_9(answers: dict[str, bool], flagged: bool) -> None:
    assert pregnancy(dash(0, None, **answers)) is flagged


def test_no_dash_means_no_pregnancy_flag() -> None:
    assert pregnancy(None) is False


def test_flags_come_in_the_contracts_order() -> None:
    assert in_order({"dip_sample", "pregnancy", "children_in_household"}) == [
        "children_in_household",
        "pregnancy",
        "dip_sample",
    ]
