"""The dashboard's indicators: per month, for a period, as the page and the CSV write them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from console.domain.catalogue import KEYS
from console.domain.facts import (
    Closure,
    IncidentFacts,
    Listing,
    MaracAction,
    MaracReferral,
    Outcome,
    Prioritised,
    fold_action,
    fold_outcome,
)
from console.domain.indicators import (
    Facts,
    acknowledged_in_time,
    before_school_day,
    chart,
    csv_rows,
    dashboard,
    months_between,
    share,
    shown,
    without,
)

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
"""When the board is looked at: after every due time below."""


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
    board = dashboard(Facts([late, summer]), date(2026, 9, 1), date(2026, 10, 31), LONDON, NOW)
    assert board.by_month["2026-09"]["incidents"] == 0
    assert board.by_month["2026-10"]["incidents"] == 2


def test_shares_are_of_the_incidents_and_none_of_nothing() -> None:
    assert share(1, 3) == 33.3
    assert share(0, 0) is None
    board = dashboard(Facts(), date(2026, 11, 1), date(2026, 11, 30), LONDON, NOW)
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
    )
    board = dashboard(facts, date(2026, 11, 1), date(2026, 11, 30), LONDON, NOW)
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
        Facts(listings=listings),
        date(2026, 11, 1),
        date(2026, 11, 30),
        LONDON,
        NOW,
        adult_women=12000,
    )
    # 4 cases in one month, 12 months, 12,000 women: 4 x 12 x 10,000 / 12,000 = 40
    assert board.total["marac_cases_per_10000_women_year"] == 40.0
    assert board.total["marac_repeat_share"] == 25.0
    assert board.total["marac_cases_per_meeting"] == 4.0


def test_the_csv_has_one_row_a_month_with_every_indicator() -> None:
    board = dashboard(
        Facts([incident(datetime(2026, 11, 2, tzinfo=UTC))]),
        date(2026, 10, 1),
        date(2026, 11, 30),
        LONDON,
        NOW,
    )
    rows = list(csv_rows(board, "southampton"))
    assert rows[0] == ["month", "area", *KEYS]
    assert [r[0] for r in rows[1:]] == ["2026-10", "2026-11"]
    assert rows[2][2] == "1"


def outcome(agency: str = "idva", **overrides: object) -> Outcome:
    values: dict[str, object] = {
        "referral_id": f"r-{len(overrides)}-{sorted(overrides)}-{agency}",
        "agency": agency,
        "incident_id": "i-1",
        "due_by": datetime(2026, 11, 3, 12, tzinfo=UTC),
        "area": "southampton",
    }
    values.update(overrides)
    return Outcome(**values)  # type: ignore[arg-type]


NOV_3 = datetime(2026, 11, 3, tzinfo=UTC)


def test_outcomes_fold_in_any_order_and_any_number_of_times() -> None:
    early, late = NOV_3.replace(hour=9), NOV_3.replace(hour=11)
    due = NOV_3.replace(hour=12)
    dead = fold_outcome(None, "dead", "r1", "idva", "i1", early, due)
    dead_again = fold_outcome(dead, "dead", "r1", "idva", "i1", late, due)
    assert dead_again.dead_at == late
    assert dead_again.dead
    redelivered = fold_outcome(dead_again, "delivered", "r1", "idva", "i1", late, due)
    assert not redelivered.dead
    assert redelivered.delivered_at == late
    acked = fold_outcome(redelivered, "acknowledged", "r1", "idva", "i1", late, due)
    assert fold_outcome(acked, "acknowledged", "r1", "idva", "i1", early, due) == replace(
        acked, acknowledged_at=early
    )
    assert fold_outcome(acked, "acknowledged", "r1", "idva", "i1", late, due) == acked
    with pytest.raises(ValueError, match="not an outcome"):
        fold_outcome(None, "escalated", "r1", "idva", "i1", late, due)


def test_a_referral_known_only_from_its_clock_running_out_is_overdue() -> None:
    """A referral by topic alone that nobody acknowledges has no delivery and no
    acknowledgement: notify's overdue outcome is what tells the console of it."""
    due = NOV_3.replace(hour=12)
    told = fold_outcome(None, "overdue", "r1", "idva", "i1", due, due)
    assert told.due_by == due
    assert told.acknowledged_at is None
    assert told.delivered_at is None
    assert not told.dead
    assert told.overdue(due + timedelta(seconds=1))
    # told twice, or before a late acknowledgement: the acknowledgement still counts
    assert fold_outcome(told, "overdue", "r1", "idva", "i1", due, due) == told
    late = fold_outcome(told, "acknowledged", "r1", "idva", "i1", due + timedelta(hours=1), due)
    assert late.acknowledged_at == due + timedelta(hours=1)


