"""The referrals a triage decision calls for, each minimised for its agency.

Triage decides which agencies are referred; notify makes one referral per
incident, agency and subject (the victim, or one child for schools) and never
makes the same one twice.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from notify.domain.clocks import ClockPolicy, due_by
from notify.domain.projections import Source, minimise
from notify.domain.schedule import review_due, school_notice_release
from notify.domain.sharing import VIEWS
from shared.schemas import DecisionReferral, TriageDecided

VICTIM = "victim"
_CHILD = re.compile(r"^child:(0|[1-9][0-9]?)$")
_REASON = re.compile(r"^[a-z0-9_]{1,64}$")


@dataclass(frozen=True)
class ReferralTiming:
    """When referrals fall due: the school day and its release time, and the review window."""

    timezone: ZoneInfo
    school_day_start: time = time(8, 30)
    school_release: time = time(7, 0)
    review_within: timedelta = timedelta(hours=24)
    clocks: ClockPolicy = field(default_factory=ClockPolicy)


@dataclass(frozen=True)
class NewReferral:
    """A referral a decision calls for, ready to be recorded."""

    agency: str
    subject: str
    reason: str
    data: dict[str, Any]
    deliver_after: datetime
    review_due_at: datetime | None
    due_by: datetime
    """When the agency must acknowledge it (its clock policy)."""


@dataclass(frozen=True)
class Plan:
    referrals: list[NewReferral]
    rejected: list[DecisionReferral]
    """Referrals whose subject fits neither their agency nor the incident, or whose reason
    is not a reason (a lowercase word of up to 64 characters)."""


def child_index(referral: DecisionReferral, children: int) -> int | None:
    """The child a school referral is about; None when its subject names no listed child."""
    match = _CHILD.match(referral.subject)
    if match is None or int(match.group(1)) >= children:
        return None
    return int(match.group(1))


def _valid(referral: DecisionReferral, children: int) -> bool:
    if referral.agency not in VIEWS or not _REASON.match(referral.reason):
        return False
    if referral.agency == "school":
        return child_index(referral, children) is not None
    return referral.subject == VICTIM


def plan(decision: TriageDecided, timing: ReferralTiming, now: datetime) -> Plan:
    """Every referral the decision calls for (once per agency and subject), minimised."""
    children = len(decision.incident.children)
    seen: set[tuple[str, str]] = set()
    made: list[NewReferral] = []
    rejected: list[DecisionReferral] = []
    for referral in decision.referrals:
        if not _valid(referral, children):
            rejected.append(referral)
            continue
        if (referral.agency, referral.subject) in seen:
            continue
        seen.add((referral.agency, referral.subject))
        made.append(_make(decision, referral, timing, now))
    return Plan(made, rejected)


def _make(
    decision: TriageDecided, referral: DecisionReferral, timing: ReferralTiming, now: datetime
) -> NewReferral:
    school = referral.agency == "school"
    child = child_index(referral, len(decision.incident.children)) if school else None
    deliver_after = now
    if school:
        deliver_after = school_notice_release(
            decision.incident.reported_at,
            timing.school_day_start,
            timing.school_release,
            timing.timezone,
        )
    review = None
    if referral.agency == "safeguarding-team" and decision.risk_level == "high":
        review = review_due(decision.decided_at, timing.review_within)
    return NewReferral(
        agency=referral.agency,
        subject=referral.subject,
        reason=referral.reason,
        data=minimise(VIEWS[referral.agency], Source(decision, child, timing.timezone)),
        deliver_after=deliver_after,
        review_due_at=review,
        due_by=due_by(referral.agency, referral.reason, now, deliver_after, timing.clocks),
    )


def not_yet_made(
    planned: list[NewReferral], existing: Collection[tuple[str, str]]
) -> list[NewReferral]:
    """The planned referrals whose (agency, subject) the incident does not have yet."""
    return [r for r in planned if (r.agency, r.subject) not in existing]
