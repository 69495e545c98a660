"""The SafeLives MARAC national dataset return (domain.md): one row per meeting held in
the quarter, counted from the cases discussed at it. Counts only: no person is named."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.identity import age_on

RETURN_AGENCIES = (
    "police",
    "idva",
    "childrens-social-care",
    "school",
    "health",
    "housing",
    "probation",
    "adult-social-care",
    "mental-health",
    "substance-misuse",
    "victim-support",
    "safeguarding-team",
    "other",
)
MINORITY = frozenset({"asian", "black", "mixed", "other"})
COLUMNS = (
    "area",
    "meeting_date",
    "cases_discussed",
    "repeat_cases",
    "children_in_households",
    *(f"referrals_{a.replace('-', '_')}" for a in RETURN_AGENCIES),
    "victims_female",
    "victims_male",
    "victims_other",
    "victims_sex_not_known",
    "victims_ethnic_minority",
    "victims_white",
    "victims_ethnicity_not_known",
    "victims_lgbt",
    "victims_lgbt_not_known",
    "victims_disabled",
    "victims_disability_not_known",
    "victims_aged_16_17",
    "perpetrators_under_18",
)
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def quarter_dates(quarter: str) -> tuple[date, date]:
    """The first and last day of a calendar quarter written `2026-Q3` (ValueError else)."""
    found = _QUARTER.match(quarter)
    if not found:
        raise ValueError("must be a quarter as YYYY-Qn, e.g. 2026-Q3")
    year, number = int(found[1]), int(found[2])
    if year < 1:
        raise ValueError("must be a quarter as YYYY-Qn, e.g. 2026-Q3")
    first = date(year, 3 * number - 2, 1)
    after = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return first, date.fromordinal(after.toordinal() - 1)


@dataclass(frozen=True)
class DiscussedCase:
    """What the return needs of one case discussed at a meeting."""

    referred_by: str
    """The agency of its first source: `police` for an incident."""
    repeat: bool
    children: int
    victim_born: date | None
    perpetrators_born: tuple[date | None, ...] = ()
    equality: dict[str, Any] | None = field(default=None)
    """The victim's equality monitoring, as last given (None: never)."""


def return_row(area: str, held_on: date, cases: Sequence[DiscussedCase]) -> list[Any]:
    """One meeting's row, in `COLUMNS` order."""
    by_agency = dict.fromkeys(RETURN_AGENCIES, 0)
    for case in cases:
        agency = case.referred_by if case.referred_by in by_agency else "other"
        by_agency[agency] += 1
    equality = [case.equality or {} for case in cases]
    sex = [e.get("sex") or "not_known" for e in equality]
    ethnicity = [e.get("ethnicity") or "not_known" for e in equality]
    return [
        area,
        held_on.isoformat(),
        len(cases),
        sum(c.repeat for c in cases),
        sum(c.children for c in cases),
        *by_agency.values(),
        sex.count("female"),
        sex.count("male"),
        sex.count("other"),
        sex.count("not_known"),
        sum(e in MINORITY for e in ethnicity),
        ethnicity.count("white"),
        ethnicity.count("not_known"),
        sum(e.get("lgbt") is True for e in equality),
        sum(e.get("lgbt") is None for e in equality),
        sum(e.get("disability") is True for e in equality),
        sum(e.get("disability") is None for e in equality),
        sum(_aged(c.victim_born, held_on, 16, 17) for c in cases),
        sum(any(_aged(born, held_on, 0, 17) for born in c.perpetrators_born) for c in cases),
    ]


def _aged(born: date | None, on: date, youngest: int, oldest: int) -> bool:
    return born is not None and youngest <= age_on(born, on) <= oldest


def rows(meetings: Iterable[tuple[str, date, Sequence[DiscussedCase]]]) -> list[list[Any]]:
    """The return's rows, one per meeting held, by date."""
    return [
        return_row(area, day, cases) for area, day, cases in sorted(meetings, key=lambda m: m[1])
    ]
