"""What the console keeps of the events it reads: counts' raw material, never a person."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo

LEVELS = ("standard", "medium", "high")


@dataclass(frozen=True)
class Decision:
    """The facts of one triage decision the indicators need."""

    incident_id: str
    area: str
    reported_at: datetime
    decided_at: datetime
    risk_level: str
    risk_basis: str
    dash_score: int | None
    flags: frozenset[str]
    children_count: int
    referrals: frozenset[str]
    """`<agency>/<subject>`: one per referral the decision calls for."""


@dataclass(frozen=True)
class IncidentFacts:
    """One incident as its decisions so far describe it."""

    incident_id: str
    area: str
    reported_at: datetime
    first_decided_at: datetime
    last_decided_at: datetime
    dash_at_first_report: bool
    dash_later: bool
    assessed: bool
    risk_level: str
    regrade: str | None
    """`up` or `down`: the CRU's latest re-grade moved the level that way."""
    flags: frozenset[str]
    children_count: int
    referrals: frozenset[str]


def fold(known: IncidentFacts | None, decision: Decision) -> IncidentFacts:
    """The incident after one more decision (decisions may arrive out of order: an older
    one adds its flags and referrals but does not set the level)."""
    assessed = decision.dash_score is not None
    if known is None:
        return IncidentFacts(
            incident_id=decision.incident_id,
            area=decision.area,
            reported_at=decision.reported_at,
            first_decided_at=decision.decided_at,
            last_decided_at=decision.decided_at,
            dash_at_first_report=assessed,
            dash_later=False,
            assessed=assessed,
            risk_level=decision.risk_level,
            regrade=None,
            flags=decision.flags,
            children_count=decision.children_count,
            referrals=decision.referrals,
        )
    merged = replace(
        known,
        flags=known.flags | decision.flags,
        referrals=known.referrals | decision.referrals,
        children_count=max(known.children_count, decision.children_count),
        assessed=known.assessed or assessed,
        dash_later=known.dash_later or (assessed and not known.dash_at_first_report),
    )
    if decision.decided_at < known.last_decided_at:
        return merged
    regrade = known.regrade
    if decision.risk_basis == "regrade":
        regrade = _direction(known.risk_level, decision.risk_level) or known.regrade
    return replace(
        merged,
        last_decided_at=decision.decided_at,
        risk_level=decision.risk_level,
        regrade=regrade,
    )


def _direction(before: str, after: str) -> str | None:
    if before not in LEVELS or after not in LEVELS or before == after:
        return None
    return "up" if LEVELS.index(after) > LEVELS.index(before) else "down"


@dataclass(frozen=True)
class Listing:
    """A victim's case listed on a MARAC meeting (no person: ids, dates, repeat)."""

    case_id: str
    meeting_id: str
    area: str
    meeting_date: date
    repeat: bool
    listed_at: datetime


@dataclass(frozen=True)
class Prioritised:
    """A perpetrator in the priority cohort, placed by when their score was set (a
    pseudonymous id only: the perpetrators API is asked at page time, never stored)."""

    perpetrator_id: str
    area: str
    at: datetime


OUTCOME_KINDS = ("acknowledged", "delivered", "dead", "overdue")


@dataclass(frozen=True)
class Outcome:
    """What notify has told of one referral: its acknowledgement and its webhook delivery
    (ids and times only). The area is the incident's, known from its decisions."""

    referral_id: str
    agency: str
    incident_id: str
    due_by: datetime | None
    acknowledged_at: datetime | None = None
    delivered_at: datetime | None = None
    dead_at: datetime | None = None
    area: str = ""

    @property
    def dead(self) -> bool:
        """Given up and not delivered since (a dead delivery may be queued again)."""
        return self.dead_at is not None and self.delivered_at is None

    def overdue(self, now: datetime) -> bool:
        """Not acknowledged by its `due_by`: acknowledged later, or not yet and `due_by`
        has passed (notify's rule, from the outcomes alone)."""
        if self.due_by is None:
            return False
        if self.acknowledged_at is not None:
            return self.acknowledged_at > self.due_by
        return self.due_by <= now

    @property
    def counted_at(self) -> datetime | None:
        """The moment that places the referral in a month: its due time, as overdue
        referrals are placed, or else its first outcome."""
        if self.due_by is not None:
            return self.due_by
        known = [m for m in (self.acknowledged_at, self.delivered_at, self.dead_at) if m]
        return min(known) if known else None


def fold_outcome(
    known: Outcome | None,
    kind: str,
    referral_id: str,
    agency: str,
    incident_id: str,
    at: datetime,
    due_by: datetime | None,
) -> Outcome:
    """The referral's outcomes after one more event, in any order and any number of
    times: the first acknowledgement and delivery count, and the last death; `overdue`
    (notify's clock ran out) only makes the referral known, with its due_by."""
    if kind not in OUTCOME_KINDS:
        raise ValueError(f"not an outcome: {kind}")
    outcome = known or Outcome(referral_id, agency, incident_id, due_by)
    if outcome.due_by is None and due_by is not None:
        outcome = replace(outcome, due_by=due_by)
    if kind == "acknowledged":
        return replace(outcome, acknowledged_at=_earliest(outcome.acknowledged_at, at))
    if kind == "delivered":
        return replace(outcome, delivered_at=_earliest(outcome.delivered_at, at))
    if kind == "overdue":  # notify's clock: the referral and its due_by are now known
        return outcome
    return replace(outcome, dead_at=at if outcome.dead_at is None else max(outcome.dead_at, at))


def _earliest(before: datetime | None, at: datetime) -> datetime:
    return at if before is None else min(before, at)


# MARAC's meeting (marac's events: ids, agencies and dates only)


@dataclass(frozen=True)
class MaracReferral:
    """A referral to MARAC from an agency (not the police): the case it joined."""

    marac_referral_id: str
    case_id: str
    area: str
    agency: str
    received_at: datetime


@dataclass(frozen=True)
class Closure:
    """A case discussed at its meeting, and the agencies whose research came before it."""

    case_id: str
    meeting_id: str
    area: str
    meeting_date: date
    research_before_meeting: frozenset[str]
    closed_at: datetime


@dataclass(frozen=True)
class MaracAction:
    """An action the meeting agreed: its owner, due date and, once done, when."""

    action_id: str
    case_id: str
    area: str
    agency: str
    due_by: date
    completed_at: datetime | None = None

    def overdue(self, today: date, zone: tzinfo) -> bool:
        """Done after its due date, or not done and its due date has passed (marac's
        rule: overdue the day after `due_by`)."""
        if self.completed_at is not None:
            return self.completed_at.astimezone(zone).date() > self.due_by
        return today > self.due_by


def fold_action(
    known: MaracAction | None, action: MaracAction, completed_at: datetime | None
) -> MaracAction:
    """The action after one more event (agreed or completed, in any order, any number of
    times): the first completion counts."""
    base = known or action
    done = [m for m in (base.completed_at, completed_at) if m is not None]
    return replace(base, due_by=action.due_by, completed_at=min(done) if done else None)