def test_acknowledged_in_time_is_no_later_than_due_by() -> None:
    due = NOV_3.replace(hour=12)
    assert acknowledged_in_time(outcome(acknowledged_at=due))
    assert not acknowledged_in_time(outcome(acknowledged_at=due + timedelta(seconds=1)))
    assert not acknowledged_in_time(outcome())
    assert not acknowledged_in_time(outcome(due_by=None, acknowledged_at=due))


def test_a_school_notice_is_on_time_before_half_past_eight_local_on_its_day() -> None:
    # due at noon London time on Monday 19 October 2026 (BST: 11:00 UTC)
    due = datetime(2026, 10, 19, 11, tzinfo=UTC)
    # 07:29 UTC is 08:29 BST: before the school day
    assert before_school_day(
        outcome("school", due_by=due, delivered_at=datetime(2026, 10, 19, 7, 29, tzinfo=UTC)),
        LONDON,
    )
    # 07:30 UTC is 08:30 BST: the school day has started
    assert not before_school_day(
        outcome("school", due_by=due, delivered_at=datetime(2026, 10, 19, 7, 30, tzinfo=UTC)),
        LONDON,
    )
    # the evening before counts
    assert before_school_day(
        outcome("school", due_by=due, delivered_at=datetime(2026, 10, 18, 20, tzinfo=UTC)),
        LONDON,
    )
    assert not before_school_day(outcome("school", due_by=due), LONDON)
    assert not before_school_day(
        outcome("idva", due_by=due, delivered_at=datetime(2026, 10, 19, 6, tzinfo=UTC)), LONDON
    )


def test_outcome_indicators_count_each_referral_once_in_its_due_month() -> None:
    oct_due, nov_due = datetime(2026, 10, 30, 12, tzinfo=UTC), NOV_3.replace(hour=12)
    outcomes = [
        outcome(
            "idva", referral_id="a", due_by=oct_due, delivered_at=oct_due, acknowledged_at=oct_due
        ),
        # the same referral told twice counts once
        outcome(
            "idva", referral_id="a", due_by=oct_due, delivered_at=oct_due, acknowledged_at=oct_due
        ),
        outcome("victim-support", referral_id="b", due_by=nov_due, dead_at=NOV_3),
        outcome(
            "victim-support",
            referral_id="c",
            due_by=nov_due,
            dead_at=NOV_3,
            delivered_at=NOV_3.replace(hour=1),
            acknowledged_at=nov_due + timedelta(hours=1),
        ),
        outcome("school", referral_id="d", due_by=nov_due, delivered_at=NOV_3.replace(hour=8)),
        outcome("school", referral_id="e", due_by=nov_due, delivered_at=NOV_3.replace(hour=9)),
    ]
    board = dashboard(Facts(outcomes=outcomes), date(2026, 10, 1), date(2026, 11, 30), LONDON, NOW)
    october, november = board.by_month["2026-10"], board.by_month["2026-11"]
    assert (october["referrals_delivered"], november["referrals_delivered"]) == (1, 3)
    assert (october["referrals_dead"], november["referrals_dead"]) == (0, 1)
    assert october["referrals_acknowledged_in_time"] == 1
    assert november["referrals_acknowledged_in_time"] == 0
    assert november["school_notices_delivered"] == 2
    # 08:00 GMT is before the school day, 09:00 is not
    assert november["school_notices_before_school_day"] == 1
    assert november["school_notices_before_school_day_share"] == 50.0
    assert october["school_notices_before_school_day_share"] is None
    assert board.total["referrals_delivered"] == 4
    assert board.total["referrals_dead"] == 1
    assert board.total["school_notices_before_school_day"] == 1
    series = chart(board)["outcomes"]
    assert isinstance(series, list)
    assert series[0] == ["delivered", [1, 3]]


def test_a_referral_is_overdue_when_acknowledged_late_or_not_by_now() -> None:
    due = NOV_3.replace(hour=12)
    assert outcome(acknowledged_at=due + timedelta(seconds=1)).overdue(NOW)
    assert not outcome(acknowledged_at=due).overdue(NOW)
    assert outcome(delivered_at=NOV_3).overdue(due)
    assert not outcome(delivered_at=NOV_3).overdue(due - timedelta(seconds=1))
    assert not outcome(due_by=None, dead_at=NOV_3).overdue(NOW)


