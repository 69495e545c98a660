"""The dashboard's indicators (domain.md, "Indicators"), per month and for a period:
computed from the read model's facts alone, counts only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from console.domain.facts import IncidentFacts, Listing, Overdue, Prioritised
from shared.topics import AGENCIES

Figure = int | float | None


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
    *(
        Indicator(
            f"referrals_{a.replace('-', '_')}", f"Referrals to {_agency_label(a)}", "Referrals"
        )
        for a in AGENCIES
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

    by_month = {m: figures(_only(facts, m, month), adult_women, months=1) for m in months}
    total = figures(facts, adult_women, months=len(months))
    return Dashboard(months, by_month, total)


def _only(facts: Facts, wanted: str, month: Callable[[datetime], str]) -> Facts:
    return Facts(
        incidents=[i for i in facts.incidents if month(i.reported_at) == wanted],
        listings=[c for c in facts.listings if month(c.listed_at) == wanted],
        overdue=[o for o in facts.overdue if month(o.due_by) == wanted],
        prioritised=[p for p in facts.prioritised if month(p.at) == wanted],
    )


def figures(facts: Facts, adult_women: int | None, months: int) -> dict[str, Figure]:
    """Every indicator over the given facts; `months` is the period's length, to make a
    yearly rate."""
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
        "priority_perpetrators": len({p.perpetrator_id for p in facts.prioritised}),
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
    }
    return values


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
    }
