"""The dashboard's figures for a seeded set of events equal the figures worked out here by
hand, per month and for the period; the CSV says the same as the page. The console reads
no escalation: an overdue referral is one its outcomes show unacknowledged by `due_by`."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import console.app
from mash_tools.testing import eventually, running
from shared.topics import (
    MARAC_ACTION_AGREED,
    MARAC_ACTION_COMPLETED,
    MARAC_CASE_CLOSED,
    MARAC_CASE_LISTED,
    MARAC_REFERRAL_RECEIVED,
    PERPETRATOR_PRIORITISED,
    REFERRAL_ACKNOWLEDGED,
    REFERRAL_DEAD,
    REFERRAL_DELIVERED,
    REFERRAL_OVERDUE,
    TRIAGE_SUMMARISED,
)
from tests.integration.console.kit import (
    Publisher,
    case_closed,
    case_listed,
    console_settings,
    marac_action,
    marac_referral,
    overdue,
    page_figures,
    prioritised,
    referral_outcome,
    signed_in,
    summary,
)

pytestmark = pytest.mark.kafka

SEPT, OCT = datetime(2026, 9, 15, 10, tzinfo=UTC), datetime(2026, 10, 14, 10, tzinfo=UTC)
NEEDS = "Needs perpetrators:read"


def seed(area: str) -> list[tuple[str, dict[str, Any]]]:
    """Six incidents over two months, with re-grades, a late DASH, listings, MARAC's
    meeting, and an overdue escalation and a prioritised perpetrator (published, but not
    the console's to read)."""
    a = summary(area, reported_at=SEPT, flags=("repeat_victim",))
    b = summary(
        area,
        reported_at=SEPT + timedelta(days=1),
        risk_level="high",
        dash_score=16,
        flags=("repeat_victim", "potential_escalation", "children_in_household"),
        children=2,
        referrals=("childrens-social-care", "idva", "safeguarding-team"),
    )
    c_id, d_id, e_id = (str(uuid.uuid4()) for _ in range(3))
    c1 = summary(
        area,
        reported_at=SEPT + timedelta(days=2),
        risk_basis="not_assessed",
        dash_score=None,
        flags=("not_assessed", "dip_sample"),
        referrals=("victim-support", "safeguarding-team"),
        incident_id=c_id,
    )
    c2 = summary(
        area,
        reported_at=SEPT + timedelta(days=2),
        risk_level="medium",
        dash_score=11,
        referrals=("safeguarding-team",),
        incident_id=c_id,
        decided_at=SEPT + timedelta(days=3),
    )
    d1 = summary(
        area,
        reported_at=SEPT + timedelta(days=4),
        risk_level="medium",
        dash_score=10,
        referrals=("safeguarding-team",),
        incident_id=d_id,
    )
    d2 = summary(
        area,
        reported_at=SEPT + timedelta(days=4),
        risk_level="high",
        risk_basis="regrade",
        dash_score=10,
        referrals=("safeguarding-team", "idva"),
        incident_id=d_id,
        decided_at=SEPT + timedelta(days=5),
    )
    e1 = summary(
        area,
        reported_at=OCT,
        risk_level="high",
        dash_score=15,
        referrals=("idva", "safeguarding-team"),
        incident_id=e_id,
    )
    e2 = summary(
        area,
        reported_at=OCT,
        risk_level="standard",
        risk_basis="regrade",
        dash_score=15,
        referrals=("victim-support",),
        incident_id=e_id,
        decided_at=OCT + timedelta(hours=5),
    )
    f = summary(
        area,
        reported_at=OCT + timedelta(days=1),
        risk_basis="not_assessed",
        dash_score=None,
        flags=("not_assessed", "serial_perpetrator"),
    )
    m1, m2 = str(uuid.uuid4()), str(uuid.uuid4())
    return [
        *((TRIAGE_SUMMARISED, d) for d in (a, b, c1, c2, d1, d2, e1, e2, f)),
        (REFERRAL_OVERDUE, overdue(b["incident_id"], "idva", SEPT + timedelta(days=2))),
        (MARAC_CASE_LISTED, case_listed(area, m1, listed_at=SEPT + timedelta(days=3))),
        (MARAC_CASE_LISTED, case_listed(area, m1, listed_at=SEPT + timedelta(days=4), repeat=True)),
        (MARAC_CASE_LISTED, case_listed(area, m2, listed_at=OCT + timedelta(days=2))),
        (PERPETRATOR_PRIORITISED, prioritised(area, OCT + timedelta(days=1))),
        *outcomes(b["incident_id"], c_id, e_id),
        *meeting(area),
    ]


def meeting(area: str) -> list[tuple[str, dict[str, Any]]]:
    """Marac's events of September and October (ids, agencies and dates only): partner
    referrals, discussed cases with the research returned before them, actions."""
    p1, p2, c1, c2, c3 = (str(uuid.uuid4()) for _ in range(5))
    a1, a2, a3, a4 = (str(uuid.uuid4()) for _ in range(4))
    sept_30, oct_20, oct_29 = date(2026, 9, 30), date(2026, 10, 20), date(2026, 10, 29)
    agreed = SEPT + timedelta(days=9)
    return [
        # case p1 referred by health in September and by housing in October; p2 in October
        (MARAC_REFERRAL_RECEIVED, marac_referral(area, p1, "health", SEPT + timedelta(days=5))),
        (MARAC_REFERRAL_RECEIVED, marac_referral(area, p1, "housing", OCT - timedelta(days=12))),
        (MARAC_REFERRAL_RECEIVED, marac_referral(area, p2, "probation", OCT + timedelta(days=1))),
        (MARAC_CASE_CLOSED, case_closed(area, c1, date(2026, 9, 24), ("health", "police"))),
        (MARAC_CASE_CLOSED, case_closed(area, c2, date(2026, 9, 24))),
        (MARAC_CASE_CLOSED, case_closed(area, c3, date(2026, 10, 22), ("idva",))),
        # done the day before it was due
        (MARAC_ACTION_AGREED, marac_action(area, a1, sept_30, agreed)),
        (MARAC_ACTION_COMPLETED, marac_action(area, a1, sept_30, SEPT + timedelta(14), done=True)),
        # done two days late
        (MARAC_ACTION_AGREED, marac_action(area, a2, sept_30, agreed)),
        (MARAC_ACTION_COMPLETED, marac_action(area, a2, sept_30, OCT - timedelta(12), done=True)),
        # never done: overdue since 21 October
        (MARAC_ACTION_AGREED, marac_action(area, a3, oct_20, OCT)),
        # done on its due day, told before its agreement (out of order)
        (MARAC_ACTION_COMPLETED, marac_action(area, a4, oct_29, OCT + timedelta(15), done=True)),
        (MARAC_ACTION_AGREED, marac_action(area, a4, oct_29, OCT)),
    ]


def outcomes(b: str, c: str, e: str) -> list[tuple[str, dict[str, Any]]]:
    """Notify's outcomes of referrals of incidents b, c and e (September 16 and 17,
    October 14), of two school notices for b's children and one for e's, and of a
    referral of an incident the console has never heard of (no area: not counted)."""
    r1, r2, r3, s1, s2, s3, lost = (str(uuid.uuid4()) for _ in range(7))
    b_due = SEPT + timedelta(days=2)  # 17 September 10:00 UTC
    # schools are due at noon local time (BST: 11:00 UTC) on the school day
    s_sept_due = datetime(2026, 9, 17, 11, tzinfo=UTC)
    s_oct_due = datetime(2026, 10, 15, 11, tzinfo=UTC)
    delivered = referral_outcome(
        r1,
        b,
        "childrens-social-care",
        at=SEPT + timedelta(days=1, hours=1),
        due_by=b_due,
        attempts=1,
    )
    return [
        # delivered (told twice: counted once) and acknowledged before its due time
        (REFERRAL_DELIVERED, delivered),
        (REFERRAL_DELIVERED, delivered),
        (
            REFERRAL_ACKNOWLEDGED,
            referral_outcome(
                r1, b, "childrens-social-care", at=SEPT + timedelta(days=1, hours=2), due_by=b_due
            ),
        ),
        # given up after eight attempts
        (
            REFERRAL_DEAD,
            referral_outcome(
                r2,
                c,
                "victim-support",
                at=SEPT + timedelta(days=3),
                due_by=SEPT + timedelta(4),
                attempts=8,
            ),
        ),
        # delivered, acknowledged a day after its due time
        (
            REFERRAL_DELIVERED,
            referral_outcome(
                r3,
                e,
                "idva",
                at=OCT + timedelta(hours=1),
                due_by=OCT + timedelta(days=1),
                attempts=2,
            ),
        ),
        (
            REFERRAL_ACKNOWLEDGED,
            referral_outcome(r3, e, "idva", at=OCT + timedelta(days=2), due_by=OCT + timedelta(1)),
        ),
        # 08:00 BST: before the school day
        (
            REFERRAL_DELIVERED,
            referral_outcome(
                s1,
                b,
                "school",
                at=datetime(2026, 9, 17, 7, tzinfo=UTC),
                due_by=s_sept_due,
                attempts=1,
            ),
        ),
        # 08:45 BST: the school day has started
        (
            REFERRAL_DELIVERED,
            referral_outcome(
                s2,
                b,
                "school",
                at=datetime(2026, 9, 17, 7, 45, tzinfo=UTC),
                due_by=s_sept_due,
                attempts=3,
            ),
        ),
        # the evening before
        (
            REFERRAL_DELIVERED,
            referral_outcome(
                s3,
                e,
                "school",
                at=datetime(2026, 10, 14, 18, tzinfo=UTC),
                due_by=s_oct_due,
                attempts=1,
            ),
        ),
        (
            REFERRAL_DELIVERED,
            referral_outcome(
                lost,
                str(uuid.uuid4()),
                "idva",
                at=SEPT,
                due_by=SEPT + timedelta(days=1),
                attempts=1,
            ),
        ),
    ]


# worked out by hand from `seed` (September, October, the whole period)
EXPECTED = {
    "incidents": ("4", "2", "6"),
    "dash_at_first_report": ("3", "1", "4"),
    "dash_later": ("1", "0", "1"),
    "not_assessed": ("0", "1", "1"),
    "risk_standard": ("1", "2", "3"),
    "risk_medium": ("1", "0", "1"),
    "risk_high": ("2", "0", "2"),
    "regraded_up": ("1", "0", "1"),
    "regraded_down": ("0", "1", "1"),
    "regraded_share": ("25.0", "50.0", "33.3"),
    "repeat_victims": ("2", "0", "2"),
    "repeat_victim_share": ("50.0", "0.0", "33.3"),
    "potential_escalations": ("1", "0", "1"),
    "serial_perpetrators": ("0", "1", "1"),
    # the perpetrator's event names them: the console does not read it (contract section 8),
    # and asks the perpetrators API only for a person who may read it
    "priority_perpetrators": (NEEDS, NEEDS, NEEDS),
    "incidents_with_children": ("1", "0", "1"),
    "children_referred": ("2", "0", "2"),
    "referrals_childrens_social_care": ("1", "0", "1"),
    "referrals_idva": ("2", "1", "3"),
    "referrals_victim_support": ("2", "2", "4"),
    "referrals_safeguarding_team": ("3", "1", "4"),
    "referrals_school": ("0", "0", "0"),
    # not acknowledged by due_by: b's two school notices and c's dead referral (September),
    # e's IDVA referral acknowledged a day late and e's school notice (October)
    "referrals_overdue": ("3", "2", "5"),
    "marac_cases_listed": ("2", "1", "3"),
    "marac_repeat_cases": ("1", "0", "1"),
    "marac_repeat_share": ("50.0", "0.0", "33.3"),
    "marac_meetings": ("1", "1", "2"),
    "marac_cases_per_meeting": ("2.0", "1.0", "1.5"),
    # 30,000 adult women: cases x 10,000 x 12 / (30,000 x months)
    "marac_cases_per_10000_women_year": ("8.0", "4.0", "6.0"),
    "dip_samples": ("1", "0", "1"),
    # marac's meeting: p1 counted once in the period though referred in both months
    "marac_partner_referred_cases": ("1", "2", "2"),
    "marac_cases_discussed": ("2", "1", "3"),
    "marac_research_returned": ("2", "1", "3"),
    "marac_actions_due": ("2", "2", "4"),
    "marac_actions_overdue": ("1", "1", "2"),
    # notify's outcomes, in the month of their due time
    "referrals_delivered": ("3", "2", "5"),
    "referrals_dead": ("1", "0", "1"),
    "referrals_acknowledged_in_time": ("1", "0", "1"),
    "school_notices_delivered": ("2", "1", "3"),
    "school_notices_before_school_day": ("1", "1", "2"),
    "school_notices_before_school_day_share": ("50.0", "100.0", "66.7"),
}


async def test_dashboard_figures_equal_those_worked_out_from_the_seeded_events(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    area = f"t{uuid.uuid4().hex[:10]}"
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, adult_female_population={area: 30000}
    )
    app = console.app.create_app(settings)
    query = f"/dashboard?area={area}&from=2026-09-01&to=2026-10-31"
    async with running(app) as client, Publisher(kafka_bootstrap) as publisher:
        await signed_in(client, "manager", "dashboard:read")
        for kind, data in seed(area):
            await publisher.publish(kind, data)

        async def complete() -> dict[str, dict[str, str]] | None:
            page = await client.get(query)
            figures = page_figures(page.text)
            done = (
                figures.get("incidents", {}).get("total") == "6"
                and figures["marac_cases_listed"]["total"] == "3"
            )
            told = (
                figures.get("referrals_delivered", {}).get("total") == "5"
                and figures["referrals_dead"]["total"] == "1"
                and figures["referrals_acknowledged_in_time"]["total"] == "1"
            )
            overdue = figures.get("referrals_overdue", {}).get("total") == "5"
            met = (
                figures.get("marac_partner_referred_cases", {}).get("total") == "2"
                and figures["marac_cases_discussed"]["total"] == "3"
                and figures["marac_actions_due"]["total"] == "4"
                and figures["marac_actions_overdue"]["total"] == "2"
            )
            return figures if done and told and overdue and met else None

        figures = await eventually(complete)
        answer = await client.get(query.replace("/dashboard?", "/dashboard.csv?"))

    for key, (september, october, total) in EXPECTED.items():
        assert figures[key] == {"2026-09": september, "2026-10": october, "total": total}, key
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["month"] for r in rows] == ["2026-09", "2026-10"]
    for row in rows:
        for key, by_month in figures.items():
            shown = by_month[row["month"]]
            assert row[key] == ("" if shown in ("\u2013", NEEDS) else shown), (row["month"], key)
