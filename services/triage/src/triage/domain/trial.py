"""A policy trial: each incident decided again under a candidate policy, and what changed.

The decision is `decision.decide`, the very function live triage calls: a trial replays
the inputs an incident had, stage by stage (the DASH it was reported with, the DASH that
replaced it, each CRU re-grade in turn), so that its referrals grow as live ones did (a
later decision only adds), over the same history (`OnRecord`, windows by `reported_at`).
What changed is compared with the incident's current decision as triage published it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.schemas import Dash
from shared.schemas.v1 import Regrade
from triage.domain.decision import Case, Decision, decide
from triage.domain.policy import TriagePolicy
from triage.domain.risk import dash_score
from triage.domain.windows import OnRecord


@dataclass(frozen=True)
class Stage:
    """The inputs of one decision an incident had: its DASH then, its re-grade then."""

    dash: Dash | None
    regrade: Regrade | None


def stages(
    case: Case, regrades: Sequence[Regrade], decided: Sequence[Mapping[str, Any]] = ()
) -> list[Stage]:
    """The decisions an incident had, by what triage keeps: at report (the DASH it came
    with), then each re-grade (oldest first) and the later DASH (the latest one; one in
    between is not kept) in the order they came. `case` holds the latest DASH and
    re-grade; `decided` is the incident's published decisions, oldest first, which tell
    where the later DASH came among the re-grades (`late_dash_after`)."""
    first, latest = case.incident.dash, case.dash
    grades = list(regrades) or ([case.regrade] if case.regrade else [])
    found = [Stage(first, None)]
    if latest == first:
        return found + [Stage(first, grade) for grade in grades]
    before = late_dash_after(case, grades, decided)
    found.extend(Stage(first, grade) for grade in grades[:before])
    found.append(Stage(latest, grades[before - 1] if before else None))
    return found + [Stage(latest, grade) for grade in grades[before:]]


def late_dash_after(
    case: Case, grades: Sequence[Regrade], decided: Sequence[Mapping[str, Any]]
) -> int:
    """How many of the re-grades came before the later DASH. The first published decision
    with the later DASH's score names the re-grade then in force; when the two DASHes
    score the same, the order cannot be read (nor, under any policy's bands, matter much)
    and the DASH is taken to have come first."""
    score = dash_score(case.dash) if case.dash else None
    if score == (dash_score(case.incident.dash) if case.incident.dash else None):
        return 0
    for data in decided:
        if data.get("dash_score") == score:
            grade = data.get("regrade")
            if grade is None:
                return 0
            at = Regrade.model_validate(grade).at
            return sum(1 for known in grades if known.at <= at)
    return 0


def replay(
    case: Case, inputs: Sequence[Stage], on_record: OnRecord, policy: TriagePolicy
) -> Decision:
    """The incident's latest decision had `policy` been in force: `decide` at each stage,
    each growing the referrals of the one before."""
    decision: Decision | None = None
    for stage in inputs:
        earlier = tuple(decision.referrals) if decision else ()
        staged = replace(case, dash=stage.dash, regrade=stage.regrade, referrals=earlier)
        decision = decide(staged, on_record, policy)
    assert decision is not None, "an incident has at least the stage of its report"
    return decision


@dataclass(frozen=True)
class Outcome:
    """What a trial compares: the level, the flags, the MARAC criteria, the referrals
    (`agency` for the victim, `agency:child:<n>` for a child)."""

    risk_level: str
    flags: tuple[str, ...]
    criteria: tuple[str, ...]
    referrals: tuple[str, ...]

    @property
    def eligible(self) -> bool:
        return bool(self.criteria)

    def agencies(self) -> dict[str, str]:
        """Each referral's key and its agency."""
        return {key: key.split(":", 1)[0] for key in self.referrals}


def _referral_key(agency: str, subject: str) -> str:
    return agency if subject == "victim" else f"{agency}:{subject}"


def published_outcome(data: Mapping[str, Any]) -> Outcome:
    """The outcome of a decision as triage stored and published it."""
    return Outcome(
        risk_level=str(data["risk_level"]),
        flags=tuple(data["flags"]),
        criteria=tuple(data["marac"]["criteria"]),
        referrals=tuple(
            sorted(
                _referral_key(r["agency"], r.get("subject", "victim")) for r in data["referrals"]
            )
        ),
    )


def outcome(decision: Decision) -> Outcome:
    """The outcome of a decision just made."""
    return Outcome(
        risk_level=decision.risk_level,
        flags=tuple(decision.flags),
        criteria=tuple(decision.marac.criteria),
        referrals=tuple(sorted(_referral_key(r.agency, r.subject) for r in decision.referrals)),
    )


@dataclass(frozen=True)
class Change:
    """One incident whose decision the trial policy changes (ids only, no person)."""

    incident_id: str
    area: str
    reported_at: datetime
    before: Outcome
    after: Outcome


def compare(
    incident_id: str, area: str, reported_at: datetime, before: Outcome, after: Outcome
) -> Change | None:
    """The change, or None when the trial policy decides as triage did."""
    if before == after:
        return None
    return Change(incident_id, area, reported_at, before, after)


def _count(into: dict[str, Any], key: str, by: int = 1) -> None:
    into[key] = into.get(key, 0) + by


def empty() -> dict[str, Any]:
    """The summary of no incidents, as contract section 4 shapes it (`by_area` holds the
    same figures per area)."""
    return {**_figures(), "by_area": {}}


def _figures() -> dict[str, Any]:
    return {
        "incidents": 0,
        "changed": 0,
        "risk_level": {},
        "marac_eligible": {"added": 0, "removed": 0},
        "referrals": {},
    }


def tally(summary: dict[str, Any], area: str, change: Change | None) -> None:
    """Count one decided incident (and its change, if any) into `summary`, in place."""
    for figures in (summary, summary["by_area"].setdefault(area, _figures())):
        _tally(figures, change)


def _tally(figures: dict[str, Any], change: Change | None) -> None:
    figures["incidents"] += 1
    if change is None:
        return
    figures["changed"] += 1
    before, after = change.before, change.after
    if before.risk_level != after.risk_level:
        _count(figures["risk_level"], f"{before.risk_level}->{after.risk_level}")
    if before.eligible != after.eligible:
        figures["marac_eligible"]["added" if after.eligible else "removed"] += 1
    was, now = before.agencies(), after.agencies()
    for key in now.keys() - was.keys():
        _count(figures["referrals"].setdefault(now[key], {"added": 0, "removed": 0}), "added")
    for key in was.keys() - now.keys():
        _count(figures["referrals"].setdefault(was[key], {"added": 0, "removed": 0}), "removed")
