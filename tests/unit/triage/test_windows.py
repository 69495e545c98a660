"""The windows (`domain/windows.py`): repeat victims, escalation, serial perpetrators and
MARAC listings, each on both sides of its boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.identity import Identity
from tests.unit.triage.builders import REPORTED_AT, SUSPECT, VICTIM, record
from triage.domain.windows import (
    LONGEST_WINDOW,
    REDECIDE_AT_MOST,
    MaracListing,
    OnRecord,
    listed_at_marac,
    prior_incidents,
    reported_later,
    victims_of_suspect,
    years_before,
)

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("before", "counted"),
    [
        (DAY, 1),
        (timedelta(days=365), 1),  # exactly 365 days before: inside
        (timedelta(days=365, seconds=1), 0),
        (timedelta(days=366), 0),
        (-DAY, 0),  # reported later (a backfill): not earlier
    ],
)
def test_repeat_victim_window_is_365_days(before: timedelta, counted: int) -> None:
    here = record()
    past = record(at=REPORTED_AT - before, seq=1)
    assert prior_incidents(here, OnRecord((here, past)), 365) == counted


def test_incidents_reported_at_the_same_instant_are_ordered_by_arrival() -> None:
    first, second = record(seq=1), record(seq=2)
    both = OnRecord((first, second))
    assert prior_incidents(first, both, 365) == 0
    assert prior_incidents(second, both, 365) == 1


def test_only_the_same_victim_counts() -> None:
    here = record()
    others = [
        record(at=REPORTED_AT - DAY, seq=1, victim=Identity("other", "other")),
        record(at=REPORTED_AT - DAY, seq=2, victim=Identity(None, VICTIM.names_dob)),
    ]
    assert prior_incidents(here, OnRecord((here, *others)), 365) == 1


def test_the_incident_itself_never_counts() -> None:
    here = record()
    assert prior_incidents(here, OnRecord((here,)), 365) == 0


def other_victim(n: int) -> Identity:
    return Identity(f"victim-{n}", None)


@pytest.mark.parametrize(
    ("before", "victims"),
    [
        (DAY, 2),
        (REPORTED_AT - years_before(REPORTED_AT, 3), 2),  # exactly three years: inside
        (REPORTED_AT - years_before(REPORTED_AT, 3) + timedelta(seconds=1), 1),
        (timedelta(days=3 * 365 + 2), 1),
    ],
)
def test_serial_perpetrator_window_is_three_years(before: timedelta, victims: int) -> None:
    here = record()
    past = record(at=REPORTED_AT - before, seq=1, victim=other_victim(1))
    assert victims_of_suspect(here, OnRecord((here, past)), 3) == victims


def test_three_years_before_a_leap_day_is_the_28th_of_february() -> None:
    assert years_before(datetime(2028, 2, 29, 12, tzinfo=UTC), 3) == datetime(
        2025, 2, 28, 12, tzinfo=UTC
    )


def test_the_same_victim_twice_is_one_victim() -> None:
    here = record()
    again = record(at=REPORTED_AT - DAY, seq=1)
    assert victims_of_suspect(here, OnRecord((here, again)), 3) == 1


def test_different_victims_of_the_suspect_are_counted_once_each() -> None:
    here = record()
    past = [
        record(at=REPORTED_AT - DAY * n, seq=n, victim=other_victim(n % 2)) for n in range(1, 5)
    ]
    assert victims_of_suspect(here, OnRecord((here, *past)), 3) == 3


def test_an_unidentifiable_past_victim_is_not_counted_as_another() -> None:
    here = record()
    past = record(at=REPORTED_AT - DAY, seq=1, victim=Identity())
    assert victims_of_suspect(here, OnRecord((here, past)), 3) == 1


def test_an_unidentifiable_current_victim_is_not_counted_either() -> None:
    here = record(victim=Identity())
    past = record(at=REPORTED_AT - DAY, seq=1, victim=other_victim(1))
    assert victims_of_suspect(here, OnRecord((here, past)), 3) == 1


@pytest.mark.parametrize("unidentifiable_first", [True, False])
def test_an_unidentifiable_victim_gives_the_same_count_in_either_order(
    unidentifiable_first: bool,
) -> None:
    """Two incidents of one suspect, one victim unidentifiable: one victim, either order."""
    nobody = Identity()
    first = record(at=REPORTED_AT - DAY, seq=1, victim=nobody if unidentifiable_first else VICTIM)
    second = record(victim=VICTIM if unidentifiable_first else nobody)
    assert victims_of_suspect(second, OnRecord((first, second)), 3) == 1


def test_unidentifiable_victims_alone_count_nobody() -> None:
    here = record(victim=Identity())
    past = record(at=REPORTED_AT - DAY, seq=1, victim=Identity())
    assert victims_of_suspect(here, OnRecord((here, past)), 3) == 0


def test_another_suspect_does_not_count() -> None:
    here = record()
    past = record(at=REPORTED_AT - DAY, seq=1, victim=other_victim(1), suspect=Identity("x"))
    assert victims_of_suspect(here, OnRecord((here, past)), 3) == 1


def test_no_suspect_no_serial_count() -> None:
    here = record(suspect=None)
    past = record(at=REPORTED_AT - DAY, seq=1, victim=other_victim(1), suspect=SUSPECT)
    assert victims_of_suspect(here, OnRecord((here, past)), 3) == 0


@pytest.mark.parametrize(
    ("before", "repeat"),
    [
        (DAY, True),
        (timedelta(days=365), True),
        (timedelta(days=366), False),
        (-DAY, False),  # a listing after the incident is not before it
    ],
)
def test_repeat_marac_window_is_365_days(before: timedelta, repeat: bool) -> None:
    listing = MaracListing(VICTIM, (REPORTED_AT - before, 0))
    assert listed_at_marac(record(), OnRecord(listings=(listing,)), 365) is repeat


def test_a_listing_of_someone_else_does_not_count() -> None:
    listing = MaracListing(Identity("someone-else"), (REPORTED_AT - DAY, 0))
    assert listed_at_marac(record(), OnRecord(listings=(listing,)), 365) is False


def test_what_an_arrival_can_change_is_what_was_reported_after_it_in_the_longest_window() -> None:
    at = REPORTED_AT
    same_instant_later = record(at, seq=2, incident_id="same-instant")
    inside = record(at + DAY, incident_id="next-day")
    at_the_edge = record(at + LONGEST_WINDOW, incident_id="edge")
    beyond = record(at + LONGEST_WINDOW + timedelta(seconds=1), incident_id="beyond")
    before = record(at - DAY, incident_id="before")
    itself = record(at, seq=1, incident_id="itself")
    found = reported_later(
        [beyond, at_the_edge, inside, before, same_instant_later, itself],
        at,
        exclude=["itself"],
    )
    # strictly later than the arrival's instant, up to and including the window's end
    assert found == ["next-day", "edge"]


def test_at_most_a_hundred_are_decided_again_earliest_first() -> None:
    many = [record(REPORTED_AT + n * DAY, seq=n, incident_id=f"i{n:03}") for n in range(150, 0, -1)]
    found = reported_later(many, REPORTED_AT)
    assert found == [f"i{n:03}" for n in range(1, REDECIDE_AT_MOST + 1)]


def test_one_instant_is_decided_again_in_arrival_order() -> None:
    later = REPORTED_AT + DAY
    found = reported_later(
        [record(later, seq=s, incident_id=f"s{s}") for s in (9, 3, 5)], REPORTED_AT
    )
    assert found == ["s3", "s5", "s9"]
