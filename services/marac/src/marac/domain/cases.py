"""A MARAC case: one victim at one meeting, the incidents it gathers, and its priority."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from shared.schemas import Person, TriageDecided

RiskLevel = Literal["standard", "medium", "high"]
CRITERIA_ORDER = (
    "visible_high_risk",
    "professional_judgement",
    "potential_escalation",
    "repeat_marac",
)
CRITERION_POINTS = {
    "visible_high_risk": 30,
    "professional_judgement": 20,
    "potential_escalation": 15,
}
REPEAT_POINTS = 15
FURTHER_INCIDENT_POINTS, FURTHER_INCIDENTS_CAP = 5, 10
PRIORITY_CAP = 100
_LEVELS: dict[str, int] = {"standard": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class Party:
    """A person a case is about (its victim, its suspect), as the meeting list names them."""

    given_name: str
    family_name: str
    date_of_birth: date | None = None


@dataclass(frozen=True)
class IncidentFacts:
    """What a case needs from one incident's latest eligible decision."""

    incident_id: str
    reported_at: datetime
    decided_at: datetime
    criteria: tuple[str, ...]
    risk_level: RiskLevel
    dash_score: int | None
    children_count: int
    victim: Party
    suspect: Party | None
    victim_person_id: str | None = None


@dataclass(frozen=True)
class ReferralFacts:
    """What a case keeps of one MARAC referral from an agency (the form stays with it)."""

    marac_referral_id: str
    referring_agency: str
    referral_ref: str
    received_at: datetime
    criteria: tuple[str, ...]
    dash_score: int | None
    children_count: int
    victim: Party
    suspect: Party | None
    victim_person_id: str | None = None

    risk_level: RiskLevel = "high"
    """A referral to MARAC is a high-risk referral by SafeLives' definition."""


@dataclass(frozen=True)
class CaseSummary:
    """The facts a meeting list shows for a case, derived from its incidents."""

    incident_ids: tuple[str, ...]
    criteria: tuple[str, ...]
    risk_level: RiskLevel
    dash_score: int | None
    children_count: int
    repeat: bool
    priority: int
    victim: Party
    suspect: Party | None
    victim_person_id: str | None = field(default=None)


def priority(criteria: Iterable[str], dash_score: int | None, repeat: bool, incidents: int) -> int:
    """The case's place within its group on the list: higher is discussed earlier.

    `priority = min(100, criteria points + DASH score + repeat points + further incidents)`:

    - criteria: `visible_high_risk` 30, `professional_judgement` 20, `potential_escalation` 15;
    - the DASH score itself, 0-24 (none yet counts 0), so a fuller picture of risk ranks higher;
    - 15 for a repeat: the victim was on a MARAC list in the 365 days before (our own
      `repeat`, or triage's `repeat_marac` criterion; counted once);
    - 5 for each further incident gathered into the case, at most 10.

    A visible-high-risk case with 17 yeses that is also a repeat scores 30 + 17 + 15 = 62.
    """
    found = set(criteria)
    points = sum(CRITERION_POINTS.get(c, 0) for c in found)
    points += dash_score or 0
    if repeat or "repeat_marac" in found:
        points += REPEAT_POINTS
    points += min(FURTHER_INCIDENTS_CAP, FURTHER_INCIDENT_POINTS * max(0, incidents - 1))
    return min(PRIORITY_CAP, points)


def is_repeat(listed_on: Iterable[date], decided_on: date, window_days: int = 365) -> bool:
    """True when the victim was listed at a MARAC in the `window_days` before the decision."""
    start = decided_on - timedelta(days=window_days)
    return any(start <= day <= decided_on for day in listed_on)


def merge(facts: Sequence[IncidentFacts], new: IncidentFacts) -> list[IncidentFacts]:
    """The case's incidents with `new` added, or replacing an older decision on it."""
    kept = [f for f in facts if f.incident_id != new.incident_id]
    return sorted([*kept, new], key=lambda f: (f.reported_at, f.incident_id))


def summarise(
    facts: Sequence[IncidentFacts], repeat: bool, referrals: Sequence[ReferralFacts] = ()
) -> CaseSummary:
    """A case's list entry: every source (incidents and agencies' referrals), the union of
    criteria, the highest risk and DASH score, and the latest source's people."""
    if not facts and not referrals:
        raise ValueError("a case has at least one incident or referral")
    ordered = sorted(facts, key=lambda f: (f.reported_at, f.incident_id))
    sources: list[IncidentFacts | ReferralFacts] = [*ordered, *referrals]
    sources.sort(key=lambda s: s.reported_at if isinstance(s, IncidentFacts) else s.received_at)
    latest = sources[-1]
    found = {c for f in sources for c in f.criteria}
    criteria = tuple(c for c in CRITERIA_ORDER if c in found) + tuple(
        sorted(found - set(CRITERIA_ORDER))
    )
    scores = [f.dash_score for f in sources if f.dash_score is not None]
    dash_score = max(scores) if scores else None
    suspects = [f.suspect for f in sources if f.suspect is not None]
    person_ids = [f.victim_person_id for f in sources if f.victim_person_id]
    return CaseSummary(
        incident_ids=tuple(f.incident_id for f in ordered),
        criteria=criteria,
        risk_level=max((f.risk_level for f in sources), key=_LEVELS.__getitem__),
        dash_score=dash_score,
        children_count=max(f.children_count for f in sources),
        repeat=repeat,
        priority=priority(criteria, dash_score, repeat, len(sources)),
        victim=latest.victim,
        suspect=suspects[-1] if suspects else None,
        victim_person_id=person_ids[-1] if person_ids else None,
    )


def facts_of(decision: TriageDecided) -> IncidentFacts:
    """What a case keeps of one decision."""
    incident = decision.incident
    return IncidentFacts(
        incident_id=str(decision.incident_id),
        reported_at=incident.reported_at,
        decided_at=decision.decided_at,
        criteria=tuple(decision.marac.criteria),
        risk_level=decision.risk_level,
        dash_score=decision.dash_score,
        children_count=len(incident.children),
        victim=_party(incident.victim),
        suspect=_party(incident.suspect) if incident.suspect else None,
        victim_person_id=incident.victim.person_id,
    )


def _party(person: Person) -> Party:
    return Party(person.given_name, person.family_name, person.date_of_birth)
