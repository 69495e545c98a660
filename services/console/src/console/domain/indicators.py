"""The dashboard's indicators (domain.md, "Indicators"), per month and for a period:
computed from the read model's facts alone, counts only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, tzinfo

from console.domain.catalogue import KEYS, agency_label
from console.domain.facts import (
    Closure,
    IncidentFacts,
    Listing,
    MaracAction,
    MaracReferral,
    Outcome,
    Prioritised,
)
from shared.topics import AGENCIES

Figure = int | float | None

SCHOOL_DAY_START = time(8, 30)
"""Operation Encompass: a school is told before its day starts (domain.md)."""


@dataclass(frozen=True)
class Facts:
    """Everything in the read model for one area (or all) over a period."""

    incidents: Sequence[IncidentFacts] = ()
    listings: Sequence[Listing] = ()
    outcomes: Sequence[Outcome] = ()
    """What notify told of referrals: acknowledged, delivered, dead (each with `due_by`)."""
    marac_referrals: Sequence[MaracReferral] = ()
    closures: Sequence[Closure] = ()
    actions: Sequence[MaracAction] = ()
    prioritised: Sequence[Prioritised] = ()
    """From the perpetrators API at page time, for a person who may read it."""


@dataclass(frozen=True)
class Dashboard:
    months: list[str]
    by_month: dict[str, dict[str, Figure]]
    total: dict[str, Figure]
    notes: dict[str, str] = field(default_factory=dict)
    """Why a figure is not shown (indicator -> the words shown in its place)."""


def months_between(start: date, end: date) -> list[str]:
    """`YYYY-MM` of every month from `start` to `end`, both included."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def dashboard(
    facts: Facts,
    start: date,
    end: date,
    zone: tzinfo,
    now: datetime,
    adult_women: int | None = None,
) -> Dashboard:
    """The indicators of each month from `start` to `end`, and of the whole period, as of
    `now` (what is overdue depends on it)."""
    months = months_between(start, end)

    def month(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m")

    def count(part: Facts, span: int) -> dict[str, Figure]:
        return figures(part, adult_women, span, zone, now)

    by_month = {m: count(_only(facts, m, month), 1) for m in months}
    return Dashboard(months, by_month, count(facts, len(months)))


def _only(facts: Facts, wanted: str, month: Callable[[datetime], str]) -> Facts:
    def on(day: date) -> bool:
        return f"{day.year:04d}-{day.month:02d}" == wanted

    return Facts(
        incidents=[i for i in facts.incidents if month(i.reported_at) == wanted],
        listings=[c for c in facts.listings if month(c.listed_at) == wanted],
        outcomes=[
            o for o in facts.outcomes if o.counted_at is not None and month(o.counted_at) == wanted
        ],
        marac_referrals=[r for r in facts.marac_referrals if month(r.received_at) == wanted],
        closures=[c for c in facts.closures if on(c.meeting_date)],
        actions=[a for a in facts.actions if on(a.due_by)],
        prioritised=[p for p in facts.prioritised if month(p.at) == wanted],
    )


def without(board: Dashboard, key: str, why: str) -> Dashboard:
    """The board with one figure replaced by the reason it cannot be shown."""
    return replace(board, notes={**board.notes, key: why})


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


def outcome_figures(outcomes: Sequence[Outcome], zone: tzinfo, now: datetime) -> dict[str, Figure]:
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
        "referrals_overdue": sum(1 for o in outcomes if o.overdue(now)),
    }


def marac_figures(facts: Facts, zone: tzinfo, now: datetime) -> dict[str, Figure]:
    """The meeting's indicators from marac's events: partner referrals (each case once),
    cases discussed and the research returned before them, actions due and overdue."""
    today = now.astimezone(zone).date()
    return {
        "marac_partner_referred_cases": len({r.case_id for r in facts.marac_referrals}),
        "marac_cases_discussed": len(facts.closures),
        "marac_research_returned": sum(len(c.research_before_meeting) for c in facts.closures),
        "marac_actions_due": len(facts.actions),
        "marac_actions_overdue": sum(1 for a in facts.actions if a.overdue(today, zone)),
    }


def figures(
    facts: Facts, adult_women: int | None, months: int, zone: tzinfo, now: datetime
) -> dict[str, Figure]:
    """Every indicator over the given facts; `months` is the period's length, to make a
    yearly rate; `zone` the local time zone (the school day); `now` what is overdue."""
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
        # from the perpetrators API, asked as the person (`mash.perpetrators.v1` names people:
        # the console may not read it, contract section 8); `without` says when not asked
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
        "marac_cases_listed": listed,
        "marac_repeat_cases": repeats,
        "marac_repeat_share": share(repeats, listed),
        "marac_meetings": meetings,
        "marac_cases_per_meeting": round(listed / meetings, 1) if meetings else None,
        "marac_cases_per_10000_women_year": (
            round(listed * 10000 * 12 / (adult_women * months), 1) if adult_women else None
        ),
        "dip_samples": having("dip_sample"),
        **outcome_figures(_unique(facts.outcomes), zone, now),
        **marac_figures(facts, zone, now),
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
    """The CSV: a header, then one row per month (the same figures as the page; a figure
    that cannot be shown is empty)."""
    yield ["month", "area", *KEYS]
    for m in board.months:
        yield [m, area, *("" if k in board.notes else shown(board.by_month[m][k]) for k in KEYS)]


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
            [agency_label(a), series(f"referrals_{a.replace('-', '_')}")] for a in AGENCIES
        ],
        "outcomes": [
            ["delivered", series("referrals_delivered")],
            ["dead", series("referrals_dead")],
            ["acknowledged in time", series("referrals_acknowledged_in_time")],
            ["overdue", series("referrals_overdue")],
        ],
    }
