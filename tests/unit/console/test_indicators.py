"""The dashboard's indicators: per month, for a period, as the page and the CSV write them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from console.domain.facts import IncidentFacts, Listing
from console.domain.indicators import (
    KEYS,
    Facts,
    csv_rows,
    dashboard,
    months_between,
    share,
    shown,
)

LONDON = ZoneInfo("Europe/London")


def incident(reported: datetime, **overrides: object) -> IncidentFacts:
    values: dict[str, object] = {
        "incident_id": f"i-{reported.isoformat()}",
        "area": "southampton",
        "reported_at": reported,
        "first_decided_at": reported,
        "last_decided_at": reported,
        "dash_at_first_report": True,
        "dash_later": False,
        "assessed": True,
        "risk_level": "standard",
        "regrade": None,
        "flags": frozenset(),
        "children_count": 0,
        "referrals": frozenset({"victim-support/victim"}),
    }
    values.update(overrides)
    return IncidentFacts(**values)  # type: ignore[arg-type]


def test_months_between_spans_years() -> None:
    assert months_between(date(2026, 11, 20), date(2027, 2, 1)) == [
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
    ]


def test_an_incident_counts_in_its_local_month() -> None:
    # 23:30 UTC on 31 October 2026 is still October in London (GMT after 25 October)
    late = incident(datetime(2026, 10, 31, 23, 30, tzinfo=UTC))
    # 23:30 UTC on 30 September is 00:30 on 1 October in London (BST)
    summer = incident(datetime(2026, 9, 30, 23, 30, tzinfo=UTC))
    board = dashboard(
        Facts([late, summer], [], [], []), date(2026, 9, 1), date(2026, 10, 31), LONDON
    )
    assert board.by_month["2026-09"]["incidents"] == 0
    assert board.by_month["2026-10"]["incidents"] == 2


def test_shares_are_of_the_incidents_and_none_of_nothing() -> None:
    assert share(1, 3) == 33.3
    assert share(0, 0) is None
    board = dashboard(Facts([], [], [], []), date(2026, 11, 1), date(2026, 11, 30), LONDON)
    assert board.total["repeat_victim_share"] is None
    assert shown(None) == ""


def test_children_referred_counts_children_of_incidents_referred_to_social_care() -> None:
    facts = Facts(
        [
            incident(
                datetime(2026, 11, 2, tzinfo=UTC),
                children_count=3,
                referrals=frozenset({"childrens-social-care/victim"}),
                flags=frozenset({"children_in_household"}),
            ),
            incident(datetime(2026, 11, 3, tzinfo=UTC), children_count=2),
        ],
        [],
        [],
        [],
    )
    board = dashboard(facts, date(2026, 11, 1), date(2026, 11, 30), LONDON)
    assert board.total["children_referred"] == 3
    assert board.total["incidents_with_children"] == 2


def test_marac_rate_per_10000_women_is_yearly() -> None:
    listings = [
        Listing(
            f"c{i}",
            "m1",
            "southampton",
            date(2026, 11, 20),
            i == 0,
            datetime(2026, 11, 5, tzinfo=UTC),
        )
        for i in range(4)
    ]
    board = dashboard(
        Facts([], listings, [], []),
        date(2026, 11, 1),
        date(2026, 11, 30),
        LONDON,
        adult_women=12000,
    )
    # 4 cases in one month, 12 months, 12,000 women: 4 x 12 x 10,000 / 12,000 = 40
    assert board.total["marac_cases_per_10000_women_year"] == 40.0
    assert board.total["marac_repeat_share"] == 25.0
    assert board.total["marac_cases_per_meeting"] == 4.0


def test_the_csv_has_one_row_a_month_with_every_indicator() -> None:
    board = dashboard(
        Facts([incident(datetime(2026, 11, 2, tzinfo=UTC))], [], [], []),
        date(2026, 10, 1),
        date(2026, 11, 30),
        LONDON,
    )
    rows = list(csv_rows(board, "southampton"))
    assert rows[0] == ["month", "area", *KEYS]
    assert [r[0] for r in rows[1:]] == ["2026-10", "2026-11"]
    assert rows[2][2] == "1"
