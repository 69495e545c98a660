"""The dashboard's indicators (domain.md, "Indicators"), per month and for a period:
computed from the read model's facts alone, counts only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from console.domain.facts import IncidentFacts, Listing, Outcome, Overdue, Prioritised
from shared.topics import AGENCIES

Figure = int | float | None

SCHOOL_DAY_START = time(8, 30)
"""Operation Encompass: a school is told before its day starts (domain.md)."""


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    group: str


AGENCY_LABELS = {
    "childrens-social-care": "children's social care",
    "idva": "IDVA service",
    "victim-support": "victim support",
    "safeguarding-team": "police safeguarding team",
    "school": "schools (Operation Encompass)",
}


def _agency_label(agency: str) -> str:
    return AGENCY_LABELS.get(agency, agency)


INDICATORS: tuple[Indicator, ...] = (
    Indicator("incidents", "Incidents", "Incidents"),
    Indicator("dash_at_first_report", "With a DASH at first report", "Incidents"),
    Indicator("dash_later", "DASH completed later", "Incidents"),
    Indicator("not_assessed", "Not assessed", "Incidents"),
    Indicator("risk_standard", "Standard risk", "Risk"),
    Indicator("risk_medium", "Medium risk", "Risk"),
    Indicator("risk_high", "High risk", "Risk"),
    Indicator("regraded_up", "Re-graded up by the CRU", "Risk"),
    Indicator("regraded_down", "Re-graded down by the CRU", "Risk"),
    Indicator("regraded_share", "Share re-graded (%)", "Risk"),
    Indicator("repeat_victims", "Repeat victims", "Repeats and escalation"),
    Indicator(
        "repeat_victim_share",
        "Share of incidents with a repeat victim (%)",
        "Repeats and escalation",
    ),
    Indicator("potential_escalations", "Potential escalations", "Repeats and escalation"),
    Indicator("serial_perpetrators", "Serial perpetrators", "Repeats and escalation"),
    Indicator(
        "priority_perpetrators",
        "Perpetrators entering the priority cohort",
        "Repeats and escalation",
    ),
    Indicator("incidents_with_children", "Incidents with children", "Children"),
    Indicator(
        "children_referred", "Children in incidents referred to children's social care", "Children"
    ),
    Indicator("school_notices_delivered", "School notices delivered", "Children"),
    Indicator(
        "school_notices_before_school_day",
        "School notices delivered before the school day started (08:30)",
        "Children",
    ),
    Indicator(
        "school_notices_before_school_day_share",
        "Share of school notices delivered before the school day (%)",
        "Children",
    ),
    *(
        Indicator(
            f"referrals_{a.replace('-', '_')}", f"Referrals to {_agency_label(a)}", "Referrals"
        )
        for a in AGENCIES
    ),
    Indicator("referrals_delivered", "Referrals delivered (webhook answered 2xx)", "Referrals"),
    Indicator("referrals_dead", "Referral deliveries given up (dead)", "Referrals"),
    Indicator(
        "referrals_acknowledged_in_time",
        "Referrals acknowledged within their due time",
        "Referrals",
    ),
    Indicator(
        "referrals_overdue", "Referrals overdue (not acknowledged by the due time)", "Referrals"
    ),
    Indicator("marac_cases_listed", "MARAC cases listed", "MARAC"),
    Indicator("marac_repeat_cases", "MARAC repeat cases", "MARAC"),
    Indicator("marac_repeat_share", "MARAC repeat share (%; SafeLives expects 28 to 40)", "MARAC"),
    Indicator("marac_meetings", "MARAC meetings with cases listed", "MARAC"),
    Indicator("marac_cases_per_meeting", "MARAC cases per meeting", "MARAC"),
    Indicator(
        "marac_cases_per_10000_women_year",
        "MARAC cases a year per 10,000 adult women (benchmark 40)",
        "MARAC",
    ),
    Indicator("dip_samples", "Dip samples taken", "Quality"),
)
KEYS = tuple(i.key for i in INDICATORS)


@dataclass(frozen=True)
class Facts:
    """Everything in the read model for one area (or all) over a period."""

    incidents: Sequence[IncidentFacts]
    listings: Sequence[Listing]
    overdue: Sequence[Overdue]
    prioritised: Sequence[Prioritised]
    outcomes: Sequence[Outcome] = ()
    """What notify told of referrals: acknowledged, delivered, dead."""


@dataclass(frozen=True)
class Dashboard:
    months: list[str]
    by_month: dict[str, dict[str, Figure]]
    total: dict[str, Figure]


def months_between(start: date, end: date) -> list[str]:
    """`YYYY-MM` of every month from `start` to `end`, both included."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def dashboard(
    facts: Facts, start: date, end: date, zone: tzinfo, adult_women: int | None = None
) -> Dashboard:
    """The indicators of each month from `start` to `end`, and of the whole period."""
    months = months_between(start, end)

    def month(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m")

    by_month = {m: figures(_only(facts, m, month), adult_women, 1, zone) for m in months}
    total = figures(facts, adult_women, len(months), zone)
    return Dashboard(months, by_month, total)


def _only(facts: Facts, wanted: str, month: Callable[[datetime], str]) -> Facts:
    return Facts(
        incidents=[i for i in facts.incidents if month(i.reported_at) == wanted],
        listings=[c for c in facts.listings if month(c.listed_at) == wanted],
        overdue=[o for o in facts.overdue if month(o.due_by) == wanted],
        prioritised=[p for p in facts.prioritised if month(p.at) == wanted],
        outcomes=[
            o for o in facts.outcomes if o.counted_at is not None and month(o.counted_at) == wanted
        ],
    )


def acknowledged_in_time(outcome: Outcome) -> bool:
    """Acknowledged by its agency no later than its `due_by`."""
    return (
        outcome.acknowledged_at is not None
        and outcome.due_by is not None
        and outcome.acknowledged_at <= outcome.due_by
    )


def before_school_day(outcome: Outcome, zone: tzinfo) -> bool:
    """A school notice delivered before 08:30 local time on the school day it is due
    (a school's `due_by` is noon of that day)."""
    if outcome.agency != "school" or outcome.delivered_at is None or outcome.due_by is None:
        return False
    day = outcome.due_by.astimezone(zone).date()
    start = datetime.combine(day, SCHOOL_DAY_START, tzinfo=zone)
    return outcome.delivered_at < start


def outcome_figures(outcomes: Sequence[Outcome], zone: tzinfo) -> dict[str, Figure]:
    """The indicators of notify's outcomes: each referral counted once."""
    delivered = [o for o in outcomes if o.delivered_at is not None]
    schools = [o for o in delivered if o.agency == "school"]
    on_time = sum(1 for o in schools if before_school_day(o, zone))
    return {
        "school_notices_delivered": len(schools),
        "school_notices_before_school_day": on_time,
        "school_notices_before_school_day_share": share(on_time, len(schools)),
        "referrals_delivered": len(delivered),
        "referrals_dead": sum(1 for o in outcomes if o.dead),
        "referrals_acknowledged_in_time": sum(1 for o in outcomes if acknowledged_in_time(o)),
    }


def figures(facts: Facts, adult_women: int | None, months: int, zone: tzinfo) -> dict[str, Figure]:
    """Every indicator over the given facts; `months` is the period's length, to make a
    yearly rate; `zone` the local time zone (the school day)."""
    incidents = facts.incidents
    count = len(incidents)

    def having(flag: str) -> int:
        return sum(1 for i in incidents if flag in i.flags)

    def referred(agency: str) -> int:
        return sum(1 for i in incidents for r in i.referrals if r.split("/")[0] == agency)

    regraded_up = sum(1 for i in incidents if i.regrade == "up")
    regraded_down = sum(1 for i in incidents if i.regrade == "down")
    listed = len(facts.listings)
    repeats = sum(1 for c in facts.listings if c.repeat)
    meetings = len({c.meeting_id for c in facts.listings})
    values: dict[str, Figure] = {
        "incidents": count,
        "dash_at_first_report": sum(1 for i in incidents if i.dash_at_first_report),
        "dash_later": sum(1 for i in incidents if i.dash_later),
        "not_assessed": sum(1 for i in incidents if not i.assessed),
        "risk_standard": sum(1 for i in incidents if i.risk_level == "standard"),
        "risk_medium": sum(1 for i in incidents if i.risk_level == "medium"),
        "risk_high": sum(1 for i in incidents if i.risk_level == "high"),
        "regraded_up": regraded_up,
        "regraded_down": regraded_down,
        "regraded_share": share(regraded_up + regraded_down, count),
        "repeat_victims": having("repeat_victim"),
        "repeat_victim_share": share(having("repeat_victim"), count),
        "potential_escalations": having("potential_escalation"),
        "serial_perpetrators": having("serial_perpetrator"),
        # unknown: only `mash.perpetrators.v1` tells of the cohort, and it names people, so
        # the console may not read it (contract section 8); `facts.prioritised` stays empty
        # until a topic without personal data carries cohort changes
        "priority_perpetrators": (
            len({p.perpetrator_id for p in facts.prioritised}) if facts.prioritised else None
        ),
        "incidents_with_children": sum(
            1 for i in incidents if i.children_count > 0 or "children_in_household" in i.flags
        ),
        "children_referred": sum(
            i.children_count
            for i in incidents
            if any(r.startswith("childrens-social-care/") for r in i.referrals)
        ),
        **{f"referrals_{a.replace('-', '_')}": referred(a) for a in AGENCIES},
        "referrals_overdue": len({o.referral_id for o in facts.overdue}),
        "marac_cases_listed": listed,
        "marac_repeat_cases": repeats,
        "marac_repeat_share": share(repeats, listed),
        "marac_meetings": meetings,
        "marac_cases_per_meeting": round(listed / meetings, 1) if meetings else None,
        "marac_cases_per_10000_women_year": (
            round(listed * 10000 * 12 / (adult_women * months), 1) if adult_women else None
        ),
        "dip_samples": having("dip_sample"),
        **outcome_figures(_unique(facts.outcomes), zone),
    }
    return {k: values[k] for k in KEYS}


def _unique(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return list({o.referral_id: o for o in outcomes}.values())


def share(part: int, whole: int) -> float | None:
    """A percentage with one decimal; none of nothing."""
    return round(100 * part / whole, 1) if whole else None


def shown(value: Figure) -> str:
    """A figure as the page and the CSV both write it."""
    if value is None:
        return ""
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def csv_rows(board: Dashboard, area: str) -> Iterable[list[str]]:
    """The CSV: a header, then one row per month (the same figures as the page)."""
    yield ["month", "area", *KEYS]
    for m in board.months:
        yield [m, area, *(shown(board.by_month[m][k]) for k in KEYS)]


def chart(board: Dashboard) -> dict[str, object]:
    """The series the dashboard's charts draw: the same figures as its table."""

    def series(key: str) -> list[Figure]:
        return [board.by_month[m][key] for m in board.months]

    return {
        "months": board.months,
        "risk": [
            [f"{level} risk", series(f"risk_{level}")] for level in ("standard", "medium", "high")
        ],
        "referrals": [
            [_agency_label(a), series(f"referrals_{a.replace('-', '_')}")] for a in AGENCIES
        ],
        "outcomes": [
            ["delivered", series("referrals_delivered")],
            ["dead", series("referrals_dead")],
            ["acknowledged in time", series("referrals_acknowledged_in_time")],
            ["overdue", series("referrals_overdue")],
        ],
    }
