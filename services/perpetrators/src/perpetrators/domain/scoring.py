"""The RFG score of one perpetrator at one moment (domain.md, "Perpetrators").

score = recency x (frequency + gravity + weight x (victims - 1)), over the incidents of
the `window_months` before `now`. Deterministic: the same incidents, policy and `now`
always give the same score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from perpetrators.domain.policy import Policy
from shared.identity import Identity, same_person
from shared.schemas.v1 import RiskLevel


@dataclass(frozen=True)
class Incident:
    """What the score needs of one incident of the perpetrator (the latest decision's)."""

    incident_id: str
    reported_at: datetime
    risk_level: RiskLevel
    child_present: bool
    abuse_types: tuple[str, ...]
    victim: Identity


@dataclass(frozen=True)
class Components:
    recency: int
    frequency: int
    gravity: int
    victims: int


@dataclass(frozen=True)
class Score:
    """A perpetrator's score, its parts, the counts behind them and the policy used."""

    score: int
    components: Components
    incidents_24m: int
    victims_count: int
    children_involved: bool
    last_incident_at: datetime | None
    scored_at: datetime
    policy_version: str
    policy_owner: str


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the 31st -> the month's last)."""
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month + 1, day=min(moment.day, 28))


def in_window(incidents: Iterable[Incident], now: datetime, policy: Policy) -> list[Incident]:
    """The incidents that count at `now`: reported in the window's months before it."""
    start = months_before(now, policy.window_months)
    return sorted((i for i in incidents if i.reported_at >= start), key=lambda i: i.reported_at)


def recency(latest: datetime | None, now: datetime, policy: Policy) -> int:
    """Points for how recent the latest incident is; 0 when there is none."""
    if latest is None:
        return 0
    age = max(now - latest, timedelta(0))
    for band in policy.recency_bands:
        if age <= timedelta(days=band.days):
            return band.points
    return policy.recency_otherwise


def gravity_of(incident: Incident, policy: Policy) -> int:
    """One incident's gravity: its risk level, a child present, a grave abuse type."""
    points = policy.level_points[incident.risk_level]
    if incident.child_present:
        points += policy.child_present_points
    if set(incident.abuse_types) & set(policy.grave_abuse_types):
        points += policy.grave_abuse_points
    return points


def different_victims(incidents: Iterable[Incident]) -> int:
    """Different identifiable victims: an unidentifiable one is never counted."""
    known: list[Identity] = []
    for incident in incidents:
        victim = incident.victim
        if victim.hashes and not any(same_person(victim, k) for k in known):
            known.append(victim)
    return len(known)


def score(incidents: Sequence[Incident], now: datetime, policy: Policy) -> Score:
    """The perpetrator's score at `now` under `policy`."""
    counted = in_window(incidents, now, policy)
    latest = counted[-1].reported_at if counted else None
    victims_count = different_victims(counted)
    parts = Components(
        recency=recency(latest, now, policy),
        frequency=min(len(counted), policy.frequency_cap),
        gravity=min(sum(gravity_of(i, policy) for i in counted), policy.gravity_cap),
        victims=min(victims_count, policy.victims_cap),
    )
    extra_victims = policy.victim_weight * max(parts.victims - 1, 0)
    return Score(
        score=parts.recency * (parts.frequency + parts.gravity + extra_victims),
        components=parts,
        incidents_24m=len(counted),
        victims_count=victims_count,
        children_involved=any(i.child_present for i in counted),
        last_incident_at=latest,
        scored_at=now,
        policy_version=policy.version,
        policy_owner=policy.owner,
    )