def test_overdue_referrals_count_once_in_their_due_month_as_of_now() -> None:
    oct_due, nov_due = datetime(2026, 10, 30, 12, tzinfo=UTC), NOV_3.replace(hour=12)
    outcomes = [
        outcome(referral_id="late", due_by=oct_due, acknowledged_at=oct_due + timedelta(days=1)),
        outcome(referral_id="late", due_by=oct_due, acknowledged_at=oct_due + timedelta(days=1)),
        outcome(referral_id="in-time", due_by=oct_due, acknowledged_at=oct_due),
        outcome(referral_id="never", due_by=nov_due, delivered_at=NOV_3),
        outcome(referral_id="not-yet", due_by=NOW + timedelta(hours=1), delivered_at=NOV_3),
    ]
    board = dashboard(Facts(outcomes=outcomes), date(2026, 10, 1), date(2026, 12, 31), LONDON, NOW)
    assert [board.by_month[m]["referrals_overdue"] for m in board.months] == [1, 1, 0]
    assert board.total["referrals_overdue"] == 2


def test_fold_action_keeps_the_first_completion_in_any_order() -> None:
    agreed = MaracAction("a1", "c1", "southampton", "housing", date(2026, 11, 10))
    done = NOV_3.replace(hour=15)
    completed = fold_action(None, agreed, done)
    assert completed.completed_at == done
    assert fold_action(completed, agreed, None) == completed
    assert fold_action(completed, agreed, done + timedelta(days=1)).completed_at == done
    assert fold_action(fold_action(None, agreed, None), agreed, done) == completed


def test_marac_meeting_figures_from_its_events() -> None:
    area, received = "southampton", datetime(2026, 11, 2, 10, tzinfo=UTC)
    referrals = [
        MaracReferral("r1", "case-1", area, "health", received),
        # a second referral joining the same case: one partner-referred case
        MaracReferral("r2", "case-1", area, "housing", received + timedelta(days=1)),
        MaracReferral("r3", "case-2", area, "probation", received),
    ]
    closures = [
        Closure("case-1", "m1", area, date(2026, 11, 12), frozenset({"health", "police"}), NOW),
        Closure("case-2", "m1", area, date(2026, 11, 12), frozenset(), NOW),
        Closure("case-3", "m2", area, date(2026, 10, 8), frozenset({"idva"}), NOW),
    ]
    on_time = datetime(2026, 11, 10, 16, tzinfo=UTC)
    actions = [
        # done on its due date, done a day late, open and past due, open and not yet due
        MaracAction("a1", "case-1", area, "housing", date(2026, 11, 10), on_time),
        MaracAction("a2", "case-1", area, "health", date(2026, 11, 10), on_time + timedelta(1)),
        MaracAction("a3", "case-2", area, "police", date(2026, 11, 20)),
        MaracAction("a4", "case-2", area, "idva", date(2026, 12, 5)),
    ]
    facts = Facts(marac_referrals=referrals, closures=closures, actions=actions)
    board = dashboard(facts, date(2026, 10, 1), date(2026, 12, 31), LONDON, NOW)
    november = board.by_month["2026-11"]
    assert november["marac_partner_referred_cases"] == 2
    assert november["marac_cases_discussed"] == 2
    assert november["marac_research_returned"] == 2
    assert board.by_month["2026-10"]["marac_research_returned"] == 1
    assert november["marac_actions_due"] == 3
    assert november["marac_actions_overdue"] == 2
    # due today (5 December): not overdue until tomorrow
    assert board.by_month["2026-12"]["marac_actions_due"] == 1
    assert board.by_month["2026-12"]["marac_actions_overdue"] == 0
    assert board.total["marac_cases_discussed"] == 3
    assert board.total["marac_actions_overdue"] == 2


def test_priority_perpetrators_count_each_once_in_the_month_of_their_score() -> None:
    area = "southampton"
    prioritised = [
        Prioritised("p-1", area, datetime(2026, 11, 2, tzinfo=UTC)),
        Prioritised("p-2", area, datetime(2026, 11, 20, tzinfo=UTC)),
        Prioritised("p-3", area, datetime(2026, 10, 20, tzinfo=UTC)),
    ]
    board = dashboard(
        Facts(prioritised=prioritised), date(2026, 10, 1), date(2026, 11, 30), LONDON, NOW
    )
    assert [board.by_month[m]["priority_perpetrators"] for m in board.months] == [1, 2]
    assert board.total["priority_perpetrators"] == 3


def test_a_figure_that_cannot_be_shown_says_why_and_is_empty_in_the_csv() -> None:
    board = dashboard(Facts(), date(2026, 11, 1), date(2026, 11, 30), LONDON, NOW)
    told = without(board, "priority_perpetrators", "Needs perpetrators:read")
    assert told.notes == {"priority_perpetrators": "Needs perpetrators:read"}
    header, row = list(csv_rows(told, "southampton"))
    assert row[header.index("priority_perpetrators")] == ""
    assert row[header.index("incidents")] == "0"
